"""How the benchmarks time work: per-step medians, the device's measured peak, and naming the
device.

Every step is timed on its own, synchronised with the device at both ends, and the median is kept:
on a shared or throttling machine the median moves far less than the mean. Throughput is
batch / median step time. MFU divides a step's FLOPs (XLA's count for the compiled step, the same
count for the PyTorch version of the network) by the step time and by a peak measured once per run
with a large matrix product in the same dtype, the faster of JAX's and PyTorch's (on a CPU they use
different kernels: XLA's bfloat16 product is slower than PyTorch's), so it says how far the step is
from what the device reaches on the easiest possible workload, not from a datasheet.
"""

import dataclasses
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp


@dataclasses.dataclass
class Timing:
  """Median seconds of one step, and the seconds the first call took (compilation and warm-up)."""

  step_s: float
  first_s: float
  steps: int


def time_steps(step: Callable[[int], Any], sync: Callable[[Any], Any], steps: int,
               warmup: int) -> Timing:
  """Calls `step(i)` warmup + steps times; `sync(result)` waits for the device. Untimed warm-up
  first."""
  if steps < 1:
    raise ValueError(f"steps = {steps}; expected at least 1 timed step")
  start = time.perf_counter()
  sync(step(0))
  first = time.perf_counter() - start
  for i in range(1, warmup):
    sync(step(i))
  times = []
  for i in range(warmup, warmup + steps):
    start = time.perf_counter()
    sync(step(i))
    times.append(time.perf_counter() - start)
  return Timing(statistics.median(times), first, steps)


def describe_device() -> str:
  """'1 x NVIDIA H100 80GB HBM3', or for the CPU backend the host's core count."""
  kind = jax.devices()[0].device_kind
  cores = f" ({os.cpu_count()} cores)" if jax.devices()[0].platform == "cpu" else ""
  return f"{jax.device_count()} x {kind}{cores}"


def on_cpu() -> bool:
  return jax.devices()[0].platform == "cpu"


def matmul_size() -> int:
  """Side of the square matrices the peak is measured with: large enough to saturate the device."""
  return 2048 if on_cpu() else 8192


def peak_flops(dtype: str, steps: int = 5) -> float:
  """FLOP/s of JAX's large square matrix product in `dtype` on the first device."""
  n = matmul_size()
  a = jnp.ones((n, n), dtype)
  b = jnp.ones((n, n), dtype)
  matmul = jax.jit(lambda x, y: x @ y)
  timing = time_steps(lambda _: matmul(a, b), jax.block_until_ready, steps, warmup=2)
  return 2 * n ** 3 / timing.step_s
