"""ImageNet VGG16 convolutions from a file the user has, as the starting point of ferjax's backbone.

Neither paper starts from pretrained weights (docs/FIDELITY.md row 0.29); every FER2013 result above
74% that we know of does, so ferjax offers it as a study cell beyond the papers (`pretrained=PATH`).
Two layouts are read:

  * torchvision's `vgg16-397923af.pth`: a state_dict whose convs are `features.N.weight`
    (out, in, 3, 3) and `features.N.bias`, N = 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28
    (needs PyTorch);
  * Keras' `vgg16_weights_tf_dim_ordering_tf_kernels.h5`: one HDF5 group per layer,
    `block<b>_conv<c>`, whose `weight_names` attribute lists a (3, 3, in, out) kernel and its bias
    (needs h5py).

Only the 13 convs are taken; the head (and everything the papers add) keeps its initialisation. The
first conv is adapted to one input channel by summing its RGB kernels, so a grey image gives the
response the network gives the same image in colour. A missing or mis-shaped key is an error naming
the file and the key.
"""

import os
import pathlib

import numpy as np

from ferjax.models.vgg import VGG16_BLOCKS

CONV_NAMES = tuple(f"block{block}_conv{layer}" for block, widths in enumerate(VGG16_BLOCKS, start=1)
                   for layer in range(1, len(widths) + 1))
# torchvision's vgg16().features: convs at these indices (ReLUs and max-pools between them).
TORCHVISION_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)


def _shapes() -> dict[str, tuple[tuple[int, ...], tuple[int]]]:
  """(kernel, bias) shape of each ImageNet VGG16 conv (three input channels)."""
  outputs = [channels for widths in VGG16_BLOCKS for channels in widths]
  inputs = [3] + outputs[:-1]
  return {name: ((3, 3, c_in, c_out), (c_out,))
          for name, c_in, c_out in zip(CONV_NAMES, inputs, outputs, strict=True)}


SHAPES = _shapes()


class PretrainedError(ValueError):
  """A VGG16 file that cannot be read or lacks what VGG16 has."""


Convs = dict[str, tuple[np.ndarray, np.ndarray]]


def _check(path: pathlib.Path, key: str, array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
  if tuple(array.shape) != shape:
    raise PretrainedError(f"{path}: {key} has shape {tuple(array.shape)}; VGG16 has {shape} there")
  return np.asarray(array, np.float32)


def read_torchvision(path: pathlib.Path) -> Convs:
  try:
    import torch
  except ImportError:
    raise PretrainedError(
        f"{path}: reading a .pth state_dict needs PyTorch (pip install torch)") from None
  try:
    state = torch.load(path, map_location="cpu", weights_only=True)
  except Exception as error:  # torch raises many types for a file that is not a state_dict.
    raise PretrainedError(f"{path}: not a readable PyTorch state_dict ({error})") from None
  state = state.get("state_dict", state) if isinstance(state, dict) else state
  if not isinstance(state, dict):
    raise PretrainedError(f"{path}: holds a {type(state).__name__}, not a state_dict")
  convs = {}
  for name, index in zip(CONV_NAMES, TORCHVISION_INDICES, strict=True):
    kernel_shape, bias_shape = SHAPES[name]
    weight_key, bias_key = f"features.{index}.weight", f"features.{index}.bias"
    for key in (weight_key, bias_key):
      if key not in state:
        raise PretrainedError(f"{path}: no key {key} (torchvision's VGG16 conv {name}); keys start "
                              f"{sorted(state)[:4]}")
    weight = state[weight_key].detach().cpu().numpy()
    torch_shape = (kernel_shape[3], kernel_shape[2], 3, 3)
    convs[name] = (_check(path, weight_key, weight, torch_shape).transpose(2, 3, 1, 0),
                   _check(path, bias_key, state[bias_key].detach().cpu().numpy(), bias_shape))
  return convs


def read_keras(path: pathlib.Path) -> Convs:
  try:
    import h5py
  except ImportError:
    raise PretrainedError(
        f"{path}: reading a Keras .h5 file needs h5py (pip install h5py)") from None
  try:
    handle = h5py.File(path, "r")
  except OSError as error:
    raise PretrainedError(f"{path}: not a readable HDF5 file ({error})") from None
  convs = {}
  with handle:
    root = handle["model_weights"] if "model_weights" in handle else handle  # A whole-model save.
    for name in CONV_NAMES:
      if name not in root:
        raise PretrainedError(
            f"{path}: no layer {name} (Keras' VGG16 names its convs block<b>_conv<c>)")
      group = root[name]
      weight_names = [
          n.decode() if isinstance(n, bytes) else n for n in group.attrs.get("weight_names", [])
      ]
      arrays = {n: group[n][()] for n in weight_names if n in group}
      kernels = [n for n, a in arrays.items() if a.ndim == 4]
      biases = [n for n, a in arrays.items() if a.ndim == 1]
      if len(kernels) != 1 or len(biases) != 1:
        raise PretrainedError(
            f"{path}: layer {name} lists weights {weight_names}; expected one kernel and "
            "one bias")
      kernel_shape, bias_shape = SHAPES[name]
      convs[name] = (_check(path, f"{name}/{kernels[0]}", arrays[kernels[0]], kernel_shape),
                     _check(path, f"{name}/{biases[0]}", arrays[biases[0]], bias_shape))
  return convs


def read_vgg16(path: os.PathLike) -> Convs:
  """The 13 convs of a VGG16 file, as (kernel (3, 3, in, out), bias), the first adapted to grey."""
  path = pathlib.Path(path).expanduser()
  if not path.is_file():
    raise PretrainedError(f"{path}: no such VGG16 file (torchvision .pth or Keras .h5)")
  readers = {
      ".pth": read_torchvision, ".pt": read_torchvision, ".h5": read_keras,
      ".hdf5": read_keras
  }
  if path.suffix not in readers:
    raise PretrainedError(
        f"{path}: unknown VGG16 file type {path.suffix!r}; expected torchvision's .pth "
        "or Keras' .h5")
  convs = readers[path.suffix](path)
  kernel, bias = convs[CONV_NAMES[0]]
  convs[CONV_NAMES[0]] = (kernel.sum(axis=2, keepdims=True), bias)
  return convs


def load_into(params: dict, convs: Convs) -> dict:
  """`params` of a ferjax network with its backbone's plain 3x3 convs replaced by `convs`.

  Paper 002's multiscale layers (the first conv of each block) have no VGG16 counterpart and keep
  their initialisation. The network must have the published widths (width 1).
  """
  backbone = dict(params["backbone"])
  for name, (kernel, bias) in convs.items():
    layer = backbone[name]
    if "conv" not in layer:  # A multiscale layer: branches, not one conv.
      continue
    current = layer["conv"]["kernel"]
    if tuple(current.shape) != kernel.shape:
      raise PretrainedError(
          f"{name}: the network's kernel is {tuple(current.shape)}, VGG16's {kernel.shape}; "
          "pretrained convs need width=1 and one input channel")
    backbone[name] = dict(layer, conv={"kernel": kernel.astype(current.dtype),
                                       "bias": bias.astype(current.dtype)})
  return dict(params, backbone=backbone)



def identity(path: os.PathLike) -> dict[str, str]:
  """{'name', 'sha256'} of a weights file, as results and ledgers record what a run started from."""
  from ferjax.data import archive  # Its hashing; imported here to keep models free of data imports.
  path = pathlib.Path(path).expanduser()
  return {"name": path.name, "sha256": archive.digest(path)}
