"""Runs a paper's table within a time budget and keeps every finished run in a ledger.

  python -m ferjax.study --study=table1_ckplus --budget=45m --ledger=docs/results/ledger.jsonl \\
      --width=0.25 --epochs=1 --runs=1 --cells=m1,m6
  python -m ferjax.study --list

The studies are declared in configs/studies.py. Jobs (one program per cell and fold, the cell's runs
vmapped on its run axis) run in row order, skipping every run the ledger already holds, so rerunning
the same command (on this machine or after merging another's ledger) goes on where the last one ended.
Once a job's first steps are timed after compilation, a job that cannot finish within the remaining
budget is stopped, and a later job of a cell whose jobs took longer than what is left is not started;
the study says so and stops. SIGTERM and the budget's end stop the job at the next step with a
checkpoint: the ledger only ever holds finished jobs, and with a persistent --workdir the next run of the
command resumes the stopped job from its checkpoint.
"""

import dataclasses
import pathlib
import signal
import tempfile
import time

from absl import app, flags

from ferjax import cli, ledger, plan, progress, stopping, train

_STUDY = flags.DEFINE_string("study", None, "A study of configs/studies.py (--list shows them).")
_BUDGET = flags.DEFINE_string("budget", "1h", "Wall time the study may take, e.g. 9m, 1h30m, 600s.")
_LEDGER = flags.DEFINE_string("ledger", None, "The ledger (JSON lines) to read and append to.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Where jobs keep checkpoints; rerunning with the same "
                               "folder resumes a stopped job (default: a temporary folder, removed).")
_LIST = flags.DEFINE_bool("list", False, "List the studies and their cells, and exit.")
_CELLS = flags.DEFINE_list("cells", [], "Only these cells of the study (default: all).")
_WIDTH = flags.DEFINE_float("width", None, "Channel multiplier of every cell (the papers': 1).")
_SIZE = flags.DEFINE_integer("size", None, "Input side of every cell (48 native, 224 the papers').")
_EPOCHS = flags.DEFINE_integer("epochs", None, "Epochs of every cell (default: each config's).")
_SUBSET = flags.DEFINE_integer("subset", None, "Train on a fixed sample of this many training images.")
_VIEWS = flags.DEFINE_enum("views", None, ["expanded", "random"], "The papers' 15-view epoch or random views.")
_DTYPE = flags.DEFINE_enum("dtype", None, ["float32", "bfloat16"], "Compute dtype of every cell.")
_RUNS = flags.DEFINE_integer("runs", None, "Runs per cell (default: the study's, the papers' 10).")
_RUNS_PER_JOB = flags.DEFINE_integer("runs_per_job", None, "At most this many runs in one program (default: all "
                                    "of a cell's missing runs).")
_FOLDS = flags.DEFINE_string("folds", "", "CK+ folds to run: all, 0,3 or 0-4 (default: the study's).")

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

  def eta(self, jobs: list[plan.Job]) -> str:
    estimates = [self.estimate(job.cell) for job in jobs]
    if not jobs:
      return "0m00s"
    if any(e is None for e in estimates):
      return "unknown until a job has finished"
    return progress.duration(sum(estimates))

  def line(self, name: str, remaining: list[plan.Job], stop: stopping.Stop) -> str:
    return (f"study {name}: {self.done}/{self.total} jobs done, {len(remaining)} to go, ETA "
            f"{self.eta(remaining)}, budget left {progress.duration(stop.left())}")


def run_study(study: plan.Study, scale: plan.Scale, ledger_path: pathlib.Path, workdir: pathlib.Path,
              budget_s: float) -> Tally:
  """Runs the jobs of `study` that `ledger_path` lacks until they are done or the budget is spent."""
  contents = ledger.read(ledger_path, missing_ok=True)
  ledger.report_problems(contents)
  planned = plan.jobs(study, scale, {ledger.key(line) for line in contents.lines})
  pending, total = planned.pending, planned.total
  tally = Tally(total, total - len(pending))
  for cell, names in planned.skipped.items():
    print(f"study {study.name}: skipping cell {cell}: it needs {', '.join(names)} set (see configs/studies.py)",
          flush=True)
  stop = stopping.Stop(time.monotonic() + budget_s, RESERVE_S)
  previous_handler = signal.signal(signal.SIGTERM, stop)
  environment = ledger.environment()
  print(f"study {study.name}: {study.title}; scale {scale.record() or 'the configs own'}; "
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
      results = train.train_and_evaluate(job.config, job_workdir(workdir, job), stop)
      if "stopped_at_step" in results:
        print(f"study {study.name}: stopped {job.label} at step {results['stopped_at_step']}: "
              f"{results['reason']}; it is not in the ledger", flush=True)
        break
      seeds = {"run": list(job.runs), "data": list(train.run_seeds(job.config.seed, job.runs))}
      ledger.append(ledger_path, ledger.run_lines(study.name, job.cell, plan.config_record(job.config),
                                                  results, seeds, environment, scale.record()))
      tally.seconds[job.cell] = time.monotonic() - started
      tally.done += 1
      pending.pop(0)
  finally:
    signal.signal(signal.SIGTERM, previous_handler)
  print(tally.line(study.name, pending, stop) + ("" if pending else "; the study is complete"), flush=True)
  return tally


def job_workdir(workdir: pathlib.Path, job: plan.Job) -> pathlib.Path:
  """study/cell-confighash/fold_k: a job resumes only from a checkpoint of the same config."""
  cell = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in job.cell)
  return workdir / job.study / f"{cell}-{job.config_hash}" / ("all" if job.fold is None else f"fold_{job.fold}")


def list_studies() -> str:
  from configs.studies import STUDIES
  lines = []
  for study in STUDIES.values():
    folds = "" if study.folds is None else f", {len(study.folds)} folds"
    lines.append(f"{study.name}: {study.title} ({study.runs} runs{folds})")
    lines += [f"  {cell.name}: configs/{cell.config}.py:{cell.arg}" + "".join(
        f" --config.{k}={v}" for k, v in cell.overrides) for cell in study.cells]
  return "\n".join(lines)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  cli.run(study_command, errors=(train.TrainingError, ledger.LedgerError))


def study_command() -> None:
  if _LIST.value:
    print(list_studies())
    return
  from configs.studies import STUDIES
  if not _STUDY.value or not _LEDGER.value:
    raise ValueError("give --study=NAME and --ledger=PATH (--list shows the studies)")
  if _STUDY.value not in STUDIES:
    raise ValueError(f"unknown study {_STUDY.value!r}; choose one of {', '.join(STUDIES)}")
  study = selected(STUDIES[_STUDY.value], _CELLS.value)
  scale = plan.Scale(width=_WIDTH.value, size=_SIZE.value, epochs=_EPOCHS.value, subset=_SUBSET.value,
                     views=_VIEWS.value, dtype=_DTYPE.value, runs=_RUNS.value, folds=plan.parse_folds(_FOLDS.value),
                     runs_per_job=_RUNS_PER_JOB.value)
  budget_s = parse_duration(_BUDGET.value)
  if _WORKDIR.value:
    run_study(study, scale, pathlib.Path(_LEDGER.value), pathlib.Path(_WORKDIR.value), budget_s)
    return
  with tempfile.TemporaryDirectory(prefix="ferjax_study_") as workdir:
    run_study(study, scale, pathlib.Path(_LEDGER.value), pathlib.Path(workdir), budget_s)


if __name__ == "__main__":
  cli.main(main)
