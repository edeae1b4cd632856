"""The datasets a config can name, and where their archives and prepared copies live by default.

This is the one table of dataset names: configs take their class counts and pixel statistics from
it, config validation its allowed names, and the training job its protocol (FER2013's fixed splits
with a validation split, or CK+'s folds). It imports nothing heavy, so configs can read it without
TFDS.
"""

import dataclasses
import os


def manual_dir() -> str:
  """Where the user's archives are (`fer2013.zip`, `CK+48.zip`): $FERJAX_MANUAL_DIR, by default
  ../shared/data."""
  return os.environ.get("FERJAX_MANUAL_DIR", "../shared/data")


def data_dir() -> str:
  """Where prepared datasets go: $FERJAX_DATA_DIR, by default ~/tensorflow_datasets."""
  return os.environ.get("FERJAX_DATA_DIR", "~/tensorflow_datasets")


@dataclasses.dataclass(frozen=True)
class Dataset:
  """What ferjax knows of a dataset name before reading it."""

  num_classes: int
  # CK+: subject-independent folds of one split; FER2013: Training / PublicTest / PrivateTest.
  folds: bool
  # The training set's pixel (mean, std), uint8 / 255, for input normalisation; None: not measured.
  pixel_stats: tuple[float, float] | None = None


DATASETS: dict[str, Dataset] = {
    "fer2013": Dataset(num_classes=7, folds=False, pixel_stats=(0.514, 0.307)),
    "fer2013/unchanged": Dataset(num_classes=7, folds=False),
    "fer2013/equalized": Dataset(num_classes=7, folds=False),
    "ckplus/6class": Dataset(num_classes=6, folds=True, pixel_stats=(0.512, 0.293)),
    "ckplus/7class": Dataset(num_classes=7, folds=True, pixel_stats=(0.512, 0.293)),
}


def dataset(name: str) -> Dataset:
  """The catalogue entry of `name`, or a ValueError listing the names there are."""
  if name not in DATASETS:
    raise ValueError(f"config.dataset = {name!r}; expected one of {', '.join(DATASETS)}")
  return DATASETS[name]
