"""The losses and centre rules against hand-computed values and the papers' closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ferjax.train import losses


@pytest.fixture
def batch():
  rng = np.random.default_rng(0)
  embeddings = rng.normal(size=(8, 5)).astype(np.float32)
  labels = np.array([0, 0, 1, 2, 2, 2, 4, 1], np.int32)  # class 3 absent
  centers = rng.normal(size=(5, 5)).astype(np.float32)
  return embeddings, labels, centers


def test_softmax_cross_entropy_matches_log_softmax():
  logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]], np.float32)
  labels = np.array([0, 2])
  expected = -np.mean([np.log(np.exp(2) / (np.exp(2) + 1 + np.exp(-1))), np.log(1 / 3)])
  np.testing.assert_allclose(losses.softmax_cross_entropy(logits, labels), expected, rtol=1e-6)


def test_smoothed_softmax_is_cross_entropy_against_smoothed_targets_and_logs_the_plain_one():
  logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]], np.float32)
  labels = np.array([0, 2])
  log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  targets = np.full((2, 3), 0.1 / 3) + 0.9 * np.eye(3)[labels]
  loss, parts = losses.smoothed_softmax_objective(logits, None, labels, None)
  np.testing.assert_allclose(loss, -np.mean(np.sum(targets * log_p, -1)), rtol=1e-6)
  np.testing.assert_allclose(parts["softmax"], losses.softmax_cross_entropy(logits, labels))


def test_center_loss_is_half_mean_squared_distance(batch):
  embeddings, labels, centers = batch
  expected = np.mean([0.5 * np.sum((e - centers[y]) ** 2) for e, y in zip(embeddings, labels)])
  np.testing.assert_allclose(losses.center_loss(embeddings, labels, centers), expected, rtol=1e-6)


def test_cosine_term_on_known_geometry():
  orthogonal = np.eye(4, dtype=np.float32) * 3.0
  np.testing.assert_allclose(losses.center_cosine_term(orthogonal), 4 * 3 * 1.0, rtol=1e-6)
  opposite = np.array([[1.0, 0.0], [-2.0, 0.0]], np.float32)
  np.testing.assert_allclose(losses.center_cosine_term(opposite), 0.0, atol=1e-6)
  identical = np.array([[1.0, 1.0], [2.0, 2.0], [0.5, 0.5]], np.float32)
  np.testing.assert_allclose(losses.center_cosine_term(identical), 6 * 2.0, rtol=1e-6)


def test_island_loss_is_center_plus_lambda1_cosine(batch):
  embeddings, labels, centers = batch
  expected = (losses.center_loss(embeddings, labels, centers)
              + 7.0 * losses.center_cosine_term(centers))
  np.testing.assert_allclose(losses.island_loss(embeddings, labels, centers, 7.0),
                             expected,
                             rtol=1e-6)


def test_center_delta_is_wen_eq4_and_zero_for_absent_classes(batch):
  embeddings, labels, centers = batch
  delta = np.asarray(losses.center_delta(embeddings, labels, centers))
  for j in range(centers.shape[0]):
    members = embeddings[labels == j]
    expected = np.sum(centers[j] - members, axis=0) / (1 + len(members))
    np.testing.assert_allclose(delta[j], expected, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(delta[3], 0.0)


def test_island_delta_is_cai_closed_form(batch):
  embeddings, labels, centers = batch
  lambda1, k = 7.0, centers.shape[0]
  delta = np.asarray(losses.island_delta(embeddings, labels, centers, lambda1))
  center_part = np.asarray(losses.center_delta(embeddings, labels, centers))
  for j in range(k):
    cj, nj = centers[j], np.linalg.norm(centers[j])
    pair = sum(centers[m] / (np.linalg.norm(centers[m]) * nj)
               - (centers[m] @ cj) * cj / (np.linalg.norm(centers[m]) * nj ** 3)
               for m in range(k) if m != j)
    np.testing.assert_allclose(delta[j],
                               center_part[j] + lambda1 / (k - 1) * pair,
                               rtol=1e-4,
                               atol=1e-5)


def test_island_rules_are_finite_for_zero_centres(batch):
  embeddings, labels, _ = batch
  zeros = np.zeros((5, 5), np.float32)
  assert np.isfinite(losses.island_loss(embeddings, labels, zeros, 7.0))
  assert np.all(np.isfinite(losses.island_delta(embeddings, labels, zeros, 7.0)))
  np.testing.assert_array_equal(losses.center_cosine_term(zeros), 0.0)
  np.testing.assert_array_equal(jax.grad(losses.center_cosine_term)(jnp.asarray(zeros)), 0.0)


@pytest.mark.parametrize("scale", [0.0, 1e-9, 1e-30])
def test_a_centre_without_direction_takes_no_cosine_term_and_no_gradient(batch, scale):
  """Zero (or below eps times the largest norm) centres: no term, exactly zero gradient both
  ways."""
  embeddings, labels, centers = batch
  centers = centers.copy()
  centers[3] *= scale  # class 3 is absent from the batch, so its centre is never pulled
  others = np.delete(centers, 3, axis=0)
  np.testing.assert_allclose(losses.center_cosine_term(centers), losses.center_cosine_term(others),
                             rtol=1e-6)
  gradient = np.asarray(jax.grad(losses.center_cosine_term)(jnp.asarray(centers)))
  assert np.all(np.isfinite(gradient))
  np.testing.assert_array_equal(gradient[3], 0.0)
  np.testing.assert_allclose(np.delete(gradient, 3, axis=0),
                             jax.grad(losses.center_cosine_term)(jnp.asarray(others)), rtol=1e-6)
  np.testing.assert_array_equal(losses.island_delta(embeddings, labels, centers, 7.0)[3], 0.0)


def test_a_small_centre_with_a_direction_keeps_its_cosine():
  """Above the threshold the cosine is the paper's, however small the centre."""
  centers = np.array([[1.0, 0.0], [0.0, 2.0], [1e-5, 1e-5]], np.float32)
  # Pairs: (0,1) cos 0, (0,2) and (1,2) cos 1/sqrt(2); ordered pairs count each twice.
  np.testing.assert_allclose(losses.center_cosine_term(centers), 2 * (1 + 2 * (1 + 2 ** -0.5)),
                             rtol=1e-5)
  assert np.all(np.asarray(losses.defined_directions(centers)))


def island_run(absent_steps: int, steps: int = 10, num_classes: int = 7, dim: int = 16,
               batch_size: int = 32) -> tuple[float, float]:
  """Largest centre norm and island loss of Cai et al.'s rule from zero centres on class-clustered
  embeddings, class 1 missing from the first `absent_steps` batches: (max norm, max loss)."""
  rng = np.random.default_rng(0)
  means = rng.normal(size=(num_classes, dim)).astype(np.float32) * 2.0
  centers, norms, values = jnp.zeros((num_classes, dim)), [], []
  for step in range(steps):
    labels = np.arange(batch_size) % num_classes
    if step < absent_steps:
      labels = np.where(labels == 1, 0, labels)
    embeddings = means[labels] + rng.normal(size=(batch_size, dim)).astype(np.float32)
    values.append(float(losses.island_loss(embeddings, labels, centers, 7.0)))
    centers = losses.update_centers(centers, losses.island_delta(embeddings, labels, centers, 7.0),
                                    0.5)
    norms.append(float(jnp.max(jnp.linalg.norm(centers, axis=-1))))
  return max(norms), max(values)


def test_a_class_absent_for_several_steps_does_not_blow_up_the_centres():
  """Regression: a still-zero centre once had a cosine gradient ~1e6 times the others' (norm 3e6
  after one step, island loss 3e11 when the class appeared)."""
  present_norm, present_loss = island_run(absent_steps=0)
  absent_norm, absent_loss = island_run(absent_steps=4)
  assert np.isfinite(absent_norm) and np.isfinite(absent_loss)
  assert absent_norm < 1.5 * present_norm, (absent_norm, present_norm)
  assert absent_loss < 1.5 * present_loss, (absent_loss, present_loss)


def test_distance_softmax_term_by_hand(batch):
  embeddings, labels, centers = batch
  distances = np.sum((embeddings[:, None] - centers[None]) ** 2, axis=-1)
  log_p = -distances - np.log(np.sum(np.exp(-distances), axis=1, keepdims=True))
  expected = 0.5 * np.mean(-log_p[np.arange(len(labels)), labels])
  np.testing.assert_allclose(losses.distance_softmax_term(embeddings, labels, centers), expected,
                             rtol=1e-5)
  np.testing.assert_allclose(losses.dda_loss(embeddings, labels, centers, 4.0),
                             4 * expected,
                             rtol=1e-5)


def test_dda_delta_adds_the_term_gradient_to_the_center_rule(batch):
  embeddings, labels, centers = batch
  eps, gamma = 1e-3, 4.0
  delta = np.asarray(losses.dda_delta(embeddings, labels, centers, gamma))
  term_gradient = delta - np.asarray(losses.center_delta(embeddings, labels, centers))
  bumped = centers.copy()
  bumped[3, 1] += eps
  numeric = (losses.dda_loss(embeddings, labels, bumped, gamma)
             - losses.dda_loss(embeddings, labels, centers, gamma)) / eps
  np.testing.assert_allclose(term_gradient[3, 1], numeric, rtol=2e-2)
  assert abs(term_gradient[3, 1]) > 0  # an absent class is still pushed by the DDA term


def test_objectives_combine_their_parts(batch):
  embeddings, labels, centers = batch
  logits = np.random.default_rng(1).normal(size=(8, 5)).astype(np.float32)
  total, parts = losses.softmax_objective(logits, embeddings, labels, centers)
  np.testing.assert_allclose(total, losses.softmax_cross_entropy(logits, labels), rtol=1e-6)
  total, parts = losses.contextual_objective(logits, embeddings, labels, centers, 0.005, 7.0)
  np.testing.assert_allclose(total, parts["softmax"] + 0.005 * parts["island"], rtol=1e-6)
  total, parts = losses.multiscale_objective(logits, embeddings, labels, centers, 0.01, 4.0)
  np.testing.assert_allclose(total,
                             parts["softmax"] + 0.01 * parts["center"] + parts["dda"],
                             rtol=1e-6)


def test_update_centers_moves_against_delta(batch):
  embeddings, labels, centers = batch
  delta = losses.center_delta(embeddings, labels, centers)
  moved = losses.update_centers(centers, delta, 0.5)
  before = losses.center_loss(embeddings, labels, centers)
  assert losses.center_loss(embeddings, labels, moved) < before
  np.testing.assert_allclose(moved, centers - 0.5 * np.asarray(delta), rtol=1e-6)
