"""A study's jobs, run in row order within a time budget, each finished job appended to the ledger.

The engine of `python -m ferjax.study` (the command, its flags and its help live in
ferjax/study/__main__.py): `run_study` plans the jobs the ledger lacks (ferjax.study.plan), trains
them with one `stopping.Stop` as their SIGTERM handler and budget, appends each finished job's lines
(ferjax.study.ledger) and prints a progress line with jobs done / total, the ETA and the budget
left.
"""

import dataclasses
import pathlib
import signal
import time

from ferjax.study import ledger, plan
from ferjax.train import fold_layout, hyper, loop, progress, stopping

# Seconds a job needs after its last step (test evaluation, results), added to its projected time.
RESERVE_S = 30.0


def parse_duration(text: str) -> float:
  """'90' or '90s' -> 90, '9m' -> 540, '1h30m' -> 5400."""
  total, number = 0.0, ""
  units = {"h": 3600.0, "m": 60.0, "s": 1.0}
  for char in text.strip().lower():
    if char.isdigit() or char == ".":
      number += char
    elif char in units and number:
      total, number = total + float(number) * units[char], ""
    else:
      raise ValueError(f"--budget={text!r}: expected a duration such as 90s, 9m or 1h30m")
  if number:
    total += float(number)
  if total <= 0:
    raise ValueError(f"--budget={text!r}: expected a positive duration such as 90s, 9m or 1h30m")
  return total


def selected(study: plan.Study, cells: list[str]) -> plan.Study:
  """The study restricted to `cells` (in the study's order); unknown names raise."""
  if not cells:
    return study
  chosen = {study.cell(name).name for name in cells}
  kept = tuple(cell for cell in study.cells if cell.name in chosen)
  return dataclasses.replace(study, cells=kept)


@dataclasses.dataclass
class Tally:
  """How far the study is: jobs done of all, and the seconds each cell's jobs took."""

  total: int
  done: int
  seconds: dict[str, float] = dataclasses.field(default_factory=dict)

  def estimate(self, cell: str) -> float | None:
    """A job's expected seconds: its cell's last job, else the mean over cells, else unknown."""
    if cell in self.seconds:
      return self.seconds[cell]
    return sum(self.seconds.values()) / len(self.seconds) if self.seconds else None

  def eta(self, jobs: list[plan.PlannedJob]) -> str:
    estimates = [self.estimate(job.cell) for job in jobs]
    if not jobs:
      return "0m00s"
    if any(e is None for e in estimates):
      return "unknown until a job has finished"
    return progress.duration(sum(estimates))

  def line(self, name: str, remaining: list[plan.PlannedJob], stop: stopping.Stop) -> str:
    return (f"study {name}: {self.done}/{self.total} jobs done, {len(remaining)} to go, ETA "
            f"{self.eta(remaining)}, budget left {progress.duration(stop.left())}")


def run_study(study: plan.Study, scale: plan.Scale, ledger_path: pathlib.Path,
              workdir: pathlib.Path, budget_s: float) -> Tally:
  """Runs the jobs of `study` that `ledger_path` lacks until they are done or the budget is
  spent."""
  contents = ledger.read(ledger_path, missing_ok=True)
  ledger.report_problems(contents)
  planned = plan.jobs(study, scale, {ledger.key(line) for line in contents.lines})
  pending, total = planned.pending, planned.total
  tally = Tally(total, total - len(pending))
  for cell, names in planned.skipped.items():
    print(f"study {study.name}: skipping cell {cell}: it needs {', '.join(names)} set "
          "(see ferjax/study/studies.py)", flush=True)
  stop = stopping.Stop(time.monotonic() + budget_s, RESERVE_S)
  previous_handler = signal.signal(signal.SIGTERM, stop)
  environment = ledger.environment()
  scale_text = scale.record() or "the configs' own"
  print(f"study {study.name}: {study.title}; scale {scale_text}; "
        f"{tally.done}/{total} jobs already in {ledger_path}", flush=True)
  try:
    while pending and not stop.check():
      job = pending[0]
      expected = tally.estimate(job.cell)
      if expected is not None and expected + RESERVE_S > stop.left():
        print(f"study {study.name}: not starting {job.label}: its cell's jobs take "
              f"{progress.duration(expected)} and {RESERVE_S:.0f} s are kept to finish one, "
              f"{progress.duration(stop.left())} of the budget is left", flush=True)
        break
      print(tally.line(study.name, pending, stop) + f"; now {job.label}", flush=True)
      started = time.monotonic()
      outcome = loop.train_and_evaluate(job.config, job_workdir(workdir, job), stop)
      if isinstance(outcome, stopping.Stopped):
        print(f"study {study.name}: stopped {job.label} at step {outcome.step}: "
              f"{outcome.reason}; it is not in the ledger", flush=True)
        break
      seeds = {"run": list(job.runs), "data": list(hyper.data_seeds(job.config.seed, job.runs))}
      ledger.append(
          ledger_path,
          ledger.run_lines(study.name, job.cell, plan.config_record(job.config), outcome, seeds,
                           environment, scale.record()))
      tally.seconds[job.cell] = time.monotonic() - started
      tally.done += 1
      pending.pop(0)
  finally:
    signal.signal(signal.SIGTERM, previous_handler)
  print(tally.line(study.name, pending, stop) + ("" if pending else "; the study is complete"),
        flush=True)
  return tally


def job_workdir(workdir: pathlib.Path, job: plan.PlannedJob) -> pathlib.Path:
  """study/cell-confighash/runs_<first>-<last>/fold_k (or .../all): a job resumes only from a
  checkpoint of the same config and the same runs (a folder per cell alone let run 1 resume run 0's
  finished checkpoint and record its numbers as its own)."""
  cell = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in job.cell)
  runs = f"runs_{job.runs[0]}-{job.runs[-1]}"
  cell_dir = workdir / job.study / f"{cell}-{job.config_hash}" / runs
  return cell_dir / "all" if job.fold is None else fold_layout.fold_dir(cell_dir, job.fold)
