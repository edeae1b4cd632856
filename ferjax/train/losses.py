"""Losses of both papers and the centre-update rules of the metric losses.

Conventions: `embeddings` (B, D), integer `labels` (B,), `centers` (K, D). Every function is pure.
The class centres are not network parameters: the train step differentiates the objective with
respect to the network only and moves the centres with `update_centers(centers, delta, alpha)`,
where `delta` is the paper's own rule (`center_delta`, `island_delta` or `dda_delta`), exactly as
the original papers train them (Wen et al. 2016, eq. 4; Cai et al. 2018, eq. 6; Farzaneh & Qi 2020).
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean softmax cross-entropy over the batch (L_s of paper 000 eq. 7)."""
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def center_loss(embeddings: jax.Array, labels: jax.Array, centers: jax.Array) -> jax.Array:
  """Center loss (Wen et al. 2016), batch mean of 0.5 * ||x_i - c_{y_i}||^2 (L_C of paper 000 eq.
  5)."""
  return 0.5 * jnp.mean(jnp.sum((embeddings - centers[labels]) ** 2, axis=-1))


def defined_directions(centers: jax.Array) -> jax.Array:
  """(K,) bool: the centres whose direction, and so whose cosine in eq. 6, is defined.

  cos(c_j, c_k) = c_j . c_k / (||c_j|| ||c_k||) has no value at c_j = 0. A centre counts as zero
  when
  ||c_j|| <= eps ||c||_max (eps of the dtype): below that it is rounding noise at the scale of the
  other centres, and its "direction" would get a cosine gradient of size 1 / ||c_j||.
  Zero-initialised centres of classes not yet seen are exactly zero, and all-zero centres are all
  undefined.
  """
  squared = jnp.sum(centers * centers, axis=-1)
  return squared > jnp.finfo(centers.dtype).eps ** 2 * jnp.max(squared)


def center_cosine_term(centers: jax.Array) -> jax.Array:
  """Island term L_{I-COS} (paper 000 eq. 6): sum over ordered pairs j != k of cos(c_j, c_k) + 1.

  Only pairs of centres with a defined direction (`defined_directions`) take part: a zero centre
  contributes no term and gets exactly zero gradient, whatever the initialisation. Undefined rows
  get a squared norm of 1 before the inverse square root and a unit vector of 0 after it (a double
  `where`), so not even the discarded branch divides by zero or differentiates a square root at 0.
  """
  defined = defined_directions(centers)
  squared = jnp.where(defined, jnp.sum(centers * centers, axis=-1), 1.0)
  unit = jnp.where(defined[:, None], centers * jax.lax.rsqrt(squared)[:, None], 0.0)
  pairs = defined[:, None] & defined[None, :] & ~jnp.eye(centers.shape[0], dtype=bool)
  return jnp.sum(jnp.where(pairs, unit @ unit.T + 1.0, 0.0))


def island_loss(embeddings: jax.Array, labels: jax.Array, centers: jax.Array,
                lambda1: float) -> jax.Array:
  """Island loss (Cai et al. 2018; paper 000 eq. 5): L_I = L_C + lambda1 * L_{I-COS}."""
  return center_loss(embeddings, labels, centers) + lambda1 * center_cosine_term(centers)


def distance_softmax_term(embeddings: jax.Array, labels: jax.Array,
                          centers: jax.Array) -> jax.Array:
  """DDA's discriminant term: cross-entropy of a softmax over negative squared centre distances.

  0.5 * mean_i -log( exp(-||x_i - c_{y_i}||^2) / sum_k exp(-||x_i - c_k||^2) ). It pulls x_i to its
  own centre relative to all others, so it pushes the centres of different classes apart whatever
  the class frequencies (Farzaneh & Qi, CVPRW 2020). The authors' code further divides this batch
  mean by the batch size; ferjax keeps it a per-example mean so gamma does not depend on the batch
  size (their gamma at batch B equals ferjax's gamma * B).
  """
  distances = jnp.sum((embeddings[:, None, :] - centers[None, :, :]) ** 2, axis=-1)
  return 0.5 * softmax_cross_entropy(-distances, labels)


def dda_loss(embeddings: jax.Array, labels: jax.Array, centers: jax.Array,
             gamma: float) -> jax.Array:
  """DDA loss term of paper 002 ("DDU" in its text): gamma times the distance-softmax term."""
  return gamma * distance_softmax_term(embeddings, labels, centers)


def softmax_objective(logits: jax.Array, embeddings: jax.Array, labels: jax.Array,
                      centers: jax.Array) -> tuple[jax.Array, dict[str, Any]]:
  """Softmax loss alone (Table 1's m1-m5), with the joint objectives' signature and return value."""
  del embeddings, centers
  softmax = softmax_cross_entropy(logits, labels)
  return softmax, {"softmax": softmax}


# Beyond both papers: Szegedy et al. 2016's label smoothing, at their 0.1.
LABEL_SMOOTHING = 0.1


def smoothed_softmax_objective(logits: jax.Array, embeddings: jax.Array, labels: jax.Array,
                               centers: jax.Array) -> tuple[jax.Array, dict[str, Any]]:
  """Cross-entropy against labels smoothed by LABEL_SMOOTHING: the target puts 1 - 0.1 + 0.1 / K
  on the class and 0.1 / K on each other one. Logs the plain softmax loss beside it."""
  del embeddings, centers
  targets = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1]), LABEL_SMOOTHING)
  smoothed = jnp.mean(optax.softmax_cross_entropy(logits, targets))
  return smoothed, {"softmax": softmax_cross_entropy(logits, labels)}


def contextual_objective(logits: jax.Array, embeddings: jax.Array, labels: jax.Array,
                         centers: jax.Array, lam: float = 0.005,
                         lambda1: float = 7.0) -> tuple[jax.Array, dict[str, Any]]:
  """Paper 000's joint loss L = L_s + lambda * L_I (eq. 7), lambda = 0.005, lambda1 = 7 (section
  3.3).

  Returns the total and its parts for logging.
  """
  softmax = softmax_cross_entropy(logits, labels)
  island = island_loss(embeddings, labels, centers, lambda1)
  return softmax + lam * island, {"softmax": softmax, "island": island}


def multiscale_objective(logits: jax.Array, embeddings: jax.Array, labels: jax.Array,
                         centers: jax.Array, lam: float = 0.01,
                         gamma: float = 0.125) -> tuple[jax.Array, dict[str, Any]]:
  """Paper 002's softmax + center + DDA loss: L = L_s + lambda * L_C + gamma * L_D.

  Paper 002 gives no weights; the defaults are the DDA authors' published usage (lambda 0.01,
  gamma 4 at batch 32, which is gamma 4 / 32 = 0.125 in ferjax's per-example normalisation).
  """
  softmax = softmax_cross_entropy(logits, labels)
  center = center_loss(embeddings, labels, centers)
  dda = dda_loss(embeddings, labels, centers, gamma)
  return softmax + lam * center + dda, {"softmax": softmax, "center": center, "dda": dda}


def center_delta(embeddings: jax.Array, labels: jax.Array, centers: jax.Array) -> jax.Array:
  """Wen et al. (2016) eq. 4: delta c_j = sum_i [y_i = j] (c_j - x_i) / (1 + sum_i [y_i = j]).

  Classes absent from the batch get zero. Embeddings are treated as constants.
  """
  embeddings = jax.lax.stop_gradient(embeddings)
  one_hot = jax.nn.one_hot(labels, centers.shape[0], dtype=centers.dtype)
  counts = jnp.sum(one_hot, axis=0)
  pulled = counts[:, None] * centers - one_hot.T @ embeddings
  return pulled / (1.0 + counts[:, None])


def island_delta(embeddings: jax.Array, labels: jax.Array, centers: jax.Array,
                 lambda1: float) -> jax.Array:
  """Cai et al. (2018) centre update: the center-loss delta plus lambda1 / (K - 1) times
  sum_{k != j} d cos(c_j, c_k) / d c_j = c_k / (|c_k||c_j|) - (c_k . c_j) c_j / (|c_k||c_j|^3).

  The ordered-pair sum of eq. 6 counts each pair twice, so that sum is half its gradient. A centre
  without a direction (zero, e.g. a class not seen since the zero initialisation) neither pushes
  the others nor is pushed: its cosine gradient is exactly zero until its class pulls it away from
  0.
  """
  num_classes = centers.shape[0]
  pair_gradient = 0.5 * jax.grad(center_cosine_term)(centers)
  return center_delta(embeddings, labels, centers) + lambda1 / (num_classes - 1) * pair_gradient


def dda_delta(embeddings: jax.Array, labels: jax.Array, centers: jax.Array,
              gamma: float) -> jax.Array:
  """DDA centre update (Farzaneh & Qi 2020, as in their code): the center-loss delta of Wen et al.
  plus the gradient of the gamma-weighted distance-softmax term with respect to the centres."""
  embeddings = jax.lax.stop_gradient(embeddings)
  dda_gradient = jax.grad(dda_loss, argnums=2)(embeddings, labels, centers, gamma)
  return center_delta(embeddings, labels, centers) + dda_gradient


def update_centers(centers: jax.Array, delta: jax.Array, alpha: float) -> jax.Array:
  """c_j <- c_j - alpha * delta c_j (Wen et al. 2016, eq. 4's step with the centre rate alpha)."""
  return centers - alpha * delta


@dataclasses.dataclass(frozen=True)
class Objective:
  """A joint loss and its centre rule (None for plain softmax), with the names of the loss weights
  each takes from a run's weights {'lam', 'lambda1', 'gamma', 'center_rate'} (`ferjax.train.hyper`).
  """

  objective: Callable[..., tuple[jax.Array, dict]]
  weights: tuple[str, ...] = ()
  rule: Callable[..., jax.Array] | None = None
  rule_weights: tuple[str, ...] = ()

  def loss(self, logits: jax.Array, embeddings: jax.Array, labels: jax.Array, centers: jax.Array,
           run_weights: dict) -> tuple[jax.Array, dict]:
    """The objective of one run's batch, with that run's weights."""
    named = {name: run_weights[name] for name in self.weights}
    return self.objective(logits, embeddings, labels, centers, **named)

  def center_delta(self, embeddings: jax.Array, labels: jax.Array, centers: jax.Array,
                   run_weights: dict) -> jax.Array:
    """The centres' update direction (call only when `rule` is set)."""
    return self.rule(embeddings, labels, centers, **{n: run_weights[n] for n in self.rule_weights})


# The losses configs name (config.loss.name): cross-entropy (plain, or with smoothed labels, beyond
# the papers); paper 000 eq. 7 (lambda, lambda1);
# paper 002's softmax + center + DDA (lambda, gamma).
OBJECTIVES: dict[str, Objective] = {
    "softmax": Objective(softmax_objective),
    "smoothed_softmax": Objective(smoothed_softmax_objective),
    "island": Objective(contextual_objective, ("lam", "lambda1"), island_delta, ("lambda1",)),
    "dda": Objective(multiscale_objective, ("lam", "gamma"), dda_delta, ("gamma",)),
}
