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


def _windows(x: jax.Array) -> jax.Array:
  """(B, H, W, C) -> (B, H/2, 2, W/2, 2, C): each 2x2 window spread over axes 2 and 4."""
  batch, height, width, channels = x.shape
  return x.reshape(batch, height // 2, 2, width // 2, 2, channels)


@jax.custom_vjp
def max_pool_2x2(x: jax.Array) -> jax.Array:
  """2x2 max-pooling with stride 2 of NHWC maps with even sides, as a reshape and a max.

  Same values and gradient as `nn.max_pool(x, (2, 2), (2, 2))` and PyTorch's `max_pool2d(x, 2)`: the
  gradient goes to the first maximum of each window in row-major order (ties are common: flat image
  regions give equal conv outputs). Written as elementwise masks because XLA:CPU runs the
  select-and-scatter of `nn.max_pool`'s gradient several times slower.
  """
  return jnp.max(_windows(x), axis=(2, 4))


def _max_pool_forward(x: jax.Array) -> tuple[jax.Array, jax.Array]:
  pooled = max_pool_2x2(x)
  return pooled, x


def _max_pool_backward(x: jax.Array, grad: jax.Array) -> tuple[jax.Array]:
  windows = _windows(x)
  peak = jnp.max(windows, axis=(2, 4))[:, :, None, :, None, :]
  taken = jnp.zeros_like(peak, dtype=bool)
  masks = []
  for row in range(2):
    for col in range(2):
      first = (windows[:, :, row:row + 1, :, col:col + 1, :] == peak) & ~taken
      taken = taken | first
      masks.append(first)
  mask = jnp.concatenate([jnp.concatenate(masks[0:2], axis=4), jnp.concatenate(masks[2:4], axis=4)], axis=2)
  spread = jnp.where(mask, grad[:, :, None, :, None, :], jnp.zeros((), grad.dtype))
  return (spread.reshape(x.shape),)


max_pool_2x2.defvjp(_max_pool_forward, _max_pool_backward)


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
