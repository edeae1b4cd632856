"""PyTorch mirror of `ferjax.models.contextual.ContextualNet`, paper 000's framework (Chen & Chen,
JIPS 2024): VGG16 + GCCA + multi-feature fusion + partial decoder + reverse attention.

Table 1's rows are flags: m1 none; m2 fusion; m3 + gcca; m4 + pd; m5 + ra; m6 = m5's network. The
fusion head follows ferjax's readings (`head`, see the ferjax module): the edge-enhanced
C2' = C2 * sigmoid(E) + C2 and the deep branches of blocks 3-5 are pooled and concatenated into the
embedding on which the island loss acts (eq. 5-7). "blocks": C_i * sigmoid(S_i) + C_i ("blocks_bn":
then each pooled dimension batch-normalised); "laterals": L_i * sigmoid(S_i); "laterals_c5": GAP(C5)
first, then as "laterals". `align_corners`
sets the partial decoder's upsampling (CPD's corner-aligned convention); `classifier="vgg_fc"` (m1
only) is VGG16's own head: 2x2 max-pool of C5, flatten in flax's (H, W, C) order, fc6 and fc7
(4096 x width, ReLU, dropout), head.
"""

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from third_party.torch_reference.attention import GCCA
from third_party.torch_reference.decoder import PartialDecoder, ReverseAttention
from third_party.torch_reference.layers import (BN_EPS, BN_MOMENTUM, ConvUnit, global_average_pool,
                                                resize, same_conv, scaled)
from third_party.torch_reference.vgg import VGG16

LATERAL_FEATURES = 64
VGG_FC_FEATURES = 4096
CLASSIFIERS = ("gap", "vgg_fc")
HEADS = ("blocks", "blocks_bn", "laterals", "laterals_c5")


class ContextualNet(nn.Module):
  """Paper 000's network; `forward(x)` (NCHW) returns `(logits, aux)` with ferjax's aux keys.

  aux: "embedding" (B, D); "channel_weights" (5 x (B, C_i)) with gcca; "edge_map" (B, 1, H2, W2)
  with fusion; "global_map" with pd; "reverse_attention" (A_5, A_4, A_3) and "stage_maps"
  (S_5, S_4, S_3) with ra. `in_channels` (1 or 3) is the only option flax does not need. With
  classifier="vgg_fc", fc6 is a LazyLinear: its input size (C5's channels times the pooled map's
  area) comes from the input size, as in flax, and is fixed by the first forward pass or by loading
  a state dict.
  """

  def __init__(self,
               num_classes: int = 7, fusion: bool = False, gcca: bool = False, pd: bool = False,
               ra: bool = False, width: float = 1.0, dropout: float = 0.0, batch_norm: bool = False,
               align_corners: bool = False, classifier: str = "gap", head: str = "blocks",
               in_channels: int = 3):
    super().__init__()
    if head not in HEADS:
      raise ValueError(f"contextual: unknown head {head!r}; choose one of {HEADS}")
    if pd and not fusion:
      raise ValueError("contextual: pd=True requires fusion=True")
    if ra and not pd:
      raise ValueError("contextual: ra=True requires pd=True")
    if classifier not in CLASSIFIERS or (classifier == "vgg_fc" and fusion):
      raise ValueError(f"contextual: classifier {classifier!r} with fusion={fusion}; choose one of "
                       f"{CLASSIFIERS}, and 'vgg_fc' only without fusion")
    if align_corners and not pd:
      raise ValueError("contextual: align_corners=True requires pd=True")
    self.fusion, self.gcca, self.pd, self.ra = fusion, gcca, pd, ra
    self.classifier, self.head_reading = classifier, head
    self.backbone = VGG16(in_channels, width, batch_norm, GCCA if gcca else None)
    c2, c3, c4, c5 = self.backbone.block_channels[1:]
    k = scaled(LATERAL_FEATURES, width)
    blocks = head.startswith("blocks")
    if fusion:
      self.edge_conv = same_conv(c2, 1, 3)
    if fusion and (pd or not blocks):
      for i, channels in zip((3, 4, 5), (c3, c4, c5)):
        self.add_module(f"lateral{i}", ConvUnit(channels, k, 1, batch_norm))
    if pd:
      self.partial_decoder = PartialDecoder(k, batch_norm, align_corners)
    if ra:
      for i in (5, 4, 3):
        self.add_module(f"reverse_attention{i}", ReverseAttention(k, batch_norm))
    widths = {"c5": c5}
    if fusion:
      deep = {"c3": c3, "c4": c4, "c5": c5} if blocks else {"l3": k, "l4": k, "l5": k}
      widths = {"c5": c5} if head == "laterals_c5" else {}
      widths |= {"c2": c2, **deep}
    if fusion and head == "blocks_bn":
      for name, channels in widths.items():
        self.add_module(f"{name}_norm", nn.BatchNorm1d(channels, eps=BN_EPS, momentum=BN_MOMENTUM))
    embedding_width = sum(widths.values())
    if classifier == "vgg_fc":
      embedding_width = scaled(VGG_FC_FEATURES, width)
      self.fc6 = nn.LazyLinear(embedding_width)
      self.fc7 = nn.Linear(embedding_width, embedding_width)
    self.dropout = nn.Dropout(dropout)
    self.head = nn.Linear(embedding_width, num_classes)

  def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
    features, block_maps = self.backbone(x)
    aux: dict[str, Any] = {}
    if self.gcca:
      aux["channel_weights"] = tuple(m["channel_weights"] for m in block_maps)
    if self.fusion:
      branches = self._fuse(features, aux)
    elif self.classifier == "vgg_fc":
      branches = {"fc7": self._vgg_fc(features[-1])}
    else:
      branches = {"c5": global_average_pool(features[-1])}
    if self.fusion and self.head_reading == "blocks_bn":
      branches = {name: getattr(self, f"{name}_norm")(x) for name, x in branches.items()}
    embedding = torch.cat(list(branches.values()), dim=-1)
    aux["branches"], aux["embedding"] = branches, embedding
    return self.head(self.dropout(embedding)), aux

  def _vgg_fc(self, c5: torch.Tensor) -> torch.Tensor:
    """VGG16's pool5 (floor mode), fc6 and fc7; flattened channels-last to match flax's Dense
    kernel."""
    pooled = F.max_pool2d(c5, 2, stride=2)
    hidden = torch.relu(self.fc6(pooled.permute(0, 2, 3, 1).flatten(1)))
    return torch.relu(self.fc7(self.dropout(hidden)))

  def _fuse(self, features, aux: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The fusion head's pooled branches: the edge-enhanced C2' and the map-weighted deep branches
    of blocks 3-5 (the blocks themselves or their laterals)."""
    c2, c3, c4, c5 = features[1:]
    edge = self.edge_conv(c2)
    aux["edge_map"] = edge
    branches = {"c5": global_average_pool(c5)} if self.head_reading == "laterals_c5" else {}
    branches["c2"] = global_average_pool(c2 * torch.sigmoid(edge) + c2)
    blocks = self.head_reading.startswith("blocks")
    laterals = None
    if self.pd or not blocks:
      laterals = [getattr(self, f"lateral{i}")(c) for i, c in zip((3, 4, 5), (c3, c4, c5))]
    deep = (c3, c4, c5) if blocks else laterals
    for i, branch, stage_map in zip((3, 4, 5), deep, self._stage_maps(laterals, aux)):
      if stage_map is not None:
        gate = torch.sigmoid(stage_map)
        branch = branch * gate + branch if blocks else branch * gate
      branches[f"c{i}" if blocks else f"l{i}"] = global_average_pool(branch)
    return branches

  def _stage_maps(self, laterals, aux: dict[str, Any]) -> list[Optional[torch.Tensor]]:
    """Per-lateral spatial maps (L3, L4, L5 order): none, PD's global map, or RA-refined maps."""
    if not self.pd:
      return [None] * 3
    global_map = self.partial_decoder(*laterals)
    aux["global_map"] = global_map
    if not self.ra:
      return [resize(global_map, lateral.shape[2:]) for lateral in laterals]
    stage_maps, reverse = [], []
    deeper = global_map
    for i, lateral in zip((5, 4, 3), laterals[::-1]):
      deeper, weights = getattr(self, f"reverse_attention{i}")(lateral, deeper)
      stage_maps.append(deeper)
      reverse.append(weights)
    aux["stage_maps"] = tuple(stage_maps)
    aux["reverse_attention"] = tuple(reverse)
    return stage_maps[::-1]
