"""Training state with a leading run axis: N independent seeds trained as one program.

Small FER networks do not fill an accelerator; N of them do (DESIGN.md, "seeds in parallel"). Every leaf
of `RunState` has a leading axis of size `num_runs`, and the train step maps over it (vmapped on
accelerators, a loop on the CPU: see `ferjax.steps.over_runs`); only
the step counter is shared. The learning rate lives in the state, per run, because both papers change
it per epoch from what the run has seen (paper 000: halve on a plateau of the loss; paper 002:
exponential decay), and a resumed run must carry on from exactly where it stopped.
"""

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import struct

from ferjax import hyper
from ferjax import mesh as mesh_lib
from ferjax import models
from ferjax.models import pretrained


@struct.dataclass
class RunState:
  """One run's model, optimizer and loss state; in a TrainState every leaf has a leading run axis."""

  params: Any
  batch_stats: Any
  opt_state: Any
  centers: jax.Array          # (classes, embedding) loss centres (island / DDA); unused by softmax.
  learning_rate: jax.Array    # () current rate.
  best_loss: jax.Array        # () lowest monitored loss so far (plateau schedule).
  bad_epochs: jax.Array       # () epochs since it last improved (plateau schedule).


@struct.dataclass
class TrainState:
  step: jax.Array
  runs: RunState


def momentum(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """SGD's direction without its rate: weight decay added to the gradient, then a momentum trace.

  The caller multiplies by the run's current learning rate, which equals PyTorch's SGD
  (buf = m * buf + g + wd * p; p -= lr * buf) with the rate free to change between epochs.
  """
  return optax.chain(optax.add_decayed_weights(config.weight_decay),
                     optax.trace(decay=config.momentum, nesterov=config.nesterov))


def embedding_size(model: nn.Module, sample: jax.Array) -> int:
  """Width of the model's embedding (what the loss centres live in)."""
  shapes = jax.eval_shape(lambda x: model.init_with_output(jax.random.key(0), x)[0], sample)
  return shapes[1]["embedding"].shape[-1]


def init_run(model: nn.Module, optimizer: optax.GradientTransformation, key: jax.Array, sample: jax.Array,
             num_classes: int, learning_rate: float, convs: pretrained.Convs | None = None) -> RunState:
  """A fresh run: network initialised from `key` (its backbone's convs from `convs` where given, see
  ferjax.models.pretrained), zero centres, zero momentum."""
  variables = model.init(key, sample)
  params = variables["params"] if convs is None else pretrained.load_into(variables["params"], convs)
  width = embedding_size(model, sample)
  return RunState(params=params, batch_stats=variables.get("batch_stats", {}),
                  opt_state=optimizer.init(params), centers=jnp.zeros((num_classes, width), jnp.float32),
                  learning_rate=jnp.asarray(learning_rate, jnp.float32),
                  best_loss=jnp.asarray(jnp.inf, jnp.float32), bad_epochs=jnp.zeros((), jnp.int32))


def run_keys(seed: int, runs: Sequence[int]) -> jax.Array:
  """One root key per run; every per-step key is fold_in(run key, step), so a resumed run repeats."""
  root = jax.random.key(seed)
  return jax.vmap(lambda r: jax.random.fold_in(root, r))(jnp.asarray(list(runs)))


PLATEAU_RULES = ("plateau", "plateau_at_patience")
SCHEDULES = (*PLATEAU_RULES, "exponential", "constant")
# PyTorch's ReduceLROnPlateau leaves the rate alone when the reduction is smaller than this (its `eps`).
_TORCH_MIN_REDUCTION = 1e-8


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

  'exponential' (paper 002): base_rate * decay^(epoch + 1). 'constant': as is.
  """
  if schedule.name in PLATEAU_RULES:
    pytorch = schedule.name == "plateau"
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
  if schedule.name == "exponential":
    rate = base_rate * schedule.decay ** (epoch + 1).astype(jnp.float32)
    return runs.replace(learning_rate=jnp.full_like(runs.learning_rate, rate))
  return runs


def initial_state(config: ml_collections.ConfigDict, mesh: jax.sharding.Mesh, num_classes: int):
  """(model, optimizer, fresh TrainState laid out on `mesh`, per-run keys)."""
  model = models.get_model(config.model.name, **config.model.options)
  optimizer = momentum(config.optimizer)
  size = config.input.size
  sample = jnp.zeros((1, size, size, 1), jnp.float32)
  keys = run_keys(config.seed, hyper.run_numbers(config))
  replicated = mesh_lib.replicated(mesh)
  convs = pretrained.read_vgg16(config.model.pretrained) if config.model.get("pretrained") else None
  init = jax.jit(jax.vmap(lambda key, rate, convs: init_run(model, optimizer, key, sample, num_classes, rate,
                                                            convs), in_axes=(0, 0, None)), out_shardings=replicated)
  rates = hyper.values(config, "optimizer.learning_rate")
  state = TrainState(step=jax.device_put(jnp.zeros((), jnp.int32), replicated), runs=init(keys, rates, convs))
  return model, optimizer, state, keys
