"""What a benchmark case trains: the config of a paper variant, as ferjax.configs defines it, or
any config given as `python -m ferjax.main` takes it.

The bench times exactly what `python -m ferjax.main --config=configs/fer2013.py:m6` (or
`fer2013_msa.py:MCSA`) would train, the loss and optimizer included, so the variant names are the
config arguments: m1..m6 (paper 000's Table 1) and M, MCA, MSA, MCSA (paper 002). A case made from
`--config=FILE:ARG` (`from_config`) times that config's network, loss, input size, dtype and batch.
"""

import dataclasses
import pathlib

import ml_collections
import numpy as np

from ferjax import configs
from ferjax.models import variants

PAPER000 = tuple(variants.CONTEXTUAL_VARIANTS)
PAPER002 = tuple(variants.MULTISCALE_VARIANTS)
VARIANTS = PAPER000 + PAPER002
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
  config: str = ""  # A config as ferjax.main takes it ('configs/cka.py:m6'); empty: the variant's.


def check_variants(names: list[str]) -> None:
  unknown = [name for name in names if name not in VARIANTS]
  if unknown:
    raise ValueError(f"unknown model variant(s) {unknown}; choose from {list(VARIANTS)}")


def from_config(spec: str) -> Case:
  """The case of a config: its network, batch, input size, dtype and width (one run)."""
  config = configs.load(spec)
  return Case(pathlib.Path(spec).name, config.batch_size, config.input.size, config.dtype,
              width=config.model.options.width, config=spec)


def config_of(case: Case, augment: bool = False) -> ml_collections.ConfigDict:
  """The training config of `case`: its own config file, else configs/fer2013.py or
  fer2013_msa.py with the case's variant (FER2013), with the case's width, size, runs, dtype and
  batch; `augment=False` switches the random augmentation off."""
  spec = case.config or f"{'fer2013' if case.variant in PAPER000 else 'fer2013_msa'}:{case.variant}"
  switches = (f"width={case.width},size={case.image_size},runs={case.num_runs},dtype={case.dtype},"
              "epochs=1")
  config = configs.load(spec, switches)
  config.batch_size = case.batch
  if not augment:
    config.input.update(NO_AUGMENTATION)
  return config


def num_classes(case: Case) -> int:
  return config_of(case).model.options.num_classes


NUM_VIEWS = 15  # 3 mirror states x 5 angles (ferjax.data.augment.expansion_views)


def synthetic_batch(case: Case, size: int | None = None) -> dict:
  """Random uint8 grayscale images (batch, size, size, 1), labels and views of the papers' 15-view
  expansion, as the data sources deliver."""
  size = size or case.image_size
  rng = np.random.default_rng(0)
  return {"image": rng.integers(0, 256, (case.batch, size, size, 1), dtype=np.uint8),
          "label": (np.arange(case.batch) % num_classes(case)).astype(np.int32),
          "view": (np.arange(case.batch) % NUM_VIEWS).astype(np.int32)}
