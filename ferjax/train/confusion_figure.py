"""confusion.png: a confusion matrix as a picture, drawn for every workdir's results (and by the
report for each workdir it lists)."""

import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # Files only; no display needed.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def draw(confusion: np.ndarray, classes: Sequence[str], path: os.PathLike,
         title: str = "") -> None:
  """Rows: true class, columns: predicted; cells show counts, colour shows the row-normalised
  rate."""
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
