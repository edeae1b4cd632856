"""Partial decoder (Wu et al., CVPR 2019) and reverse attention (Chen et al., ECCV 2018).

Paper 000 (sections 2.4-2.5) puts a PD on the high-level features {C3, C4, C5} to produce a global
map P_d = pd(C3, C4, C5), and reverse-attention stages on blocks 5, 4, 3 that erase the region
already predicted: A_i = 1 - sigmoid(U(C_{i+1})) (eq. 4, "the upsampling prediction of the
(i + 1)-th lateral output"), R_i = C_i * A_i (eq. 3). ferjax reads C_i as the lateral features L_i
(1x1 convs in `ferjax.models.contextual`, where CPD and PraNet reduce C_i with receptive field
blocks) and the prediction in eq. 4 as the deeper stage's map S_{i+1}.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from ferjax.models.layers import ConvUnit, resize


def _upsample(x: jax.Array, align_corners: bool = False) -> jax.Array:
  return resize(x, (2 * x.shape[1], 2 * x.shape[2]), align_corners)


class PartialDecoder(nn.Module):
  """Cascaded partial decoder's aggregation of three lateral features into a one-channel global map.

  With l5, l4, l3 the lateral features (each `features` channels; l4 and l3 at 2x and 4x l5's size)
  and `up` a 2x bilinear upsample, following Wu et al. (2019), eq. 2-3 and their aggregation module:

    l4' = conv_up1(up(l5)) * l4
    l3' = conv_up2(up(up(l5))) * conv_up3(up(l4)) * l3
    m4  = conv_concat2([l4', conv_up4(up(l5))])
    m3  = conv_concat3([l3', conv_up5(up(m4))])
    S_g = conv_out(conv_pre_out(m3))          (1 channel, at l3's resolution)

  The conv_* units are 3x3 conv (+ BN) without activation, as in the CPD aggregation; conv_out is
  1x1. `up` has half-pixel centres by default; `align_corners=True` aligns the corner pixels, as the
  CPD authors' aggregation does
  (`nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)`). On 48 px inputs l5 is 3x3,
  so the two conventions give visibly different global maps.
  """

  features: int
  batch_norm: bool = False
  align_corners: bool = False

  @nn.compact
  def __call__(self, l3: jax.Array, l4: jax.Array, l5: jax.Array, train: bool = False) -> jax.Array:
    k, bn = self.features, self.batch_norm

    def unit(channels, name):
      return ConvUnit(channels, 3, bn, relu=False, name=name)

    def up(x):
      return _upsample(x, self.align_corners)

    l4_mix = unit(k, "conv_up1")(up(l5), train) * l4
    l3_mix = unit(k, "conv_up2")(up(up(l5)), train) * unit(k, "conv_up3")(up(l4), train) * l3
    m4 = jnp.concatenate([l4_mix, unit(k, "conv_up4")(up(l5), train)], axis=-1)
    m4 = unit(2 * k, "conv_concat2")(m4, train)
    m3 = jnp.concatenate([l3_mix, unit(2 * k, "conv_up5")(up(m4), train)], axis=-1)
    m3 = unit(3 * k, "conv_concat3")(m3, train)
    m3 = unit(3 * k, "conv_pre_out")(m3, train)
    return nn.Conv(1, (1, 1), name="conv_out")(m3)


class ReverseAttention(nn.Module):
  """One reverse-attention stage (paper 000 eq. 3-4; Chen et al. 2018).

  The deeper stage's map S_{i+1} is resized to this stage's resolution, A_i = 1 - sigmoid(S_{i+1})
  erases what is already predicted, R_i = L_i * A_i (broadcast over channels), and two 3x3 convs
  turn R_i into a residual that refines the map: S_i = S_{i+1} + conv(R_i) (the reverse-attention
  paper's residual side output).

  Against PraNet's public code (Fan et al. 2020, the PyTorch form of this stage):
    * upsampling has half-pixel centres in both: PraNet's `F.interpolate(..., mode="bilinear")`
      leaves align_corners at PyTorch's default (False); shrinking S_g to block 5 averages here,
      where PraNet interpolates bilinearly;
    * PraNet multiplies A_i with the raw backbone features and reduces them with a 1x1 conv, then
      three 5x5 (deepest stage) or two 3x3 convs and a last conv to one channel; this stage
      multiplies the lateral features L_i (paper 000 section 2.5: "the high-level lateral output
      features") and has conv1 and conv2 only.

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
