"""Where training reports to: a console progress line, `metrics.jsonl` and TensorBoard event files.

This module is metrics.jsonl's writer (`Progress`) and reader (`read_metrics`).

TensorBoard files are written with tensorboardX (no TensorFlow). Only process 0 writes; values with
a run axis are written per run (`loss/run0`, ...) and their mean goes to the console.
"""

import json
import os
import pathlib
import time

import jax
import numpy as np

FILE = "metrics.jsonl"


def duration(seconds: float, exact: bool = False) -> str:
  """A time span: '1h02m' or '4m05s' as progress lines show it, or with `exact` (reports)
  '1h02m03s', '4m05s' or '7s', rounded to the second."""
  seconds = round(seconds) if exact else int(max(seconds, 0))
  hours, rest = divmod(seconds, 3600)
  minutes, rest = divmod(rest, 60)
  if not exact:
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{rest:02d}s"
  if hours:
    return f"{hours}h{minutes:02d}m{rest:02d}s"
  return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def read_metrics(path: os.PathLike) -> list[dict]:
  """The rows of a metrics.jsonl (a workdir's, or the file itself), sorted by step; a resumed run
  rewrites steps, and the last write wins."""
  path = pathlib.Path(path)
  path = path / FILE if path.is_dir() else path
  rows = {}
  for line in path.read_text().splitlines():
    if line.strip():
      row = json.loads(line)
      rows[(row["split"], row["step"])] = row
  return sorted(rows.values(), key=lambda row: row["step"])


class Progress:
  """Console + metrics.jsonl + TensorBoard for one workdir."""

  def __init__(self, workdir: os.PathLike, total_steps: int, steps_per_epoch: int,
               images_per_step: int):
    self.active = jax.process_index() == 0
    self.total_steps = total_steps
    self.steps_per_epoch = steps_per_epoch
    self.images_per_step = images_per_step
    self._clock = None
    if self.active:
      self._jsonl = open(os.path.join(workdir, FILE), "a")  # noqa: SIM115 -- closed in close().
      # Imported by the writer alone: tensorboardX imports PyTorch where it is installed (1.4 s),
      # which the commands that only read this module's helpers (predict's progress bar) skip.
      from tensorboardX import SummaryWriter
      self._tensorboard = SummaryWriter(os.path.join(workdir, "tensorboard"))

  def start(self, step: int) -> None:
    """Starts the images/s clock at `step` (after compilation, or after a resume)."""
    self._clock = (time.perf_counter(), int(step))

  def write(self, step: int, split: str, values: dict) -> None:
    """Records scalars (or per-run vectors) of `split` ('train', 'validation', 'test') at `step`."""
    if not self.active:
      return
    row = {"step": int(step), "epoch": round(step / self.steps_per_epoch, 3), "split": split}
    for name, value in values.items():
      value = np.asarray(value)
      row[name] = value.tolist()
      for run, v in enumerate(np.atleast_1d(value)):
        self._tensorboard.add_scalar(f"{split}/{name}/run{run}", float(v), step)
    self._jsonl.write(json.dumps(row) + "\n")
    self._jsonl.flush()

  def images_per_second(self, step: int) -> float | None:
    """Training images/s from the clock's start to `step` (None before any timed step)."""
    if not self._clock or step <= self._clock[1]:
      return None
    return (step - self._clock[1]) * self.images_per_step / (time.perf_counter() - self._clock[0])

  def console(self, step: int, values: dict, note: str = "") -> None:
    """One progress line: step, epoch, mean over runs of each value, images/s and ETA."""
    if not self.active:
      return
    parts = [f"step {step}/{self.total_steps}", f"epoch {step / self.steps_per_epoch:.2f}"]
    parts += [f"{name} {float(np.mean(value)):.4g}" for name, value in values.items()]
    if self._clock and step > self._clock[1]:
      elapsed = time.perf_counter() - self._clock[0]
      rate = (step - self._clock[1]) / elapsed
      parts += [f"{rate * self.images_per_step:,.0f} img/s",
                f"ETA {duration((self.total_steps - step) / rate)}"]
    print("  ".join(parts) + (f"  {note}" if note else ""), flush=True)

  def close(self) -> None:
    if self.active:
      self._jsonl.close()
      self._tensorboard.close()
