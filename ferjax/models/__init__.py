"""Model registry: `get_model(name, **options)` builds one of the two papers' networks.

  "contextual": paper 000 (`ferjax.models.contextual.ContextualNet`), options fusion, gcca, pd, ra.
  "multiscale": paper 002 (`ferjax.models.multiscale.MultiscaleNet`), options channel_attention,
                spatial_attention.
Both take num_classes, width, dropout and batch_norm, and return `(logits, aux)` when applied.
"""

import dataclasses

import flax.linen as nn

from ferjax.models.contextual import ContextualNet
from ferjax.models.multiscale import MultiscaleNet

MODELS: dict[str, type[nn.Module]] = {"contextual": ContextualNet, "multiscale": MultiscaleNet}


def model_options(name: str) -> tuple[str, ...]:
  """The keyword options `get_model(name, ...)` accepts."""
  if name not in MODELS:
    raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
  return tuple(f.name for f in dataclasses.fields(MODELS[name]) if f.name not in ("parent", "name"))


# Options that files written by earlier ferjax lack (a workdir's config.json, a portable file's
# metadata), with the value the code that wrote them used: before `head` existed, paper 000's fusion
# head was the "laterals" reading.
STORED_DEFAULTS = {"contextual": {"head": "laterals"}}


def stored_options(name: str, options: dict) -> dict:
  """A stored config's model `options` completed with `STORED_DEFAULTS`, so that it rebuilds the
  network it was written for."""
  return {**STORED_DEFAULTS.get(name, {}), **options}


def from_stored(model: dict) -> nn.Module:
  """The network a stored config's `model` section ({'name', 'options'}) describes."""
  return get_model(model["name"], **stored_options(model["name"], model.get("options", {})))


def get_model(name: str, **options) -> nn.Module:
  """Builds model `name` with `options`; unknown names or options raise ValueError listing the
  choices."""
  allowed = model_options(name)
  unknown = sorted(set(options) - set(allowed))
  if unknown:
    raise ValueError(f"unknown option(s) {unknown} for model {name!r}; allowed: {list(allowed)}")
  return MODELS[name](**options)
