"""Training state with a leading run axis: N independent seeds trained as one program.

Small FER networks do not fill an accelerator; N of them do. Every
leaf of `RunState` has a leading axis of size `num_runs`, and the train step maps over it (vmapped
on accelerators, a loop on the CPU: see `ferjax.train.steps.over_runs`); only
the step counter is shared. The learning rate lives in the state, per run, because both papers
change it per epoch from what the run has seen (paper 000: halve on a plateau of the loss; paper
002: exponential decay), and a resumed run must carry on from exactly where it stopped.
"""

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import struct

from ferjax import compiling, models
from ferjax import mesh as mesh_lib
from ferjax.models import pretrained
from ferjax.train import hyper


@struct.dataclass
class RunState:
  """One run's model, optimizer and loss state; in a TrainState every leaf has a leading run
  axis."""

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


def init_run(model: nn.Module,
             optimizer: optax.GradientTransformation, key: jax.Array, sample: jax.Array,
             num_classes: int, learning_rate: float,
             convs: pretrained.Convs | None = None) -> RunState:
  """A fresh run: network initialised from `key` (its backbone's convs from `convs` where given, see
  ferjax.models.pretrained), zero centres, zero momentum."""
  variables = model.init(key, sample)
  params = variables["params"] if convs is None else pretrained.load_into(
      variables["params"], convs)
  width = embedding_size(model, sample)
  return RunState(params=params,
                  batch_stats=variables.get("batch_stats", {}), opt_state=optimizer.init(params),
                  centers=jnp.zeros((num_classes, width), jnp.float32),
                  learning_rate=jnp.asarray(learning_rate, jnp.float32),
                  best_loss=jnp.asarray(jnp.inf, jnp.float32), bad_epochs=jnp.zeros((), jnp.int32))


@dataclasses.dataclass(frozen=True)
class Initial:
  """What a job starts from: its network, the optimizer's direction rule and the fresh state."""

  model: nn.Module
  optimizer: optax.GradientTransformation
  state: TrainState


def initial_state(config: ml_collections.ConfigDict, mesh: jax.sharding.Mesh, num_classes: int,
                  runs: hyper.Runs) -> Initial:
  """The config's network and optimizer, and a fresh TrainState of `runs` laid out on `mesh`."""
  platform = mesh.devices.flat[0].platform
  return _fresh(config, mesh, num_classes, runs, functools.partial(compiling.once,
                                                                   platform=platform))


def state_shapes(config: ml_collections.ConfigDict, mesh: jax.sharding.Mesh, num_classes: int,
                 runs: hyper.Runs) -> TrainState:
  """The layout of `initial_state`'s state (shapes, dtypes, shardings), computing and compiling
  nothing: what restoring a checkpoint needs."""
  return jax.eval_shape(lambda: _fresh(config, mesh, num_classes, runs, jax.jit).state)


def _fresh(config: ml_collections.ConfigDict, mesh: jax.sharding.Mesh, num_classes: int,
           runs: hyper.Runs, jit: Callable) -> Initial:
  model = models.get_model(config.model.name, **config.model.options)
  optimizer = momentum(config.optimizer)
  size = config.input.size
  sample = jnp.zeros((1, size, size, 1), jnp.float32)
  replicated = mesh_lib.replicated(mesh)
  convs = pretrained.read_vgg16(config.model.pretrained) if config.model.get("pretrained") else None
  init = jit(jax.vmap(
      lambda key, rate, convs: init_run(model, optimizer, key, sample, num_classes, rate, convs),
      in_axes=(0, 0, None)), out_shardings=replicated)
  state = TrainState(step=jax.device_put(jnp.zeros((), jnp.int32), replicated),
                     runs=init(runs.keys, runs.learning_rates, convs))
  return Initial(model, optimizer, state)
