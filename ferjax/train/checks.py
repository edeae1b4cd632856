"""Settings and workdirs that cannot run, refused before any work with what was expected.

The allowed names come from the registries that define them: sources, losses, schedules, datasets,
compute dtypes, view modes and fold schemes are each listed once, where they are implemented.
"""

import pathlib

import jax
import ml_collections

from ferjax.data import augment, catalog, sources, splits
from ferjax.models import get_model
from ferjax.train import hyper, losses, schedules, steps


def check_config(config: ml_collections.ConfigDict) -> None:
  """Fails before any work on settings that cannot run."""
  choices = {"data.source": (config.data.source, sources.SOURCES),
             "loss.name": (config.loss.name, losses.OBJECTIVES),
             "schedule.name": (config.schedule.name, schedules.SCHEDULES),
             "dataset": (config.dataset, catalog.DATASETS),
             "dtype": (config.dtype, steps.COMPUTE_DTYPES),
             "input.views": (config.input.get("views", "random"), augment.VIEW_MODES),
             "folds.scheme": (config.folds.scheme, splits.CKPLUS_SCHEMES)}
  for key, (value, allowed) in choices.items():
    if value not in allowed:
      raise ValueError(f"config.{key} = {value!r}; expected one of {', '.join(allowed)}")
  for key in ("num_runs", "num_epochs", "batch_size", "eval_batch_size"):
    if config[key] < 1:
      raise ValueError(f"config.{key} = {config[key]}; expected a positive integer")
  options = config.model.options
  ranges = {"model.options.width": (options.get("width", 1.0), lambda v: v > 0,
                                    "a positive channel multiplier (1: the papers' widths)"),
            "model.options.dropout": (options.get("dropout", 0.0), lambda v: 0 <= v < 1,
                                      "a rate in [0, 1)"),
            "optimizer.learning_rate": (config.optimizer.learning_rate, lambda v: v > 0,
                                        "a positive rate")}
  for key, (value, allowed, expected) in ranges.items():
    if not allowed(value):
      raise ValueError(f"config.{key} = {value}; expected {expected}")
  get_model(config.model.name,
            **config.model.options)  # Unknown model names and options raise here.
  hyper.check(config)
  if config.input.size % 16:
    raise ValueError(f"config.input.size = {config.input.size}; expected a multiple of 16 "
                     "(48, 224, ...)")


def check_workdir(workdir: pathlib.Path) -> None:
  """Fails unless `workdir` can be created and written."""
  try:
    workdir.mkdir(parents=True, exist_ok=True)
    probe = workdir / f".write_test_{jax.process_index()}"
    probe.write_text("")
    probe.unlink()
  except OSError as error:
    raise PermissionError(f"workdir {workdir} is not writable: {error.strerror}") from None
