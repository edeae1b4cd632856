"""Finding, preparing and reading the TFDS datasets that ferjax builds: `fer2013` and `ckplus/<config>`.

Preparation writes ArrayRecord shards once under `data_dir` and is skipped when they are already there.
TFDS writes into an `incomplete.*` folder and renames it only when every split is written, so a run
that fails or is killed never leaves data that could be read as complete.
"""

import os

import numpy as np
import tensorflow_datasets as tfds

from ferjax.data import ckplus, fer2013

BUILDERS = {"fer2013": fer2013.Fer2013, "ckplus": ckplus.Ckplus}
DEFAULT_MANUAL_DIR = os.environ.get("FERJAX_MANUAL_DIR", "../shared/data")
DEFAULT_DATA_DIR = os.environ.get("FERJAX_DATA_DIR", "~/tensorflow_datasets")


def get_builder(name: str, data_dir: os.PathLike = DEFAULT_DATA_DIR) -> tfds.core.DatasetBuilder:
  """The builder for 'fer2013', 'ckplus', 'ckplus/6class' or 'ckplus/7class', writing ArrayRecord."""
  base, _, config = name.partition("/")
  if base not in BUILDERS:
    raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(BUILDERS)} "
                     "(ckplus takes a config: ckplus/6class or ckplus/7class)")
  configs = [c.name for c in BUILDERS[base].BUILDER_CONFIGS]
  if config and config not in configs:
    raise ValueError(f"unknown config {config!r} of {base}; expected one of {', '.join(configs)}")
  data_dir = os.path.expanduser(os.fspath(data_dir))
  return BUILDERS[base](config=config or None, data_dir=data_dir, file_format="array_record")


def prepare(name: str, manual_dir: os.PathLike = DEFAULT_MANUAL_DIR,
            data_dir: os.PathLike = DEFAULT_DATA_DIR) -> tfds.core.DatasetBuilder:
  """Builds dataset `name` from the user's archive in `manual_dir` unless it is already prepared."""
  builder = get_builder(name, data_dir)
  if not builder.is_prepared():
    builder.locate(manual_dir)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=os.path.expanduser(os.fspath(manual_dir)),
        compute_stats=tfds.download.ComputeStatsMode.SKIP))
  return builder


def read_split(builder: tfds.core.DatasetBuilder, split: str) -> dict[str, np.ndarray]:
  """Every example of a prepared split, decoded and stacked: one array per feature, in stored order."""
  if split not in builder.info.splits:
    raise ValueError(f"{builder.name} has no split {split!r}; it has {', '.join(builder.info.splits)}")
  source = builder.as_data_source(split)
  examples = source.__getitems__(range(len(source)))
  return {key: np.stack([np.asarray(e[key]) for e in examples]) for key in examples[0]}


def class_counts(builder: tfds.core.DatasetBuilder, split: str) -> dict[str, int]:
  """Images per class name in one split, in label order."""
  labels = read_split(builder, split)["label"]
  names = builder.info.features["label"].names
  return {name: int(np.sum(labels == i)) for i, name in enumerate(names)}
