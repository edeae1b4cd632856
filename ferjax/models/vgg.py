"""VGG16 backbone with lateral outputs C1..C5 (Simonyan & Zisserman 2015; paper 000 section 2.2).

13 convs in five blocks of widths 64-128-256-512-512 (times `width`), 2x2 max-pooling after blocks
1-4 and none after block 5, no fully connected layers (paper 000 drops the last pool and the FC
layers; paper 002 replaces the FC layers by global average pooling). Each block may end with an
attention module (GCCA for paper 000, SE and/or spatial attention for paper 002), and its first conv
may be the Inception-style multiscale layer of paper 002.
"""

from typing import Any, Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from ferjax.models.layers import ConvUnit, max_pool_2x2, scaled

VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
INPUT_CHANNELS = (1, 3)
SIZE_MULTIPLE = 16  # four 2x2 poolings, and PD/RA need every block's map to halve exactly.

ModuleDef = Callable[..., nn.Module]


def check_input(x: jax.Array) -> None:
  """Raises ValueError unless `x` is (B, H, W, C) with C in {1, 3} and H, W divisible by 16."""
  if x.ndim != 4:
    raise ValueError(
        f"expected images of shape (batch, height, width, channels), got shape {x.shape}")
  height, width, channels = x.shape[1:]
  if channels not in INPUT_CHANNELS:
    raise ValueError(f"expected 1 (grayscale) or 3 (RGB) input channels, got {channels} "
                     f"(input shape {x.shape})")
  if height % SIZE_MULTIPLE or width % SIZE_MULTIPLE or height == 0 or width == 0:
    raise ValueError(f"image height and width must be positive multiples of {SIZE_MULTIPLE} "
                     f"(e.g. 48 or 224), got {height}x{width}")


class MultiscaleConv(nn.Module):
  """Inception-style multiscale conv layer (paper 002, section 2.4).

  Parallel 1x1, 3x3 and 5x5 branches with 1/4, 1/2 and the remaining 1/4 of the output channels,
  each conv (+ BN) + ReLU, concatenated: the same output width as the VGG conv it replaces, with
  receptive fields at three scales. Kernels and split are ferjax's reading: the text says only that
  "the Inception architecture is adopted as a design philosophy" for "multiscale kernel
  convolutional layers" (its Figure 4 is lost).
  """

  features: int
  batch_norm: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    quarter = max(1, self.features // 4)
    half = max(1, self.features // 2)
    widths = {1: quarter, 3: half, 5: max(1, self.features - quarter - half)}
    branches = [
        ConvUnit(features, kernel, self.batch_norm, name=f"branch{kernel}x{kernel}")(x, train)
        for kernel, features in widths.items()
    ]
    return jnp.concatenate(branches, axis=-1)


class VGG16(nn.Module):
  """VGG16 feature extractor returning every block's output.

  Attributes:
    width: channel multiplier (1.0 = the published widths; tests use 0.125).
    batch_norm: BatchNorm after every conv (VGG16-BN).
    attention: module factory applied at the end of every block, returning (x, maps); None for none.
    multiscale: replace the first conv of every block by `MultiscaleConv` (paper 002).

  Returns (from `__call__`):
    features: (C1, ..., C5), each block's output after its attention and before its pooling.
    maps: per-block dicts of attention weights (empty dicts without attention).
  """

  width: float = 1.0
  batch_norm: bool = False
  attention: Optional[ModuleDef] = None
  multiscale: bool = False

  @nn.compact
  def __call__(self,
               x: jax.Array,
               train: bool = False) -> tuple[tuple[jax.Array, ...], tuple[dict, ...]]:
    check_input(x)
    features, maps = [], []
    for block, widths in enumerate(VGG16_BLOCKS, start=1):
      for layer, channels in enumerate(widths, start=1):
        name = f"block{block}_conv{layer}"
        if self.multiscale and layer == 1:
          x = MultiscaleConv(scaled(channels, self.width), self.batch_norm, name=name)(x, train)
        else:
          x = ConvUnit(scaled(channels, self.width), 3, self.batch_norm, name=name)(x, train)
      block_maps: dict[str, Any] = {}
      if self.attention is not None:
        x, block_maps = self.attention(name=f"block{block}_attention")(x, train)
      features.append(x)
      maps.append(block_maps)
      if block < len(VGG16_BLOCKS):
        x = max_pool_2x2(x)
    return tuple(features), tuple(maps)
