"""Pictures of reports: learning curves, sweeps, per-class bars and embeddings, as PNG files (a
workdir's confusion matrix is `ferjax.train.confusion_figure`'s)."""

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # Files only; no display needed.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def learning_curves(panels: Mapping[str, Sequence[tuple[str, np.ndarray, np.ndarray]]],
                    path: os.PathLike,
                    title: str = "",
                    xlabel: str = "epoch",
                    log_panels: Sequence[str] = ()) -> None:
  """One panel per entry (e.g. loss, accuracy); a curve is (label, x, values of shape
  [len(x), runs]), drawn as the mean over runs with a shaded min-max band, so run-to-run spread
  stays visible. The panels named in `log_panels` have a logarithmic y axis."""
  figure, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 3.8), squeeze=False)
  for axis, (name, curves) in zip(axes[0], panels.items(), strict=True):
    for label, x, values in curves:
      values = np.asarray(values, np.float64).reshape(len(x), -1)
      (line,) = axis.plot(x, values.mean(1), label=label, marker="o" if len(x) < 3 else None)
      if values.shape[1] > 1:
        axis.fill_between(x,
                          values.min(1), values.max(1), color=line.get_color(), alpha=0.2,
                          linewidth=0)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(name)
    if name in log_panels:
      axis.set_yscale("log")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
  figure.suptitle(title, fontsize=9)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def sweep_curve(labels: Sequence[str], values: Sequence[float] | None, acc: Sequence[float],
                sta: Sequence[float], path: os.PathLike, xlabel: str, title: str = "") -> None:
  """Acc +- Sta (percent) per sweep point, against the swept value (log axis when it spans more than
  a decade) or, when points are not numbers, against their labels."""
  acc, sta = 100 * np.asarray(acc), 100 * np.asarray(sta)
  figure, axis = plt.subplots(figsize=(5.5, 3.8))
  x = np.arange(len(labels)) if values is None else np.asarray(values, np.float64)
  axis.errorbar(x, acc, yerr=sta, marker="o", capsize=4)
  axis.margins(y=0.15)  # Room for the best point's label.
  if values is None:
    axis.set_xticks(x, labels, rotation=20, ha="right", fontsize=8)
  elif x.min() > 0 and x.max() / x.min() > 10:
    axis.set_xscale("log")
  best = int(np.argmax(acc))
  axis.annotate(f"{acc[best]:.2f}", (x[best], acc[best]), textcoords="offset points", xytext=(0, 8),
                ha="center", fontsize=8)
  axis.set_xlabel(xlabel)
  axis.set_ylabel("test accuracy % (mean ± population std over runs)")
  axis.grid(alpha=0.3)
  axis.set_title(title, fontsize=9)
  figure.tight_layout()
  figure.savefig(path, dpi=110)
  plt.close(figure)


def per_class_bars(names: Sequence[str],
                   per_class: np.ndarray, classes: Sequence[str], path: os.PathLike,
                   title: str = "") -> None:
  """Grouped bars: per-class accuracy (rows of `per_class`, in [0, 1]) of each named run, side by
  side."""
  per_class = 100 * np.asarray(per_class, np.float64)
  width = 0.8 / len(names)
  figure, axis = plt.subplots(figsize=(1.2 + 0.35 * len(classes) * len(names) + 1.0, 3.8))
  positions = np.arange(len(classes))
  for i, (name, row) in enumerate(zip(names, per_class, strict=True)):
    axis.bar(positions + (i - (len(names) - 1) / 2) * width, row, width, label=name)
  axis.set_xticks(positions, classes, rotation=20, ha="right")
  axis.set_ylabel("accuracy % (recall)")
  axis.set_ylim(0, 100)
  axis.grid(axis="y", alpha=0.3)
  axis.legend(fontsize=8, ncol=min(len(names), 4))
  axis.set_title(title, fontsize=9)
  figure.tight_layout()
  figure.savefig(path, dpi=110)
  plt.close(figure)


def embedding_panels(panels: Sequence[tuple[str, np.ndarray, np.ndarray]], classes: Sequence[str],
                     path: os.PathLike, title: str = "") -> None:
  """One scatter per (panel title, (N, 2) points, labels (N,)), coloured by class, side by side."""
  figure, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 4.2), squeeze=False)
  for axis, (name, points, labels) in zip(axes[0], panels, strict=True):
    for k, cls in enumerate(classes):
      chosen = labels == k
      axis.scatter(points[chosen, 0], points[chosen, 1], s=4, alpha=0.6, color=f"C{k}", label=cls)
    axis.set_title(name, fontsize=8)
    axis.set_xticks([])
    axis.set_yticks([])
  axes[0][-1].legend(fontsize=7, markerscale=3, loc="best")
  figure.suptitle(title, fontsize=9)
  figure.tight_layout()
  figure.savefig(path, dpi=110)
  plt.close(figure)
