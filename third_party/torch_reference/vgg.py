"""PyTorch mirror of `ferjax.models.vgg`: the VGG16 backbone with lateral outputs C1..C5 (Simonyan &
Zisserman 2015; paper 000 section 2.2) and paper 002's Inception-style multiscale conv layer.

Inputs are NCHW. Submodules are named as in flax: `block{b}_conv{l}` and `block{b}_attention`.
"""

from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from third_party.torch_reference.layers import ConvUnit, scaled

VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
INPUT_CHANNELS = (1, 3)
SIZE_MULTIPLE = 16

AttentionFactory = Callable[[int], nn.Module]  # channels -> module returning (x, maps)


def check_input(x: torch.Tensor) -> None:
  """Raises ValueError unless `x` is (B, C, H, W) with C in {1, 3} and H, W divisible by 16."""
  if x.ndim != 4:
    raise ValueError(
        f"expected images of shape (batch, channels, height, width), got {tuple(x.shape)}")
  channels, height, width = x.shape[1:]
  if channels not in INPUT_CHANNELS:
    raise ValueError(
        f"expected 1 or 3 input channels, got {channels} (input shape {tuple(x.shape)})")
  if height % SIZE_MULTIPLE or width % SIZE_MULTIPLE or height == 0 or width == 0:
    raise ValueError(f"image height and width must be positive multiples of {SIZE_MULTIPLE}, "
                     f"got {height}x{width}")


def multiscale_widths(features: int) -> dict[int, int]:
  """Kernel size -> output channels of the 1x1, 3x3 and 5x5 branches (1/4, 1/2, the rest)."""
  quarter = max(1, features // 4)
  half = max(1, features // 2)
  return {1: quarter, 3: half, 5: max(1, features - quarter - half)}


class MultiscaleConv(nn.Module):
  """Inception-style multiscale conv layer (paper 002, section 2.4); mirrors `ferjax`'s
  MultiscaleConv.

  Parallel 1x1, 3x3 and 5x5 branches (`branch1x1`, `branch3x3`, `branch5x5`), each
  conv (+ BN) + ReLU, concatenated along channels in that order. Every branch keeps at least one
  channel, so the output has max(features, 3) channels (`out_channels`), as in ferjax.
  """

  def __init__(self, in_channels: int, features: int, batch_norm: bool = False):
    super().__init__()
    for kernel, channels in multiscale_widths(features).items():
      self.add_module(f"branch{kernel}x{kernel}", ConvUnit(in_channels, channels, kernel,
                                                           batch_norm))
    self.out_channels = sum(multiscale_widths(features).values())

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    return torch.cat([branch(x) for branch in self.children()], dim=1)


class VGG16(nn.Module):
  """VGG16 feature extractor returning every block's output; mirrors `ferjax.models.vgg.VGG16`.

  Args:
    in_channels: 1 (grayscale) or 3 (RGB); flax infers it, torch needs it up front.
    width: channel multiplier.
    batch_norm: BatchNorm after every conv.
    attention: factory `channels -> module` applied at the end of every block, or None.
    multiscale: replace the first conv of every block by `MultiscaleConv` (paper 002).

  `forward` returns (C1..C5 after attention and before pooling, per-block dicts of attention maps).
  """

  def __init__(self, in_channels: int = 3, width: float = 1.0, batch_norm: bool = False,
               attention: Optional[AttentionFactory] = None, multiscale: bool = False):
    super().__init__()
    self.block_channels = []
    channels_in = in_channels
    for block, widths in enumerate(VGG16_BLOCKS, start=1):
      for layer, channels in enumerate(widths, start=1):
        features = scaled(channels, width)
        if multiscale and layer == 1:
          unit = MultiscaleConv(channels_in, features, batch_norm)
        else:
          unit = ConvUnit(channels_in, features, 3, batch_norm)
        self.add_module(f"block{block}_conv{layer}", unit)
        channels_in = unit.out_channels if multiscale and layer == 1 else features
      if attention is not None:
        self.add_module(f"block{block}_attention", attention(channels_in))
      self.block_channels.append(channels_in)

  def forward(self, x: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], tuple[dict, ...]]:
    check_input(x)
    features, maps = [], []
    for block, widths in enumerate(VGG16_BLOCKS, start=1):
      for layer in range(1, len(widths) + 1):
        x = getattr(self, f"block{block}_conv{layer}")(x)
      block_maps: dict = {}
      if hasattr(self, f"block{block}_attention"):
        x, block_maps = getattr(self, f"block{block}_attention")(x)
      features.append(x)
      maps.append(block_maps)
      if block < len(VGG16_BLOCKS):
        x = F.max_pool2d(x, 2, stride=2)
    return tuple(features), tuple(maps)
