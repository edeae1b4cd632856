"""A study as data: its cells (a config and arguments each), the scale it runs at, and the jobs
left.

A `Study` is one table or figure of a paper: `Cell`s in the paper's row order, the runs each needs
(the papers' N = 10) and, for CK+, the folds. A `Scale` (width, input size, epochs, runs, training
subset, view mode, dtype, folds) applies to the whole study and is recorded with every ledger line.
`jobs` turns a study at a scale into programs still to run, one per (cell, fold) with the cell's
missing runs on its run axis, skipping what a ledger already holds.
"""

import copy
import dataclasses
import json
import os
from collections.abc import Collection

import ml_collections

from ferjax import configs
from ferjax.study import ledger


@dataclasses.dataclass(frozen=True)
class Cell:
  """One row: the shipped config `<config>:<arg>` (ferjax.configs) with `overrides` (flattened
  config keys) and the config's epochs times `epochs_factor` (a longer schedule); `published` is the
  paper's (Acc %, Sta) where its text prints one. `needs` names environment variables the arg uses
  as {NAME} (a file only the user has, such as VGG16 weights): without them the cell is skipped,
  saying so."""

  name: str
  config: str
  arg: str = ""
  overrides: tuple[tuple[str, object], ...] = ()
  published: tuple[float, float | None] | None = None
  epochs_factor: float = 1.0
  needs: tuple[str, ...] = ()

  def missing(self) -> list[str]:
    return [name for name in self.needs if not os.environ.get(name)]


@dataclasses.dataclass(frozen=True)
class Study:
  """One table: its cells, the runs per cell, the folds (None: a dataset with a fixed test split),
  the row pairs whose difference is tested (default: consecutive rows), and published-only rows."""

  name: str
  title: str
  cells: tuple[Cell, ...]
  runs: int = 10
  folds: tuple[int, ...] | None = None
  comparisons: tuple[tuple[str, str], ...] | None = None
  reference_rows: tuple[tuple[str, float, float], ...] = ()
  note: str = ""

  def cell(self, name: str) -> Cell:
    for cell in self.cells:
      if cell.name == name:
        return cell
    raise KeyError(
        f"study {self.name} has no cell {name!r}; its cells: {[c.name for c in self.cells]}")


@dataclasses.dataclass(frozen=True)
class Scale:
  """What a study changes in every cell (None: the config's own value). `runs` and `folds` choose
  how many runs and which folds, `runs_per_job` caps the runs one program trains (so that a short
  lease finishes a few runs rather than none); the others are config switches
  (ferjax/configs/common.py:parse_common)."""

  width: float | None = None
  size: int | None = None
  epochs: int | None = None
  subset: int | None = None
  views: str | None = None
  dtype: str | None = None
  runs: int | None = None
  folds: tuple[int, ...] | None = None
  runs_per_job: int | None = None

  SWITCHES = ("width", "size", "epochs", "subset", "views", "dtype")

  def record(self) -> dict:
    """The scale as the ledger keeps it: only what was set."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()
            if v is not None}

  def arg(self, cell_arg: str) -> str:
    switches = [
        f"{name}={getattr(self, name)}" for name in self.SWITCHES if getattr(self, name) is not None
    ]
    return ",".join(filter(None, [cell_arg, *switches]))


def cell_config(cell: Cell, scale: Scale, fold: int | None) -> ml_collections.ConfigDict:
  """The cell's config at `scale`, for one CK+ fold (None: FER2013), with one run (runs are set per
  job)."""
  arg = scale.arg(cell.arg.format(**{name: os.environ[name] for name in cell.needs}))
  config = configs.load(f"{cell.config}:{arg}", "" if fold is None else f"fold={fold}")
  config.update_from_flattened_dict(dict(cell.overrides))
  config.num_epochs = max(1, round(config.num_epochs * cell.epochs_factor))
  return config


def config_record(config: ml_collections.ConfigDict) -> dict:
  """The config as plain JSON, as the ledger stores and hashes it."""
  return json.loads(config.to_json_best_effort())


@dataclasses.dataclass(frozen=True)
class PlannedJob:
  """One program: a cell's runs `runs` on one fold, with its config and the config's hash."""

  study: str
  cell: str
  fold: int | None
  runs: tuple[int, ...]
  config: ml_collections.ConfigDict
  config_hash: str

  @property
  def label(self) -> str:
    where = "" if self.fold is None else f" fold {self.fold}"
    runs = f"run {self.runs[0]}" if len(self.runs) == 1 else f"runs {self.runs[0]}-{self.runs[-1]}"
    return f"{self.cell}{where} ({runs})"


@dataclasses.dataclass
class Plan:
  """The jobs still to run in row order, how many the whole study has, and the cells skipped for
  want of an environment variable (cell name -> the missing names)."""

  pending: list[PlannedJob]
  total: int
  skipped: dict[str, list[str]]


def jobs(study: Study, scale: Scale, done: Collection[tuple]) -> Plan:
  """(jobs still to run, jobs of the whole study) in row order: every fold of a row
  before the next row.

  `done` holds ledger keys (study, cell, run, fold, config hash). A job trains the contiguous range
  from its first to its last missing run in one program, cut into chunks of `scale.runs_per_job` (a
  run already in the ledger is trained again only if it lies inside such a range, and its new line
  is a duplicate that readers drop).
  """
  runs = scale.runs or study.runs
  folds = study.folds if study.folds is None or scale.folds is None else scale.folds
  pending, total, skipped = [], 0, {}
  for cell in study.cells:
    if cell.missing():
      skipped[cell.name] = cell.missing()
      continue
    for fold in (None,) if folds is None else folds:
      config = cell_config(cell, scale, fold)
      digest = ledger.config_hash(config_record(config))
      # Jobs of this (cell, fold) with an empty ledger.
      total += -(-runs // (scale.runs_per_job or runs))
      missing = [
          run for run in range(runs) if (study.name, cell.name, run, fold, digest) not in done
      ]
      if not missing:
        continue
      chunk = scale.runs_per_job or len(range(missing[0], missing[-1] + 1))
      for first in range(missing[0], missing[-1] + 1, chunk):
        last = min(first + chunk, missing[-1] + 1)
        if not any(first <= run < last for run in missing):
          continue
        job_config = copy.deepcopy(config)
        with job_config.unlocked():
          job_config.first_run, job_config.num_runs = first, last - first
        job_runs = tuple(range(first, last))
        pending.append(PlannedJob(study.name, cell.name, fold, job_runs, job_config, digest))
  return Plan(pending, total, skipped)


def parse_folds(text: str) -> tuple[int, ...] | None:
  """'' -> None (the study's), 'all' -> 0..9, '0,3' -> (0, 3), '0-4' -> (0, ..., 4)."""
  if not text:
    return None
  if text == "all":
    return tuple(range(10))
  folds: list[int] = []
  for part in text.split(","):
    low, sep, high = part.partition("-")
    try:
      folds += list(range(int(low), int(high) + 1)) if sep else [int(low)]
    except ValueError:
      raise ValueError(f"--folds={text!r}: expected 'all', fold numbers 0-9 and ranges, "
                       "e.g. 0,3 or 0-4") from None
  if any(not 0 <= fold <= 9 for fold in folds):
    raise ValueError(f"--folds={text!r}: folds are 0-9")
  return tuple(sorted(set(folds)))
