"""PyTorch mirror of `ferjax.models.layers`: conv units, power-of-two resizing, global average
pooling.

Tensors are NCHW. Every submodule attribute carries the name of the matching flax submodule, so
`third_party.torch_reference.convert` can map a flax variable tree onto the state dict by name.
"""

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

# Flax BatchNorm(momentum=0.9, epsilon=1e-5) keeps 0.9 of the old statistics; torch counts the new
# ones.
BN_MOMENTUM = 0.1
BN_EPS = 1e-5


def scaled(channels: int, width: float) -> int:
  """Channel count `channels` times the width multiplier, at least 1 (as
  `ferjax.models.layers.scaled`)."""
  return max(1, int(round(channels * width)))


def same_conv(in_channels: int, features: int, kernel: int, groups: int = 1) -> nn.Conv2d:
  """Conv2d with bias whose padding equals flax's padding='SAME' for an odd kernel."""
  return nn.Conv2d(in_channels, features, kernel, padding=kernel // 2, groups=groups, bias=True)


class ConvUnit(nn.Module):
  """k x k convolution (SAME padding, with bias), optional BatchNorm, optional ReLU.

  Mirrors `ferjax.models.layers.ConvUnit`; submodules `conv` and (with batch_norm) `bn`.
  """

  def __init__(self, in_channels: int, features: int, kernel: int = 3, batch_norm: bool = False,
               relu: bool = True):
    super().__init__()
    self.conv = same_conv(in_channels, features, kernel)
    if batch_norm:
      self.bn = nn.BatchNorm2d(features, eps=BN_EPS, momentum=BN_MOMENTUM)
    self.relu = relu

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    x = self.conv(x)
    if hasattr(self, "bn"):
      x = self.bn(x)
    return F.relu(x) if self.relu else x


def resize(x: torch.Tensor, size: Sequence[int], align_corners: bool = False) -> torch.Tensor:
  """Resizes NCHW maps between resolutions that differ by powers of two (as `ferjax`'s `resize`).

  Upsampling is bilinear, with half-pixel centres by default (`align_corners=False`, what
  jax.image.resize's 'bilinear' does when enlarging) or corner-aligned (`align_corners=True`, as
  CPD's aggregation upsamples); downsampling is average pooling over the exact factor.
  """
  height, width = x.shape[2:]
  target_h, target_w = size
  if (target_h, target_w) == (height, width):
    return x
  if target_h > height:
    return F.interpolate(x, size=(target_h, target_w), mode="bilinear", align_corners=align_corners)
  factor = (height // target_h, width // target_w)
  return F.avg_pool2d(x, factor, stride=factor)


def global_average_pool(x: torch.Tensor) -> torch.Tensor:
  """(B, C, H, W) -> (B, C)."""
  return x.mean(dim=(2, 3))
