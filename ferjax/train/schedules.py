"""The per-epoch learning-rate rules, each registered once by the name configs give it.

A rule maps one run's state, the epoch index, the loss it monitors, the config's schedule section
and the run's starting rate to the run's state for the next epoch; `end_epoch` applies the config's
rule and the train loop vmaps it over the runs (`ferjax.train.steps.make_end_epoch_step`).
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections

from ferjax.train.state import RunState

# PyTorch's ReduceLROnPlateau leaves the rate alone when the reduction is smaller than this (its
# `eps`).
_TORCH_MIN_REDUCTION = 1e-8

Rule = Callable[[RunState, jax.Array, jax.Array, ml_collections.ConfigDict, jax.Array], RunState]


def _plateau(pytorch: bool) -> Rule:
  """A plateau rule: PyTorch's (`pytorch`) or ferjax's earlier reading; see `end_epoch`."""

  def rule(runs: RunState, epoch: jax.Array, monitored_loss: jax.Array,
           schedule: ml_collections.ConfigDict, base_rate: jax.Array) -> RunState:
    del epoch, base_rate
    threshold = schedule.threshold if pytorch else 0.0
    improved = monitored_loss < runs.best_loss * (1.0 - threshold)
    bad = jnp.where(improved, 0, runs.bad_epochs + 1)
    reduce = bad > schedule.patience if pytorch else bad >= schedule.patience
    reduced = runs.learning_rate * schedule.factor
    if pytorch:
      reduce &= runs.learning_rate - reduced > _TORCH_MIN_REDUCTION
      reset = bad > schedule.patience
    else:
      reset = reduce
    return runs.replace(learning_rate=jnp.where(reduce, reduced, runs.learning_rate),
                        bad_epochs=jnp.where(reset, 0, bad),
                        best_loss=jnp.where(improved, monitored_loss, runs.best_loss))

  return rule


def _exponential(runs: RunState, epoch: jax.Array, monitored_loss: jax.Array,
                 schedule: ml_collections.ConfigDict, base_rate: jax.Array) -> RunState:
  del monitored_loss
  rate = base_rate * schedule.decay ** (epoch + 1).astype(jnp.float32)
  return runs.replace(learning_rate=jnp.full_like(runs.learning_rate, rate))


def _cosine(runs: RunState, epoch: jax.Array, monitored_loss: jax.Array,
            schedule: ml_collections.ConfigDict, base_rate: jax.Array) -> RunState:
  del monitored_loss
  done = jnp.minimum((epoch + 1).astype(jnp.float32) / schedule.epochs, 1.0)
  rate = base_rate * 0.5 * (1.0 + jnp.cos(jnp.pi * done))
  return runs.replace(learning_rate=jnp.broadcast_to(rate, runs.learning_rate.shape))


def _constant(runs: RunState, epoch: jax.Array, monitored_loss: jax.Array,
              schedule: ml_collections.ConfigDict, base_rate: jax.Array) -> RunState:
  del epoch, monitored_loss, schedule, base_rate
  return runs


SCHEDULES: dict[str, Rule] = {"plateau": _plateau(pytorch=True),
                              "plateau_at_patience": _plateau(pytorch=False),
                              "exponential": _exponential, "cosine": _cosine,
                              "constant": _constant}


def end_epoch(runs: RunState, epoch: jax.Array, monitored_loss: jax.Array,
              schedule: ml_collections.ConfigDict, base_rate: jax.Array) -> RunState:
  """The per-epoch learning-rate rule of the config, applied to every run (vmapped by the caller).

  'plateau' (paper 000, section 3.3: the rate "decayed to half of its original value when the loss
  rate ceased to decrease within three iterations", trained in PyTorch 1.4) is PyTorch's
  `ReduceLROnPlateau(mode="min", factor, patience, threshold, threshold_mode="rel", cooldown=0)`: an
  epoch improves when its loss is below best * (1 - threshold), and the rate is multiplied by
  `factor` once more than `patience` epochs in a row have not improved (with patience 3: after the
  4th), then the count restarts. 'plateau_at_patience' is ferjax's earlier reading: any new lowest
  loss improves, and the rate drops at the `patience`-th epoch without one.

  optax.contrib.reduce_on_plateau is not used: it drops the rate when the count *reaches* `patience`
  (the 'plateau_at_patience' timing, one epoch before PyTorch), and it scales updates inside the
  optimizer chain, while here the rate is per-run state that the exponential rule shares.

  'exponential' (paper 002): base_rate * decay^(epoch + 1). 'cosine' (beyond both papers; SGDR's
  annealing, Loshchilov & Hutter 2017, without restarts, per epoch): base_rate * (1 + cos(pi (epoch
  + 1) / epochs)) / 2, reaching 0 at the end of the run (`epochs`, the config's num_epochs, which
  `ferjax.train.steps.make_end_epoch_step` adds to the section). 'constant': as is.
  """
  return SCHEDULES[schedule.name](runs, epoch, monitored_loss, schedule, base_rate)
