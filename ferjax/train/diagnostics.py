"""Per-branch diagnostics of the features a network's classifier fuses (config `diagnostics=true`).

Both papers' networks concatenate several branches before classifying: paper 000's fusion head the
pooled C2' and deep branches (`aux["branches"]` of `ContextualNet`), paper 002's the maps of blocks
2, 3 and 5 (`MultiscaleNet`). A head that starves a branch shows as a branch whose energy or
gradient is orders of magnitude below the others'. For each branch b the train step reports

  energy/b  mean over the batch of ||GAP(b)||^2 (the pooled vector's squared norm; a vector
            branch is its own pool),
  grad/b    ||dL/db||, the norm of the batch loss's gradient with respect to the branch, taken
            through flax's perturbations (`BRANCH_COLLECTION`): zeros added to each branch,

into metrics.jsonl and TensorBoard with the other train metrics (means over the logged steps, step
1 alone: the network at initialisation). Off, the networks and the train step are unchanged.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from ferjax.models.layers import BRANCH_COLLECTION


def zero_perturbations(model: nn.Module, variables: dict, pixels: jax.Array) -> dict:
  """Zeros shaped like each branch of `model` on `pixels` (the perturbations to differentiate)."""
  shapes = jax.eval_shape(functools.partial(model.apply, train=False, mutable=[BRANCH_COLLECTION]),
                          variables, pixels)[1][BRANCH_COLLECTION]
  return jax.tree.map(lambda shape: jnp.zeros(shape.shape, shape.dtype), shapes)


def pooled_energy(branch: jax.Array) -> jax.Array:
  """Mean over the batch of the squared norm of the branch's spatial mean."""
  pooled = jnp.mean(branch, axis=tuple(range(1, branch.ndim - 1))) if branch.ndim > 2 else branch
  return jnp.mean(jnp.sum(jnp.square(pooled.astype(jnp.float32)), axis=-1))


def branch_metrics(branches: dict[str, jax.Array], grads: dict[str, jax.Array]) -> dict:
  """{'energy/<branch>': ..., 'grad/<branch>': ...} for every branch."""
  metrics = {f"energy/{name}": pooled_energy(branch) for name, branch in branches.items()}
  metrics |= {f"grad/{name}": jnp.linalg.norm(grads[name].ravel()) for name in branches}
  return metrics
