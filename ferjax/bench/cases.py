"""What a benchmark case trains: the config of a paper variant, as `configs/` defines it.

The bench times exactly what `python -m ferjax.main --config=configs/fer2013.py:m6` (or
`fer2013_msa.py:MCSA`) would train, the loss and optimizer included, so the variant names are the
config arguments: m1..m6 (paper 000's Table 1) and M, MCA, MSA, MCSA (paper 002).
"""

import dataclasses
import importlib

import ml_collections
import numpy as np

from ferjax.models import variants

PAPER000 = tuple(variants.CONTEXTUAL_VARIANTS)
PAPER002 = tuple(variants.MULTISCALE_VARIANTS)
VARIANTS = PAPER000 + PAPER002
NUM_CLASSES = 7  # FER2013's (the configs' dataset).
NO_AUGMENTATION = dict(views="random", flip=False, rotation="none", crop_scale=(), erase_prob=0.0)


@dataclasses.dataclass(frozen=True)
class Case:
  """One benchmark setting: a variant, batch, image side, compute dtype, runs and width."""

  variant: str
  batch: int
  image_size: int
  dtype: str
  num_runs: int = 1
  width: float = 1.0


def check_variants(names: list[str]) -> None:
  unknown = [name for name in names if name not in VARIANTS]
  if unknown:
    raise ValueError(f"unknown model variant(s) {unknown}; choose from {list(VARIANTS)}")


def config_of(case: Case, augment: bool = False) -> ml_collections.ConfigDict:
  """The FER2013 training config of `case` (configs/fer2013.py or fer2013_msa.py with the case's
  variant, width, size, runs and dtype); `augment=False` switches the random augmentation off."""
  name = "configs.fer2013" if case.variant in PAPER000 else "configs.fer2013_msa"
  try:
    module = importlib.import_module(name)
  except ModuleNotFoundError as error:
    raise FileNotFoundError(
        f"{name} cannot be imported ({error}): run the bench from the root of a "
        "source checkout of ferjax, as python -m ferjax.main") from None
  config = module.get_config(f"{case.variant},width={case.width},size={case.image_size},"
                             f"runs={case.num_runs},dtype={case.dtype},epochs=1")
  config.batch_size = case.batch
  if not augment:
    config.input.update(NO_AUGMENTATION)
  return config


NUM_VIEWS = 15  # 3 mirror states x 5 angles (ferjax.data.augment.expansion_views)


def synthetic_batch(case: Case, size: int | None = None) -> dict:
  """Random uint8 grayscale images (batch, size, size, 1), labels and views of the papers' 15-view
  expansion, as the data sources deliver."""
  size = size or case.image_size
  rng = np.random.default_rng(0)
  return {"image": rng.integers(0, 256, (case.batch, size, size, 1), dtype=np.uint8),
          "label": (np.arange(case.batch) % NUM_CLASSES).astype(np.int32),
          "view": (np.arange(case.batch) % NUM_VIEWS).astype(np.int32)}
