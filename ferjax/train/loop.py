"""train_and_evaluate(config, workdir): train N runs, select on validation, report the test split.

FER2013: train on Training, keep each run's best epoch by PublicTest accuracy, report PrivateTest.
CK+: subject-independent folds; each fold trains on the other nine and reports the final epoch on
its own (there is no validation split, and nothing is ever selected on a test split). The plateau
schedule watches the cross-entropy: on the validation split where there is one, else the training
steps' softmax part (not the joint loss, whose island cosine term depends on the centres alone and
has no gradient to the network; docs/FIDELITY.md 0.30).

Rerunning the same command on a workdir resumes from its newest checkpoint; SIGTERM saves and exits.
A job is a `Job` (what stays fixed: data, compiled steps, checkpoints, reporter, stop) and a `Carry`
(what every epoch changes: the state, each run's best weights, the bookkeeping record).
"""

import dataclasses
import os
import pathlib
import signal
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ferjax import mesh as mesh_lib
from ferjax.data import catalog, sources
from ferjax.data import job as job_lib
from ferjax.models import pretrained
from ferjax.train import (checks, config_file, evaluate, fold_layout, hyper, progress, steps,
                          stopping)
from ferjax.train import checkpoints as checkpoints_lib
from ferjax.train import state as state_lib
from ferjax.train.results import Results, summarize_folds


class TrainingError(RuntimeError):
  """A run cannot go on (non-finite loss, bad settings); the message says why and what was kept."""


@dataclasses.dataclass
class Carry:
  """What the loop carries from step to step: the state, each run's best weights so far, and the
  record checkpoints keep as JSON ('epoch', per run 'best_accuracy' and 'best_epoch', the job's
  'seconds' so far, and the grain stream's 'iterator' position)."""

  state: state_lib.TrainState
  best: state_lib.RunState
  record: dict


@dataclasses.dataclass(frozen=True)
class Job:
  """The fixed parts of one training job."""

  config: ml_collections.ConfigDict
  data: job_lib.JobData
  run_inputs: dict                # `hyper.Runs.step_inputs()`: each run's key and loss weights.
  train_step: Callable
  eval_step: Callable
  end_epoch: Callable             # `steps.make_end_epoch_step`.
  checkpoints: checkpoints_lib.Checkpoints
  reporter: progress.Progress
  stop: stopping.Stop
  steps_per_epoch: int
  total_steps: int
  started: float = 0.0            # When this process started the job (time.time()).
  earlier_s: float = 0.0          # Seconds the job ran before it was resumed (0 for a fresh one).

  def seconds(self) -> float:
    """The job's seconds so far, over every process that ran it."""
    return self.earlier_s + time.time() - self.started


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: os.PathLike,
                       stop: stopping.Stop | None = None) -> Results | stopping.Stopped:
  """Trains and evaluates the config (every fold for CK+ with fold=-1); returns and writes results.

  `stop` (default: a new one) is the SIGTERM handler while training and may carry a time budget; a
  job it stops saves a checkpoint and returns `Stopped` instead of results.
  """
  stop = stop or stopping.Stop()
  checks.check_config(config)
  workdir = pathlib.Path(workdir)
  checks.check_workdir(workdir)
  if jax.process_index() == 0:
    config_file.write(workdir, config, job_lib.images_equalized(config))
  outcome = over_folds(config, workdir, lambda folder, fold: train_one(config, folder, fold, stop))
  if all_folds(config) and isinstance(outcome, Results):
    write(workdir, outcome)
  return outcome


def all_folds(config: ml_collections.ConfigDict) -> bool:
  """Whether the config's job is every fold of a folded dataset (CK+ with fold=-1)."""
  return bool(catalog.dataset(config.dataset).folds) and config.folds.fold < 0


def over_folds(config: ml_collections.ConfigDict, workdir: pathlib.Path,
               job: Callable[[pathlib.Path, int], Results | stopping.Stopped]
               ) -> Results | stopping.Stopped:
  """`job(folder, fold)` on the config's one job in `workdir` (FER2013, or one CK+ fold); for all
  folds, on each fold's folder (`fold_layout`) in turn and then their summary. A stopped fold stops
  there: rerunning resumes it, then the rest."""
  if not all_folds(config):
    return job(workdir, max(config.folds.fold, 0))
  fold_results = []
  for fold in range(config.folds.num_folds):
    outcome = job(fold_layout.fold_dir(workdir, fold), fold)
    if isinstance(outcome, stopping.Stopped):
      return outcome
    fold_results.append(outcome)
  summary = summarize_folds(fold_results)
  print(f"{len(fold_results)} folds: accuracy {summary.acc:.4f} +- {summary.sta:.4f}", flush=True)
  return summary


def train_one(config: ml_collections.ConfigDict, workdir: pathlib.Path, fold: int,
              stop: stopping.Stop) -> Results | stopping.Stopped:
  """One training job (one CK+ fold, or FER2013): train, select, evaluate, write results.json."""
  workdir.mkdir(parents=True, exist_ok=True)
  start_time = time.time()
  mesh = mesh_lib.make_mesh()
  mesh_lib.check_batch_size(config.batch_size, mesh)
  mesh_lib.check_batch_size(config.eval_batch_size, mesh)
  runs = hyper.resolve(config)
  data = job_lib.load(config, mesh, fold, runs.data_seeds)
  num_classes = len(data.class_names)
  initial = state_lib.initial_state(config, mesh, num_classes, runs)
  job = make_job(config, workdir, data, initial, mesh, runs, stop)
  carry = resumed(job, workdir, initial.state)
  job = dataclasses.replace(job, started=start_time,
                            earlier_s=float(carry.record.get("seconds", 0.0)))
  previous_handler = signal.signal(signal.SIGTERM, stop)
  try:
    carry = train_loop(job, carry)
  finally:
    signal.signal(signal.SIGTERM, previous_handler)
    job.checkpoints.close()
  if int(carry.state.step) < job.total_steps:  # Stopped by SIGTERM or the budget, checkpoint saved.
    job.reporter.close()
    return stopping.Stopped(int(carry.state.step), stop.reason)
  tta_step = tta_eval_step(initial.model, config, mesh, num_classes)
  results = final_results(config, data, carry, job.eval_step, fold, job.seconds(), tta_step)
  results = dataclasses.replace(results,
                                steps=job.total_steps,
                                images_per_second=job.reporter.images_per_second(job.total_steps),
                                split_sizes=data.split_sizes(), source=data.source)
  job.reporter.write(job.total_steps, "test", {"accuracy": results.accuracy})
  job.reporter.close()
  write(workdir, results)
  return results


def make_job(config: ml_collections.ConfigDict, workdir: pathlib.Path, data: job_lib.JobData,
             initial: state_lib.Initial, mesh: jax.sharding.Mesh, runs: hyper.Runs,
             stop: stopping.Stop) -> Job:
  """The compiled steps, checkpoints and reporter of a job."""
  steps_per_epoch = data.train.order.steps_per_epoch
  total_steps = steps_per_epoch * config.num_epochs
  num_classes = len(data.class_names)
  return Job(
      config=config, data=data, run_inputs=runs.step_inputs(),
      train_step=steps.make_train_step(initial.model, initial.optimizer, config, mesh, data.train),
      eval_step=steps.make_eval_step(initial.model, config, mesh, num_classes),
      end_epoch=steps.make_end_epoch_step(config, mesh, runs),
      checkpoints=checkpoints_lib.Checkpoints(workdir / "checkpoints", config.checkpoint_keep),
      reporter=progress.Progress(workdir, total_steps, steps_per_epoch,
                                 config.batch_size * config.num_runs),
      stop=stop, steps_per_epoch=steps_per_epoch, total_steps=total_steps)


def resumed(job: Job, workdir: pathlib.Path, state: state_lib.TrainState) -> Carry:
  """The newest checkpoint's carry, or a fresh one from `state`."""
  best = copy_tree(state.runs)  # Never an alias of the state, whose buffers the train step donates.
  num_runs = job.config.num_runs
  record = {"epoch": 0, "best_accuracy": [-1.0] * num_runs, "best_epoch": [0] * num_runs}
  restored = job.checkpoints.restore_newest(state, best)
  if restored is None:
    return Carry(state, best, record)
  carry = Carry(*restored[1:])
  print(f"resuming {workdir} from step {int(carry.state.step)} (epoch {carry.record['epoch']})",
        flush=True)
  return carry


def evaluate_workdir(config: ml_collections.ConfigDict, workdir: os.PathLike,
                     split: str | None) -> Results:
  """Evaluates the selected runs of a workdir's newest checkpoint on `split` (default: the test
  split); for a CK+ config with fold=-1, every fold of the all-folds workdir and their summary. A
  workdir without checkpoints is an error, and nothing is written into it."""
  checks.check_config(config)
  workdir = pathlib.Path(workdir)
  return over_folds(config, workdir,
                    lambda folder, fold: evaluate_job(config, folder, fold, split))


def evaluate_job(config: ml_collections.ConfigDict, workdir: pathlib.Path, fold: int,
                 split: str | None) -> Results:
  """One job's (FER2013's, or one CK+ fold's) selected runs evaluated on `split`."""
  checkpoints = checkpoints_lib.Checkpoints.existing(
      workdir / "checkpoints", config.checkpoint_keep, hint="train first with --mode=train")
  mesh = mesh_lib.make_mesh()
  runs = hyper.resolve(config)
  data = job_lib.load(config, mesh, fold, runs.data_seeds)
  initial = state_lib.initial_state(config, mesh, len(data.class_names), runs)
  carry = Carry(*checkpoints.restore_newest(initial.state, initial.state.runs)[1:])
  checkpoints.close()
  if split is not None:
    data.test = job_lib.split_source(config, job_lib.prepared_builder(config), split, mesh,
                                     config.eval_batch_size)
    data.test_name = split
  eval_step = steps.make_eval_step(initial.model, config, mesh, len(data.class_names))
  return final_results(config, data, carry, eval_step, fold, 0.0)


def train_loop(job: Job, carry: Carry) -> Carry:
  """Steps from the state's step to the job's last, with per-epoch validation, schedule and
  checkpoint; returns early, saved, when the job's stop asks."""
  step = int(carry.state.step)
  feed = job.data.train.train_feed(carry.record.get("iterator"))
  pending, epoch_softmax = [], []
  first_step = step
  while step < job.total_steps:
    state, metrics = job.train_step(carry.state, next(feed), job.run_inputs)
    carry = dataclasses.replace(carry, state=state)
    pending.append(metrics)
    step += 1
    if step == first_step + 1:  # Compiled: images/s and the budget's step clock count from here.
      job.reporter.start(jax.block_until_ready(state.step))
      job.stop.compiled(step)
    epoch_done = step % job.steps_per_epoch == 0
    stopping_now = job.stop.check()
    at_init = step == 1 and job.config.get("diagnostics")  # Diagnostics of the initial network.
    window_done = log_due(len(pending), step, job.steps_per_epoch, job.config.log_every_steps)
    if window_done or epoch_done or stopping_now or at_init:
      epoch_softmax += log_train(job, pending, step)
      pending = []
    if epoch_done:
      carry = finish_epoch(job, carry, step // job.steps_per_epoch, np.mean(epoch_softmax, 0))
      epoch_softmax = []
      save(job, carry, feed)
    if stopping_now and step < job.total_steps:
      save(job, carry, feed)
      job.checkpoints.wait()
      print(f"{job.stop.reason}: saved step {step} to {job.checkpoints.latest_step}; rerun the "
            "command to resume.", flush=True)
      break
  return carry


def log_due(pending: int, step: int, steps_per_epoch: int, every: int) -> bool:
  """Whether the `pending` steps that end at `step` are logged now, inside an epoch (its end is
  always logged). Windows restart with each epoch and hold `every` steps; a remainder under half a
  window joins the epoch's last one, so in an epoch of at least every/2 steps each logged mean covers
  between every/2 and 3*every/2 batches (a window of one batch drew a spike in the curves); a stop or
  a resume mid-epoch may still log a shorter one."""
  left = -step % steps_per_epoch
  return pending >= every and not 0 < left < every / 2


def log_train(job: Job, pending: list[dict], step: int) -> list:
  """Fetches the steps' metrics since the last log, checks them and reports their means; returns
  their cross-entropies (the softmax part of the loss, for the epoch's mean that the schedule
  watches without a validation split)."""
  host = jax.device_get(pending)
  job.stop.project(step, job.total_steps)  # The host has waited for `step`: its time is measured.
  check_finite(host, step - len(host), job.checkpoints.latest_step)
  means = {k: np.mean([m[k] for m in host], axis=0) for k in host[0]}
  job.reporter.write(step, "train", means)
  job.reporter.console(step, {k: means[k] for k in ("loss", "accuracy", "learning_rate")})
  return [m["softmax"] for m in host]


def check_finite(host_metrics: list[dict], first_step: int, last_good: int | None) -> None:
  """Stops on a NaN or infinite loss or gradient, naming the step; checkpoints are written only
  after this check has passed."""
  for offset, metrics in enumerate(host_metrics):
    finite = (np.isfinite(np.atleast_1d(metrics["loss"]))
              & np.isfinite(np.atleast_1d(metrics["grad_norm"])))
    if not np.all(finite):
      runs = np.flatnonzero(~finite).tolist()
      kept = (f"the last good checkpoint (step {last_good}) is kept" if last_good is not None
              else "no checkpoint had been written yet")
      raise TrainingError(
          f"non-finite loss or gradient at step {first_step + offset + 1} (runs "
          f"{runs}); {kept}. Lower config.optimizer.learning_rate or check the input.")


def finish_epoch(job: Job, carry: Carry, epoch: int, train_softmax: np.ndarray) -> Carry:
  """Validation (where there is a validation split), best-run bookkeeping and the rate schedule."""
  state = carry.state
  record = dict(carry.record, epoch=epoch)
  monitored = train_softmax
  if job.data.validation is not None:
    metrics = evaluate.metrics_of(evaluate.accumulate(job.eval_step, state.runs,
                                                      job.data.validation.eval_batches()))
    job.reporter.write(int(state.step), "validation",
                       {"accuracy": metrics["accuracy"], "loss": metrics["loss"]})
    job.reporter.console(int(state.step), {"val_loss": metrics["loss"],
                                           "val_accuracy": metrics["accuracy"]},
                         note=f"end of epoch {epoch}")
    improved = metrics["accuracy"] > np.asarray(record["best_accuracy"])
    record["best_accuracy"] = np.where(improved, metrics["accuracy"],
                                       record["best_accuracy"]).tolist()
    monitored = metrics["loss"]
  else:  # Nothing to select on: the final epoch is reported.
    improved = np.ones(job.config.num_runs, bool)
  best = steps.keep_best(jnp.asarray(improved), state.runs, carry.best)
  record["best_epoch"] = np.where(improved, epoch, record["best_epoch"]).tolist()
  runs = job.end_epoch(state.runs, jnp.asarray(monitored, jnp.float32), jnp.asarray(epoch - 1))
  return Carry(state.replace(runs=runs), best, record)


def copy_tree(tree):
  """A copy of every array of `tree` in new buffers."""
  return jax.tree.map(lambda leaf: jnp.array(leaf, copy=True), tree)


def save(job: Job, carry: Carry, feed: sources.Feed) -> None:
  """Starts writing the carry (and the feed's position, if it has one, and the job's seconds so far)
  as checkpoint of its step."""
  position = feed.position()
  record = dict(carry.record, seconds=job.seconds())
  if position is not None:
    record["iterator"] = position
  job.checkpoints.save(int(carry.state.step), carry.state, carry.best, record)


def tta_eval_step(model, config: ml_collections.ConfigDict, mesh: jax.sharding.Mesh,
                  num_classes: int) -> Callable | None:
  """With config.input.tta_report, an eval step averaging 12 test-time views (reported beside the
  plain number, never used for selection); else None."""
  if not config.input.get("tta_report") or config.input.get("tta"):
    return None
  views = ml_collections.ConfigDict(config.to_dict())
  views.input.tta = True
  return steps.make_eval_step(model, views, mesh, num_classes)


def final_results(config: ml_collections.ConfigDict, data: job_lib.JobData, carry: Carry,
                  eval_step: Callable, fold: int, seconds: float,
                  tta_step: Callable | None = None) -> Results:
  """Test-split metrics of each run's selected weights, with Acc / Sta over runs (and with
  `tta_step`, the accuracy with test-time augmentation beside them)."""
  metrics = evaluate.metrics_of(evaluate.accumulate(eval_step, carry.best,
                                                    data.test.eval_batches()))
  acc, sta = evaluate.acc_sta(metrics["accuracy"])
  folds = catalog.dataset(config.dataset).folds
  results = Results(dataset=config.dataset,
                    model=config.model.name, options=dict(config.model.options),
                    loss=config.loss.name, split=data.test_name, fold=fold if folds else None,
                    protocol=config.folds.scheme if folds else "fer2013",
                    views=config.input.get("views", "random"), classes=data.class_names,
                    num_runs=config.num_runs, num_epochs=config.num_epochs,
                    accuracy=metrics["accuracy"].tolist(), acc=acc, sta=sta,
                    per_class_accuracy=metrics["per_class_accuracy"].tolist(),
                    confusion=metrics["confusion"].tolist(), best_epoch=carry.record["best_epoch"],
                    wall_time_s=seconds, pretrained=pretrained.identity(config.model.pretrained)
                    if config.model.get("pretrained") else None)
  if tta_step is not None:
    tta = evaluate.metrics_of(evaluate.accumulate(tta_step, carry.best,
                                                  data.test.eval_batches()))["accuracy"]
    results = dataclasses.replace(results,
                                  tta_accuracy=tta.tolist(),
                                  tta_acc=evaluate.acc_sta(tta)[0])
  runs_note = f" +- {sta:.4f} over {config.num_runs} runs" if config.num_runs > 1 else ""
  tta_note = (f" (with test-time augmentation {results.tta_acc:.4f})" if tta_step is not None
              else "")
  print(f"{data.test_name}: accuracy {acc:.4f}{runs_note}{tta_note}", flush=True)
  return results


def write(workdir: pathlib.Path, results: Results) -> None:
  """Process 0 writes the results (the other processes hold the same)."""
  if jax.process_index() == 0:
    results.write(workdir)
