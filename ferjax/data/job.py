"""A job's train / validation / test sources, assembled from its config
(dataset, protocol, fold)."""

import dataclasses
from collections.abc import Sequence

import jax
import ml_collections
import numpy as np

from ferjax.data import augment, catalog, datasets, histogram, splits
from ferjax.data.sources import Source, source_class


@dataclasses.dataclass
class JobData:
  """The sources of one training job and what they hold."""

  train: Source
  validation: Source | None  # None for CK+: nothing is selected on its folds.
  test: Source
  class_names: list[str]
  test_name: str             # 'private_test', 'fold 3', 'repetition 3'.
  # What the prepared dataset was built from: {'name', 'sha256'} of the archive.
  source: dict

  def split_sizes(self) -> dict[str, int]:
    """Examples in each source of the job (after any subset)."""
    roles = {"train": self.train, "validation": self.validation, "test": self.test}
    return {role: source.order.num_examples for role, source in roles.items() if source is not None}


def prepared_builder(config: ml_collections.ConfigDict):
  """The config's dataset, prepared from its archive if it is not prepared yet or the archive
  changed, and refused if its splits differ by an order of magnitude in contrast or sharpness (a
  damaged archive) unless `config.data.allow_inconsistent_splits`."""
  allow = bool(config.data.get("allow_inconsistent_splits", False))
  try:
    return datasets.prepare(config.dataset, config.manual_dir, config.data_dir, allow)
  except datasets.InconsistentSplitsError as error:
    raise datasets.InconsistentSplitsError(
        f"{error}; --config.data.allow_inconsistent_splits=true uses it anyway") from None
  except FileNotFoundError as error:
    builder = datasets.get_builder(config.dataset, config.data_dir)
    raise FileNotFoundError(
        f"{config.dataset} is not prepared in {builder.data_dir} and cannot be built: {error} "
        "Build it "
        f"with: python -m ferjax.data.prepare --dataset={config.dataset} "
        f"--manual_dir=<folder with the archive> --data_dir={config.data_dir}") from None


def images_equalized(config: ml_collections.ConfigDict, sample: int = 512) -> bool:
  """Whether the config's training images are histogram-equalised one by one
  (`histogram.is_equalized` on a fixed sample of `sample` of them): FER2013 from the archive in
  ../shared/data is, a raw copy is not (unless prepared as fer2013/equalized), nor is CK+."""
  builder = prepared_builder(config)
  indices = splits.subset(np.arange(builder.info.splits["train"].num_examples), sample)
  return histogram.is_equalized(datasets.read_split(builder, "train", indices)["image"][..., 0])


def split_source(config: ml_collections.ConfigDict, builder, split: str, mesh: jax.sharding.Mesh,
                 batch_size: int, **options) -> Source:
  """The config's kind of source (config.data.source) over `split`."""
  if config.data.source == "grain":
    options["num_workers"] = config.data.num_workers
  return source_class(config.data.source).from_builder(builder, split, mesh, batch_size, **options)


def load(config: ml_collections.ConfigDict, mesh: jax.sharding.Mesh, fold: int,
         data_seeds: Sequence[int]) -> JobData:
  """Train / validation / test sources for the config's dataset (and CK+ fold); the training order
  of each run follows its seed in `data_seeds` (`ferjax.train.hyper.Runs.data_seeds`)."""
  builder = prepared_builder(config)
  sizes = config.data.get("subset", {})
  views = augment.views_per_example(config)

  def source(role: str, split: str, indices: np.ndarray | None = None) -> Source:
    """The source of `role` ('train', 'validation' or 'test'), on `indices` of `split`
    (default all)."""
    if sizes.get(role, 0):
      indices = splits.subset(np.arange(builder.info.splits[split].num_examples) if indices is None
                              else indices, sizes[role])
    train = role == "train"
    return split_source(config, builder, split, mesh,
                        config.batch_size if train else config.eval_batch_size, indices=indices,
                        seeds=data_seeds, views=views if train else 1)

  names = builder.info.features["label"].names
  built_from = datasets.recorded(builder, "source")
  if not catalog.dataset(config.dataset).folds:
    roles = splits.FER2013_SPLITS
    return JobData(source("train", roles["train"]), source("validation", roles["select"]),
                   source("test", roles["report"]), names, roles["report"], built_from)
  examples = datasets.read_split(builder, "train")
  train, test = splits.ckplus_split(config.folds.scheme, examples["subject"], examples["label"],
                                    examples["id"].astype(str), config.folds.num_folds, fold)
  name = f"repetition {fold}" if config.folds.scheme == "leaky_random" else f"fold {fold}"
  return JobData(source("train", "train", train), None, source("test", "train", test), names, name,
                 built_from)
