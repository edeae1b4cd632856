"""`results.json`: what a finished job reports, written by training and read by report, sweep, study
and inference. `Results` is the file's only writer and reader.

A job's results hold every run's test accuracy and Acc / Sta over runs (paper 000 eq. 8-9),
per-class accuracy and confusion matrices, each run's selected epoch and what the job ran on; a CK+
`fold=all` workdir holds a summary of its folds (`summarize_folds`) beside every fold's own file.
"""

import dataclasses
import json
import os
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ferjax.train import confusion_figure, evaluate

FILE = "results.json"


class ResultsError(ValueError):
  """A results.json that cannot be read: the message names the file and what is wrong."""


@dataclasses.dataclass(kw_only=True)
class Results:
  """One job's (or one cross-validation's) results, in the file's key order."""

  dataset: str
  model: str
  options: dict
  loss: str
  split: str                         # The reported split: 'private_test', 'fold 3', 'all folds'.
  fold: int | None                   # None for FER2013 and for a summary of folds.
  protocol: str | None = None        # 'fer2013', or the CK+ fold scheme ('subject', 'leaky_...').
  views: str | None = None           # 'expanded' or 'random' (config.input.views).
  classes: list[str]
  num_runs: int
  num_epochs: int
  accuracy: list[float]              # Per run.
  acc: float                         # Mean over runs.
  sta: float                         # Population std over runs.
  per_class_accuracy: list           # (runs, classes).
  confusion: list                    # (runs, classes, classes), rows: truth.
  best_epoch: list[int]              # Per run: the epoch whose weights were reported.
  wall_time_s: float
  pretrained: dict | None = None     # {'name', 'sha256'} of the ImageNet convs it started from.
  tta_accuracy: list[float] | None = None  # Per run, with 12-view test-time augmentation.
  tta_acc: float | None = None
  steps: int | None = None           # Train steps (summed over folds in a summary).
  images_per_second: float | None = None
  split_sizes: dict | None = None    # Examples per source ('train', 'validation', 'test').
  source: dict | None = None         # {'name', 'sha256'} of the archive the dataset was built from.
  fold_accuracy: list[float] | None = None  # A summary's Acc of every fold.

  def to_json(self) -> dict[str, Any]:
    """The file's dict: every field but the optional ones that are unset (`fold` is always
    there)."""
    return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
            if getattr(self, field.name) is not None or field.name == "fold"}

  def write(self, workdir: pathlib.Path) -> None:
    """Writes results.json and confusion.png (the confusion matrix summed over runs) into
    `workdir`."""
    (workdir / FILE).write_text(json.dumps(self.to_json(), indent=2))
    confusion_figure.draw(
        np.sum(self.confusion, axis=0), self.classes, workdir / "confusion.png",
        title=f"{self.model} on {self.dataset}, {self.split}: accuracy {self.acc:.3f}")

  @classmethod
  def read(cls, path: os.PathLike) -> "Results":
    """The results of a workdir (or of the results.json at `path`)."""
    path = pathlib.Path(path)
    path = path / FILE if path.is_dir() else path
    try:
      values = json.loads(path.read_text())
    except json.JSONDecodeError as error:
      raise ResultsError(f"{path}: not valid JSON ({error})") from None
    fields = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
      raise ResultsError(f"{path}: unknown key(s) {', '.join(unknown)}; expected those of "
                         "ferjax.train.results.Results")
    try:
      return cls(**values)
    except TypeError as error:
      raise ResultsError(f"{path}: {error}") from None


def exists(workdir: os.PathLike) -> bool:
  """Whether the workdir holds finished results."""
  return (pathlib.Path(workdir) / FILE).is_file()


def summarize_folds(fold_results: Sequence[Results]) -> Results:
  """Every fold's results as one: per run the mean over folds, Acc / Sta of those means, summed
  confusion and steps; each fold's own split sizes and images/s are left out (neither sums)."""
  per_run = np.mean([r.accuracy for r in fold_results], axis=0)
  acc, sta = evaluate.acc_sta(per_run)
  summary = dataclasses.replace(fold_results[0],
                                split="all folds", fold=None, accuracy=per_run.tolist(), acc=acc,
                                sta=sta,
                                per_class_accuracy=np.mean(
                                    [r.per_class_accuracy for r in fold_results], 0).tolist(),
                                confusion=np.sum([r.confusion for r in fold_results], 0).tolist(),
                                fold_accuracy=[r.acc for r in fold_results],
                                wall_time_s=sum(r.wall_time_s for r in fold_results),
                                split_sizes=None, images_per_second=None,
                                steps=sum(r.steps or 0 for r in fold_results))
  if summary.tta_accuracy is not None:
    tta = np.mean([r.tta_accuracy for r in fold_results], axis=0)
    summary = dataclasses.replace(summary, tta_accuracy=tta.tolist(), tta_acc=float(tta.mean()))
  return summary
