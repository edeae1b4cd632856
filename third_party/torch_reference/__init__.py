"""PyTorch reference implementation of ferjax's networks and losses, for parity testing.

`get_model(name, **options)` mirrors `ferjax.models.get_model` ("contextual": paper 000's
ContextualNet, "multiscale": paper 002's MultiscaleNet) and also accepts `in_channels` (1 or 3),
which torch needs up front. Modules take NCHW input and return `(logits, aux)` with ferjax's aux
keys (maps NCHW); `model.train()` / `model.eval()` play the role of ferjax's `train` argument.
`convert.flax_to_state_dict` turns ferjax variables into a state dict for these modules.
"""

import inspect

from torch import nn

from third_party.torch_reference.contextual import ContextualNet
from third_party.torch_reference.convert import flax_to_state_dict, load_flax
from third_party.torch_reference.multiscale import MultiscaleNet

MODELS: dict[str, type[nn.Module]] = {"contextual": ContextualNet, "multiscale": MultiscaleNet}


def model_options(name: str) -> tuple[str, ...]:
  """The keyword options `get_model(name, ...)` accepts."""
  if name not in MODELS:
    raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
  return tuple(p for p in inspect.signature(MODELS[name].__init__).parameters if p != "self")


def get_model(name: str, **options) -> nn.Module:
  """Builds torch model `name` with `options`; unknown names or options raise ValueError."""
  allowed = model_options(name)
  unknown = sorted(set(options) - set(allowed))
  if unknown:
    raise ValueError(f"unknown option(s) {unknown} for model {name!r}; allowed: {list(allowed)}")
  return MODELS[name](**options)


__all__ = ["ContextualNet", "MultiscaleNet", "flax_to_state_dict", "get_model", "load_flax",
           "model_options"]
