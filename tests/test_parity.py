"""Parity of ferjax (JAX/Flax) with its PyTorch reference in third_party/torch_reference.

CPU, 48x48 inputs (real CK+ faces from ../shared/data/CK+48.zip), random non-degenerate weights
converted with `flax_to_state_dict`, eval mode. Every network variant is checked in float32 on
logits, the embedding and every aux map, and on the input gradient of sum(logits * w); components
and losses are checked on their own. The worst relative error per quantity,
max|torch - jax| / max|jax|, is printed at the end (run with -s).

The input gradient is compared in float64 (same float32-rounded weights and inputs, cast up in both
frameworks). It is only piecewise continuous: every ReLU and max decision (2x2 max-pooling, GCCA's
max descriptor, spatial attention's channel max) routes it one way or another, and XLA and oneDNN
round differently at ~1e-6. Two values of a 2x2 pooling window closer than that do occur on CK+
faces (one block-2 window of contextual m2 had a gap of 6e-7 during development), and then the two
float32 gradients differ by ~1e-2 relative around that window although both are correct. In float64
such a flip would need a gap below ~1e-15.
"""

import copy
import functools
import math
from typing import Any, Callable

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import ferjax.train.losses as jlosses
from ferjax.models import attention as jattention
from ferjax.models import decoder as jdecoder
from ferjax.models import get_model as jax_model
from ferjax.models import layers as jlayers
from ferjax.models import model_options as jax_model_options
from ferjax.models import vgg as jvgg
from ferjax.models.variants import CONTEXTUAL_VARIANTS, MULTISCALE_VARIANTS
from third_party.torch_reference import attention as tattention
from third_party.torch_reference import decoder as tdecoder
from third_party.torch_reference import load_flax
from third_party.torch_reference import get_model as torch_model
from third_party.torch_reference import layers as tlayers
from third_party.torch_reference import losses as tlosses
from third_party.torch_reference import model_options as torch_model_options
from third_party.torch_reference import vgg as tvgg

WIDTH = 0.25
TOLERANCE = 1e-4
LOSS_TOLERANCE = 1e-5
WORST: dict[str, float] = {}




@pytest.fixture(scope="module", autouse=True)
def report():
  """Prints the worst relative error per quantity once the module has run."""
  yield
  print("\nworst relative error per quantity (max|torch - jax| / max|jax|):")
  for quantity, error in sorted(WORST.items()):
    print(f"  {quantity:40s} {error:.2e}")


def check(quantity: str, actual: Any, expected: Any, tolerance: float = TOLERANCE) -> None:
  """Asserts rel_err(actual, expected) <= tolerance on a non-degenerate `expected`; records it."""
  actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
  assert actual.shape == expected.shape, f"{quantity}: shape {actual.shape} != {expected.shape}"
  scale = np.abs(expected).max()
  varies = expected.size == 1 or np.ptp(expected) > 0
  assert scale > 1e-6 and varies, f"{quantity}: degenerate reference (max {scale:.1e})"
  error = float(np.abs(actual - expected).max() / scale)
  WORST[quantity] = max(WORST.get(quantity, 0.0), error)
  assert error <= tolerance, f"{quantity}: relative error {error:.2e} > {tolerance:.0e}"


def to_torch(x: Any, requires_grad: bool = False) -> torch.Tensor:
  """JAX/numpy NHWC array -> torch NCHW tensor (other ranks unchanged)."""
  x = np.asarray(x, np.float32)
  if x.ndim == 4:
    x = x.transpose(0, 3, 1, 2)
  return torch.tensor(np.ascontiguousarray(x), requires_grad=requires_grad)


def to_nhwc(x: torch.Tensor) -> np.ndarray:
  """torch tensor -> numpy, NCHW maps back to NHWC."""
  x = x.detach().numpy()
  return x.transpose(0, 2, 3, 1) if x.ndim == 4 else x


def random_variables(module: fnn.Module, *inputs: Any, seed: int = 0) -> dict:
  """Random, non-degenerate variables of the shapes `module.init` would create (no XLA compile).

  Kernels are He-normal over fan-in (activations keep their scale through the deep ReLU stack and
  logits are O(1)), biases N(0, 0.1^2), BatchNorm scales U(0.5, 1.5), running means N(0, 0.1^2) and
  variances U(0.5, 1.5), so that a wrong mapping of any leaf shows up.
  """
  rng = np.random.default_rng(seed)
  shapes = jax.eval_shape(lambda: module.init(jax.random.key(0), *inputs))

  def leaf(path, shape):
    name, size = path[-1].key, shape.shape
    if name == "kernel":
      return rng.normal(0.0, math.sqrt(2.0 / math.prod(size[:-1])), size)
    if name in ("scale", "var"):
      return rng.uniform(0.5, 1.5, size)
    return rng.normal(0.0, 0.1, size)  # bias, mean

  return jax.tree_util.tree_map_with_path(
      lambda path, shape: jnp.asarray(leaf(path, shape), jnp.float32), shapes)


def load(torch_module: torch.nn.Module, variables: dict) -> torch.nn.Module:
  return load_flax(torch_module, variables).eval()


@pytest.fixture(scope="module")
def faces(ckplus_images) -> np.ndarray:
  """Twelve 48x48 grayscale CK+ faces in [0, 1], two per class (the shared conftest batch)."""
  return ckplus_images[0][..., 0]


def batch(faces: np.ndarray, channels: int, offset: int = 0) -> jax.Array:
  """(4, 48, 48, channels) NHWC from faces[offset:]; the RGB channels hold three different faces."""
  faces = faces[offset:]
  if channels == 1:
    return jnp.asarray(faces[:4, :, :, None])
  return jnp.asarray(np.stack([faces[b:b + 3] for b in range(4)]).transpose(0, 2, 3, 1))



TABLE1, PAPER002 = CONTEXTUAL_VARIANTS, MULTISCALE_VARIANTS  # m6 is m5's network (another loss)

# (id, model name, options, input channels). m6 has m5's shapes, so it reuses m5's compiled
# reference with other weights and faces. BatchNorm variants get random running statistics.
VARIANTS = [
    ("contextual-m1-gray", "contextual", TABLE1["m1"], 1),
    ("contextual-m2-rgb", "contextual", TABLE1["m2"], 3),
    ("contextual-m3-gray", "contextual", TABLE1["m3"], 1),
    ("contextual-m4-rgb-dropout", "contextual", {**TABLE1["m4"], "dropout": 0.5}, 3),
    ("contextual-m5-rgb", "contextual", TABLE1["m5"], 3),
    ("contextual-m6-rgb", "contextual", TABLE1["m6"], 3),
    # The paper-literal switches: VGG16's own FC head for m1, CPD's corner-aligned PD upsampling
    # (here with BatchNorm).
    ("contextual-m5-bn-align_corners-gray", "contextual",
     {**TABLE1["m5"], "batch_norm": True, "align_corners": True}, 1),
    ("contextual-m1-vgg_fc-gray-dropout", "contextual",
     {**TABLE1["m1"], "classifier": "vgg_fc", "dropout": 0.5}, 1),
    ("multiscale-M-gray", "multiscale", PAPER002["M"], 1),
    ("multiscale-MCA-rgb-dropout", "multiscale", {**PAPER002["MCA"], "dropout": 0.5}, 3),
    ("multiscale-MSA-bn-gray", "multiscale", {**PAPER002["MSA"], "batch_norm": True}, 1),
    ("multiscale-MCSA-rgb", "multiscale", PAPER002["MCSA"], 3),
    # The fusion head's other readings (docs/FIDELITY.md 0.17).
    ("contextual-m5-laterals-gray", "contextual", {**TABLE1["m5"], "head": "laterals"}, 1),
    ("contextual-m2-laterals_c5-rgb", "contextual", {**TABLE1["m2"], "head": "laterals_c5"}, 3),
    ("contextual-m4-blocks_bn-gray", "contextual", {**TABLE1["m4"], "head": "blocks_bn"}, 1),
]
EXPECTED_AUX = {
    "contextual": {"fusion": {"edge_map"}, "gcca": {"channel_weights"}, "pd": {"global_map"},
                   "ra": {"reverse_attention", "stage_maps"}},
    "multiscale": {"channel_attention": {"channel_weights"}, "spatial_attention": {"spatial_maps"}},
}


def to_float64(tree: Any) -> Any:
  return jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), tree)


@functools.partial(jax.jit, static_argnums=0)
def jax_reference(model: fnn.Module, variables: dict, x: jax.Array, w: jax.Array):
  """Eval-mode float32 logits and aux, and d sum(logits * w) / dx in float64 (call under x64)."""
  logits, aux = model.apply(variables, x, train=False)

  def objective(x64):
    return jnp.sum(model.apply(to_float64(variables), x64, train=False)[0] * w.astype(jnp.float64))

  return logits, aux, jax.grad(objective)(x.astype(jnp.float64))


def torch_reference(model: torch.nn.Module, x: jax.Array, w: jax.Array):
  """The torch counterpart of `jax_reference` (float32 outputs, float64 input gradient)."""
  with torch.no_grad():
    logits, aux = model(to_torch(x))
  x64 = to_torch(x).double().requires_grad_(True)
  (copy.deepcopy(model).double()(x64)[0] * to_torch(w).double()).sum().backward()
  return logits, aux, x64.grad


def as_tuple(value: Any) -> tuple:
  return value if isinstance(value, tuple) else (value,)


def network_parity(x: jax.Array, seed: int, name: str, options: dict, channels: int) -> None:
  """Logits, input gradient and every aux map of ferjax's network and its torch mirror on `x`."""
  w = jnp.asarray(np.random.default_rng(seed).normal(size=(x.shape[0], 7)), jnp.float32)
  jmodel = jax_model(name, width=WIDTH, **options)
  variables = random_variables(jmodel, x, seed=seed)
  with jax.enable_x64(True):
    logits, aux, grad = jax_reference(jmodel, variables, x, w)
  assert logits.dtype == jnp.float32 and grad.dtype == jnp.float64

  tmodel = load(torch_model(name, width=WIDTH, in_channels=channels, **options), variables)
  tlogits, taux, tgrad = torch_reference(tmodel, x, w)

  expected_keys = {"embedding", "branches"}.union(
      *(keys for flag, keys in EXPECTED_AUX[name].items() if options.get(flag)))
  assert set(aux) == set(taux) == expected_keys
  assert set(aux["branches"]) == set(taux["branches"])
  aux, taux = ({**{k: v for k, v in a.items() if k != "branches"},
                **{f"branches/{k}": v for k, v in a["branches"].items()}} for a in (aux, taux))
  check(f"{name}:logits", to_nhwc(tlogits), logits)
  check(f"{name}:input_grad (float64)", to_nhwc(tgrad), grad)
  for key in aux:
    assert len(as_tuple(aux[key])) == len(as_tuple(taux[key]))
    for expected, actual in zip(as_tuple(aux[key]), as_tuple(taux[key])):
      check(f"{name}:{key}", to_nhwc(actual), expected)


@pytest.mark.parametrize("seed, name, options, channels",
                         [(seed, *variant[1:]) for seed, variant in enumerate(VARIANTS)],
                         ids=[variant[0] for variant in VARIANTS])
def test_network_parity(faces, seed: int, name: str, options: dict, channels: int):
  network_parity(batch(faces, channels, offset=seed % 3), seed, name, options, channels)


def test_vgg_fc_head_parity_at_64px(faces):
  """At 64 px pool5 leaves a 2x2 map, so fc6's inputs must be flattened in the same (H, W, C) order.
  The faces are enlarged by interpolation: padding would make flat regions, whose tied maxima route
  the input gradient differently in the two frameworks (see the module docstring)."""
  x = jax.image.resize(batch(faces, 1), (4, 64, 64, 1), "bilinear")
  network_parity(x, 40, "contextual", {**TABLE1["m1"], "classifier": "vgg_fc"}, 1)


def test_align_corners_moves_the_global_map(faces):
  """CPD's corner-aligned upsampling and ferjax's half-pixel default give different PD maps on the
  same weights (so the switch does something), and both match their torch mirror."""
  x = batch(faces, 1)
  maps = {}
  for aligned in (False, True):
    jmodel = jax_model("contextual", width=WIDTH, **TABLE1["m4"], align_corners=aligned)
    variables = random_variables(jmodel, x, seed=41)
    maps[aligned] = np.asarray(jmodel.apply(variables, x)[1]["global_map"])
    tmodel = load(torch_model("contextual", width=WIDTH, in_channels=1, **TABLE1["m4"],
                              align_corners=aligned), variables)
    with torch.no_grad():
      check(f"contextual:global_map (align_corners={aligned})",
            to_nhwc(tmodel(to_torch(x))[1]["global_map"]), maps[aligned])
  change = np.abs(maps[True] - maps[False]).max() / np.abs(maps[False]).max()
  print(f"\nalign_corners: max |change| of the global map {change:.2f} of its max")
  assert change > 1e-2


@pytest.mark.parametrize("name, options", [("contextual", {**TABLE1["m5"], "batch_norm": True}),
                                           ("multiscale", {**PAPER002["MCSA"], "batch_norm": True,
                                                           "dropout": 0.5})])
def test_torch_training_mode(faces, name: str, options: dict):
  """Training mode (batch statistics, dropout, sampled stochastic pooling) runs with finite
  gradients."""
  torch.manual_seed(0)
  model = torch_model(name, width=WIDTH, in_channels=1, **options).train()
  x = to_torch(batch(faces, 1), requires_grad=True)
  logits, aux = model(x)
  logits.square().sum().backward()
  assert logits.shape == (4, 7) and aux["embedding"].shape[0] == 4
  assert torch.isfinite(x.grad).all() and x.grad.abs().max() > 0
  assert all(int(bn.num_batches_tracked) == 1 for bn in model.modules()
             if isinstance(bn, torch.nn.BatchNorm2d))


@pytest.mark.parametrize("name", ["contextual", "multiscale"])
def test_model_options_mirror_ferjax(name: str):
  assert set(torch_model_options(name)) == set(jax_model_options(name)) | {"in_channels"}
  with pytest.raises(ValueError, match="unknown option"):
    torch_model(name, bogus=1)




def test_stochastic_pool_expectation():
  x = np.random.default_rng(2).normal(size=(3, 6, 6, 5)).astype(np.float32)
  x[1, :, :, 2] = -np.abs(x[1, :, :, 2])  # all-zero after ReLU
  expected = jattention.stochastic_pool(jnp.asarray(x))
  xt = to_torch(x, requires_grad=True)
  actual = tattention.stochastic_pool(xt)
  assert float(expected[1, 2]) == 0.0 and actual[1, 2].item() == 0.0
  check("stochastic_pool (eval)", actual.detach().numpy(), expected, tolerance=1e-6)
  actual.sum().backward()
  assert torch.isfinite(xt.grad).all() and (xt.grad[1, 2] == 0).all()


def test_stochastic_pool_sampling_picks_an_activation():
  x = torch.randn(3, 5, 6, 6, generator=torch.Generator().manual_seed(3))
  x[1, 2] = -x[1, 2].abs()
  sampled = tattention.stochastic_pool(x, sample=True, generator=torch.Generator().manual_seed(4))
  activations = torch.relu(x).flatten(2)
  assert ((activations == sampled[..., None]) & (activations > 0)).any(-1).sum() == 3 * 5 - 1
  assert sampled[1, 2] == 0


def test_stochastic_pool_samples_its_distribution_in_bfloat16():
  """The mirror samples in float32 too: a bfloat16 48x48 map's draws follow p_i = a_i / sum(a) (in
  bfloat16 arithmetic: total variation 0.51, 436 of 1,108 positions reached, at these 12,800
  draws)."""
  x = torch.from_numpy(np.random.default_rng(0).normal(size=(48, 48)).astype(np.float32)).bfloat16()
  maps = x[None, None].expand(200, 64, 48, 48).contiguous().requires_grad_(True)
  pooled = tattention.stochastic_pool(maps, sample=True, generator=torch.Generator().manual_seed(0))
  assert pooled.dtype == torch.bfloat16
  pooled.float().sum().backward()  # one-hot gradients: the drawn positions
  counts = maps.grad.float().sum(dim=(0, 1)).double().numpy()
  a = np.maximum(x.double().numpy(), 0.0)
  assert counts.sum() == 200 * 64
  assert 0.5 * np.abs(counts / counts.sum() - a / a.sum()).sum() < 0.2


def component_parity(quantity: str, jmodule: fnn.Module, tmodule: torch.nn.Module,
                     inputs: list[np.ndarray], seed: int = 0) -> None:
  """Eval-mode outputs of a flax module and its torch mirror on `inputs` with converted weights."""
  jinputs = [jnp.asarray(x) for x in inputs]
  variables = random_variables(jmodule, *jinputs, seed=seed)
  expected = jmodule.apply(variables, *jinputs)
  actual = load(tmodule, variables)(*[to_torch(x) for x in inputs])
  expected, actual = jax.tree_util.tree_leaves(expected), jax.tree_util.tree_leaves(actual)
  assert len(expected) == len(actual)
  for e, a in zip(expected, actual):
    check(quantity, to_nhwc(a), e)


def feature_maps(seed: int, *shapes: tuple[int, ...]) -> list[np.ndarray]:
  """Non-negative (post-ReLU-like) NHWC feature maps."""
  rng = np.random.default_rng(seed)
  return [np.maximum(rng.normal(size=shape), 0).astype(np.float32) for shape in shapes]


COMPONENTS: dict[str, Callable[[], tuple]] = {
    "gcca": lambda: (jattention.GCCA(), tattention.GCCA(32), feature_maps(5, (2, 12, 12, 32))),
    "se": lambda: (jattention.SEAttention(), tattention.SEAttention(32),
                   feature_maps(6, (2, 12, 12, 32))),
    "spatial_attention": lambda: (jattention.SpatialAttention(), tattention.SpatialAttention(),
                                  feature_maps(7, (2, 12, 12, 16))),
    "partial_decoder": lambda: (jdecoder.PartialDecoder(8), tdecoder.PartialDecoder(8),
                                feature_maps(8, (2, 12, 12, 8), (2, 6, 6, 8), (2, 3, 3, 8))),
    "partial_decoder_bn": lambda: (jdecoder.PartialDecoder(8, True),
                                   tdecoder.PartialDecoder(8, True),
                                   feature_maps(9, (2, 12, 12, 8), (2, 6, 6, 8), (2, 3, 3, 8))),
    "partial_decoder_align_corners": lambda: (
        jdecoder.PartialDecoder(8, align_corners=True),
        tdecoder.PartialDecoder(8, align_corners=True),
        feature_maps(17, (2, 12, 12, 8), (2, 6, 6, 8), (2, 3, 3, 8))),
    "reverse_attention_from_coarser": lambda: (
        jdecoder.ReverseAttention(8), tdecoder.ReverseAttention(8),
        [*feature_maps(10, (2, 6, 6, 8)), np.random.default_rng(10).normal(size=(2, 3, 3, 1))]),
    "reverse_attention_from_finer": lambda: (
        jdecoder.ReverseAttention(8, True), tdecoder.ReverseAttention(8, True),
        [*feature_maps(11, (2, 3, 3, 8)), np.random.default_rng(11).normal(size=(2, 12, 12, 1))]),
    "multiscale_conv": lambda: (jvgg.MultiscaleConv(16), tvgg.MultiscaleConv(3, 16),
                                feature_maps(12, (2, 12, 12, 3))),
    "multiscale_conv_bn": lambda: (jvgg.MultiscaleConv(16, True), tvgg.MultiscaleConv(3, 16, True),
                                   feature_maps(13, (2, 12, 12, 3))),
}


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_component_parity(component: str):
  jmodule, tmodule, inputs = COMPONENTS[component]()
  component_parity(component, jmodule, tmodule, [np.asarray(x, np.float32) for x in inputs])


@pytest.mark.parametrize("align_corners", [False, True], ids=["half-pixel", "align-corners"])
@pytest.mark.parametrize("size", [(24, 24), (96, 96), (6, 6), (3, 3), (12, 12)],
                         ids=["up2", "up8", "down2", "down4", "identity"])
def test_resize(size: tuple[int, int], align_corners: bool):
  x = np.random.default_rng(14).normal(size=(2, 12, 12, 3)).astype(np.float32)
  kind = ("up, aligned corners" if align_corners else "up") if size[0] > 12 else "down/identity"
  check(f"resize {kind}", to_nhwc(tlayers.resize(to_torch(x), size, align_corners)),
        jlayers.resize(jnp.asarray(x), size, align_corners))


def test_batchnorm_training_mode_conventions():
  """Training-mode BN: same output and running mean; torch's running var uses the unbiased batch
  variance where flax uses the biased one (a convention to correct for when training in torch)."""
  x = feature_maps(15, (4, 6, 6, 8))[0]
  jmodule = jlayers.ConvUnit(8, batch_norm=True)
  variables = random_variables(jmodule, jnp.asarray(x))
  expected, updates = jmodule.apply(variables, jnp.asarray(x), train=True, mutable=["batch_stats"])
  tmodule = load(tlayers.ConvUnit(8, 8, batch_norm=True), variables).train()
  running_var = tmodule.bn.running_var.clone()
  check("batchnorm train output", to_nhwc(tmodule(to_torch(x))), expected)
  stats = updates["batch_stats"]["bn"]
  check("batchnorm running_mean", tmodule.bn.running_mean.numpy(), stats["mean"])
  n = x.shape[0] * x.shape[1] * x.shape[2]
  unbiased_to_biased = (running_var * 0.9 +
                        (tmodule.bn.running_var - 0.9 * running_var) * (n - 1) / n)
  check("batchnorm running_var (biased)", unbiased_to_biased.numpy(), stats["var"])



LOSSES: dict[str, Callable] = {
    "softmax_cross_entropy": lambda L, z, e, y, c: L.softmax_cross_entropy(z, y),
    "center_loss": lambda L, z, e, y, c: L.center_loss(e, y, c),
    "center_cosine_term": lambda L, z, e, y, c: L.center_cosine_term(c),
    "island_loss": lambda L, z, e, y, c: L.island_loss(e, y, c, 7.0),
    "distance_softmax_term": lambda L, z, e, y, c: L.distance_softmax_term(e, y, c),
    "dda_loss": lambda L, z, e, y, c: L.dda_loss(e, y, c, 4.0),
    "contextual_objective": lambda L, z, e, y, c: L.contextual_objective(z, e, y, c),
    "multiscale_objective": lambda L, z, e, y, c: L.multiscale_objective(z, e, y, c, 0.02, 3.0),
    "center_delta": lambda L, z, e, y, c: L.center_delta(e, y, c),
    "island_delta": lambda L, z, e, y, c: L.island_delta(e, y, c, 7.0),
    "dda_delta": lambda L, z, e, y, c: L.dda_delta(e, y, c, 4.0),
    "update_centers": lambda L, z, e, y, c: L.update_centers(c, L.island_delta(e, y, c, 7.0), 0.5),
}


def loss_inputs(zero_center: bool) -> tuple[np.ndarray, ...]:
  """Logits (8, 5), embeddings (8, 6), int32 labels in 0..4 without class 3, centres (5, 6); with
  `zero_center` the absent class's centre is zero (zero-initialised, never pulled)."""
  rng = np.random.default_rng(16)
  labels = np.array([0, 1, 2, 4, 0, 1, 1, 4], np.int32)
  logits, embeddings, centers = (
      rng.normal(size=s).astype(np.float32) for s in ((8, 5), (8, 6), (5, 6)))
  if zero_center:
    centers[3] = 0.0
  return logits, embeddings, labels, centers


@pytest.mark.parametrize("zero_center", [False, True], ids=["random-centres", "zero-centre"])
@pytest.mark.parametrize("loss", list(LOSSES))
def test_loss_parity(loss: str, zero_center: bool):
  inputs = loss_inputs(zero_center)
  expected = LOSSES[loss](jlosses, *map(jnp.asarray, inputs))
  actual = LOSSES[loss](tlosses, *map(torch.from_numpy, inputs))
  if isinstance(expected, tuple):  # objectives: (total, parts)
    expected, actual = {"total": expected[0], **expected[1]}, {"total": actual[0], **actual[1]}
    assert set(expected) == set(actual)
  else:
    expected, actual = {"": expected}, {"": actual}
  for part in expected:
    assert np.all(np.isfinite(expected[part]))
    check(f"loss:{loss}" + (f".{part}" if part else ""), actual[part].detach().numpy(),
          expected[part], LOSS_TOLERANCE)
  if loss == "center_delta" or (loss == "island_delta" and zero_center):  # class 3 is absent
    # A zero centre has no direction: no cosine gradient either
    # (ferjax.train.losses.defined_directions).
    assert np.all(actual[""].numpy()[3] == 0) and np.all(np.asarray(expected[""])[3] == 0)


def test_island_delta_is_cai_et_al_closed_form():
  """island_delta - center_delta = lambda1 / (K - 1) * sum_{k != j} (c_k / (|c_k||c_j|)
  - (c_k . c_j) c_j / (|c_k||c_j|^3)), checked without autograd (float64 numpy)."""
  _, embeddings, labels, centers = loss_inputs(zero_center=False)
  c = centers.astype(np.float64)
  norms = np.linalg.norm(c, axis=-1)
  closed = np.zeros_like(c)
  for j in range(len(c)):
    for k in range(len(c)):
      if k != j:
        closed[j] += c[k] / (norms[k] * norms[j]) - (c[k] @ c[j]) * c[j] / (norms[k] * norms[j]**3)
  closed *= 7.0 / (len(c) - 1)
  for label, module, to in (("ferjax", jlosses, jnp.asarray), ("torch", tlosses, torch.from_numpy)):
    args = tuple(map(to, (embeddings, labels, centers)))
    pair_term = np.asarray(module.island_delta(*args, 7.0)) - np.asarray(module.center_delta(*args))
    check(f"island pair term vs closed form ({label})", pair_term, closed, LOSS_TOLERANCE)
