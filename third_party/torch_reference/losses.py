"""PyTorch mirror of `ferjax.train.losses`: both papers' losses and the centre-update rules.

Same names, arguments and semantics: `embeddings` (B, D), integer `labels` (B,) of any integer
dtype, `centers` (K, D).
The centre deltas use torch.autograd where ferjax uses jax.grad; they are returned detached, like
the constants the train step moves the centres by (`update_centers`).
"""

from typing import Any

import torch
import torch.nn.functional as F


def softmax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
  """Mean softmax cross-entropy over the batch (L_s of paper 000 eq. 7)."""
  return F.cross_entropy(logits, labels.long(), reduction="mean")


def center_loss(embeddings: torch.Tensor, labels: torch.Tensor,
                centers: torch.Tensor) -> torch.Tensor:
  """Center loss (Wen et al. 2016), batch mean of 0.5 * ||x_i - c_{y_i}||^2
  (L_C of paper 000 eq. 5)."""
  return 0.5 * ((embeddings - centers[labels]) ** 2).sum(dim=-1).mean()


def defined_directions(centers: torch.Tensor) -> torch.Tensor:
  """(K,) bool: the centres whose direction is defined, ||c_j|| > eps ||c||_max, as in ferjax (a
  zero centre has no cosine)."""
  squared = (centers * centers).sum(dim=-1)
  return squared > torch.finfo(centers.dtype).eps ** 2 * squared.max()


def center_cosine_term(centers: torch.Tensor) -> torch.Tensor:
  """Island term L_{I-COS} (paper 000 eq. 6): sum over ordered pairs j != k of cos(c_j, c_k) + 1.

  As in ferjax, only pairs of centres with a defined direction take part: a zero centre contributes
  no term and exactly zero gradient (its squared norm is replaced by 1 before the inverse square
  root and its unit vector by 0 after it).
  """
  defined = defined_directions(centers)
  squared = torch.where(defined, (centers * centers).sum(dim=-1), 1.0)
  unit = torch.where(defined[:, None], centers * torch.rsqrt(squared)[:, None], 0.0)
  off_diagonal = ~torch.eye(centers.shape[0], dtype=torch.bool, device=centers.device)
  pairs = defined[:, None] & defined[None, :] & off_diagonal
  return torch.where(pairs, unit @ unit.T + 1.0, 0.0).sum()


def island_loss(embeddings: torch.Tensor, labels: torch.Tensor, centers: torch.Tensor,
                lambda1: float) -> torch.Tensor:
  """Island loss (Cai et al. 2018; paper 000 eq. 5): L_I = L_C + lambda1 * L_{I-COS}."""
  return center_loss(embeddings, labels, centers) + lambda1 * center_cosine_term(centers)


def distance_softmax_term(embeddings: torch.Tensor, labels: torch.Tensor,
                          centers: torch.Tensor) -> torch.Tensor:
  """DDA's discriminant term (Farzaneh & Qi 2020), per-example mean as in ferjax:
  0.5 * mean_i -log( exp(-||x_i - c_{y_i}||^2) / sum_k exp(-||x_i - c_k||^2) )."""
  distances = ((embeddings[:, None, :] - centers[None, :, :]) ** 2).sum(dim=-1)
  return 0.5 * softmax_cross_entropy(-distances, labels)


def dda_loss(embeddings: torch.Tensor, labels: torch.Tensor, centers: torch.Tensor,
             gamma: float) -> torch.Tensor:
  """DDA loss term of paper 002: gamma times the distance-softmax term."""
  return gamma * distance_softmax_term(embeddings, labels, centers)


def contextual_objective(logits: torch.Tensor, embeddings: torch.Tensor, labels: torch.Tensor,
                         centers: torch.Tensor, lam: float = 0.005,
                         lambda1: float = 7.0) -> tuple[torch.Tensor, dict[str, Any]]:
  """Paper 000's joint loss L = L_s + lambda * L_I (eq. 7); returns the total and its parts."""
  softmax = softmax_cross_entropy(logits, labels)
  island = island_loss(embeddings, labels, centers, lambda1)
  return softmax + lam * island, {"softmax": softmax, "island": island}


def multiscale_objective(logits: torch.Tensor, embeddings: torch.Tensor, labels: torch.Tensor,
                         centers: torch.Tensor, lam: float = 0.01,
                         gamma: float = 0.125) -> tuple[torch.Tensor, dict[str, Any]]:
  """Paper 002's softmax + center + DDA loss: L = L_s + lambda * L_C + gamma * L_D."""
  softmax = softmax_cross_entropy(logits, labels)
  center = center_loss(embeddings, labels, centers)
  dda = dda_loss(embeddings, labels, centers, gamma)
  return softmax + lam * center + dda, {"softmax": softmax, "center": center, "dda": dda}


def center_delta(embeddings: torch.Tensor, labels: torch.Tensor,
                 centers: torch.Tensor) -> torch.Tensor:
  """Wen et al. (2016) eq. 4: delta c_j = sum_i [y_i = j] (c_j - x_i) / (1 + sum_i [y_i = j]).

  Classes absent from the batch get zero; embeddings are constants.
  """
  embeddings, centers = embeddings.detach(), centers.detach()
  one_hot = F.one_hot(labels.long(), centers.shape[0]).to(centers.dtype)
  counts = one_hot.sum(dim=0)
  pulled = counts[:, None] * centers - one_hot.T @ embeddings
  return pulled / (1.0 + counts[:, None])


def _gradient_wrt_centers(loss_fn, centers: torch.Tensor) -> torch.Tensor:
  """d loss_fn(centers) / d centers by torch.autograd, at a detached copy of `centers`."""
  centers = centers.detach().requires_grad_(True)
  with torch.enable_grad():
    (gradient,) = torch.autograd.grad(loss_fn(centers), centers)
  return gradient


def island_delta(embeddings: torch.Tensor, labels: torch.Tensor, centers: torch.Tensor,
                 lambda1: float) -> torch.Tensor:
  """Cai et al. (2018) centre update: the center-loss delta plus lambda1 / (K - 1) times
  sum_{k != j} d cos(c_j, c_k) / d c_j, i.e. half the gradient of the ordered-pair sum of eq. 6
  (zero for and from a centre without a direction)."""
  pair_gradient = 0.5 * _gradient_wrt_centers(center_cosine_term, centers)
  return center_delta(embeddings, labels,
                      centers) + lambda1 / (centers.shape[0] - 1) * pair_gradient


def dda_delta(embeddings: torch.Tensor, labels: torch.Tensor, centers: torch.Tensor,
              gamma: float) -> torch.Tensor:
  """DDA centre update (Farzaneh & Qi 2020): the center-loss delta plus the gradient of the
  gamma-weighted distance-softmax term with respect to the centres."""
  embeddings = embeddings.detach()
  dda_gradient = _gradient_wrt_centers(lambda c: dda_loss(embeddings, labels, c, gamma), centers)
  return center_delta(embeddings, labels, centers) + dda_gradient


def update_centers(centers: torch.Tensor, delta: torch.Tensor, alpha: float) -> torch.Tensor:
  """c_j <- c_j - alpha * delta c_j (Wen et al. 2016, eq. 4's step with the centre rate alpha)."""
  return centers - alpha * delta
