"""PyTorch mirror of `ferjax.models.attention`: stochastic pooling and GCCA (paper 000), SE and
spatial attention (paper 002).

Every module returns `(output, maps)` with the weights it applied, under the same keys as ferjax.
Training mode is the module's `training` flag (`module.train()` / `module.eval()`).
"""

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from third_party.torch_reference.layers import same_conv


def stochastic_pool(x: torch.Tensor, sample: bool = False,
                    generator: Optional[torch.Generator] = None) -> torch.Tensor:
  """Global stochastic pooling over H, W per channel (Zeiler & Fergus, ICLR 2013).

  Mirrors `ferjax.models.attention.stochastic_pool`: activations are ReLU'd and read as a
  multinomial p_i = a_i / sum(a). With `sample` one activation per (example, channel) is drawn with
  probability p_i from torch's RNG (training; the draws need not match JAX's); otherwise the
  expectation sum(a^2) / sum(a) is returned (inference). An all-zero channel gives 0 and a zero
  gradient. As in ferjax, the sums, cdf and threshold are at least float32 whatever x's dtype (a
  bfloat16 running sum stalls and leaves most positions undrawable) and the result has x's dtype.

  Args:
    x: (B, C, H, W) feature maps.
    sample: draw a sample instead of returning the expectation.
    generator: optional torch RNG for the draw.

  Returns:
    (B, C) pooled descriptors, in x's dtype.
  """
  a = F.relu(x).flatten(2).to(torch.promote_types(x.dtype, torch.float32))  # (B, C, H*W)
  total = a.sum(dim=-1)
  positive = total > 0
  if not sample:
    return torch.where(positive, (a * a).sum(dim=-1) / torch.where(positive, total, 1.0),
                       0.0).to(x.dtype)
  cdf = a.cumsum(dim=-1)
  threshold = torch.rand(total.shape, generator=generator, dtype=a.dtype,
                         device=a.device) * cdf[..., -1]
  # The first position whose cumulative mass exceeds the threshold; zero-mass positions are never
  # picked.
  index = (cdf <= threshold[..., None]).sum(dim=-1).clamp(max=a.shape[-1] - 1)
  sampled = a.gather(-1, index[..., None])[..., 0]
  return torch.where(positive, sampled, 0.0).to(x.dtype)


class GCCA(nn.Module):
  """Group-convolutional channel attention (paper 000, section 2.3, eq. 1-2); mirrors `ferjax`'s
  GCCA.

  The (avg_c, max_c, rdm_c) descriptor triples are fused by a 1x1 group convolution with C groups
  (`group_conv`, Conv2d(3C, C, 1, groups=C)), then ReLU, 1x1 conv to C/16 (`squeeze`), ReLU, 1x1
  conv back to C (`excite`) and a sigmoid give M_c(F) (eq. 1); the output is F' = M_c(F) * F + F
  (eq. 2). Stochastic pooling samples in training mode and uses its expectation in eval mode.
  """

  def __init__(self, channels: int, reduction: int = 16):
    super().__init__()
    self.group_conv = nn.Conv2d(3 * channels, channels, 1, groups=channels)
    self.squeeze = nn.Conv2d(channels, max(1, channels // reduction), 1)
    self.excite = nn.Conv2d(max(1, channels // reduction), channels, 1)

  def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    batch, channels = x.shape[:2]
    descriptors = torch.stack(
        [x.mean(dim=(2, 3)), x.amax(dim=(2, 3)), stochastic_pool(x, sample=self.training)], dim=-1)
    grouped = descriptors.reshape(batch, 3 * channels, 1, 1)  # channel-major: avg_c, max_c, rdm_c
    hidden = F.relu(self.squeeze(F.relu(self.group_conv(grouped))))
    weights = torch.sigmoid(self.excite(hidden))
    return x * weights + x, {"channel_weights": weights[:, :, 0, 0]}


class SEAttention(nn.Module):
  """Squeeze-and-excitation channel attention (paper 002, section 2.9; Hu et al. 2018).

  Mirrors `ferjax.models.attention.SEAttention`: global average pooling, FC to C/r (`squeeze`),
  ReLU, FC to C (`excite`), sigmoid, and the input rescaled per channel.
  """

  def __init__(self, channels: int, reduction: int = 16):
    super().__init__()
    self.squeeze = nn.Linear(channels, max(1, channels // reduction))
    self.excite = nn.Linear(max(1, channels // reduction), channels)

  def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    weights = torch.sigmoid(self.excite(F.relu(self.squeeze(x.mean(dim=(2, 3))))))
    return x * weights[:, :, None, None], {"channel_weights": weights}


class SpatialAttention(nn.Module):
  """CBAM-style spatial attention (paper 002, section 2.10; Woo et al. 2018).

  Mirrors `ferjax.models.attention.SpatialAttention`: channel-wise mean and max maps
  (in that order), a k x k conv to one map (`conv`), a sigmoid giving M_s(F) (B, 1, H, W), and the
  input times it.
  """

  def __init__(self, kernel: int = 7):
    super().__init__()
    self.conv = same_conv(2, 1, kernel)

  def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
    weights = torch.sigmoid(self.conv(pooled))
    return x * weights, {"spatial_map": weights}
