"""Evaluation: one pass over a split, per run, into accuracy, per-class accuracy and confusion
matrix.

Acc and Sta follow paper 000 eq. 8-9: the mean of the N runs' accuracies and their population
standard deviation (dividing by N, not N - 1).
"""

from collections.abc import Callable, Iterable

import jax
import numpy as np


def accumulate(eval_step: Callable, runs, batches: Iterable[dict]) -> dict[str, np.ndarray]:
  """Sums `eval_step(runs, batch)` over `batches` (confusion, loss_sum, count), on the device."""
  total = None
  for batch in batches:
    sums = eval_step(runs, batch)
    total = sums if total is None else jax.tree.map(lambda a, b: a + b, total, sums)
  return jax.tree.map(np.asarray, jax.device_get(total))


def metrics_of(sums: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Per-run accuracy, mean loss, per-class accuracy (recall) and the confusion matrix (rows:
  truth)."""
  confusion = sums["confusion"]
  per_class_total = confusion.sum(-1)
  return {
      "accuracy":
          np.trace(confusion, axis1=-2, axis2=-1) / confusion.sum((-2, -1)),
      "loss":
          sums["loss_sum"] / sums["count"],
      "per_class_accuracy":
          np.diagonal(confusion, axis1=-2, axis2=-1) / np.maximum(per_class_total, 1),
      "confusion":
          confusion.round().astype(np.int64),
  }


def acc_sta(accuracies: np.ndarray) -> tuple[float, float]:
  """(Acc, Sta): mean and population standard deviation over runs (paper 000 eq. 8-9)."""
  accuracies = np.asarray(accuracies, np.float64)
  return float(accuracies.mean()), float(accuracies.std(ddof=0))
