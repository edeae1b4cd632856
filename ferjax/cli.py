"""What ferjax's command-line tools share: quiet logs, XLA's persistent compilation cache (reruns and
resumes skip compiling), and a user's mistake reported as one line on stderr with exit status 1."""

import os
import sys
from collections.abc import Callable
from typing import Any

import jax
from absl import logging

CACHE_DIR = "~/.cache/ferjax/xla"
USER_ERRORS = (ValueError, FileNotFoundError, PermissionError, ImportError)


def enable_compilation_cache(directory: str = CACHE_DIR) -> None:
  """Caches compiled programs taking over a second in `directory`, unless a cache is already set."""
  if not jax.config.jax_compilation_cache_dir:
    jax.config.update("jax_compilation_cache_dir", os.path.expanduser(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def run(fn: Callable[..., Any], *args: Any, errors: tuple[type[Exception], ...] = ()) -> Any:
  """fn(*args) with quiet logs and the cache; USER_ERRORS and `errors` end the process with one line."""
  logging.set_verbosity(logging.ERROR)  # TFDS and Orbax log routine steps as warnings.
  enable_compilation_cache()
  try:
    return fn(*args)
  except USER_ERRORS + errors as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(1)
