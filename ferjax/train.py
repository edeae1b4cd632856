"""train_and_evaluate(config, workdir): train N runs, select on validation, report the test split.

FER2013: train on Training, keep each run's best epoch by PublicTest accuracy, report PrivateTest.
CK+: subject-independent folds; each fold trains on the other nine and reports the final epoch on its
own (there is no validation split, and nothing is ever selected on a test split). The plateau schedule
watches the validation loss where there is one and the training loss otherwise.

Rerunning the same command on a workdir resumes from its newest checkpoint; SIGTERM saves and exits.
"""

import dataclasses
import json
import os
import pathlib
import signal
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ferjax import checkpoints as checkpoints_lib
from ferjax import evaluate, hyper, plots, progress, steps, stopping
from ferjax import mesh as mesh_lib
from ferjax import state as state_lib
from ferjax.data import archive, datasets, device, pipeline, splits
from ferjax.models import get_model


class TrainingError(RuntimeError):
  """A run cannot go on (non-finite loss, bad settings); the message says why and what was kept."""


@dataclasses.dataclass
class Data:
  """The sources of one training job and what they hold."""

  train: Any
  validation: Any
  test: Any
  class_names: list[str]
  test_name: str
  source: dict  # What the prepared dataset was built from: {'name', 'sha256'} of the archive.


def run_seeds(seed: int, runs: Sequence[int]) -> tuple[int, ...]:
  """A data-order seed per run, independent of the other runs and of other config seeds."""
  return tuple(int(np.random.SeedSequence([seed, run]).generate_state(1)[0]) for run in runs)


def prepared_builder(config: ml_collections.ConfigDict):
  """The config's dataset, prepared from its archive if it is not prepared yet or the archive changed,
  and refused if its splits differ by an order of magnitude in contrast or sharpness (a damaged
  archive) unless `config.data.allow_inconsistent_splits`."""
  allow = bool(config.data.get("allow_inconsistent_splits", False))
  try:
    return datasets.prepare(config.dataset, config.manual_dir, config.data_dir, allow)
  except datasets.InconsistentSplitsError as error:
    raise datasets.InconsistentSplitsError(
        f"{error}; --config.data.allow_inconsistent_splits=true uses it anyway") from None
  except FileNotFoundError as error:
    builder = datasets.get_builder(config.dataset, config.data_dir)
    raise FileNotFoundError(
        f"{config.dataset} is not prepared in {builder.data_dir} and cannot be built: {error} Build it "
        f"with: python -m ferjax.data.prepare --dataset={config.dataset} "
        f"--manual_dir=<folder with the archive> --data_dir={config.data_dir}") from None


def source_class(config: ml_collections.ConfigDict) -> type:
  """The input source the config names: device-resident or grain streaming."""
  return {"device": device.DeviceSource, "grain": pipeline.GrainSource}[config.data.source]


def load_data(config: ml_collections.ConfigDict, mesh: jax.sharding.Mesh, fold: int) -> Data:
  """Train / validation / test sources for the config's dataset (and CK+ fold)."""
  builder = prepared_builder(config)
  extra = {"num_workers": config.data.num_workers} if config.data.source == "grain" else {}
  seeds = run_seeds(config.seed, hyper.run_numbers(config))
  sizes = config.data.get("subset", {})

  def source(role: str, split: str, indices: np.ndarray | None = None):
    """The source of `role` ('train', 'validation' or 'test'), on `indices` of `split` (default all)."""
    if sizes.get(role, 0):
      indices = splits.subset(np.arange(builder.info.splits[split].num_examples) if indices is None
                              else indices, sizes[role])
    train = role == "train"
    return source_class(config).from_builder(
        builder, split, mesh, config.batch_size if train else config.eval_batch_size, indices=indices,
        seeds=seeds, views=steps.views_per_example(config) if train else 1, **extra)

  names = builder.info.features["label"].names
  built_from = datasets.recorded(builder, "source")
  if is_fer2013(config):
    splits_ = splits.FER2013_SPLITS
    return Data(source("train", splits_["train"]), source("validation", splits_["select"]),
                source("test", splits_["report"]), names, splits_["report"], built_from)
  examples = datasets.read_split(builder, "train")
  train, test = splits.ckplus_split(config.folds.scheme, examples["subject"], examples["label"],
                                    examples["id"].astype(str), config.folds.num_folds, fold)
  name = f"repetition {fold}" if config.folds.scheme == "leaky_random" else f"fold {fold}"
  return Data(source("train", "train", train), None, source("test", "train", test), names, name, built_from)


DATASETS = ("fer2013", "fer2013/unchanged", "fer2013/equalized", "ckplus/6class", "ckplus/7class")


def is_fer2013(config: ml_collections.ConfigDict) -> bool:
  """FER2013 in either preparation: it has a validation split (PublicTest) and no folds."""
  return config.dataset.partition("/")[0] == "fer2013"


def check_config(config: ml_collections.ConfigDict) -> None:
  """Fails before any work on settings that cannot run."""
  choices = {"data.source": (config.data.source, ("device", "grain")),
             "loss.name": (config.loss.name, ("softmax", "island", "dda")),
             "schedule.name": (config.schedule.name, state_lib.SCHEDULES),
             "dataset": (config.dataset, DATASETS),
             "dtype": (config.dtype, steps.COMPUTE_DTYPES),
             "input.views": (config.input.get("views", "random"), steps.VIEW_MODES),
             "folds.scheme": (config.folds.scheme, splits.CKPLUS_SCHEMES)}
  for key, (value, allowed) in choices.items():
    if value not in allowed:
      raise ValueError(f"config.{key} = {value!r}; expected one of {', '.join(allowed)}")
  for key in ("num_runs", "num_epochs", "batch_size", "eval_batch_size"):
    if config[key] < 1:
      raise ValueError(f"config.{key} = {config[key]}; expected a positive integer")
  get_model(config.model.name, **config.model.options)  # unknown model names and options raise here.
  hyper.check(config)
  if config.input.size % 16:
    raise ValueError(f"config.input.size = {config.input.size}; expected a multiple of 16 (48, 224, ...)")


def check_workdir(workdir: pathlib.Path) -> None:
  try:
    workdir.mkdir(parents=True, exist_ok=True)
    probe = workdir / f".write_test_{jax.process_index()}"
    probe.write_text("")
    probe.unlink()
  except OSError as error:
    raise PermissionError(f"workdir {workdir} is not writable: {error.strerror}") from None


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: os.PathLike,
                       stop: stopping.Stop | None = None) -> dict:
  """Trains and evaluates the config (every fold for CK+ with fold=-1); returns and writes results.

  `stop` (default: a new one) is the SIGTERM handler while training and may carry a time budget; a job
  it stops saves a checkpoint and returns {'stopped_at_step', 'reason'} instead of results.
  """
  stop = stop or stopping.Stop()
  check_config(config)
  workdir = pathlib.Path(workdir)
  check_workdir(workdir)
  if jax.process_index() == 0:
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))
  if is_fer2013(config) or config.folds.fold >= 0:
    return train_one(config, workdir, max(config.folds.fold, 0), stop)
  results = []
  for fold in range(config.folds.num_folds):
    results.append(train_one(config, workdir / f"fold_{fold}", fold, stop))
    if "stopped_at_step" in results[-1]:  # SIGTERM: rerunning resumes this fold, then the rest.
      return results[-1]
  return write_summary(workdir, results)


def train_one(config: ml_collections.ConfigDict, workdir: pathlib.Path, fold: int,
              stop: stopping.Stop) -> dict:
  """One training job (one CK+ fold, or FER2013): train, select, evaluate, write results.json."""
  workdir.mkdir(parents=True, exist_ok=True)
  start_time = time.time()
  mesh = mesh_lib.make_mesh()
  mesh_lib.check_batch_size(config.batch_size, mesh)
  mesh_lib.check_batch_size(config.eval_batch_size, mesh)
  data = load_data(config, mesh, fold)
  num_classes = len(data.class_names)
  model, optimizer, state, keys = state_lib.initial_state(config, mesh, num_classes)
  replicated = mesh_lib.replicated(mesh)
  best = copy_tree(state.runs)  # Never an alias of the state, whose buffers the train step donates.
  record = {"epoch": 0, "best_accuracy": [-1.0] * config.num_runs, "best_epoch": [0] * config.num_runs}
  checkpoints = checkpoints_lib.Checkpoints(workdir / "checkpoints", config.checkpoint_keep)
  if checkpoints.latest_step is not None:
    state, best, record = checkpoints.restore(checkpoints.latest_step, state, best)
    print(f"resuming {workdir} from step {int(state.step)} (epoch {record['epoch']})", flush=True)

  steps_per_epoch = data.train.order.steps_per_epoch
  total_steps = steps_per_epoch * config.num_epochs
  reporter = progress.Progress(workdir, total_steps, steps_per_epoch, config.batch_size * config.num_runs)
  train_step = steps.make_train_step(model, optimizer, config, mesh,
                                     fused_source=config.data.source == "device")
  eval_step = steps.make_eval_step(model, config, mesh, num_classes)
  tta_step = tta_eval_step(model, config, mesh, num_classes)
  base_rates = hyper.values(config, "optimizer.learning_rate")
  end_epoch = jax.jit(lambda runs, loss, epoch: jax.vmap(
      lambda r, monitored, rate: state_lib.end_epoch(r, epoch, monitored, config.schedule, rate))(
          runs, loss, base_rates), out_shardings=replicated)
  previous_handler = signal.signal(signal.SIGTERM, stop)
  inputs = steps.run_inputs(keys, config)  # Placed by the step's in_shardings, as the keys always were.
  try:
    state, best, record = train_loop(config, data, state, best, record, inputs, train_step, eval_step,
                                     end_epoch, checkpoints, reporter, stop, total_steps, steps_per_epoch)
  finally:
    signal.signal(signal.SIGTERM, previous_handler)
    checkpoints.close()
  if int(state.step) < total_steps:  # Stopped by SIGTERM or the budget, checkpoint saved.
    reporter.close()
    return {"stopped_at_step": int(state.step), "reason": stop.reason}
  results = final_results(config, data, best, eval_step, record, fold, time.time() - start_time, tta_step)
  results.update(steps=total_steps, images_per_second=reporter.images_per_second(total_steps),
                 split_sizes=split_sizes(data), source=data.source)
  reporter.write(total_steps, "test", {"accuracy": results["accuracy"]})
  reporter.close()
  write_results(workdir, results)
  return results


def evaluate_workdir(config: ml_collections.ConfigDict, workdir: os.PathLike, split: str | None) -> dict:
  """Evaluates the selected runs of a workdir's newest checkpoint on `split` (default: the test split)."""
  check_config(config)
  fold = max(config.folds.fold, 0)
  workdir = pathlib.Path(workdir)
  checkpoints = checkpoints_lib.Checkpoints(workdir / "checkpoints", config.checkpoint_keep)
  if checkpoints.latest_step is None:
    raise FileNotFoundError(f"no checkpoint in {workdir / 'checkpoints'}; train first with --mode=train")
  mesh = mesh_lib.make_mesh()
  data = load_data(config, mesh, fold)
  model, _, state, _ = state_lib.initial_state(config, mesh, len(data.class_names))
  _, best, record = checkpoints.restore(checkpoints.latest_step, state, state.runs)
  checkpoints.close()
  if split is not None:
    data.test = source_class(config).from_builder(prepared_builder(config), split, mesh,
                                                  config.eval_batch_size)
    data.test_name = split
  eval_step = steps.make_eval_step(model, config, mesh, len(data.class_names))
  return final_results(config, data, best, eval_step, record, fold, 0.0)


def train_loop(config, data, state, best, record, inputs, train_step, eval_step, end_epoch, checkpoints,
               reporter, stop, total_steps, steps_per_epoch):
  """Steps from the state's step to `total_steps`, with per-epoch validation, schedule and checkpoint."""
  step = int(state.step)
  batches = None if config.data.source == "device" else data.train.train_batches()
  if batches is not None and record.get("iterator"):
    batches.set_state(record["iterator"])
  pending, epoch_losses = [], []
  first_step = step
  while step < total_steps:
    # The device source is an argument of the step, which gathers its own batch.
    state, metrics = train_step(state, next(batches) if batches is not None else data.train, inputs)
    pending.append(metrics)
    step += 1
    if step == first_step + 1:  # Compiled: images/s and the budget's step clock count from here.
      reporter.start(jax.block_until_ready(state.step))
      stop.compiled(step)
    epoch_done = step % steps_per_epoch == 0
    stopping_now = stop.check()
    if step % config.log_every_steps == 0 or epoch_done or stopping_now:
      host = jax.device_get(pending)
      stop.project(step, total_steps)  # The host has waited for `step`: its time is measured.
      check_finite(host, step - len(host), checkpoints.latest_step)
      epoch_losses += [m["loss"] for m in host]
      means = {k: np.mean([m[k] for m in host], axis=0) for k in host[0]}
      reporter.write(step, "train", means)
      reporter.console(step, {k: means[k] for k in ("loss", "accuracy", "learning_rate")})
      pending = []
    if epoch_done:
      epoch = step // steps_per_epoch
      state, best, record = finish_epoch(config, data, state, best, record, epoch, np.mean(epoch_losses, 0),
                                         eval_step, end_epoch, reporter)
      epoch_losses = []
      save(checkpoints, state, best, record, batches)
    if stopping_now and step < total_steps:
      save(checkpoints, state, best, record, batches)
      checkpoints.wait()
      print(f"{stop.reason}: saved step {step} to {checkpoints.latest_step}; rerun the command to resume.",
            flush=True)
      break
  return state, best, record


def split_sizes(data: Data) -> dict[str, int]:
  """Examples in each source of the job (after any subset)."""
  sources = {"train": data.train, "validation": data.validation, "test": data.test}
  return {role: source.order.num_examples for role, source in sources.items() if source is not None}


def check_finite(host_metrics: list[dict], first_step: int, last_good: int | None) -> None:
  """Stops on a NaN or infinite loss or gradient, naming the step; checkpoints are written only after
  this check has passed."""
  for offset, metrics in enumerate(host_metrics):
    finite = np.isfinite(np.atleast_1d(metrics["loss"])) & np.isfinite(np.atleast_1d(metrics["grad_norm"]))
    if not np.all(finite):
      runs = np.flatnonzero(~finite).tolist()
      kept = f"the last good checkpoint (step {last_good}) is kept" if last_good is not None else \
          "no checkpoint had been written yet"
      raise TrainingError(f"non-finite loss or gradient at step {first_step + offset + 1} (runs {runs}); {kept}. "
                          "Lower config.optimizer.learning_rate or check the input.")


def finish_epoch(config, data, state, best, record, epoch, train_loss, eval_step, end_epoch, reporter):
  """Validation (where there is a validation split), best-run bookkeeping and the rate schedule."""
  record = dict(record, epoch=epoch)
  monitored = train_loss
  if data.validation is not None:
    metrics = evaluate.metrics_of(evaluate.accumulate(eval_step, state.runs, data.validation.eval_batches()))
    reporter.write(int(state.step), "validation", {"accuracy": metrics["accuracy"], "loss": metrics["loss"]})
    reporter.console(int(state.step), {"val_loss": metrics["loss"], "val_accuracy": metrics["accuracy"]},
                     note=f"end of epoch {epoch}")
    improved = metrics["accuracy"] > np.asarray(record["best_accuracy"])
    record["best_accuracy"] = np.where(improved, metrics["accuracy"], record["best_accuracy"]).tolist()
    monitored = metrics["loss"]
  else:  # Nothing to select on: the final epoch is reported.
    improved = np.ones(config.num_runs, bool)
  best = keep_best(jnp.asarray(improved), state.runs, best)
  record["best_epoch"] = np.where(improved, epoch, record["best_epoch"]).tolist()
  runs = end_epoch(state.runs, jnp.asarray(monitored, jnp.float32), jnp.asarray(epoch - 1))
  return state.replace(runs=runs), best, record


def copy_tree(tree: Any) -> Any:
  """A copy of every array of `tree` in new buffers."""
  return jax.tree.map(lambda leaf: jnp.array(leaf, copy=True), tree)


@jax.jit
def keep_best(improved: jax.Array, runs: state_lib.RunState,
              best: state_lib.RunState) -> state_lib.RunState:
  """Each run's state from `runs` where `improved` (one flag per run), else from `best`.

  The result lives in new buffers: the train step donates the state, so a `best` that aliased
  `state.runs` would be deleted by the next step (FER2013 runs once died at their first validation so).
  """
  return jax.tree.map(lambda new, old: jnp.where(improved.reshape((-1,) + (1,) * (new.ndim - 1)), new, old),
                      runs, best)


def save(checkpoints, state, best, record, batches) -> None:
  if batches is not None:
    record = dict(record, iterator=batches.get_state())
  checkpoints.save(int(state.step), state, best, record)


def tta_eval_step(model, config: ml_collections.ConfigDict, mesh: jax.sharding.Mesh, num_classes: int):
  """With config.input.tta_report, an eval step averaging 12 test-time views (reported beside the plain
  number, never used for selection); else None."""
  if not config.input.get("tta_report") or config.input.get("tta"):
    return None
  views = ml_collections.ConfigDict(config.to_dict())
  views.input.tta = True
  return steps.make_eval_step(model, views, mesh, num_classes)


def final_results(config, data, best, eval_step, record, fold, seconds, tta_step=None) -> dict:
  """Test-split metrics of each run's selected weights, with Acc / Sta over runs (and with `tta_step`,
  the accuracy with test-time augmentation beside them)."""
  metrics = evaluate.metrics_of(evaluate.accumulate(eval_step, best, data.test.eval_batches()))
  acc, sta = evaluate.acc_sta(metrics["accuracy"])
  results = {
      "dataset": config.dataset, "model": config.model.name, "options": dict(config.model.options),
      "loss": config.loss.name, "split": data.test_name, "fold": None if is_fer2013(config) else fold,
      "protocol": "fer2013" if is_fer2013(config) else config.folds.scheme,
      "views": config.input.get("views", "random"),
      "classes": data.class_names, "num_runs": config.num_runs, "num_epochs": config.num_epochs,
      "accuracy": metrics["accuracy"].tolist(), "acc": acc, "sta": sta,
      "per_class_accuracy": metrics["per_class_accuracy"].tolist(),
      "confusion": metrics["confusion"].tolist(), "best_epoch": record["best_epoch"],
      "wall_time_s": seconds,
  }
  if config.model.get("pretrained"):
    path = pathlib.Path(config.model.pretrained).expanduser()
    results["pretrained"] = {"name": path.name, "sha256": archive.digest(path)}
  if tta_step is not None:
    tta = evaluate.metrics_of(evaluate.accumulate(tta_step, best, data.test.eval_batches()))["accuracy"]
    results.update(tta_accuracy=tta.tolist(), tta_acc=evaluate.acc_sta(tta)[0])
  print(f"{data.test_name}: accuracy {acc:.4f}" + (f" +- {sta:.4f} over {config.num_runs} runs"
                                                    if config.num_runs > 1 else "")
        + (f" (with test-time augmentation {results['tta_acc']:.4f})" if tta_step is not None else ""), flush=True)
  return results


def write_results(workdir: pathlib.Path, results: dict) -> None:
  if jax.process_index() != 0:
    return
  (workdir / "results.json").write_text(json.dumps(results, indent=2))
  confusion = np.sum(results["confusion"], axis=0)
  plots.confusion_matrix(confusion, results["classes"], workdir / "confusion.png",
                         title=f"{results['model']} on {results['dataset']}, {results['split']}: "
                               f"accuracy {results['acc']:.3f}")


def write_summary(workdir: pathlib.Path, fold_results: list[dict]) -> dict:
  """Every fold's results and the cross-validation Acc / Sta (per run: mean over folds)."""
  per_run = np.mean([r["accuracy"] for r in fold_results], axis=0)
  acc, sta = evaluate.acc_sta(per_run)
  summary = dict(fold_results[0], split="all folds", fold=None, accuracy=per_run.tolist(), acc=acc, sta=sta,
                 per_class_accuracy=np.mean([r["per_class_accuracy"] for r in fold_results], 0).tolist(),
                 confusion=np.sum([r["confusion"] for r in fold_results], 0).tolist(),
                 fold_accuracy=[r["acc"] for r in fold_results],
                 wall_time_s=sum(r["wall_time_s"] for r in fold_results))
  for per_fold in ("split_sizes", "images_per_second"):  # Each fold's own; not summed or averaged.
    summary.pop(per_fold, None)
  summary["steps"] = sum(r.get("steps", 0) for r in fold_results)
  if "tta_accuracy" in summary:
    tta = np.mean([r["tta_accuracy"] for r in fold_results], axis=0)
    summary.update(tta_accuracy=tta.tolist(), tta_acc=float(tta.mean()))
  print(f"{len(fold_results)} folds: accuracy {acc:.4f} +- {sta:.4f}", flush=True)
  write_results(workdir, summary)
  return summary
