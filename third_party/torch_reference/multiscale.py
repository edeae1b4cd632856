"""PyTorch mirror of `ferjax.models.multiscale`: paper 002's multiscale VGG16 with channel (SE) and
spatial attention (M/MCA/MSA/MCSA-VGGNet).

Multiscale first conv in every block (section 2.4); conv2, conv3 and conv5 block outputs brought to
conv5's resolution by average pooling, concatenated and reduced by a 1x1 conv
(`fusion`, section 2.5); global average pooling, dropout and FC (`head`); SE and/or CBAM spatial
attention per block (sections 2.8-2.10). The embedding is the pooled fused feature.
"""

import functools
from typing import Any

import torch
from torch import nn

from third_party.torch_reference.attention import SEAttention, SpatialAttention
from third_party.torch_reference.layers import ConvUnit, global_average_pool, resize, scaled
from third_party.torch_reference.vgg import VGG16

FUSED_FEATURES = 512


class BlockAttention(nn.Module):
  """SE channel attention (`channel`) then spatial attention (`spatial`), merging their maps.

  Mirrors `ferjax.models.multiscale.BlockAttention`.
  """

  def __init__(self, channels: int, channel: bool = True, spatial: bool = True):
    super().__init__()
    if channel:
      self.channel = SEAttention(channels)
    if spatial:
      self.spatial = SpatialAttention()

  def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    maps: dict[str, Any] = {}
    for name in ("channel", "spatial"):
      if hasattr(self, name):
        x, module_maps = getattr(self, name)(x)
        maps.update(module_maps)
    return x, maps


class MultiscaleNet(nn.Module):
  """Paper 002's network; `forward(x)` (NCHW) returns `(logits, aux)` with ferjax's aux keys.

  aux: "embedding" (B, D); "channel_weights" (5 x (B, C_i)) with channel attention; "spatial_maps"
  (5 x (B, 1, H_i, W_i)) with spatial attention. `in_channels` (1 or 3) is the only option flax does
  not need.
  """

  def __init__(self, num_classes: int = 7, channel_attention: bool = False,
               spatial_attention: bool = False, width: float = 1.0, dropout: float = 0.0,
               batch_norm: bool = False, in_channels: int = 3):
    super().__init__()
    self.channel_attention, self.spatial_attention = channel_attention, spatial_attention
    attention = None
    if channel_attention or spatial_attention:
      attention = functools.partial(BlockAttention,
                                    channel=channel_attention,
                                    spatial=spatial_attention)
    self.backbone = VGG16(in_channels, width, batch_norm, attention, multiscale=True)
    c2, c3, _, c5 = self.backbone.block_channels[1:]
    features = scaled(FUSED_FEATURES, width)
    self.fusion = ConvUnit(c2 + c3 + c5, features, 1, batch_norm)
    self.dropout = nn.Dropout(dropout)
    self.head = nn.Linear(features, num_classes)

  def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
    features, block_maps = self.backbone(x)
    aux: dict[str, Any] = {}
    if self.channel_attention:
      aux["channel_weights"] = tuple(m["channel_weights"] for m in block_maps)
    if self.spatial_attention:
      aux["spatial_maps"] = tuple(m["spatial_map"] for m in block_maps)
    c5 = features[4]
    size = c5.shape[2:]
    aux["branches"] = {name: resize(features[block], size)
                       for name, block in (("c2", 1), ("c3", 2), ("c5", 4))}
    fused = self.fusion(torch.cat(list(aux["branches"].values()), dim=1))
    embedding = global_average_pool(fused)
    aux["embedding"] = embedding
    return self.head(self.dropout(embedding)), aux
