"""The jitted train and eval steps: augmentation, model, joint loss, SGD and centre updates, per
run.

Both steps are compiled once for a Mesh: batches split over its data axis, the state replicated
(each device holds the small networks whole) and donated. Per-step randomness is fold_in(run key,
step), so a resumed run draws the very same augmentations, dropout masks and stochastic pools.
"""

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax
from jax.sharding import Mesh

from ferjax import mesh as mesh_lib
from ferjax.data import augment
from ferjax.data.sources import FedBatches, Source
from ferjax.models.layers import BRANCH_COLLECTION
from ferjax.train import diagnostics, hyper, losses, schedules
from ferjax.train.state import RunState, TrainState

def over_runs(fn: Callable, runs_first: Any, *shared: Any) -> Any:
  """fn(one run's slice of `runs_first`, *shared) for every run, stacked along a leading run axis.

  On accelerators the runs are vmapped: N small networks fill the device together. On the CPU the
  program holds one copy of the step per run instead: XLA:CPU turns vmapped convolutions into
  grouped ones that its fast path does not take (2 vmapped paper-000 runs took 9.5 s a step against
  1.3 s for one), and convolutions inside a `lax.map` loop were slower still. A CPU has no idle
  width for N runs to fill, so N copies cost N times one run, at N times the compile time.
  """
  num_runs = jax.tree.leaves(runs_first)[0].shape[0]
  if jax.default_backend() != "cpu" or num_runs == 1:
    return jax.vmap(fn, in_axes=(0,) + (None,) * len(shared))(runs_first, *shared)
  outputs = [
      fn(jax.tree.map(lambda leaf: leaf[run], runs_first), *shared) for run in range(num_runs)
  ]
  return jax.tree.map(lambda *leaves: jnp.stack(leaves), *outputs)


COMPUTE_DTYPES = ("float32", "bfloat16")


def _variables(runs: RunState, dtype: str, params: Any = None) -> dict:
  """The model's variables with the parameters (`runs.params` unless given) cast to `dtype`.

  Mixed precision by casting: the master weights, optimizer state, BatchNorm statistics and the loss
  stay float32, while every conv and matmul runs in `dtype` (flax infers its computation dtype from
  the inputs and parameters; its BatchNorm still reduces in float32). The cast's gradient is
  float32.
  """
  params = runs.params if params is None else params
  params = jax.tree.map(lambda p: p.astype(dtype), params)
  return {"params": params, **({"batch_stats": runs.batch_stats} if runs.batch_stats else {})}


def make_train_step(model: nn.Module, optimizer: optax.GradientTransformation,
                    config: ml_collections.ConfigDict, mesh: Mesh,
                    source: Source | FedBatches) -> Callable:
  """jit(state, fed, run_inputs) -> (state, metrics).

  `fed` is what `source.train_feed()` yields for the step (a batch, or the device-resident split
  that the step gathers its batch from: see `ferjax.data.sources.Source`), and `run_inputs` is
  `hyper.Runs.step_inputs()`: each run's key and loss weights.
  """
  objective = losses.OBJECTIVES[config.loss.name]
  settings = augment.Settings.from_config(config.input)
  fixed_views = augment.views_per_example(config) > 1

  def run_step(run: RunState, batch: dict, run_inputs: dict, step: jax.Array):
    key = jax.random.fold_in(run_inputs["key"], step)
    k_augment, k_stochastic, k_dropout = jax.random.split(key, 3)
    images = augment.augment_batch(k_augment, batch["image"], settings,
                                   views=batch["view"] if fixed_views else None)
    labels = batch["label"]

    def loss_fn(params, perturbations):
      variables = _variables(run, config.dtype, params)
      if perturbations is not None:
        variables[BRANCH_COLLECTION] = perturbations
      rngs = {"stochastic": k_stochastic, "dropout": k_dropout}
      if run.batch_stats:
        (logits, aux), updated = model.apply(variables, pixels, train=True, rngs=rngs,
                                             mutable=["batch_stats"])
      else:
        (logits, aux), updated = model.apply(variables, pixels, train=True, rngs=rngs), {}
      logits, embedding = logits.astype(jnp.float32), aux["embedding"].astype(jnp.float32)
      loss, parts = objective.loss(logits, embedding, labels, run.centers, run_inputs)
      return loss, (parts, logits, embedding, updated.get("batch_stats", run.batch_stats),
                    aux["branches"])

    pixels = images.astype(config.dtype)
    perturbations = (diagnostics.zero_perturbations(model, _variables(run, config.dtype), pixels)
                     if config.get("diagnostics") else None)
    (loss, (parts, logits, embeddings, batch_stats, branches)), (grads, branch_grads) = (
        jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)(run.params, perturbations))
    direction, opt_state = optimizer.update(grads, run.opt_state, run.params)
    params = jax.tree.map(lambda p, d: p - run.learning_rate * d, run.params, direction)
    centers = run.centers
    if objective.rule is not None:
      delta = objective.center_delta(jax.lax.stop_gradient(embeddings), labels, centers, run_inputs)
      centers = losses.update_centers(centers, delta, run_inputs["center_rate"])
    metrics = {"loss": loss, **parts, "accuracy": jnp.mean(jnp.argmax(logits, -1) == labels),
               "grad_norm": optax.tree.norm(grads), "learning_rate": run.learning_rate}
    if objective.rule is not None:  # The largest centre: where a runaway term shows first.
      metrics["center_norm"] = jnp.max(jnp.linalg.norm(centers, axis=-1))
    if perturbations is not None:
      metrics |= diagnostics.branch_metrics(branches, branch_grads)
    return run.replace(params=params, batch_stats=batch_stats, opt_state=opt_state,
                       centers=centers), metrics

  def train_step(state: TrainState, fed: Any, run_inputs: dict) -> tuple[TrainState, dict]:
    batch = source.batch_in_step(fed, state.step)
    runs, metrics = over_runs(lambda per_run, step: run_step(*per_run, step),
                              (state.runs, batch, run_inputs), state.step)
    return TrainState(step=state.step + 1, runs=runs), metrics

  replicated = mesh_lib.replicated(mesh)
  return jax.jit(train_step, donate_argnums=0,
                 in_shardings=(replicated, source.feed_sharding(), replicated),
                 out_shardings=(replicated, replicated))


def make_end_epoch_step(config: ml_collections.ConfigDict, mesh: Mesh,
                        runs: hyper.Runs) -> Callable:
  """jit(run states, monitored loss (runs,), epoch index) -> run states: the config's per-epoch rate
  rule (`ferjax.train.schedules`) applied to every run, from each run's starting rate, with the
  run's length (config.num_epochs) as the schedule's `epochs`."""
  base_rates = runs.learning_rates
  schedule = ml_collections.ConfigDict(dict(config.schedule.to_dict(), epochs=config.num_epochs))
  return jax.jit(
      lambda run_states, loss, epoch: jax.vmap(lambda run, monitored, rate: schedules.end_epoch(
          run, epoch, monitored, schedule, rate))(run_states, loss, base_rates),
      out_shardings=mesh_lib.replicated(mesh))


@jax.jit
def keep_best(improved: jax.Array, runs: RunState, best: RunState) -> RunState:
  """Each run's state from `runs` where `improved` (one flag per run), else from `best`.

  The result lives in new buffers: the train step donates the state, so a `best` that aliased
  `state.runs` would be deleted by the next step (FER2013 runs once died at their first validation
  so).
  """
  return jax.tree.map(
      lambda new, old: jnp.where(improved.reshape((-1,) + (1,) * (new.ndim - 1)), new, old), runs,
      best)


def make_eval_step(model: nn.Module, config: ml_collections.ConfigDict, mesh: Mesh,
                   num_classes: int) -> Callable:
  """jit(runs, batch) -> per-run sums over the batch's real rows: confusion (runs, K, K), loss,
  count.

  With config.input.tta the softmax is averaged over `augment.tta_views` (12 views) before the
  argmax.
  """
  size, mean, std = config.input.size, config.input.mean, config.input.std

  def run_logits(runs: RunState, images: jax.Array) -> jax.Array:
    return model.apply(_variables(runs, config.dtype),
                       images.astype(config.dtype))[0].astype(jnp.float32)

  def eval_step(runs: RunState, batch: dict) -> dict:
    if config.input.tta:
      views = augment.tta_views(batch["image"], size=size, mean=mean, std=std)
      logits = jax.vmap(lambda v: over_runs(run_logits, runs, v))(views)
      log_probs = jnp.log(jnp.mean(jax.nn.softmax(logits), axis=0))
    else:
      images = augment.preprocess_eval(batch["image"], size=size, mean=mean, std=std)
      log_probs = jax.nn.log_softmax(over_runs(run_logits, runs, images))
    mask = batch["mask"].astype(jnp.float32)
    labels = batch["label"]
    truth = jax.nn.one_hot(labels, num_classes) * mask[:, None]
    predicted = jax.nn.one_hot(jnp.argmax(log_probs, -1), num_classes)
    nll = -jnp.take_along_axis(log_probs, labels[None, :, None], axis=-1)[..., 0]
    return {"confusion": jnp.einsum("bk,rbj->rkj", truth, predicted),
            "loss_sum": jnp.sum(nll * mask, axis=-1), "count": jnp.sum(mask)}

  replicated = mesh_lib.replicated(mesh)
  return jax.jit(eval_step, in_shardings=(replicated, mesh_lib.batch_sharding(mesh)),
                 out_shardings=replicated)
