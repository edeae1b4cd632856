"""What ferjax's command-line tools share: quiet logs, XLA's persistent compilation cache (reruns
and resumes skip compiling), and a user's mistake reported as one line on stderr with exit status
1."""

import os
import sys
from collections.abc import Callable
from typing import Any

import jax
from absl import app, flags, logging

CACHE_DIR = "~/.cache/ferjax/xla"
USER_ERRORS = (ValueError, OSError, ImportError)


def enable_compilation_cache(directory: str = CACHE_DIR) -> None:
  """Caches compiled programs taking over a second in `directory`, unless a cache is already set."""
  if not jax.config.jax_compilation_cache_dir:
    jax.config.update("jax_compilation_cache_dir", os.path.expanduser(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def run(fn: Callable[..., Any], *args: Any, errors: tuple[type[Exception], ...] = ()) -> Any:
  """fn(*args) with quiet logs and the cache; USER_ERRORS and `errors` end the process with one
  line."""
  logging.set_verbosity(logging.ERROR)  # TFDS and Orbax log routine steps as warnings.
  enable_compilation_cache()
  try:
    return fn(*args)
  except USER_ERRORS + errors as error:
    fail(" ".join(line.strip() for line in str(error).splitlines() if line.strip()))


def fail(message: str) -> None:
  """Ends the process with `error: message` on stderr and exit status 1."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(1)


def _root_message(error: BaseException) -> str:
  """The innermost message of an exception chain: ml_collections wraps a config file's own error (an
  unknown variant or argument) in two more, whose texts hold the whole traceback."""
  while (error.__cause__ or error.__context__) is not None:
    error = error.__cause__ or error.__context__
  lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
  return lines[-1] if lines else type(error).__name__


def parse_flags(argv: list[str], flag_values: flags.FlagValues = flags.FLAGS) -> list[str]:
  """absl's flag parsing, with a bad flag, config key, config argument or value reported as one line
  on stderr and exit status 1, instead of absl's usage text and the traceback around it."""
  try:
    return flag_values(argv)
  except flags.UnrecognizedFlagError as error:
    if error.flagname.startswith("config."):
      fail(f"unknown config key {error.flagname.removeprefix('config.')!r} (--{error.flagname})")
    fail(_root_message(error))
  except flags.Error as error:
    fail(_root_message(error))
  except (AttributeError, KeyError) as error:  # ml_collections: an override of a missing key.
    given = [arg for arg in argv if arg.startswith("--config.") and str(error).strip("'\"") in arg]
    where = " ".join(given) or "the --config overrides"
    fail(f"unknown config key {_root_message(error)} in {where}")


def main(entry: Callable[[list[str]], None]) -> None:
  """app.run(entry) with `parse_flags`: every command-line tool's `if __name__ == "__main__"`."""
  app.run(entry, flags_parser=parse_flags)
