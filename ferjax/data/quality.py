"""Per-split image statistics that the builders record while they write a dataset, and the check
that a dataset's splits look alike.

A damaged FER2013 copy circulates with every training image blurred (a Laplacian variance of 3-12
for them, 300-8000 for its test images): it builds and trains, to a model that fails on the test
splits. On the sharp archive this module's measure gives medians of
5,159-5,181 in all three splits, and a Gaussian blur of radius 2 brings it to about 40.
The splits of one dataset come from one pipeline, so their contrast (pixel std) and sharpness agree
within a small factor; a split an order of magnitude off is damaged, and `datasets.prepare` refuses
it unless allowed.
"""

import statistics

import numpy as np

MAX_RATIO = 10.0
CHECKED = {"std": "pixel std", "sharpness": "sharpness (median variance of the Laplacian)"}


def laplacian_variance(pixels: np.ndarray) -> float:
  """Variance of the 4-neighbour Laplacian over the image's interior: high for sharp edges, near 0
  for a blurred image (the 3x3 kernel 0 1 0 / 1 -4 1 / 0 1 0, no padding)."""
  x = pixels.astype(np.float32)
  laplacian = x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:] - 4 * x[1:-1, 1:-1]
  return float(laplacian.var())


class SplitStatistics:
  """One split's images, added one at a time: exact pixel mean and std, each image's sharpness, and
  the image sizes seen; `summary()` is what a prepared dataset records."""

  def __init__(self):
    self.images = 0
    self.pixels = 0
    self.total = 0
    self.squares = 0
    self.sharpness: list[float] = []
    self.sizes: set[str] = set()

  def add(self, pixels: np.ndarray) -> None:
    """Counts one (H, W) uint8 image."""
    values = pixels.astype(np.int64)
    self.images += 1
    self.pixels += values.size
    self.total += int(values.sum())
    self.squares += int((values * values).sum())
    self.sharpness.append(laplacian_variance(pixels))
    self.sizes.add(f"{pixels.shape[1]}x{pixels.shape[0]}")

  def summary(self) -> dict[str, int | float | str]:
    """images, size ('48x48'), pixel mean and std, and the median sharpness over the images."""
    if not self.images:
      return {"images": 0}
    mean = self.total / self.pixels
    return {"images": self.images, "size": ", ".join(sorted(self.sizes)), "mean": mean,
            "std": max(self.squares / self.pixels - mean * mean, 0.0) ** 0.5,
            "sharpness": statistics.median(self.sharpness)}


def departures(per_split: dict[str, dict], max_ratio: float = MAX_RATIO) -> list[str]:
  """A phrase for every split whose std or sharpness is more than `max_ratio` times above or below
  the median over the splits (splits without images are left out)."""
  found = [s for s in per_split if per_split[s].get("images")]
  problems = []
  for key, label in CHECKED.items():
    values = {split: per_split[split][key] for split in found}
    if len(values) < 2:
      continue
    median = statistics.median(values.values())
    figures = ", ".join(f"{split} {value:,.1f}" for split, value in values.items())
    for split, value in values.items():
      ratio = value / median if median > 0 else (1.0 if value == 0 else float("inf"))
      if not 1 / max_ratio <= ratio <= max_ratio:
        problems.append(f"split {split} has {label} {value:,.1f}, {ratio:.3g}x the median over the "
                        f"splits ({figures})")
  return problems
