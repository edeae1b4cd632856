"""Partial decoder (Wu et al., CVPR 2019) and reverse attention (Chen et al., ECCV 2018).

Paper 000 (sections 2.4-2.5) puts a PD on the high-level lateral features {C3, C4, C5} to produce a
global map P_d = pd(C3, C4, C5), and reverse-attention stages on blocks 5, 4, 3 that erase the region
already predicted: A_i = 1 - sigmoid(U(S_{i+1})) (eq. 4), R_i = C_i * A_i (eq. 3).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from ferjax.models.layers import ConvUnit, resize


def _upsample(x: jax.Array) -> jax.Array:
  return resize(x, (2 * x.shape[1], 2 * x.shape[2]))


class PartialDecoder(nn.Module):
  """Cascaded partial decoder's aggregation of three lateral features into a one-channel global map.

  With l5, l4, l3 the lateral features (each `features` channels; l4 and l3 at 2x and 4x l5's size)
  and `up` a 2x bilinear upsample, following Wu et al. (2019), eq. 2-3 and their aggregation module:

    l4' = conv_up1(up(l5)) * l4
    l3' = conv_up2(up(up(l5))) * conv_up3(up(l4)) * l3
    m4  = conv_concat2([l4', conv_up4(up(l5))])
    m3  = conv_concat3([l3', conv_up5(up(m4))])
    S_g = conv_out(conv_pre_out(m3))          (1 channel, at l3's resolution)

  The conv_* units are 3x3 conv (+ BN) without activation, as in the CPD aggregation; conv_out is 1x1.
  """

  features: int
  batch_norm: bool = False

  @nn.compact
  def __call__(self, l3: jax.Array, l4: jax.Array, l5: jax.Array, train: bool = False) -> jax.Array:
    k, bn = self.features, self.batch_norm

    def unit(channels, name):
      return ConvUnit(channels, 3, bn, relu=False, name=name)

    l4_mix = unit(k, "conv_up1")(_upsample(l5), train) * l4
    l3_mix = (unit(k, "conv_up2")(_upsample(_upsample(l5)), train)
              * unit(k, "conv_up3")(_upsample(l4), train) * l3)
    m4 = jnp.concatenate([l4_mix, unit(k, "conv_up4")(_upsample(l5), train)], axis=-1)
    m4 = unit(2 * k, "conv_concat2")(m4, train)
    m3 = jnp.concatenate([l3_mix, unit(2 * k, "conv_up5")(_upsample(m4), train)], axis=-1)
    m3 = unit(3 * k, "conv_concat3")(m3, train)
    m3 = unit(3 * k, "conv_pre_out")(m3, train)
    return nn.Conv(1, (1, 1), name="conv_out")(m3)


class ReverseAttention(nn.Module):
  """One reverse-attention stage (paper 000 eq. 3-4; Chen et al. 2018).

  The deeper stage's map S_{i+1} is resized to this stage's resolution, A_i = 1 - sigmoid(S_{i+1})
  erases what is already predicted, R_i = L_i * A_i (broadcast over channels), and two 3x3 convs turn
  R_i into a residual that refines the map: S_i = S_{i+1} + conv(R_i) (the reverse-attention paper's
  residual side output).

  Returns:
    (S_i, A_i): the refined map and the reverse-attention weights, both (B, H_i, W_i, 1).
  """

  features: int
  batch_norm: bool = False

  @nn.compact
  def __call__(self, lateral: jax.Array, deeper_map: jax.Array,
               train: bool = False) -> tuple[jax.Array, jax.Array]:
    prior = resize(deeper_map, lateral.shape[1:3])
    reverse = 1.0 - nn.sigmoid(prior)
    erased = lateral * reverse
    residual = ConvUnit(self.features, 3, self.batch_norm, name="conv1")(erased, train)
    residual = nn.Conv(1, (3, 3), padding="SAME", name="conv2")(residual)
    return prior + residual, reverse
