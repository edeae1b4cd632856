"""Finding, preparing and reading the TFDS datasets that ferjax builds: `fer2013[/<config>]` and
`ckplus/<config>`.

Preparation writes ArrayRecord shards once under `data_dir` and is skipped when they are already
there and were built from the archive now in `manual_dir` (the sha256 a build records, see
`archive.FromArchive`); a copy built from another archive is rebuilt, and one whose archive is gone
is used as it is. TFDS writes into an `incomplete.*` folder and renames it only when every split is
written, so a run that fails or is killed never leaves data that could be read as complete. A
dataset whose splits differ by an order of magnitude in contrast or sharpness is refused
(`quality`).
"""

import os
import pathlib
import shutil

import numpy as np
import tensorflow_datasets as tfds

from ferjax.data import archive, ckplus, fer2013, quality
from ferjax.data import catalog

BUILDERS = {"fer2013": fer2013.Fer2013, "ckplus": ckplus.Ckplus}


class InconsistentSplitsError(ValueError):
  """A prepared dataset's splits differ by an order of magnitude in contrast or sharpness."""


def get_builder(name: str, data_dir: os.PathLike | None = None) -> tfds.core.DatasetBuilder:
  """The builder for 'fer2013', 'ckplus', 'ckplus/6class' or 'ckplus/7class', writing
  ArrayRecord."""
  base, _, config = name.partition("/")
  if base not in BUILDERS:
    raise ValueError(
        f"unknown dataset {name!r}; expected one of {', '.join(BUILDERS)} (with a config: "
        "fer2013/equalized, ckplus/6class or ckplus/7class)")
  configs = [c.name for c in BUILDERS[base].BUILDER_CONFIGS]
  if config and config not in configs:
    raise ValueError(f"unknown config {config!r} of {base}; expected one of {', '.join(configs)}")
  data_dir = os.path.expanduser(os.fspath(data_dir or catalog.data_dir()))
  return BUILDERS[base](config=config or None, data_dir=data_dir, file_format="array_record")


def recorded(builder: tfds.core.DatasetBuilder, key: str) -> dict:
  """What the build of a prepared dataset recorded: 'source' ({'name', 'sha256'}) or 'statistics'
  (per split, `quality.SplitStatistics.summary()`); {} for a copy that recorded none."""
  return dict(builder.info.metadata.get(key, {}))


def source_in(builder: tfds.core.DatasetBuilder, manual_dir: os.PathLike) -> pathlib.Path | None:
  """The archive in `manual_dir` that `builder` would build from, or None if there is none."""
  try:
    return builder.locate(manual_dir)
  except FileNotFoundError:
    return None


def prepare(name: str, manual_dir: os.PathLike | None = None, data_dir: os.PathLike | None = None,
            allow_inconsistent_splits: bool = False) -> tfds.core.DatasetBuilder:
  """Dataset `name` prepared from the user's archive in `manual_dir`, up to date and checked.

  Builds it if it is not prepared; rebuilds it, saying so on stdout, if the archive's sha256 differs
  from the one recorded at build time; uses the prepared copy as it is if the archive is gone. Then
  refuses (InconsistentSplitsError, one line naming the split and the figures) a dataset whose
  splits differ by an order of magnitude in contrast or sharpness, unless
  `allow_inconsistent_splits`: such a copy is damaged (one FER2013 copy in circulation has every
  training image blurred). The prepared copy is kept either way, so allowing it later needs no
  rebuild.
  """
  manual_dir = manual_dir or catalog.manual_dir()
  builder = get_builder(name, data_dir)
  source = source_in(builder, manual_dir)
  if builder.is_prepared() and source is not None:
    built_from, current = recorded(builder, "source").get("sha256"), archive.digest(source)
    if built_from != current:
      print(f"{name}: {source} is not the archive {builder.data_dir} was prepared from (sha256 "
            f"{current[:12]}, recorded {(built_from or 'none')[:12]}); rebuilding it", flush=True)
      shutil.rmtree(builder.data_dir)
      builder = get_builder(name, data_dir)
  if not builder.is_prepared():
    builder.locate(manual_dir)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=os.path.expanduser(os.fspath(manual_dir)),
        compute_stats=tfds.download.ComputeStatsMode.SKIP))
    builder = get_builder(name, data_dir)
  problems = quality.departures(recorded(builder, "statistics"))
  if problems and not allow_inconsistent_splits:
    raise InconsistentSplitsError(f"{name} looks damaged: {'; '.join(problems)}")
  return builder


def read_split(builder: tfds.core.DatasetBuilder, split: str,
               indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
  """The examples `indices` (default: every one, in stored order) of a prepared split, decoded and
  stacked: one array per feature."""
  if split not in builder.info.splits:
    raise ValueError(
        f"{builder.name} has no split {split!r}; it has {', '.join(builder.info.splits)}")
  source = builder.as_data_source(split)
  examples = source.__getitems__(
      range(len(source)) if indices is None else np.asarray(indices).tolist())
  return {key: np.stack([np.asarray(e[key]) for e in examples]) for key in examples[0]}


def class_counts(builder: tfds.core.DatasetBuilder, split: str) -> dict[str, int]:
  """Images per class name in one split, in label order."""
  labels = read_split(builder, split)["label"]
  names = builder.info.features["label"].names
  return {name: int(np.sum(labels == i)) for i, name in enumerate(names)}
