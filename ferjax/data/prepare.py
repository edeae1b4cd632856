"""Builds a dataset once from the user's archive and prints its per-split, per-class counts.

  python -m ferjax.data.prepare --dataset=fer2013 --manual_dir=../shared/data --data_dir=~/tensorflow_datasets
  python -m ferjax.data.prepare --dataset=ckplus   # both CK+ configs: 7class and 6class

A second call finds the prepared data and only prints the counts.
"""

import time
from collections.abc import Sequence

from absl import app, flags, logging

from ferjax.data import datasets

_DATASET = flags.DEFINE_string("dataset", "fer2013", "fer2013, ckplus (both configs), ckplus/6class or "
                               "ckplus/7class.")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", datasets.DEFAULT_MANUAL_DIR,
                                  "Folder holding the downloaded archive.")
_DATA_DIR = flags.DEFINE_string("data_dir", datasets.DEFAULT_DATA_DIR,
                                "Where TFDS keeps prepared datasets.")


def dataset_names(dataset: str) -> list[str]:
  """'ckplus' means both of its configs; any other name stands for itself."""
  if dataset == "ckplus":
    return [f"ckplus/{config.name}" for config in datasets.BUILDERS["ckplus"].BUILDER_CONFIGS]
  return [dataset]


def format_counts(name: str, counts: dict[str, dict[str, int]]) -> str:
  """A table: one row per split, one column per class, and the totals."""
  classes = list(next(iter(counts.values())))
  width = max(9, *(len(c) for c in classes))
  lines = [f"{name}", f"  {'split':<14}" + "".join(f"{c:>{width}}" for c in classes) + f"{'total':>9}"]
  for split, per_class in counts.items():
    lines.append(f"  {split:<14}" + "".join(f"{per_class[c]:>{width},}" for c in classes)
                 + f"{sum(per_class.values()):>9,}")
  return "\n".join(lines)


def prepare_and_count(name: str, manual_dir: str, data_dir: str) -> str:
  """Prepares `name` (if needed) and returns its count table with the time taken."""
  start = time.perf_counter()
  was_prepared = datasets.get_builder(name, data_dir).is_prepared()
  builder = datasets.prepare(name, manual_dir, data_dir)
  built = time.perf_counter() - start
  counts = {split: datasets.class_counts(builder, split) for split in builder.info.splits}
  action = "reused" if was_prepared else f"built in {built:.1f} s"
  return (f"{format_counts(name, counts)}\n  {action} at {builder.data_dir}; "
          f"{time.perf_counter() - start:.1f} s in all")


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  logging.set_verbosity(logging.WARNING)  # TFDS logs every shard it writes; its progress bars stay.
  for name in dataset_names(_DATASET.value):
    print(prepare_and_count(name, _MANUAL_DIR.value, _DATA_DIR.value), flush=True)


if __name__ == "__main__":
  app.run(main)
