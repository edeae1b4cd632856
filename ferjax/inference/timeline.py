"""A video's expressions over time, as one PNG (written beside `--csv`'s table).

Top: the probability of each expression, frame by frame, for the video's first face (the best
detection score, the first given box, or the whole frame); frames without a face leave a gap.
Bottom: the dominant expression of each second, the class with the highest mean probability over
that second's labelled frames.
"""

import dataclasses
import math
import pathlib
from collections.abc import Sequence

import numpy as np

LABELLED_SECONDS = 30  # Up to this many seconds, the strip names each second's expression.


@dataclasses.dataclass
class Timeline:
  """Accumulates (time, probabilities of face 0 or None) for one video."""

  class_names: list[str]
  times: list[float] = dataclasses.field(default_factory=list)
  rows: list[np.ndarray] = dataclasses.field(default_factory=list)

  def add(self, time: float, records: list[dict]) -> None:
    self.times.append(time)
    empty = np.full(len(self.class_names), np.nan)
    self.rows.append(np.asarray(list(records[0]["probabilities"].values())) if records else empty)

  def probabilities(self) -> np.ndarray:
    return np.stack(self.rows) if self.rows else np.zeros((0, len(self.class_names)))


def dominant_per_second(times: Sequence[float], probabilities: np.ndarray) -> list[tuple[int, int]]:
  """(second, class index) for every whole second holding a labelled frame: the argmax of the mean
  probability over that second's frames with a face."""
  seconds: dict[int, list[np.ndarray]] = {}
  for time, row in zip(times, probabilities):
    if not np.isnan(row).any():
      seconds.setdefault(math.floor(time), []).append(row)
  return [(second, int(np.argmax(np.mean(rows, axis=0))))
          for second, rows in sorted(seconds.items())]


def end_time(times: Sequence[float]) -> float:
  """Where the labelled part of the video ends: the last frame's time plus one frame interval."""
  step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
  return (times[-1] if len(times) else 0.0) + step


def plot(timeline: Timeline, path: pathlib.Path, title: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  names = timeline.class_names
  probabilities = timeline.probabilities()
  colours = plt.get_cmap("tab10")(np.arange(len(names)) % 10)
  figure, (curves, strip) = plt.subplots(
      2, 1, figsize=(10, 4.6), sharex=True, gridspec_kw={"height_ratios": [4, 1]})
  for k, name in enumerate(names):
    curves.plot(timeline.times, probabilities[:, k], color=colours[k], label=name, linewidth=1.2)
  curves.set_ylim(0, 1)
  curves.set_ylabel("probability")
  curves.grid(alpha=0.3)
  curves.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
  curves.set_title(title, fontsize=9)
  end = end_time(timeline.times)
  dominant = dominant_per_second(timeline.times, probabilities)
  for second, k in dominant:
    strip.axvspan(second, min(second + 1, end), color=colours[k], alpha=0.85, linewidth=0)
    if len(dominant) <= LABELLED_SECONDS:
      strip.text((second + min(second + 1, end)) / 2, 0.5, names[k], ha="center", va="center",
                 fontsize=7)
  strip.set_yticks([])
  strip.set_ylabel("per s", fontsize=8)
  strip.set_xlabel("time (s)")
  strip.set_xlim(0, end)
  figure.tight_layout()
  figure.savefig(path, dpi=110)
  plt.close(figure)
