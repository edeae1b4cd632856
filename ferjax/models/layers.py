"""Small building blocks shared by both papers' networks: conv units and power-of-two resizing."""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

# He-normal over fan-out, as torchvision initialises VGG: keeps 13+ plain ReLU convs trainable from scratch.
conv_init = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def scaled(channels: int, width: float) -> int:
  """Channel count `channels` times the width multiplier, at least 1."""
  return max(1, int(round(channels * width)))


class ConvUnit(nn.Module):
  """k x k convolution (SAME padding, with bias), optional BatchNorm, optional ReLU."""

  features: int
  kernel: int = 3
  batch_norm: bool = False
  relu: bool = True

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    x = nn.Conv(self.features, (self.kernel, self.kernel), padding="SAME", kernel_init=conv_init,
                name="conv")(x)
    if self.batch_norm:
      x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, name="bn")(x)
    return nn.relu(x) if self.relu else x


def resize(x: jax.Array, size: Sequence[int]) -> jax.Array:
  """Resizes NHWC maps between backbone resolutions, which differ by powers of two.

  Upsampling is bilinear with half-pixel centres (PyTorch's `align_corners=False`); downsampling is
  average pooling over the exact factor, so no antialiasing convention has to be matched.
  """
  height, width = x.shape[1:3]
  target_h, target_w = size
  if (target_h, target_w) == (height, width):
    return x
  if target_h > height:
    return jax.image.resize(x, (x.shape[0], target_h, target_w, x.shape[3]), "bilinear")
  factor = (height // target_h, width // target_w)
  return nn.avg_pool(x, factor, strides=factor)


def global_average_pool(x: jax.Array) -> jax.Array:
  """(B, H, W, C) -> (B, C)."""
  return jnp.mean(x, axis=(1, 2))
