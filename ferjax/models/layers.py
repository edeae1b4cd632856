"""Small building blocks shared by both papers' networks: conv units and power-of-two resizing."""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

# He-normal over fan-out, as torchvision initialises VGG: keeps 13+ plain ReLU convs trainable from
# scratch.
conv_init = nn.initializers.variance_scaling(2.0, "fan_out", "normal")

# The perturbation collection of the tensors a network's classifier fuses (aux["branches"]): zeros
# passed under this name let a train step take the loss's gradient with respect to each branch
# (flax's `Module.perturb`; without them the network is unchanged).
BRANCH_COLLECTION = "branches"


def fused_branch(module: nn.Module, name: str, x: jax.Array) -> jax.Array:
  """`x`, one branch of the classifier's fused input, plus the zeros that a caller may pass as
  `BRANCH_COLLECTION`[name] (nothing is created at `init`, so variables hold no such collection)."""
  if module.is_initializing():
    return x
  return module.perturb(name, x, collection=BRANCH_COLLECTION)


def scaled(channels: int, width: float) -> int:
  """Channel count `channels` times the width multiplier, at least 1."""
  return max(1, int(round(channels * width)))


def conv_small_maps(lhs: jax.Array,
                    rhs: jax.Array, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                    dimension_numbers=None, feature_group_count: int = 1, **options):
  """`lax.conv_general_dilated` for flax's NHWC/HWIO convs, with kernels larger than the map
  unfolded.

  A 5x5 kernel on block 5's 3x3 maps (paper 002's multiscale branch) or a 7x7 one on 3x3 and 6x6
  maps (spatial attention) is a convolution XLA:CPU's fast path does not take: its generic loop ran
  that one layer 30x slower than the same product as a matrix multiply (114 ms against 4 ms forward
  at batch 32), a quarter of an MCSA step. For such maps the patches are gathered
  (tiny at this size) and multiplied by the kernel; every other convolution goes to XLA as it is.
  Same values, same gradients.
  """
  kernel_h, kernel_w = rhs.shape[:2]
  height, width = lhs.shape[1:3]
  unit = lambda values: values is None or all(v == 1 for v in values)
  if (lhs.ndim != 4 or feature_group_count != 1 or not unit(window_strides) or
      not unit(lhs_dilation) or not unit(rhs_dilation) or
      (kernel_h <= height and kernel_w <= width)):
    return jax.lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation,
                                        rhs_dilation, dimension_numbers, feature_group_count,
                                        **options)
  if isinstance(padding, str):
    padding = jax.lax.padtype_to_pads((height, width), (kernel_h, kernel_w), (1, 1), padding)
  (top, bottom), (left, right) = padding
  padded = jnp.pad(lhs, ((0, 0), (top, bottom), (left, right), (0, 0)))
  out_h, out_w = padded.shape[1] - kernel_h + 1, padded.shape[2] - kernel_w + 1
  patches = jnp.concatenate([padded[:, i:i + out_h, j:j + out_w, :]
                             for i in range(kernel_h) for j in range(kernel_w)], axis=-1)
  return jnp.einsum("bhwk,ko->bhwo", patches, rhs.reshape(-1, rhs.shape[-1]),
                    precision=options.get("precision"))


def batch_norm(name: str, train: bool) -> nn.BatchNorm:
  """BatchNorm with PyTorch's defaults (its momentum 0.1 is Flax's 0.9), as every ferjax network
  uses it."""
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, name=name)


class ConvUnit(nn.Module):
  """k x k convolution (SAME padding, with bias), optional BatchNorm, optional ReLU."""

  features: int
  kernel: int = 3
  batch_norm: bool = False
  relu: bool = True

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    x = nn.Conv(self.features, (self.kernel, self.kernel), padding="SAME", kernel_init=conv_init,
                conv_general_dilated=conv_small_maps, name="conv")(x)
    if self.batch_norm:
      x = batch_norm("bn", train)(x)
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
  mask = jnp.concatenate([jnp.concatenate(masks[0:2], axis=4),
                          jnp.concatenate(masks[2:4], axis=4)],
                         axis=2)
  spread = jnp.where(mask, grad[:, :, None, :, None, :], jnp.zeros((), grad.dtype))
  return (spread.reshape(x.shape),)


max_pool_2x2.defvjp(_max_pool_forward, _max_pool_backward)


def corner_aligned_weights(source: int, target: int) -> np.ndarray:
  """(target, source) bilinear weights with the corner pixels aligned (PyTorch's
  `align_corners=True`).

  Output pixel i samples the input at s_i = i (source - 1) / (target - 1), so the first and last
  pixels of both grids coincide; row i holds 1 - frac(s_i) and frac(s_i) at floor(s_i) and
  floor(s_i) + 1.
  """
  positions = np.arange(target) * ((source - 1) / (target - 1) if target > 1 else 0.0)
  lower = np.minimum(np.floor(positions).astype(int), source - 1)
  upper = np.minimum(lower + 1, source - 1)
  fraction = positions - lower
  weights = np.zeros((target, source))
  np.add.at(weights, (np.arange(target), lower), 1.0 - fraction)
  np.add.at(weights, (np.arange(target), upper), fraction)
  return weights


def half_pixel_weights(source: int, target: int) -> jax.Array:
  """(source, target) bilinear weights with half-pixel centres (PyTorch's `align_corners=False`,
  `jax.image.resize`'s "bilinear" when upsampling).

  Output pixel i samples the input at s_i = (i + 1/2) source / target - 1/2 with the triangle kernel
  max(0, 1 - |s_i - j|) over the input pixels j, each column normalised to sum to 1 (so samples
  beyond the first and last pixel centres take the edge pixel), as `jax.image.resize` builds its
  weights. They are computed in the traced program, as there, so that XLA compiles the same
  program: with NumPy constants the forward pass is equal but gradients differ in the last bits.
  """
  positions = (jnp.arange(target, dtype=jnp.float32) + 0.5) * (source / target) - 0.5
  pixels = jnp.arange(source, dtype=jnp.float32)
  weights = jnp.maximum(0.0, 1.0 - jnp.abs(positions[None, :] - pixels[:, None]))
  return weights / weights.sum(axis=0, keepdims=True)


def resize(x: jax.Array, size: Sequence[int], align_corners: bool = False) -> jax.Array:
  """Resizes NHWC maps between backbone resolutions, which differ by powers of two.

  Upsampling is bilinear, with half-pixel centres by default (PyTorch's `align_corners=False`) or
  with the corner pixels aligned (`align_corners=True`, as the cascaded partial decoder's code
  upsamples), either as two small matrix products. The half-pixel path is `jax.image.resize`'s own
  contraction, bit for bit in value and gradient, written out because jax2onnx's resize cannot
  take a symbolic batch size (ONNX export, `ferjax.inference.onnx_export`). Downsampling is average
  pooling over the exact factor, so no antialiasing convention has to be matched.
  """
  height, width = x.shape[1:3]
  target_h, target_w = size
  if (target_h, target_w) == (height, width):
    return x
  if target_h > height and align_corners:
    rows = jnp.asarray(corner_aligned_weights(height, target_h), x.dtype)
    cols = jnp.asarray(corner_aligned_weights(width, target_w), x.dtype)
    return jnp.einsum("ih,bhwc,jw->bijc", rows, x, cols, precision=jax.lax.Precision.HIGHEST)
  if target_h > height:
    rows = half_pixel_weights(height, target_h).astype(x.dtype)
    cols = half_pixel_weights(width, target_w).astype(x.dtype)
    return jnp.einsum("bhwc,hi,wj->bijc", x, rows, cols, precision=jax.lax.Precision.HIGHEST)
  # The mean of each factor x factor block, as a reshape: XLA:CPU runs avg_pool's reduce-window
  # slowly.
  batch, channels = x.shape[0], x.shape[3]
  blocks = x.reshape(batch, target_h, height // target_h, target_w, width // target_w, channels)
  return jnp.mean(blocks, axis=(2, 4))


def global_average_pool(x: jax.Array) -> jax.Array:
  """(B, H, W, C) -> (B, C)."""
  return jnp.mean(x, axis=(1, 2))
