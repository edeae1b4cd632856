"""Paper 000's framework: VGG16 + GCCA + multi-feature fusion + partial decoder + reverse attention.

Chen & Chen, "A Framework for Facial Expression Recognition Combining Contextual Information and
Attention Mechanism" (JIPS 2024). The six rows of Table 1 are flags of one class:

  m1  VGG16 backbone, global average pool of C5, dense           (all flags off; classifier="vgg_fc"
                                                                 gives VGG16's own FC head instead)
  m2  + fusion                                                   fusion
  m3  + GCCA in every block                                      fusion, gcca
  m4  + partial decoder                                          fusion, gcca, pd
  m5  + reverse attention                                        fusion, gcca, pd, ra
  m6  + joint (island) loss                                      same network as m5; the loss is the
                                                                 training config's, see
                                                                 ferjax.train.losses

The paper leaves open how the fused features reach the classifier (section 2.1: "Finally, multiple
features are fused to generate the ultimate FER outcome"; section 2.2: "The ultimate result was
derived by fusing the high-level and low-level features"). `head` names ferjax's readings; each
pools a set of branches and concatenates them into the embedding:
  * every reading: block 2's features pass a single-kernel 3x3 conv giving an edge map E (section
    2.1), and the edge-enhanced C2' = C2 * sigmoid(E) + C2 (the GCCA residual form) is one branch.
  * the maps: PD turns 1x1 lateral outputs of blocks 3-5 (L_i, conv + ReLU to 64 x width, the
    role of CPD's RFB reduction) into the global map S_g (section 2.4); RA refines it top-down,
    S_i = S_{i+1} + conv(L_i * (1 - sigmoid(S_{i+1}))) (section 2.5, eq. 3-4). Without RA every
    stage uses S_g resized to its resolution.
  * head="blocks" (the default, chosen on FER2013 PublicTest: docs/FIDELITY.md 0.17): the deep
    branches are the blocks' own features at full width, C_i * sigmoid(S_i) + C_i for i = 3, 4, 5
    (plain C_i without PD). m2's embedding [C2', C3, C4, C5] holds m1's GAP(C5) unchanged, so each
    row of Table 1 adds to the one before.
  * head="blocks_bn": "blocks" with each pooled dimension batch-normalised, so that the branches
    enter at comparable scale.
  * head="laterals" (ferjax's reading until December 2026, kept so that earlier results
    reproduce): the deep branches are the laterals L_i * sigmoid(S_i) (plain L_i without PD), 64 x
    width wide, and C5 itself never reaches the classifier.
  * head="laterals_c5": "laterals" with GAP(C5) as a further branch.
PD needs the lateral outputs, and RA starts from PD's map: `pd` requires `fusion`, `ra` requires
`pd`. aux["branches"] names each pooled branch (ferjax.train.diagnostics measures them).
The embedding (before dropout) is what the island loss acts on (eq. 5-7).

Two switches follow the cited sources where ferjax's defaults do not:
  * align_corners: PD's 2x upsampling aligns corner pixels, as CPD's code does (needs pd).
  * classifier="vgg_fc" (m1 only): section 3.4 calls model 1 "the original VGG16 model", while
    section 2.2 drops "the final pooling layer and the fully connected layer" only from the modified
    backbone. This head restores them (Simonyan & Zisserman, configuration D): 2x2 max-pool of C5
    (floor, as PyTorch), flatten in (H, W, C) order, FC 4096 + ReLU, dropout, FC 4096 + ReLU
    (the embedding), dropout, FC classes; 4096 scales with `width`. At 48 px the pooled map is
    1x1x512, so fc6 has 512 inputs (25,088 at 224 px, as in VGG16) and the width-1 network has
    33,624,775 parameters for 7 classes. The dropout rate is the model's (paper 000: 0.001), not
    VGG's 0.5.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ferjax.models.attention import GCCA
from ferjax.models.decoder import PartialDecoder, ReverseAttention
from ferjax.models.layers import (ConvUnit, batch_norm, fused_branch, global_average_pool,
                                  max_pool_2x2, resize, scaled)
from ferjax.models.vgg import VGG16

LATERAL_FEATURES = 64
VGG_FC_FEATURES = 4096
CLASSIFIERS = ("gap", "vgg_fc")
# The fusion head's readings (module docstring): the deep branches at block width or as laterals.
HEADS = ("blocks", "blocks_bn", "laterals", "laterals_c5")
DEFAULT_HEAD = "blocks"


class ContextualNet(nn.Module):
  """Paper 000's network. Call: `(logits, aux) = model.apply(variables, x, train=...)`.

  aux holds "embedding" (B, D) and "branches" (name -> the pooled branch it concatenates) always;
  "channel_weights" (5 x (B, C_i)) with gcca; "edge_map" with fusion; "global_map" (S_g) with pd;
  "reverse_attention" (A_5, A_4, A_3) and "stage_maps" (S_5, S_4, S_3) with ra. Randomness when
  training: "stochastic" (GCCA) and "dropout".
  """

  num_classes: int = 7
  fusion: bool = False
  gcca: bool = False
  pd: bool = False
  ra: bool = False
  width: float = 1.0
  dropout: float = 0.0
  batch_norm: bool = False
  align_corners: bool = False
  classifier: str = "gap"
  head: str = DEFAULT_HEAD

  def __post_init__(self):
    if self.head not in HEADS:
      raise ValueError(f"contextual: unknown head {self.head!r}; choose one of {HEADS}")
    if self.classifier not in CLASSIFIERS:
      raise ValueError(
          f"contextual: unknown classifier {self.classifier!r}; choose one of {CLASSIFIERS}")
    if self.classifier == "vgg_fc" and self.fusion:
      raise ValueError(
          "contextual: classifier='vgg_fc' (VGG16's FC head) is Table 1's model 1 only; it "
          "needs fusion=False (the fusion head replaces it)")
    if self.align_corners and not self.pd:
      raise ValueError(
          "contextual: align_corners=True requires pd=True (it sets the partial decoder's "
          "upsampling)")
    if self.pd and not self.fusion:
      raise ValueError(
          "contextual: pd=True requires fusion=True (the partial decoder aggregates the "
          "lateral outputs of blocks 3-5 that multi-feature fusion creates)")
    if self.ra and not self.pd:
      raise ValueError("contextual: ra=True requires pd=True (reverse attention starts from the "
                       "partial decoder's global map)")
    super().__post_init__()

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> tuple[jax.Array, dict[str, Any]]:
    backbone = VGG16(self.width, self.batch_norm, GCCA if self.gcca else None, name="backbone")
    features, block_maps = backbone(x, train)
    aux: dict[str, Any] = {}
    if self.gcca:
      aux["channel_weights"] = tuple(m["channel_weights"] for m in block_maps)
    if self.fusion:
      branches = self._fuse(features, aux, train)
    elif self.classifier == "vgg_fc":
      branches = {"fc7": self._vgg_fc(features[-1], train)}
    else:
      branches = {"c5": global_average_pool(features[-1])}
    if self.head == "blocks_bn" and self.fusion:
      branches = {name: batch_norm(f"{name}_norm", train)(pooled)
                  for name, pooled in branches.items()}
    branches = {name: fused_branch(self, name, pooled)
                for name, pooled in branches.items()}
    embedding = jnp.concatenate(list(branches.values()), axis=-1)
    aux["branches"], aux["embedding"] = branches, embedding
    hidden = nn.Dropout(self.dropout, deterministic=not train)(embedding)
    logits = nn.Dense(self.num_classes, kernel_init=nn.initializers.normal(0.01),
                      name="head")(hidden)
    return logits, aux

  def _vgg_fc(self, c5: jax.Array, train: bool) -> jax.Array:
    """VGG16's pool5, fc6 and fc7 on C5 (the "original VGG16" of model 1); returns fc7's
    activations."""
    height, width = c5.shape[1] // 2 * 2, c5.shape[2] // 2 * 2
    pooled = max_pool_2x2(c5[:, :height, :width])
    hidden = pooled.reshape(pooled.shape[0], -1)
    features = scaled(VGG_FC_FEATURES, self.width)
    init = nn.initializers.normal(0.01)
    hidden = nn.relu(nn.Dense(features, kernel_init=init, name="fc6")(hidden))
    hidden = nn.Dropout(self.dropout, deterministic=not train)(hidden)
    return nn.relu(nn.Dense(features, kernel_init=init, name="fc7")(hidden))

  def _fuse(self, features, aux: dict[str, Any], train: bool) -> dict[str, jax.Array]:
    """The fusion head's pooled branches: the edge-enhanced C2' and the map-weighted deep branches
    of blocks 3-5 (the blocks themselves or their laterals, as `head` reads it)."""
    c2, c3, c4, c5 = features[1:]
    edge = nn.Conv(1, (3, 3), padding="SAME", name="edge_conv")(c2)
    aux["edge_map"] = edge
    branches = {"c5": global_average_pool(c5)} if self.head == "laterals_c5" else {}
    branches["c2"] = global_average_pool(c2 * nn.sigmoid(edge) + c2)
    blocks = self.head.startswith("blocks")
    laterals = None
    if self.pd or not blocks:
      k = scaled(LATERAL_FEATURES, self.width)
      laterals = [ConvUnit(k, 1, self.batch_norm, name=f"lateral{i}")(c, train)
                  for i, c in zip((3, 4, 5), (c3, c4, c5))]
    maps = self._stage_maps(laterals, aux, train)
    deep = (c3, c4, c5) if blocks else laterals
    for i, branch, stage_map in zip((3, 4, 5), deep, maps):
      if stage_map is not None:
        gate = nn.sigmoid(stage_map)
        branch = branch * gate + branch if blocks else branch * gate
      branches[f"c{i}" if blocks else f"l{i}"] = global_average_pool(branch)
    return branches

  def _stage_maps(self, laterals, aux: dict[str, Any], train: bool) -> list:
    """Per-stage spatial maps (blocks 3, 4, 5 order): none, PD's global map, or RA-refined maps
    (at each block's resolution, which its 1x1 lateral keeps)."""
    if not self.pd:
      return [None] * 3
    k = scaled(LATERAL_FEATURES, self.width)
    global_map = PartialDecoder(k, self.batch_norm, self.align_corners, name="partial_decoder")(
        *laterals, train)
    aux["global_map"] = global_map
    if not self.ra:
      return [resize(global_map, lateral.shape[1:3]) for lateral in laterals]
    stage_maps, reverse = [], []
    deeper = global_map
    for i, lateral in zip((5, 4, 3), laterals[::-1]):
      deeper, weights = ReverseAttention(k, self.batch_norm, name=f"reverse_attention{i}")(
          lateral, deeper, train)
      stage_maps.append(deeper)
      reverse.append(weights)
    aux["stage_maps"] = tuple(stage_maps)
    aux["reverse_attention"] = tuple(reverse)
    return stage_maps[::-1]

