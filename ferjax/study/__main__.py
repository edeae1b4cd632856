"""Runs a paper's table within a time budget and keeps every finished run in a ledger.

  python -m ferjax.study --study=table1_ckplus --budget=45m --ledger=docs/results/ledger.jsonl \\
      --width=0.25 --epochs=1 --runs=1 --cells=m1,m6
  python -m ferjax.study --list

The studies are declared in ferjax/study/studies.py and run by ferjax/study/jobs.py. Jobs (one
program per cell and fold, the cell's runs vmapped on its run axis) run in row order, skipping every
run the ledger already holds, so rerunning the same command (on this machine or after merging
another's ledger) goes on where the last one ended. Once a job's first steps are timed after
compilation, a job that cannot finish within the remaining budget is stopped, and a later job of a
cell whose jobs took longer than what is left is not started; the study says so and stops. SIGTERM
and the budget's end stop the job at the next step with a checkpoint: the ledger only ever holds
finished jobs, and with a persistent --workdir the next run of the command resumes the stopped job
from its checkpoint.
"""

import pathlib
import tempfile

from absl import app, flags

from ferjax import cli
from ferjax.study import jobs, ledger, plan, studies
from ferjax.train import loop

_STUDY = flags.DEFINE_string("study", None,
                             "A study of ferjax/study/studies.py (--list shows them).")
_BUDGET = flags.DEFINE_string("budget", "1h", "Wall time the study may take, e.g. 9m, 1h30m, 600s.")
_LEDGER = flags.DEFINE_string("ledger", None, "The ledger (JSON lines) to read and append to.")
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Where jobs keep checkpoints; rerunning with the same "
    "folder resumes a stopped job (default: a temporary folder, removed).")
_LIST = flags.DEFINE_bool("list", False, "List the studies and their cells, and exit.")
_CELLS = flags.DEFINE_list("cells", [], "Only these cells of the study (default: all).")
_WIDTH = flags.DEFINE_float("width", None, "Channel multiplier of every cell (the papers': 1).")
_SIZE = flags.DEFINE_integer("size", None, "Input side of every cell (48 native, 224 the papers').")
_EPOCHS = flags.DEFINE_integer("epochs", None, "Epochs of every cell (default: each config's).")
_SUBSET = flags.DEFINE_integer("subset", None,
                               "Train on a fixed sample of this many training images.")
_VIEWS = flags.DEFINE_enum("views", None, ["expanded", "random"],
                           "The papers' 15-view epoch or random views.")
_DTYPE = flags.DEFINE_enum("dtype", None, ["float32", "bfloat16"], "Compute dtype of every cell.")
_RUNS = flags.DEFINE_integer("runs", None, "Runs per cell (default: the study's, the papers' 10).")
_RUNS_PER_JOB = flags.DEFINE_integer(
    "runs_per_job", None, "At most this many runs in one program (default: all "
    "of a cell's missing runs).")
_FOLDS = flags.DEFINE_string("folds", "",
                             "CK+ folds to run: all, 0,3 or 0-4 (default: the study's).")

def list_studies() -> str:
  lines = []
  for study in studies.STUDIES.values():
    folds = "" if study.folds is None else f", {len(study.folds)} folds"
    runs = f"{study.runs} run{'s' if study.runs != 1 else ''}"
    lines.append(f"{study.name}: {study.title} ({runs}{folds})")
    lines += [f"  {cell.name}: {cell.config}:{cell.arg}" + "".join(
        f" --config.{k}={v}" for k, v in cell.overrides) for cell in study.cells]
  return "\n".join(lines)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  cli.run(study_command, errors=(loop.TrainingError, ledger.LedgerError))


def study_command() -> None:
  if _LIST.value:
    print(list_studies())
    return
  if not _STUDY.value or not _LEDGER.value:
    raise ValueError("give --study=NAME and --ledger=PATH (--list shows the studies)")
  if _STUDY.value not in studies.STUDIES:
    raise ValueError(f"unknown study {_STUDY.value!r}; choose one of {', '.join(studies.STUDIES)}")
  study = jobs.selected(studies.STUDIES[_STUDY.value], _CELLS.value)
  scale = plan.Scale(width=_WIDTH.value,
                     size=_SIZE.value, epochs=_EPOCHS.value, subset=_SUBSET.value,
                     views=_VIEWS.value, dtype=_DTYPE.value, runs=_RUNS.value,
                     folds=plan.parse_folds(_FOLDS.value), runs_per_job=_RUNS_PER_JOB.value)
  budget_s = jobs.parse_duration(_BUDGET.value)
  if _WORKDIR.value:
    jobs.run_study(study, scale, pathlib.Path(_LEDGER.value), pathlib.Path(_WORKDIR.value),
                   budget_s)
    return
  with tempfile.TemporaryDirectory(prefix="ferjax_study_") as workdir:
    jobs.run_study(study, scale, pathlib.Path(_LEDGER.value), pathlib.Path(workdir), budget_s)


if __name__ == "__main__":
  cli.main(main)
