"""The layout of a workdir trained on every CK+ fold (`fold=all`): the one place that names it.

  <workdir>/config.json        the config (fold=-1), read for every fold (`config_file.read`)
  <workdir>/results.json       the summary over the folds
  <workdir>/fold_<k>/          fold k's own workdir: checkpoints/, metrics.jsonl, results.json, ...

A workdir of one fold (or of FER2013) holds checkpoints/ itself. Training writes this layout
(`ferjax.train.loop`); evaluation, inference, the report and the studies find folds through it.
"""

import pathlib

_PREFIX = "fold_"


def fold_dir(workdir: pathlib.Path, fold: int) -> pathlib.Path:
  """Fold `fold`'s workdir inside an all-folds workdir."""
  return pathlib.Path(workdir) / f"{_PREFIX}{fold}"


def fold_dirs(workdir: pathlib.Path) -> list[pathlib.Path]:
  """The fold workdirs an all-folds workdir holds, by fold number (none for any other workdir)."""
  found = [p for p in pathlib.Path(workdir).glob(f"{_PREFIX}*")
           if p.is_dir() and p.name[len(_PREFIX):].isdigit()]
  return sorted(found, key=lambda p: int(p.name[len(_PREFIX):]))


def holds_folds(workdir: pathlib.Path) -> bool:
  """Whether `workdir` is an all-folds workdir (fold folders, no checkpoints of its own)."""
  workdir = pathlib.Path(workdir)
  return not (workdir / "checkpoints").is_dir() and bool(fold_dirs(workdir))


def job_dir(workdir: pathlib.Path, fold: int) -> pathlib.Path:
  """The folder holding a trained network's checkpoints/: the workdir itself, or fold `fold`'s
  inside an all-folds workdir; FileNotFoundError naming what is missing."""
  workdir = pathlib.Path(workdir)
  if not workdir.is_dir():
    raise FileNotFoundError(f"workdir {workdir} does not exist")
  if not holds_folds(workdir):
    return workdir
  chosen = fold_dir(workdir, fold)
  if not chosen.is_dir():
    held = ", ".join(p.name for p in fold_dirs(workdir))
    raise FileNotFoundError(f"{workdir} holds {held}, not {chosen.name}")
  return chosen
