"""XLA's persistent compilation cache for the command-line tools: reruns skip compiling their programs."""

import os

import jax

DEFAULT_DIR = "~/.cache/ferjax/xla"


def enable(directory: str = DEFAULT_DIR) -> None:
  """Caches compiled programs taking over a second in `directory`, unless a cache is already set."""
  if not jax.config.jax_compilation_cache_dir:
    jax.config.update("jax_compilation_cache_dir", os.path.expanduser(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
