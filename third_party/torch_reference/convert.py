"""Converts ferjax (flax) variables into a state dict of the torch reference networks.

The conversion is generic because every torch submodule is named like its flax counterpart: a flax
leaf at path (a, b, c, leaf) becomes the torch entry "a.b.c.<torch name>", with

  Conv  kernel (H, W, I, O)  -> weight (O, I, H, W)   (a group conv's (1, 1, 3, C) -> (C, 3, 1, 1))
  Dense kernel (in, out)     -> weight (out, in)
  bias                       -> bias
  BatchNorm scale / bias     -> weight / bias, plus num_batches_tracked = 0 so strict loading works
  batch_stats mean / var     -> running_mean / running_var
"""

from typing import Any, Iterator, Mapping

import numpy as np
import torch
from torch import nn

PARAM_NAMES = {"bias": "bias", "scale": "weight"}
STAT_NAMES = {"mean": "running_mean", "var": "running_var"}


def _leaves(
    tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
  """(path, leaf) pairs of a nested mapping, depth first."""
  for key, value in tree.items():
    if isinstance(value, Mapping):
      yield from _leaves(value, prefix + (str(key),))
    else:
      yield prefix + (str(key),), value


def _kernel_to_weight(kernel: np.ndarray) -> np.ndarray:
  """Flax conv (HWIO) or dense (in, out) kernel -> torch weight (OIHW or (out, in))."""
  if kernel.ndim == 4:
    return kernel.transpose(3, 2, 0, 1)
  if kernel.ndim == 2:
    return kernel.T
  raise ValueError(f"unsupported kernel rank {kernel.ndim} (shape {kernel.shape})")


def _param_entries(path: tuple[str, ...], value: np.ndarray) -> dict[str, np.ndarray]:
  """torch state-dict entries for one flax parameter leaf."""
  module, leaf = ".".join(path[:-1]), path[-1]
  if leaf == "kernel":
    return {f"{module}.weight": _kernel_to_weight(value)}
  if leaf not in PARAM_NAMES:
    raise ValueError(f"unknown flax parameter {'/'.join(path)}")
  entries = {f"{module}.{PARAM_NAMES[leaf]}": value}
  if leaf == "scale":  # a BatchNorm: torch also keeps a step counter
    entries[f"{module}.num_batches_tracked"] = np.asarray(0, dtype=np.int64)
  return entries


def flax_to_state_dict(variables: Mapping[str, Any]) -> dict[str, torch.Tensor]:
  """Converts flax `variables` ({"params": ..., optionally "batch_stats": ...}) to a torch state
  dict.

  The result loads with `model.load_state_dict(state_dict, strict=True)` into the torch reference
  model built with the same options.
  """
  entries: dict[str, np.ndarray] = {}
  for path, value in _leaves(variables["params"]):
    entries.update(_param_entries(path, np.asarray(value)))
  for path, value in _leaves(variables.get("batch_stats", {})):
    if path[-1] not in STAT_NAMES:
      raise ValueError(f"unknown flax batch statistic {'/'.join(path)}")
    entries[".".join(path[:-1] + (STAT_NAMES[path[-1]],))] = np.asarray(value)
  return {name: torch.tensor(np.array(value)) for name, value in entries.items()}


def load_flax(model: nn.Module, variables: Mapping[str, Any]) -> nn.Module:
  """Loads flax `variables` into `model` strictly and returns it."""
  model.load_state_dict(flax_to_state_dict(variables), strict=True)
  return model
