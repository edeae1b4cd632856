"""The trained models that ship inside the package, by name. Each is a portable file
(`ferjax.inference.export`) under ferjax/shipped/, with its card in docs/MODELS.md."""

import importlib.resources
import pathlib

# name -> (file under ferjax/shipped/, what it is, in a few words).
MODELS = {"fer2013": ("fer2013.ferjax", "paper 000's m1 at width 0.25, trained by ferjax on "
                      "FER2013's 7 classes")}
DEFAULT = "fer2013"


def path(name: str) -> pathlib.Path:
  """The file of the shipped model `name`; a clear error for an unknown name or a missing file."""
  if name not in MODELS:
    raise ValueError(f"ferjax ships no model named {name!r}; it ships {', '.join(MODELS)}")
  found = pathlib.Path(str(importlib.resources.files("ferjax") / "shipped" / MODELS[name][0]))
  if not found.is_file():
    raise FileNotFoundError(f"the shipped model {name!r} is not in this installation ({found}); "
                            "name a trained model with --workdir or --model")
  return found


def describe(name: str) -> str:
  return f"ferjax's shipped model {name!r} ({MODELS[name][1]}; card: docs/MODELS.md)"
