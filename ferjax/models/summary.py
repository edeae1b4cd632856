"""Parameter counts of every variant of both papers: `python -m ferjax.models.summary [--width=1.0]`.

Counts come from `jax.eval_shape` of `init` (no memory is allocated), at 48 px with 1 input channel.
"""

import argparse

import jax
import jax.numpy as jnp

from ferjax.models import get_model
from ferjax.models.variants import NETWORKS


def count_parameters(name: str, **options) -> int:
  """Number of trainable parameters of `get_model(name, **options)` for 48x48x1 inputs."""
  model = get_model(name, **options)
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 48, 48, 1))))
  return sum(leaf.size for leaf in jax.tree.leaves(shapes["params"]))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--width", type=float, default=1.0)
  parser.add_argument("--num_classes", type=int, default=7)
  args = parser.parse_args()
  print(f"{'network':<18} {'parameters':>12} {'batch_norm':>12}")
  for label, (name, flags) in NETWORKS.items():
    counts = [count_parameters(name, **flags, width=args.width, num_classes=args.num_classes,
                               batch_norm=bn) for bn in (False, True)]
    print(f"{label:<18} {counts[0]:>12,} {counts[1]:>12,}")


if __name__ == "__main__":
  main()
