"""A trained network ready to label face crops: rebuilt from a workdir's saved config and
checkpoint, or from a portable file's config and weights (one written by `python -m ferjax.export`,
or a model that ships with ferjax). `load` takes any of the three.

`Classifier.from_workdir` reads `config.json` (written by `train.train_and_evaluate`), rebuilds the
model with `ferjax.models.get_model`, restores the newest checkpoint's selected weights (each run's
best epoch by validation accuracy) and keeps one run: by default the one with the best validation
accuracy, or run 0 without a validation split (`pick_run` says which). Its `probabilities` take
uint8 grayscale crops at the model's input size and apply the same evaluation preprocessing as
training (`ferjax.data.augment.preprocess_eval`, or the 12 test-time views), after the histogram
equalisation of each crop where the training images were equalised.
"""

import dataclasses
import functools
import os
import pathlib
import sys
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ferjax import models
from ferjax import mesh as mesh_lib
from ferjax.data import buckets
from ferjax.faces import align
from ferjax.inference import preprocessing as preprocessing_lib
from ferjax.inference import shipped
from ferjax.inference.preprocessing import Preprocessing
from ferjax.train import config_file, fold_layout, hyper, results
from ferjax.train import checkpoints as checkpoints_lib
from ferjax.train import state as state_lib


@dataclasses.dataclass
class Classifier:
  """One trained run: the network, its variables, its class names and its input preprocessing."""

  model: nn.Module
  variables: dict[str, Any]
  class_names: list[str]
  preprocessing: Preprocessing
  config: ml_collections.ConfigDict
  source: str = ""
  margin: float | None = None  # The crop margin a portable file names (None: the caller's default).

  def crop_margin(self, given: float | None = None) -> float:
    """The crop margin to cut faces with: `given`, else the one this classifier names, else
    `align.DEFAULT_MARGIN` (the margin ferjax's training crops use)."""
    if given is not None:
      return given
    return align.DEFAULT_MARGIN if self.margin is None else self.margin

  def __post_init__(self):
    self._probabilities = jax.jit(
        functools.partial(preprocessing_lib.probabilities, self.model, self.preprocessing),
        static_argnames="tta")

  @classmethod
  def from_workdir(cls,
                   workdir: os.PathLike,
                   run: int | None = None,
                   fold: int = 0) -> "Classifier":
    """The run `run` (default: best validation accuracy) of the workdir's newest checkpoint.

    A CK+ workdir trained with fold=-1 holds one workdir per fold; `fold` picks it.
    """
    workdir = pathlib.Path(workdir)
    if fold_layout.holds_folds(workdir):
      print(f"{workdir} holds one workdir per fold; using fold_{fold} (--fold picks another)",
            file=sys.stderr)
    workdir = fold_layout.job_dir(workdir, fold)
    config = config_file.read(workdir)
    store = checkpoints_lib.Checkpoints.existing(
        workdir / "checkpoints", config.checkpoint_keep,
        hint="train this workdir first with python -m ferjax.main --config=... --workdir=...")
    class_names = load_class_names(workdir, config)
    mesh = mesh_lib.make_mesh()
    state = state_lib.state_shapes(config, mesh, len(class_names), hyper.resolve(config))
    step, _, best, record = store.restore_newest(state, state.runs)
    store.close()
    run = pick_run(record["best_accuracy"], run, workdir)
    runs = jax.tree.map(lambda leaf: np.asarray(leaf[run]), best)
    variables = {"params": runs.params, "batch_stats": runs.batch_stats}
    preprocessing = Preprocessing(int(config.input.size), float(config.input.mean),
                                  float(config.input.std),
                                  bool(config.input.get(config_file.EQUALIZED, False)))
    model = models.get_model(config.model.name, **config.model.options)
    return cls(model, variables, list(class_names), preprocessing, config,
               source=f"{workdir} step {step} run {run}")

  @classmethod
  def from_file(cls, path: os.PathLike) -> "Classifier":
    """The network of a portable file, rebuilt from its config and weights (unlike
    `export.PortableClassifier`, which runs the stored function, it offers test-time augmentation
    and explanations)."""
    from ferjax.inference import export
    meta, variables, _ = export.read(path)
    config = ml_collections.ConfigDict({"model": meta["model"]})
    return cls(models.from_stored(meta["model"]), variables, list(meta["class_names"]),
               export.preprocessing_of(meta), config, source=f"{path} (from {meta['source']})",
               margin=meta.get("margin"))

  @property
  def size(self) -> int:
    return self.preprocessing.size

  def probabilities(self, crops: np.ndarray, tta: bool = False) -> np.ndarray:
    """(N, classes) softmax of uint8 (N, size, size) crops, in one jitted call (batch padded)."""
    if len(crops) == 0:
      return np.zeros((0, len(self.class_names)), np.float32)
    out = self._probabilities(self.variables, jnp.asarray(buckets.pad(crops)), tta=tta)
    return np.asarray(out)[:len(crops)]


def load(source: os.PathLike | None = None, run: int | None = None, fold: int = 0) -> Classifier:
  """A ready classifier from `source`: a workdir trained by `python -m ferjax.main` (`run` and
  `fold` pick within it), a portable file, or the name of a model that ships with ferjax (default:
  `shipped.DEFAULT`)."""
  source = shipped.DEFAULT if source is None else source
  if str(source) in shipped.MODELS:
    return dataclasses.replace(Classifier.from_file(shipped.path(str(source))),
                               source=shipped.describe(str(source)))
  if pathlib.Path(source).is_dir():
    return Classifier.from_workdir(source, run, fold)
  if pathlib.Path(source).is_file():
    return Classifier.from_file(source)
  raise FileNotFoundError(f"{source}: neither a workdir, a portable file nor a shipped model "
                          f"({', '.join(shipped.MODELS)})")


def load_class_names(workdir: pathlib.Path, config: ml_collections.ConfigDict) -> list[str]:
  """Class names in label order: from results.json when training finished, else the dataset's
  builder."""
  if results.exists(workdir):
    return list(results.Results.read(workdir).classes)
  from ferjax.data import datasets  # Only for unfinished workdirs: TFDS is slow to import.
  return list(datasets.get_builder(config.dataset, config.data_dir).info.features["label"].names)


def pick_run(validation_accuracy: list[float], run: int | None, workdir: pathlib.Path) -> int:
  """`run` if given (checked), else the run with the best validation accuracy (the first on ties).

  Without a validation split (CK+: every run keeps its final epoch, and the record holds no
  accuracy) no run is better than another: run 0, saying so when there is a choice.
  """
  count = len(validation_accuracy)
  if run is not None:
    if not 0 <= run < count:
      raise ValueError(f"--run={run}: {workdir} holds runs 0..{count - 1}")
    return run
  if max(validation_accuracy) < 0:  # The record's initial value: nothing was validated.
    if count > 1:
      print(f"{workdir}: no validation split to choose among its {count} runs; using run 0 "
            "(--run picks another)", file=sys.stderr, flush=True)
    return 0
  best = int(np.argmax(validation_accuracy))
  if count > 1:
    print(f"{workdir}: using run {best} of {count}, the best validation accuracy "
          f"({validation_accuracy[best]:.4f})", file=sys.stderr, flush=True)
  return best
