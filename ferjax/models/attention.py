"""Attention modules: stochastic pooling and GCCA (paper 000), SE and spatial attention (paper 002).

Every module returns `(output, maps)` where `maps` is a dict of the weights it applied, so the
networks can expose them in `aux` for inspection.
"""

from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from ferjax.models.layers import conv_small_maps


def stochastic_pool(x: jax.Array, rng: Optional[jax.Array] = None) -> jax.Array:
  """Global stochastic pooling over H, W per channel (Zeiler & Fergus, ICLR 2013).

  Activations are made non-negative (ReLU) and read as a multinomial over positions,
  p_i = a_i / sum(a). With `rng` one activation per (example, channel) is sampled with probability
  p_i (training); without it the expectation sum(a_i * p_i) = sum(a^2) / sum(a) is returned
  (inference). An all-zero channel gives 0 and a zero gradient, never NaN.

  The sums, the cumulative distribution and the threshold are computed in at least float32 whatever
  the compute dtype, and the result is cast back to it: in bfloat16 (8 significant bits) a running
  sum over 2,304 positions stops growing once it is a few hundred times the next activation, so most
  positions could never be drawn (about 130 of 1,108 on a 48x48 map, total variation to p 0.8).

  Args:
    x: (B, H, W, C) feature maps.
    rng: PRNG key for sampling, or None for the expectation.

  Returns:
    (B, C) pooled descriptors, in x's dtype.
  """
  batch, height, width, channels = x.shape
  precise = jnp.promote_types(x.dtype, jnp.float32)
  a = nn.relu(x).reshape(batch, height * width, channels).astype(precise)
  if rng is None:
    total = jnp.sum(a, axis=1)
    positive = total > 0
    pooled = jnp.where(positive, jnp.sum(a * a, axis=1) / jnp.where(positive, total, 1.0), 0.0)
    return pooled.astype(x.dtype)
  # Only the sampled activation carries a gradient: the draw itself (cdf, threshold, choice) is a
  # constant of the backward pass, which also keeps XLA's cumsum transpose out of it.
  cdf = jnp.cumsum(jax.lax.stop_gradient(a), axis=1)
  total = cdf[:, -1]
  threshold = jax.random.uniform(rng, total.shape, precise) * total
  # The first position whose cumulative mass exceeds the threshold: the one where the inclusive cdf
  # passes it and the exclusive cdf (the same sums shifted by one) does not. A masked sum rather
  # than take_along_axis: XLA:CPU (jax 0.10) turned the latter's scatter-add gradient into NaN
  # inside BatchNorm networks; the fused compare-select-reduce has no scatter and no position index.
  before = jnp.concatenate([jnp.zeros_like(cdf[:, :1]), cdf[:, :-1]], axis=1)
  chosen = (before <= threshold[:, None, :]) & (cdf > threshold[:, None, :])
  sampled = jnp.sum(jnp.where(chosen, a, 0.0), axis=1)
  return jnp.where(total > 0, sampled, 0.0).astype(x.dtype)


class GroupedTripleConv(nn.Module):
  """The 1x1 group convolution of GCCA's eq. 1, with C groups of 3 inputs, as a weighted sum.

  Each output channel c is w_c . (avg_c, max_c, rdm_c) + b_c. Parameters are laid out exactly as
  `nn.Conv(C, (1, 1), feature_group_count=C)` would hold them (kernel (1, 1, 3, C), bias (C,)) and
  initialised the same way, but the product is an elementwise multiply and a 3-term sum: XLA's CPU
  backend runs grouped convolutions (and their gradients) as slow generic loops, and this layer
  alone made a paper-000 training step twice as slow as PyTorch's.
  """

  @nn.compact
  def __call__(self, descriptors: jax.Array) -> jax.Array:
    """(B, C, 3) descriptor triples -> (B, C)."""
    channels = descriptors.shape[1]
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (1, 1, 3, channels))
    bias = self.param("bias", nn.initializers.zeros_init(), (channels,))
    return jnp.sum(descriptors * kernel[0, 0].T, axis=-1) + bias


class GCCA(nn.Module):
  """Group-convolutional channel attention (paper 000, section 2.3, eq. 1-2).

  Three channel descriptors (average, max and stochastic pooling) are grouped per channel into a
  (avg_c, max_c, rdm_c) triple and fused by a 1x1 group convolution with C groups (G in eq. 1), then
  ReLU, a 1x1 conv to C/16, ReLU, a 1x1 conv back to C and a sigmoid give M_c(F) (eq. 1). The output
  is F' = M_c(F) * F + F (eq. 2), the residual keeping the response from being weakened. Stochastic
  pooling samples (rng stream "stochastic") when `train=True` and uses its expectation otherwise.
  """

  reduction: int = 16

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> tuple[jax.Array, dict]:
    channels = x.shape[-1]
    rng = self.make_rng("stochastic") if train else None
    descriptors = jnp.stack(
        [jnp.mean(x, axis=(1, 2)), jnp.max(x, axis=(1, 2)), stochastic_pool(x, rng)], axis=-1)
    fused = nn.relu(GroupedTripleConv(name="group_conv")(descriptors))[:, None, None, :]
    hidden = nn.relu(nn.Conv(max(1, channels // self.reduction), (1, 1), name="squeeze")(fused))
    weights = nn.sigmoid(nn.Conv(channels, (1, 1), name="excite")(hidden))
    return x * weights + x, {"channel_weights": weights[:, 0, 0, :]}


class SEAttention(nn.Module):
  """Squeeze-and-excitation channel attention (paper 002, section 2.9; Hu et al. 2018).

  Global average pooling, FC to C/r, ReLU, FC to C, sigmoid, and the input rescaled per channel.
  """

  reduction: int = 16

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> tuple[jax.Array, dict]:
    del train
    channels = x.shape[-1]
    squeezed = jnp.mean(x, axis=(1, 2))
    hidden = nn.relu(nn.Dense(max(1, channels // self.reduction), name="squeeze")(squeezed))
    weights = nn.sigmoid(nn.Dense(channels, name="excite")(hidden))
    return x * weights[:, None, None, :], {"channel_weights": weights}


class SpatialAttention(nn.Module):
  """CBAM-style spatial attention (paper 002, section 2.10; Woo et al. 2018).

  Channel-wise mean and max maps are concatenated (in that order), a 7x7 conv reduces them to one
  map, a sigmoid gives M_s(F) (H x W x 1), and the input is multiplied by it (Hadamard product).
  """

  kernel: int = 7

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> tuple[jax.Array, dict]:
    del train
    pooled = jnp.concatenate(
        [jnp.mean(x, axis=-1, keepdims=True), jnp.max(x, axis=-1, keepdims=True)], axis=-1)
    weights = nn.sigmoid(
        nn.Conv(1, (self.kernel, self.kernel), padding="SAME", conv_general_dilated=conv_small_maps,
                name="conv")(pooled))
    return x * weights, {"spatial_map": weights}
