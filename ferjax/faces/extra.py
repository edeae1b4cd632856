"""The optional packages face detection, video and ONNX export need, with an error that says how to
install them."""

import importlib
import importlib.util
from types import ModuleType

NEEDS = {
    "faces": "face detection and videos need the 'faces' extra: pip install -e '.[faces]'",
    "onnx": "ONNX export needs the 'onnx' extra: pip install -e '.[onnx]'",
}


def missing(what: str, module: str, extra: str = "faces") -> ModuleNotFoundError:
  """The error for a missing part of an extra: the hint, then what exactly is missing."""
  return ModuleNotFoundError(f"{NEEDS[extra]} ({what})", name=module)


def require(module: str, package: str | None = None, extra: str = "faces") -> ModuleType:
  """Imports `module`, or raises `missing(...)` naming it, its PyPI package and the extra."""
  if importlib.util.find_spec(module) is None:
    raise missing(f"module {module!r} is not installed; PyPI package {package or module!r}", module,
                  extra)
  return importlib.import_module(module)
