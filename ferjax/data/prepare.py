"""Builds a dataset once from the user's archive and prints its per-split, per-class counts and
image statistics (pixel mean and std, sharpness, size; recorded at build time).

  python -m ferjax.data.prepare --dataset=fer2013 --manual_dir=../shared/data \\
      --data_dir=~/tensorflow_datasets
  python -m ferjax.data.prepare --dataset=fer2013/equalized \\
      --manual_dir=<folder with a raw fer2013.csv>
  python -m ferjax.data.prepare --dataset=ckplus   # both CK+ configs: 7class and 6class

A second call finds the prepared data and only prints the tables; a changed archive is rebuilt. A
dataset whose splits differ by an order of magnitude in contrast or sharpness is damaged: the
command then fails with one line naming the split and the figures, unless
--allow_inconsistent_splits.
"""

import time
from collections.abc import Sequence

from absl import app, flags

from ferjax import cli
from ferjax.data import catalog, datasets

_DATASET = flags.DEFINE_string(
    "dataset", "fer2013", "fer2013, fer2013/equalized (each image "
    "histogram-equalised, for raw copies such as Kaggle's fer2013.csv), ckplus "
    "(both configs), ckplus/6class or ckplus/7class.")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", catalog.manual_dir(),
                                  "Folder holding the downloaded archive.")
_DATA_DIR = flags.DEFINE_string("data_dir", catalog.data_dir(),
                                "Where TFDS keeps prepared datasets.")
_ALLOW_INCONSISTENT = flags.DEFINE_bool(
    "allow_inconsistent_splits", False,
    "Use a dataset whose splits differ by an order of magnitude in "
    "pixel std or sharpness (normally a damaged archive).")


def dataset_names(dataset: str) -> list[str]:
  """'ckplus' means both of its configs; any other name stands for itself."""
  if dataset == "ckplus":
    return [f"ckplus/{config.name}" for config in datasets.BUILDERS["ckplus"].BUILDER_CONFIGS]
  return [dataset]


def format_counts(name: str, counts: dict[str, dict[str, int]]) -> str:
  """A table: one row per split, one column per class, and the totals."""
  classes = list(next(iter(counts.values())))
  width = max(9, *(len(c) for c in classes))
  lines = [
      f"{name}", f"  {'split':<14}" + "".join(f"{c:>{width}}" for c in classes) + f"{'total':>9}"
  ]
  for split, per_class in counts.items():
    lines.append(f"  {split:<14}" + "".join(f"{per_class[c]:>{width},}" for c in classes)
                 + f"{sum(per_class.values()):>9,}")
  return "\n".join(lines)


def format_statistics(per_split: dict[str, dict]) -> str:
  """A table: one row per split with its images, size, pixel mean and std, and median sharpness."""
  lines = [f"  {'split':<14}{'images':>9}{'size':>8}{'mean':>8}{'std':>8}{'sharpness':>11}"
           "   (median variance of the Laplacian)"]
  for split, s in per_split.items():
    figures = (f"{s['size']:>8}{s['mean']:>8.1f}{s['std']:>8.1f}{s['sharpness']:>11,.1f}"
               if s["images"] else "")
    lines.append(f"  {split:<14}{s['images']:>9,}{figures}")
  return "\n".join(lines)


def prepare_and_count(name: str, manual_dir: str, data_dir: str,
                      allow_inconsistent_splits: bool) -> str:
  """Prepares `name` (if needed) and returns its count and statistics tables with the time taken."""
  start = time.perf_counter()
  before = datasets.get_builder(name, data_dir)
  recorded = datasets.recorded(before, "source") if before.is_prepared() else None
  try:
    builder = datasets.prepare(name, manual_dir, data_dir, allow_inconsistent_splits)
  except datasets.InconsistentSplitsError as error:
    raise datasets.InconsistentSplitsError(
        f"{error}; --allow_inconsistent_splits uses it anyway") from None
  built = time.perf_counter() - start
  counts = {split: datasets.class_counts(builder, split) for split in builder.info.splits}
  action = ("reused" if recorded == datasets.recorded(builder, "source")
            else f"built in {built:.1f} s")
  return (f"{format_counts(builder.info.full_name, counts)}\n"
          f"{format_statistics(datasets.recorded(builder, 'statistics'))}\n"
          f"  {action} at {builder.data_dir}; {time.perf_counter() - start:.1f} s in all")


def prepare_all(dataset: str, manual_dir: str, data_dir: str,
                allow_inconsistent_splits: bool) -> None:
  """Prepares and reports every dataset that `dataset` names."""
  for name in dataset_names(dataset):
    print(prepare_and_count(name, manual_dir, data_dir, allow_inconsistent_splits), flush=True)


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  cli.run(prepare_all, _DATASET.value, _MANUAL_DIR.value, _DATA_DIR.value,
          _ALLOW_INCONSISTENT.value)


if __name__ == "__main__":
  cli.main(main)
