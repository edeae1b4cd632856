"""Pictures of results: confusion matrices (and, in reports, learning curves), as PNG files."""

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # Files only; no display needed.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def confusion_matrix(confusion: np.ndarray, classes: Sequence[str], path: os.PathLike, title: str = "") -> None:
  """Rows: true class, columns: predicted; cells show counts, colour shows the row-normalised rate."""
  confusion = np.asarray(confusion)
  rates = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
  size = 1.0 + 0.75 * len(classes)
  figure, axes = plt.subplots(figsize=(size + 1.5, size))
  image = axes.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
  for (row, col), count in np.ndenumerate(confusion):
    axes.text(col, row, f"{count}\n{rates[row, col]:.0%}", ha="center", va="center", fontsize=8,
              color="white" if rates[row, col] > 0.5 else "black")
  axes.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
  axes.set_yticks(range(len(classes)), classes)
  axes.set_xlabel("predicted")
  axes.set_ylabel("true")
  axes.set_title(title, fontsize=9)
  figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the true class")
  figure.tight_layout()
  figure.savefig(path, dpi=120)
  plt.close(figure)


def learning_curves(panels: Mapping[str, Sequence[tuple[str, np.ndarray, np.ndarray]]], path: os.PathLike,
                    title: str = "", xlabel: str = "epoch") -> None:
  """One panel per entry (e.g. loss, accuracy); a curve is (label, x, values of shape [len(x), runs]),
  drawn as the mean over runs with a shaded min-max band, so run-to-run spread stays visible."""
  figure, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 3.8), squeeze=False)
  for axis, (name, curves) in zip(axes[0], panels.items(), strict=True):
    for label, x, values in curves:
      values = np.asarray(values, np.float64).reshape(len(x), -1)
      (line,) = axis.plot(x, values.mean(1), label=label, marker="o" if len(x) < 3 else None)
      if values.shape[1] > 1:
        axis.fill_between(x, values.min(1), values.max(1), color=line.get_color(), alpha=0.2, linewidth=0)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(name)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
  figure.suptitle(title, fontsize=9)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)
