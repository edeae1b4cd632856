"""Shapes, parameter counts, input checks and JAX transformations of every network variant."""

import jax
import jax.numpy as jnp
import numpy as np
import flax.linen as nn
import pytest

from ferjax import compiling
from ferjax.models import get_model, layers
from ferjax.models.variants import NETWORKS
from ferjax.models.vgg import VGG16
from tests.conftest import TINY

RNGS = {"stochastic": jax.random.key(1), "dropout": jax.random.key(2)}


def build(variant: str, **overrides):
  name, flags = NETWORKS[variant]
  return get_model(name, **(dict(flags, width=TINY) | overrides))


def init(model, x):
  return model.init(jax.random.key(0), x)


def test_vgg16_parameter_count_matches_published_backbone():
  shapes = jax.eval_shape(lambda: VGG16().init(jax.random.key(0), jnp.zeros((1, 48, 48, 1))))
  assert sum(p.size for p in jax.tree.leaves(shapes)) == 14_713_536


@pytest.mark.parametrize("variant", NETWORKS)
def test_shapes_at_48px_grayscale(variant):
  model = build(variant, num_classes=6)
  x = jnp.zeros((3, 48, 48, 1))
  logits, aux = jax.eval_shape(lambda: model.apply(init(model, x), x))
  assert logits.shape == (3, 6)
  assert aux["embedding"].ndim == 2 and aux["embedding"].shape[0] == 3
  name, flags = NETWORKS[variant]
  expected = {"embedding", "branches"}
  expected |= {"channel_weights"} if flags.get("gcca") or flags.get("channel_attention") else set()
  expected |= {"edge_map"} if flags.get("fusion") else set()
  expected |= {"global_map"} if flags.get("pd") else set()
  expected |= {"reverse_attention", "stage_maps"} if flags.get("ra") else set()
  expected |= {"spatial_maps"} if flags.get("spatial_attention") else set()
  assert set(aux) == expected


@pytest.mark.parametrize("variant", ["contextual-m5", "multiscale-MCSA"])
def test_shapes_at_224px_rgb(variant):
  model = build(variant)
  x = jnp.zeros((2, 224, 224, 3))
  logits, aux = jax.eval_shape(lambda: model.apply(init(model, x), x))
  assert logits.shape == (2, 7)
  maps = aux.get("stage_maps", aux.get("spatial_maps"))
  assert {m.shape[1] for m in maps} >= {14, 56}


@pytest.mark.parametrize("shape, message", [((1, 50, 48, 1), "multiples of 16"),
                                            ((1, 48, 48, 2), "input channels"),
                                            ((48, 48, 1), "shape")])
def test_bad_input_raises_value_error_saying_what_is_allowed(shape, message):
  model = build("contextual-m5")
  with pytest.raises(ValueError, match=message):
    init(model, jnp.zeros(shape))


def test_bad_model_names_and_options_raise():
  with pytest.raises(ValueError, match="choose one of"):
    get_model("resnet")
  with pytest.raises(ValueError, match="unknown option"):
    get_model("contextual", attention=True)
  with pytest.raises(ValueError, match="requires fusion"):
    get_model("contextual", pd=True)
  with pytest.raises(ValueError, match="requires pd"):
    get_model("contextual", fusion=True, ra=True)


@pytest.mark.parametrize("variant, stream", [("contextual-m5", "stochastic"),  # Every GCCA block.
                                             ("multiscale-MCSA", "dropout")])
def test_training_randomness_comes_from_named_streams(variant, stream, ckplus_images):
  model = build(variant, dropout=0.5)
  x = jnp.asarray(ckplus_images[0][:4])
  variables = compiling.once(model.init)(jax.random.key(0), x)
  apply = jax.jit(lambda rngs: model.apply(variables, x, train=True, rngs=rngs)[0])
  same = apply(RNGS), apply(dict(RNGS))
  np.testing.assert_array_equal(same[0], same[1])
  other = apply(RNGS | {stream: jax.random.key(99)})
  assert not np.allclose(other, same[0])
  # Evaluation is deterministic and needs no rng at all.
  evaluate = jax.jit(lambda: model.apply(variables, x)[0])
  np.testing.assert_array_equal(evaluate(), evaluate())


def test_gcca_training_needs_the_stochastic_stream():
  model = build("contextual-m3")
  x = jnp.zeros((1, 48, 48, 1))
  variables = jax.eval_shape(lambda: init(model, x))
  with pytest.raises(Exception, match="stochastic"):
    jax.eval_shape(lambda v: model.apply(v, x, train=True, rngs={"dropout": jax.random.key(0)}),
                   variables)


def test_batch_norm_variant_updates_running_statistics():
  model = build("contextual-m5", batch_norm=True)
  x = jax.random.uniform(jax.random.key(3), (2, 48, 48, 1))
  variables = compiling.once(model.init)(jax.random.key(0), x)
  apply = jax.jit(lambda v: model.apply(v, x, train=True, rngs=RNGS, mutable=["batch_stats"]))
  _, updated = apply(variables)
  before = jax.tree.leaves(variables["batch_stats"])
  after = jax.tree.leaves(updated["batch_stats"])
  assert any(not np.allclose(a, b) for a, b in zip(before, after))


def test_summary_counts_backbone_plus_head_for_table1_m1():
  from ferjax.models.summary import count_parameters
  assert count_parameters("contextual", num_classes=7) == 14_713_536 + 512 * 7 + 7


def test_batch_norm_gcca_gradients_stay_finite_under_jit(ckplus_images):
  """Regression: stochastic pooling's take_along_axis gradient came out NaN under jit with
  BatchNorm."""
  model = get_model("contextual",
                    fusion=True, gcca=True, pd=False, ra=False, width=TINY, num_classes=6,
                    batch_norm=True)
  x, labels = map(jnp.asarray, ckplus_images)
  x = (x - x.mean()) / x.std()
  variables = compiling.once(model.init)(jax.random.key(0), x)

  def loss(params):
    (logits, _), _ = model.apply({"params": params, "batch_stats": variables["batch_stats"]}, x,
                                 train=True,
                                 rngs={"stochastic": jax.random.key(1),
                                       "dropout": jax.random.key(2)},
                                 mutable=["batch_stats"])
    return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(len(labels)), labels])

  grads = jax.jit(jax.grad(loss))(variables["params"])
  assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))


def test_max_pool_gradient_goes_to_the_first_of_tied_maxima_like_pytorch():
  import torch
  from ferjax.models.layers import max_pool_2x2
  x = jnp.asarray(np.random.default_rng(0).integers(0, 3, (2, 8, 6, 3)), jnp.float32)  # many ties
  g = jnp.asarray(np.random.default_rng(1).normal(size=(2, 4, 3, 3)), jnp.float32)
  pooled, vjp = jax.vjp(max_pool_2x2, x)
  expected = torch.tensor(np.asarray(x).transpose(0, 3, 1, 2), requires_grad=True)
  torch.nn.functional.max_pool2d(expected, 2).backward(
      torch.tensor(np.asarray(g).transpose(0, 3, 1, 2)))
  np.testing.assert_array_equal(pooled, nn.max_pool(x, (2, 2), strides=(2, 2)))
  np.testing.assert_array_equal(vjp(g)[0], expected.grad.numpy().transpose(0, 2, 3, 1))


def test_vgg_fc_head_is_vgg16s_classifier_on_the_backbone():
  """classifier="vgg_fc" (m1's "original VGG16"): pool5 + fc6, fc7 of 4096 + head. At 48 px pool5
  leaves 1x1x512, at 224 px 7x7x512 = 25,088 inputs as in VGG16; 4096 scales with the width."""
  from ferjax.models.summary import count_parameters
  fc = 512 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 7 + 7
  assert count_parameters("contextual", num_classes=7, classifier="vgg_fc") == 14_713_536 + fc
  for size, inputs in ((48, 512), (224, 25_088)):
    model = get_model("contextual", classifier="vgg_fc", num_classes=7)
    x = jnp.zeros((1, size, size, 3))
    params = jax.eval_shape(lambda: init(model, x))["params"]
    assert params["fc6"]["kernel"].shape == (inputs, 4096)
    assert (params["fc7"]["kernel"].shape == (4096, 4096) and
            params["head"]["kernel"].shape == (4096, 7))
  model = get_model("contextual", classifier="vgg_fc", width=TINY, num_classes=6)
  x = jnp.zeros((2, 48, 48, 1))
  logits, aux = jax.eval_shape(lambda: model.apply(init(model, x), x))
  assert logits.shape == (2, 6) and aux["embedding"].shape == (2, 512)
  assert set(aux) == {"embedding", "branches"} and set(aux["branches"]) == {"fc7"}


def test_vgg_fc_head_dropout_uses_the_dropout_stream(ckplus_images):
  model = get_model("contextual", classifier="vgg_fc", width=TINY, dropout=0.5)
  x = jnp.asarray(ckplus_images[0][:2])
  variables = compiling.once(model.init)(jax.random.key(0), x)
  train = jax.jit(lambda key: model.apply(variables, x, train=True, rngs={"dropout": key})[0])
  assert not np.allclose(train(jax.random.key(1)), train(jax.random.key(2)))
  evaluate = jax.jit(lambda: model.apply(variables, x)[0])
  np.testing.assert_array_equal(evaluate(), evaluate())


def test_paper_literal_switches_reject_the_variants_they_do_not_fit():
  with pytest.raises(ValueError, match="model 1 only"):
    get_model("contextual", fusion=True, classifier="vgg_fc")
  with pytest.raises(ValueError, match="unknown classifier"):
    get_model("contextual", classifier="fc")
  with pytest.raises(ValueError, match="align_corners=True requires pd"):
    get_model("contextual", fusion=True, gcca=True, align_corners=True)


def test_corner_aligned_upsampling_keeps_the_corners_and_interpolates_linearly():
  from ferjax.models.layers import resize
  x = jnp.arange(2 * 3 * 3 * 1, dtype=jnp.float32).reshape(2, 3, 3, 1)
  aligned = resize(x, (6, 6), align_corners=True)
  np.testing.assert_allclose(aligned[:, ::5, ::5], x[:, ::2, ::2], rtol=1e-6)
  # A linear ramp stays a ramp sampled at i * (3 - 1) / (6 - 1).
  np.testing.assert_allclose(aligned[0, :, 0, 0], 3.0 * np.arange(6) * 2 / 5, rtol=1e-5, atol=1e-6)
  half_pixel = resize(x, (6, 6))
  assert not np.allclose(aligned, half_pixel)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_half_pixel_upsampling_is_jax_image_resize_bit_for_bit_in_value_and_gradient(dtype):
  """layers.resize writes out jax.image.resize's bilinear contraction (so that jax2onnx converts it
  with a symbolic batch); training runs the same program as before, value and gradient."""
  from ferjax.models.layers import resize
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(4, 6, 3, 8))).astype(dtype)
  cotangent = jnp.asarray(rng.normal(size=(4, 12, 6, 8))).astype(dtype)
  library = lambda x: jax.image.resize(x, (4, 12, 6, 8), "bilinear")
  written_out = lambda x: resize(x, (12, 6))
  for function in (library, written_out):
    assert jax.jit(function)(x).dtype == dtype
  gradient = lambda f: jax.grad(lambda x: (f(x) * cotangent).astype(jnp.float32).sum())
  np.testing.assert_array_equal(jax.jit(written_out)(x), jax.jit(library)(x))
  np.testing.assert_array_equal(jax.jit(gradient(written_out))(x), jax.jit(gradient(library))(x))


def test_config_switches_select_the_paper_literal_options():
  """configs/*.py: `align_corners=true` (variants with PD) and `fc_head=true` (m1) reach the model's
  options and build; other variants are refused with a ValueError naming the usable ones."""
  from ferjax.configs import cka, fer2013
  options = cka.get_config("m5,align_corners=true").model.options
  assert options.align_corners and options.classifier == "gap"
  options = fer2013.get_config("m1,fc_head=true").model.options
  assert options.classifier == "vgg_fc" and not options.align_corners
  for options in (cka.get_config("").model.options, fer2013.get_config("m1").model.options):
    assert not options.align_corners and options.classifier == "gap"
    get_model("contextual", **options)
  get_model("contextual", **cka.get_config("m6,align_corners").model.options)
  with pytest.raises(ValueError, match="use m4, m5 or m6"):
    cka.get_config("m3,align_corners=true")
  with pytest.raises(ValueError, match="use m1, not m2"):
    fer2013.get_config("m2,fc_head=true")


def test_each_table1_row_keeps_what_the_row_before_classifies_from(ckplus_images):
  """Under the default fusion head ("blocks", docs/FIDELITY.md 0.17) m2's embedding holds m1's
  GAP(C5) unchanged (same backbone weights), and every deep branch of m2..m5 is as wide as its
  block: nothing passes a bottleneck. Under "laterals" C5 itself never reaches the classifier."""
  from ferjax.models.variants import CONTEXTUAL_VARIANTS as rows
  x = jnp.asarray(ckplus_images[0][:4])
  m1 = get_model("contextual", width=TINY, **rows["m1"])
  variables = m1.init(jax.random.key(0), x)
  m2 = get_model("contextual", width=TINY, **rows["m2"])
  m2_variables = m2.init(jax.random.key(1), x)
  m2_variables["params"]["backbone"] = variables["params"]["backbone"]
  c5 = m1.apply(variables, x)[1]["branches"]["c5"]
  np.testing.assert_array_equal(m2.apply(m2_variables, x)[1]["branches"]["c5"], c5)
  widths = {"c2": 128, "c3": 256, "c4": 512, "c5": 512}
  for row in ("m2", "m3", "m4", "m5"):
    model = get_model("contextual", width=TINY, **rows[row])
    branches = jax.eval_shape(lambda: model.init_with_output(jax.random.key(0), x)[0][1])
    assert {k: v.shape[-1] for k, v in branches["branches"].items()} == {
        k: round(w * TINY) for k, w in widths.items()}, row
  laterals = get_model("contextual", width=TINY, head="laterals", **rows["m5"])
  branches = jax.eval_shape(lambda: laterals.init_with_output(jax.random.key(0), x)[0][1])
  assert set(branches["branches"]) == {"c2", "l3", "l4", "l5"}


def test_head_switch_reaches_the_model_and_old_files_keep_their_head(tmp_path):
  """`head=` sets the fusion head's reading (refused without fusion); a config.json written before
  the option existed rebuilds the "laterals" head it was trained with."""
  import json
  from ferjax.configs import cka
  from ferjax.train import config_file
  assert cka.get_config("m5").model.options.head == "blocks"
  assert cka.get_config("m5,head=laterals").model.options.head == "laterals"
  with pytest.raises(ValueError, match="use m2, m3, m4, m5 or m6"):
    cka.get_config("m1,head=laterals")
  with pytest.raises(ValueError, match="unknown head"):
    get_model("contextual", fusion=True, head="sum")
  stored = cka.get_config("m5").to_dict()
  del stored["model"]["options"]["head"]
  (tmp_path / "config.json").write_text(json.dumps(stored))
  assert config_file.read(tmp_path).model.options.head == "laterals"


def test_an_initialiser_compiled_once_is_the_optimised_program_but_for_the_last_bits():
  """`compiling.once` (XLA:CPU without backend optimisation, for the programs that run once) draws
  the He-normal kernels of the optimised program, about 4% of them a few ulp away."""
  draw = lambda key: layers.conv_init(key, (3, 3, 64, 64))
  once, optimised = compiling.once(draw)(jax.random.key(0)), jax.jit(draw)(jax.random.key(0))
  np.testing.assert_allclose(once, optimised, rtol=5e-7, atol=0)
  assert np.mean(once != optimised) < 0.1
  assert np.std(once) > 0


def test_initialisation_is_what_fidelity_states():
  """docs/FIDELITY.md, "initialisation": every ConvUnit He-normal over fan-out, the attention and
  map convs and SE's dense layers Flax's LeCun normal (variance 1 / fan-in), the head N(0, 0.01),
  biases 0. Checked by each kernel's empirical variance (within 15%)."""
  from ferjax.models.variants import CONTEXTUAL_VARIANTS, MULTISCALE_VARIANTS
  x = jnp.zeros((1, 48, 48, 1))
  params = {}
  for name, flags in (("contextual", CONTEXTUAL_VARIANTS["m5"]), ("multiscale",
                                                                   MULTISCALE_VARIANTS["MCSA"])):
    model = get_model(name, width=0.25, **flags)
    params[name] = compiling.once(model.init)(jax.random.key(0), x)["params"]
  he_fan_out = lambda k: 2.0 / (np.prod(k.shape[:-2]) * k.shape[-1])
  lecun = lambda k: 1.0 / np.prod(k.shape[:-1])
  expected = {
      ("contextual", "backbone", "block3_conv2", "conv"): he_fan_out,
      ("contextual", "lateral4", "conv"): he_fan_out,
      ("contextual", "partial_decoder", "conv_up1", "conv"): he_fan_out,
      ("contextual", "edge_conv"): lecun,
      ("contextual", "backbone", "block4_attention", "squeeze"): lecun,
      ("contextual", "partial_decoder", "conv_out"): lecun,
      ("contextual", "reverse_attention4", "conv2"): lecun,
      ("contextual", "head"): lambda k: 1e-4,
      ("multiscale", "backbone", "block3_attention", "channel", "squeeze"): lecun,
      ("multiscale", "backbone", "block3_attention", "spatial", "conv"): lecun,
  }
  for path, variance in expected.items():
    layer = params[path[0]]
    for key in path[1:]:
      layer = layer[key]
    kernel = np.asarray(layer["kernel"])
    if kernel.size > 1000:  # Enough weights for the variance to mean something.
      np.testing.assert_allclose(kernel.var(), variance(kernel), rtol=0.15, err_msg=str(path))
    np.testing.assert_array_equal(layer["bias"], 0)
