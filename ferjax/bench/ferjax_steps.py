"""ferjax's compiled train and eval steps, timed on one batch: the numbers the PyTorch ones are held
to.

The train step is `ferjax.train.steps.make_train_step` for the case's config (model, joint loss, SGD
with momentum and weight decay, centre update, all N runs), compiled ahead of time so compilation
is timed apart. Its input is a fixed uint8 batch already on the device, or with `source="device"`
the device-resident source gathering each step's batch inside the step, as training does.
"""

import dataclasses
import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ferjax import mesh as mesh_lib
from ferjax.bench import cases, timing
from ferjax.data import device, sources
from ferjax.data import augment as augment_lib
from ferjax.train import hyper, steps
from ferjax.train import state as state_lib

RAW_SIZE = 48  # FER2013 and CK+48 images are 48 x 48; augmentation resamples to the case's size.
SOURCE_EXAMPLES = 4096  # examples held by the synthetic device-resident source.


def _flops(compiled) -> float:
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):  # older jax: one dict per program
    analysis = analysis[0]
  return float(analysis.get("flops", 0.0)) if analysis else 0.0


def _memory_bytes(compiled) -> int | None:
  """Bytes XLA's buffer assignment gives the step: arguments, outputs and temporaries, less
  donations."""
  stats = compiled.memory_analysis()
  if stats is None:
    return None
  return (stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
          - stats.alias_size_in_bytes)


def _compile(jitted, *args) -> tuple[Any, float]:
  start = time.perf_counter()
  compiled = jitted.lower(*args).compile()
  return compiled, time.perf_counter() - start


def _row(case: cases.Case, what: str, setting: str, compiled, compile_s: float,
         measured: timing.Timing) -> dict:
  images = case.batch * case.num_runs
  return dict(framework="ferjax",
              setting=setting, what=what, variant=case.variant, batch=case.batch,
              image_size=case.image_size, dtype=case.dtype, num_runs=case.num_runs,
              width=case.width, step_ms=measured.step_s * 1e3,
              images_per_s=images / measured.step_s, compile_s=compile_s, flops=_flops(compiled),
              memory_bytes=_memory_bytes(compiled), steps=measured.steps)


@functools.cache
def _initial_state(case: cases.Case) -> tuple[state_lib.Initial, hyper.Runs]:
  """The case's network, optimizer and TrainState, and its per-run values, made once per process."""
  config = cases.config_of(case)
  runs = hyper.resolve(config)
  classes = config.model.options.num_classes
  return state_lib.initial_state(config, mesh_lib.make_mesh(), classes, runs), runs


def _fresh_state(case: cases.Case) -> tuple[state_lib.Initial, hyper.Runs]:
  """A copy of the case's initial state, which a step may donate (consume)."""
  initial, runs = _initial_state(case)
  return dataclasses.replace(initial, state=jax.tree.map(jnp.copy, initial.state)), runs


@functools.cache
def compiled_train_step(case: cases.Case, augment: bool = False, source: str = "fixed"):
  """(compiled step, compile seconds, step(i) -> metrics running it on its own state and input).

  source: 'fixed' (one batch on the device) or 'device' (the resident source, gathered in the step).
  Cached, so the profile reuses the timed step's compilation.
  """
  config = cases.config_of(case, augment)
  mesh = mesh_lib.make_mesh()
  initial, runs = _fresh_state(case)
  state = initial.state
  raw = RAW_SIZE if augment else case.image_size
  if source == "device":
    rng = np.random.default_rng(0)
    data = device.DeviceSource.from_arrays(
        rng.integers(0, 256, (SOURCE_EXAMPLES, raw, raw, 1), dtype=np.uint8),
        np.arange(SOURCE_EXAMPLES) % config.model.options.num_classes, mesh, case.batch,
        seeds=tuple(range(case.num_runs)), views=augment_lib.views_per_example(config))
  else:
    host = cases.synthetic_batch(case, raw)
    data = jax.device_put({k: np.stack([v] * case.num_runs) for k, v in host.items()},
                          mesh_lib.run_batch_sharding(mesh))
  feeding = data if source == "device" else sources.FedBatches(mesh)
  jitted = steps.make_train_step(initial.model, initial.optimizer, config, mesh, feeding)
  inputs = runs.step_inputs()
  compiled, compile_s = _compile(jitted, state, data, inputs)
  carry = {"state": state}

  def step(_):
    carry["state"], metrics = compiled(carry["state"], data, inputs)
    return metrics

  return compiled, compile_s, step


def train_row(case: cases.Case, steps_timed: int, warmup: int, augment: bool = False,
              source: str = "fixed") -> dict:
  """Times the train step (see `compiled_train_step`)."""
  compiled, compile_s, step = compiled_train_step(case, augment, source)
  measured = timing.time_steps(step, jax.block_until_ready, steps_timed, warmup)
  setting = ("jit" + (" + augmentation" if augment else "") +
             (" + device source" if source == "device" else ""))
  return _row(case, "train", setting, compiled, compile_s, measured)


def eval_row(case: cases.Case, steps_timed: int, warmup: int) -> dict:
  """Times the eval step (forward pass of every run, softmax, confusion counts) on one batch."""
  config = cases.config_of(case)
  mesh = mesh_lib.make_mesh()
  initial, _ = _fresh_state(case)
  state = initial.state
  host = cases.synthetic_batch(case)
  host["mask"] = np.ones(case.batch, bool)
  batch = jax.device_put(host, mesh_lib.batch_sharding(mesh))
  jitted = steps.make_eval_step(initial.model, config, mesh, config.model.options.num_classes)
  compiled, compile_s = _compile(jitted, state.runs, batch)
  measured = timing.time_steps(lambda _: compiled(state.runs, batch), jax.block_until_ready,
                               steps_timed, warmup)
  return _row(case, "eval", "jit", compiled, compile_s, measured)
