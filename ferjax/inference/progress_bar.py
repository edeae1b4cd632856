"""A progress line for long videos: frames done of all, frames/s and time left, on stderr.

On a terminal the line is redrawn in place a few times a second; in a log (stderr not a terminal) a
new line is written every `log_every` seconds, so a redirected run still shows it is alive.
"""

import sys
import time
from typing import TextIO

from ferjax.train.progress import duration

WIDTH = 24  # Characters of the bar itself.


class ProgressBar:
  """`update(done)` after each batch; `close()` ends the line. `total` 0 means unknown (no bar or
  ETA, only the rate)."""

  def __init__(self, name: str, total: int, stream: TextIO = sys.stderr, log_every: float = 10.0,
               redraw_every: float = 0.25):
    self.name, self.total, self.stream = name, total, stream
    self.interactive = stream.isatty()
    self.every = redraw_every if self.interactive else log_every
    self.start = time.perf_counter()
    self._last = self.start
    self.done = 0

  def line(self) -> str:
    seconds = time.perf_counter() - self.start
    rate = self.done / seconds if seconds > 0 else 0.0
    if not self.total:
      return f"{self.name}: {self.done} frames, {rate:.1f} frames/s"
    fraction = min(self.done / self.total, 1.0)
    filled = round(WIDTH * fraction)
    left = (self.total - self.done) / rate if rate > 0 else 0.0
    return (f"{self.name} [{'#' * filled}{'.' * (WIDTH - filled)}] {self.done}/{self.total} "
            f"frames {fraction:4.0%}, {rate:.1f} frames/s, ETA {duration(left)}")

  def update(self, done: int) -> None:
    self.done = done
    now = time.perf_counter()
    if now - self._last >= self.every:
      self._last = now
      self._show()

  def _show(self) -> None:
    if self.interactive:
      self.stream.write("\r\033[K" + self.line())
    else:
      self.stream.write(self.line() + "\n")
    self.stream.flush()

  def close(self) -> None:
    """Ends the redrawn line (a log gets no final line: the caller prints the summary)."""
    if self.interactive and self.done:
      self._show()
      self.stream.write("\n")
      self.stream.flush()
