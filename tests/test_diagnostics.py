"""Per-branch diagnostics (`ferjax.train.diagnostics`): the gradient they take through the
branches' perturbations is the loss's own, they leave the network's output and weight gradients
unchanged, and they show a head that starves a branch (paper 000's "laterals" reading)."""

import jax
import jax.numpy as jnp
import numpy as np

from ferjax import compiling
from ferjax.models import get_model
from ferjax.models.layers import BRANCH_COLLECTION
from ferjax.models.variants import CONTEXTUAL_VARIANTS, MULTISCALE_VARIANTS
from ferjax.train import diagnostics
from tests.conftest import TINY


def initialised(model, x: jax.Array) -> tuple[dict, dict]:
  """The model's variables at initialisation, and the random streams of a training-mode apply."""
  variables = compiling.once(model.init)(jax.random.key(0), x)
  return variables, {"stochastic": jax.random.key(1), "dropout": jax.random.key(2)}


def branch_measures(model, x: jax.Array, labels: jax.Array):
  """The branches and their gradients of the softmax loss at initialisation, in training mode (as
  the train step: BatchNorm on batch statistics), after checking that the loss and the weight
  gradients are those without perturbations, in the same compiled program."""
  variables, rngs = initialised(model, x)
  assert BRANCH_COLLECTION not in variables
  zeros = diagnostics.zero_perturbations(model, variables, x)

  def loss(params, perturbations):
    extra = {} if perturbations is None else {BRANCH_COLLECTION: perturbations}
    (logits, aux), _ = model.apply({**variables, "params": params, **extra}, x, train=True,
                                   rngs=rngs, mutable=["batch_stats"])
    nll = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1))
    return nll, aux["branches"]

  @jax.jit
  def both(params, perturbations):
    perturbed = jax.value_and_grad(loss, (0, 1), has_aux=True)(params, perturbations)
    return perturbed, jax.value_and_grad(lambda p: loss(p, None)[0])(params)

  ((value, branches), (grads, branch_grads)), plain = both(variables["params"], zeros)
  assert value == plain[0]
  assert all(jax.tree.leaves(jax.tree.map(np.array_equal, grads, plain[1])))
  return branches, branch_grads


def branch_energies(model, x: jax.Array) -> dict:
  """The branches at initialisation, in training mode, without gradients."""
  variables, rngs = initialised(model, x)
  forward = jax.jit(lambda v: model.apply(v, x, train=True, rngs=rngs, mutable=["batch_stats"]))
  return forward(variables)[0][1]["branches"]


def check_metrics(branches: dict, grads: dict) -> None:
  """The metrics name every branch; energy is the pooled vector's mean squared norm; gradients are
  finite and non-zero."""
  metrics = diagnostics.branch_metrics(branches, grads)
  assert set(metrics) == {f"{kind}/{b}" for kind in ("energy", "grad") for b in branches}
  for name, branch in branches.items():
    pooled = branch.mean(axis=(1, 2)) if branch.ndim == 4 else branch
    np.testing.assert_allclose(metrics[f"energy/{name}"], np.mean(np.sum(np.square(pooled), -1)),
                               rtol=1e-5)
    assert np.isfinite(metrics[f"grad/{name}"]) and metrics[f"grad/{name}"] > 0


def test_multiscale_branches_are_the_maps_its_fusion_concatenates(ckplus_images):
  x, labels = (jnp.asarray(a) for a in ckplus_images)
  model = get_model("multiscale", width=TINY, num_classes=6, batch_norm=True,
                    **MULTISCALE_VARIANTS["MCSA"])
  branches, grads = branch_measures(model, x, labels)
  assert {name: b.shape[-1] for name, b in branches.items()} == {"c2": 16, "c3": 32, "c5": 64}
  check_metrics(branches, grads)


def test_the_laterals_head_starves_its_deep_branches_and_the_blocks_head_does_not(ckplus_images):
  """At initialisation on real faces, per dimension: the "laterals" head's deep branches carry under
  a tenth of C2's energy (the issue that replaced it), the "blocks" head's C5 over a tenth."""
  x, labels = (jnp.asarray(a) for a in ckplus_images)
  per_dim = {}
  for head in ("laterals", "blocks"):
    model = get_model("contextual", width=TINY, num_classes=6, head=head, batch_norm=True,
                      **CONTEXTUAL_VARIANTS["m5"])
    if head == "blocks":  # Metrics and the perturbations' neutrality on the default head.
      branches, grads = branch_measures(model, x, labels)
      check_metrics(branches, grads)
    else:  # The starved head's energies need no gradient.
      branches = branch_energies(model, x)
    per_dim |= {(head, name): float(diagnostics.pooled_energy(b)) / b.shape[-1]
                for name, b in branches.items()}
  print({k: round(v, 3) for k, v in per_dim.items()})
  assert max(per_dim["laterals", f"l{i}"] for i in (3, 4, 5)) < 0.1 * per_dim["laterals", "c2"]
  assert per_dim["blocks", "c5"] > 0.1 * per_dim["blocks", "c2"]
