"""Parameter counts of every variant of both papers.

  python -m ferjax.models.summary [--width=1.0] [--num_classes=7]

Counts come from `jax.eval_shape` of `init` (no memory is allocated), at 48 px with 1 input channel.
"""

import jax
import jax.numpy as jnp
from absl import app, flags

from ferjax import cli
from ferjax.models import get_model
from ferjax.models.variants import NETWORKS


def count_parameters(name: str, **options) -> int:
  """Number of trainable parameters of `get_model(name, **options)` for 48x48x1 inputs."""
  model = get_model(name, **options)
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 48, 48, 1))))
  return sum(leaf.size for leaf in jax.tree.leaves(shapes["params"]))


_WIDTH = flags.DEFINE_float("width", 1.0, "Channel width multiplier (1 = the papers' networks).")
_NUM_CLASSES = flags.DEFINE_integer("num_classes", 7, "Classes of the last layer.")


def print_table(width: float, num_classes: int) -> None:
  """Every variant's parameter count, without and with BatchNorm."""
  print(f"{'network':<18} {'parameters':>12} {'batch_norm':>12}")
  for label, (name, options) in NETWORKS.items():
    counts = [count_parameters(name, **options, width=width, num_classes=num_classes,
                               batch_norm=bn) for bn in (False, True)]
    print(f"{label:<18} {counts[0]:>12,} {counts[1]:>12,}")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  cli.run(print_table, _WIDTH.value, _NUM_CLASSES.value)


if __name__ == "__main__":
  cli.main(main)
