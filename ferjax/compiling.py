"""Compiling a program that runs once, such as a network's initialisation: on XLA:CPU, without
backend optimisation.

XLA:CPU spends most of a fresh job's start compiling its initialisation, which runs once: the
truncated normals of about 40 kernels, each a fusion of polynomials that LLVM optimises at length
(paper 000's m6 at width 0.125 on a 2-core CPU: 80 s, against 5 s for its forward pass).
Unoptimised, it compiles in 14 s, and about 4% of its values differ in their last bits (relative
differences up to 2.4e-7: XLA:CPU's optimised elementary functions). Accelerators compile it
quickly and keep their defaults.
"""

from collections.abc import Callable

import jax

CPU_OPTIONS = {"xla_backend_optimization_level": 0}


def once(fn: Callable, platform: str | None = None, **jit_kwargs) -> Callable:
  """`jax.jit(fn, **jit_kwargs)`, compiled for a single call on `platform` (default: JAX's default
  backend)."""
  platform = platform or jax.default_backend()
  return jax.jit(fn, compiler_options=CPU_OPTIONS if platform == "cpu" else None, **jit_kwargs)
