"""Paper 002's network: multiscale VGG16 with channel and spatial attention (M/MCA/MSA/MCSA-VGGNet).

  * Multiscale: the first conv of every block is the Inception-style `MultiscaleConv` (section 2.4).
  * Fusion: the maps of conv2 and conv3 (block outputs before their pooling) and of conv5 are
    brought to conv5's resolution (average pooling), concatenated, and reduced by a 1x1 conv
    (section 2.5).
  * Head: global average pooling replaces the FC layers, then dropout and FC(num_classes)
    (section 2.4).
  * Attention at the end of every block (sections 2.8-2.10): SE channel attention (MCA), CBAM-style
    spatial attention (MSA), or channel then spatial, in CBAM's order (MCSA).
The embedding used by the center and DDA losses is the pooled fused feature.
"""

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ferjax.models.attention import SEAttention, SpatialAttention
from ferjax.models.layers import ConvUnit, fused_branch, global_average_pool, resize, scaled
from ferjax.models.vgg import VGG16

FUSED_FEATURES = 512


class BlockAttention(nn.Module):
  """Channel (SE) and/or spatial attention in sequence, merging their maps."""

  channel: bool = True
  spatial: bool = True

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> tuple[jax.Array, dict]:
    maps: dict[str, Any] = {}
    if self.channel:
      x, channel_maps = SEAttention(name="channel")(x, train)
      maps.update(channel_maps)
    if self.spatial:
      x, spatial_maps = SpatialAttention(name="spatial")(x, train)
      maps.update(spatial_maps)
    return x, maps


class MultiscaleNet(nn.Module):
  """Paper 002's network. Call: `(logits, aux) = model.apply(variables, x, train=...)`.

  aux holds "embedding" (B, D); "branches" (name -> the map at conv5's resolution that the fusion
  concatenates: c2, c3, c5); "channel_weights" (5 x (B, C_i)) with channel attention;
  "spatial_maps" (5 x (B, H_i, W_i, 1)) with spatial attention.
  """

  num_classes: int = 7
  channel_attention: bool = False
  spatial_attention: bool = False
  width: float = 1.0
  dropout: float = 0.0
  batch_norm: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> tuple[jax.Array, dict[str, Any]]:
    attention = None
    if self.channel_attention or self.spatial_attention:
      attention = functools.partial(BlockAttention, self.channel_attention, self.spatial_attention)
    backbone = VGG16(self.width, self.batch_norm, attention, multiscale=True, name="backbone")
    features, block_maps = backbone(x, train)
    aux: dict[str, Any] = {}
    if self.channel_attention:
      aux["channel_weights"] = tuple(m["channel_weights"] for m in block_maps)
    if self.spatial_attention:
      aux["spatial_maps"] = tuple(m["spatial_map"] for m in block_maps)
    c5 = features[4]
    branches = {name: fused_branch(self, name, resize(features[block], c5.shape[1:3]))
                for name, block in (("c2", 1), ("c3", 2), ("c5", 4))}
    aux["branches"] = branches
    fused = jnp.concatenate(list(branches.values()), axis=-1)
    fused = ConvUnit(scaled(FUSED_FEATURES, self.width), 1, self.batch_norm,
                     name="fusion")(fused, train)
    embedding = global_average_pool(fused)
    aux["embedding"] = embedding
    hidden = nn.Dropout(self.dropout, deterministic=not train)(embedding)
    logits = nn.Dense(self.num_classes, kernel_init=nn.initializers.normal(0.01),
                      name="head")(hidden)
    return logits, aux
