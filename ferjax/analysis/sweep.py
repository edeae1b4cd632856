"""Run every point of a config's sweep: resumable, and as one program where the points allow it.

  python -m ferjax.sweep --config=configs/fer2013.py:lambda_sweep,runs=3 \\
      --workdir=workdirs/lambda_sweep
  python -m ferjax.sweep --config=configs/fer2013.py:lambda1_sweep --workdir=workdirs/lambda1_sweep
  python -m ferjax.sweep --config=configs/fer2013_msa.py:gamma_sweep --workdir=workdirs/gamma_sweep
  python -m ferjax.report workdirs/lambda_sweep        # Acc +- Sta per point: table and line plot

A config declares its sweep in `config.sweep`: a name and a tuple of points, each a dict of config
overrides such as {"loss.lam": 0.005, "loss.lambda1": 7.0} (big_vision's `get_hyper`, as data).
Points that differ only in loss weights or the learning rate (`ferjax.train.hyper.PER_RUN`) train
together: one job whose run axis holds every point's runs, each run with its own weights
(`config.per_run`) and the same seeds as the point would have alone. Other sweeps train point after
point, each in its own workdir, skipping points that already have results. Either way, rerunning the
command resumes, and `sweep.json` in the workdir holds every point's accuracies, Acc and Sta.
"""

import copy
import json
import os
import pathlib

import ml_collections

from ferjax.train import checks, evaluate, hyper, loop, results
from ferjax.train.stopping import Stopped

FILE = "sweep.json"  # This module is its writer (`run_sweep`) and reader (`read_summary`).


def points_of(config: ml_collections.ConfigDict) -> list[dict]:
  """The sweep's points, each key checked to be a config field; ValueError without a sweep."""
  sweep = config.get("sweep")
  if not sweep or not sweep.points:
    raise ValueError(
        "the config declares no sweep (config.sweep.points is empty); pick one with its "
        "argument, e.g. configs/fer2013.py:lambda_sweep")
  points = [dict(point) for point in sweep.points]
  for point in points:
    for key in point:
      section, _, field = key.rpartition(".")
      holder = config[section] if section else config
      if field not in holder:
        raise ValueError(f"sweep point {point}: {key!r} is not a config field")
  return points


def label(point: dict) -> str:
  """'lam=0.005, lambda1=7.0': a point's overrides by their last name."""
  return ", ".join(f"{key.rpartition('.')[2]}={value}" for key, value in point.items())


def with_overrides(config: ml_collections.ConfigDict, point: dict) -> ml_collections.ConfigDict:
  """A copy of `config` with the point's overrides, and no sweep (it is one job)."""
  job = copy.deepcopy(config)
  with job.unlocked():
    for key, value in point.items():
      section, _, field = key.rpartition(".")
      (job[section] if section else job)[field] = value
    job.sweep.points = ()
  return job


def trains_together(points: list[dict]) -> bool:
  """Whether the points differ only in per-run settings (loss weights, learning rate)."""
  return len(points) > 1 and all(key in hyper.PER_RUN for point in points for key in point)


def together_config(config: ml_collections.ConfigDict,
                    points: list[dict]) -> ml_collections.ConfigDict:
  """One job for all points: num_runs x points runs, each with its point's values and its seed."""
  runs = config.num_runs
  job = with_overrides(config, {})
  with job.unlocked():
    job.num_runs = runs * len(points)
    job.per_run.run = hyper.run_numbers(config) * len(points)
    for key in sorted({key for point in points for key in point}):
      section, field = key.split(".")
      job.per_run[hyper.PER_RUN[key]] = tuple(float(point.get(key, config[section][field]))
                                              for point in points for _ in range(runs))
  return job


def point_row(point: dict, accuracy: list[float], workdir: pathlib.Path) -> dict:
  acc, sta = evaluate.acc_sta(accuracy)
  return {"point": point, "label": label(point), "accuracy": list(accuracy), "acc": acc, "sta": sta,
          "workdir": str(workdir)}


def run_together(config, points, workdir: pathlib.Path) -> list[dict] | None:
  """Trains all points as one job; their rows, or None if the job was stopped (SIGTERM)."""
  print(f"sweep {config.sweep.name}: {len(points)} points x {config.num_runs} runs in one program",
        flush=True)
  outcome = loop.train_and_evaluate(together_config(config, points), workdir / "together")
  if isinstance(outcome, Stopped):
    return None
  runs = config.num_runs
  return [point_row(point, outcome.accuracy[i * runs:(i + 1) * runs], workdir / "together")
          for i, point in enumerate(points)]


def run_one_by_one(config, points, workdir: pathlib.Path) -> list[dict] | None:
  """Trains the points in turn, skipping finished ones; their rows, or None if one was stopped."""
  rows = []
  for i, point in enumerate(points):
    point_dir = workdir / f"point{i}"
    if results.exists(point_dir):
      print(f"sweep point {i} ({label(point)}): finished, skipped", flush=True)
      outcome = results.Results.read(point_dir)
    else:
      print(f"sweep point {i} of {len(points)}: {label(point)}", flush=True)
      outcome = loop.train_and_evaluate(with_overrides(config, point), point_dir)
      if isinstance(outcome, Stopped):
        return None
    rows.append(point_row(point, outcome.accuracy, point_dir))
  return rows


def run_sweep(config: ml_collections.ConfigDict,
              workdir: os.PathLike,
              together: bool = True) -> list[dict]:
  """Every point of the config's sweep; writes and returns sweep.json's rows ([] if stopped)."""
  points = points_of(config)
  for point in points:  # Every point's settings, before any work.
    checks.check_config(with_overrides(config, point))
  workdir = pathlib.Path(workdir)
  checks.check_workdir(workdir)
  run = run_together if together and trains_together(points) else run_one_by_one
  rows = run(config, points, workdir)
  if rows is None:
    print("sweep stopped; rerun the same command to resume", flush=True)
    return []
  summary = {"name": config.sweep.name, "dataset": config.dataset, "model": config.model.name,
             "options": config.model.options.to_dict(), "loss": config.loss.name,
             "num_runs": config.num_runs, "points": rows}
  (workdir / FILE).write_text(json.dumps(summary, indent=2))
  for row in rows:
    print(f"{row['label']}: Acc {100 * row['acc']:.2f}% Sta {100 * row['sta']:.2f}", flush=True)
  return rows


def holds_sweep(path: os.PathLike) -> bool:
  """Whether `path` is a finished sweep's folder."""
  return (pathlib.Path(path) / FILE).is_file()


def read_summary(path: os.PathLike) -> dict:
  """A finished sweep's sweep.json: its name, dataset, model, loss, runs and per-point rows."""
  file = pathlib.Path(path) / FILE
  try:
    return json.loads(file.read_text())
  except json.JSONDecodeError as error:
    raise ValueError(f"{file}: not valid JSON ({error})") from None
