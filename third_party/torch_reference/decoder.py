"""PyTorch mirror of `ferjax.models.decoder`: partial decoder (Wu et al., CVPR 2019) and reverse
attention (Chen et al., ECCV 2018), as paper 000 (sections 2.4-2.5, eq. 3-4) uses them. NCHW maps.
"""

import torch
from torch import nn

from third_party.torch_reference.layers import ConvUnit, resize, same_conv


def _upsample(x: torch.Tensor, align_corners: bool = False) -> torch.Tensor:
  return resize(x, (2 * x.shape[2], 2 * x.shape[3]), align_corners)


class PartialDecoder(nn.Module):
  """Partial decoder aggregating lateral features l3, l4, l5 into a one-channel global map S_g.

  Mirrors `ferjax.models.decoder.PartialDecoder` (Wu et al. 2019, eq. 2-3), with `up` a 2x bilinear
  upsample and conv_* 3x3 conv (+ BN) units without activation:

    l4' = conv_up1(up(l5)) * l4
    l3' = conv_up2(up(up(l5))) * conv_up3(up(l4)) * l3
    m4  = conv_concat2([l4', conv_up4(up(l5))])
    m3  = conv_concat3([l3', conv_up5(up(m4))])
    S_g = conv_out(conv_pre_out(m3))          (1x1 conv_out; 1 channel at l3's resolution)

  `align_corners=True` makes `up` F.interpolate(..., align_corners=True), CPD's convention.
  """

  def __init__(self, features: int, batch_norm: bool = False, align_corners: bool = False):
    super().__init__()
    k = features
    self.align_corners = align_corners

    def unit(channels_in: int, channels_out: int) -> ConvUnit:
      return ConvUnit(channels_in, channels_out, 3, batch_norm, relu=False)

    self.conv_up1, self.conv_up2, self.conv_up3, self.conv_up4 = (unit(k, k) for _ in range(4))
    self.conv_concat2 = unit(2 * k, 2 * k)
    self.conv_up5 = unit(2 * k, 2 * k)
    self.conv_concat3 = unit(3 * k, 3 * k)
    self.conv_pre_out = unit(3 * k, 3 * k)
    self.conv_out = nn.Conv2d(3 * k, 1, 1)

  def forward(self, l3: torch.Tensor, l4: torch.Tensor, l5: torch.Tensor) -> torch.Tensor:
    def up(x: torch.Tensor) -> torch.Tensor:
      return _upsample(x, self.align_corners)

    l4_mix = self.conv_up1(up(l5)) * l4
    l3_mix = self.conv_up2(up(up(l5))) * self.conv_up3(up(l4)) * l3
    m4 = self.conv_concat2(torch.cat([l4_mix, self.conv_up4(up(l5))], dim=1))
    m3 = self.conv_concat3(torch.cat([l3_mix, self.conv_up5(up(m4))], dim=1))
    return self.conv_out(self.conv_pre_out(m3))


class ReverseAttention(nn.Module):
  """One reverse-attention stage (paper 000 eq. 3-4); mirrors
  `ferjax.models.decoder.ReverseAttention`.

  The deeper map S_{i+1} is resized to the lateral's resolution, A_i = 1 - sigmoid(S_{i+1}) (eq. 4),
  R_i = L_i * A_i (eq. 3), and S_i = S_{i+1} + conv2(conv1(R_i)) with conv1 a 3x3 conv (+ BN) + ReLU
  and conv2 a 3x3 conv to one channel. Returns (S_i, A_i), both (B, 1, H_i, W_i).
  """

  def __init__(self, features: int, batch_norm: bool = False):
    super().__init__()
    self.conv1 = ConvUnit(features, features, 3, batch_norm)
    self.conv2 = same_conv(features, 1, 3)

  def forward(self, lateral: torch.Tensor,
              deeper_map: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    prior = resize(deeper_map, lateral.shape[2:])
    reverse = 1.0 - torch.sigmoid(prior)
    residual = self.conv2(self.conv1(lateral * reverse))
    return prior + residual, reverse
