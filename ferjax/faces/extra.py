"""The optional packages face detection and video need, with an error that says how to install
them."""

import importlib
import importlib.util
from types import ModuleType

HINT = "face detection and videos need the 'faces' extra: pip install -e '.[faces]'"


def missing(what: str, module: str) -> ModuleNotFoundError:
  """The error for a missing part of the extra: the hint, then what exactly is missing."""
  return ModuleNotFoundError(f"{HINT} ({what})", name=module)


def require(module: str, package: str | None = None) -> ModuleType:
  """Imports `module`, or raises `missing(...)` naming it and its PyPI package."""
  if importlib.util.find_spec(module) is None:
    raise missing(f"module {module!r} is not installed; PyPI package {package or module!r}", module)
  return importlib.import_module(module)
