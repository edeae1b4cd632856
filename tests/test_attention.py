"""Stochastic pooling: sampling, expectation and the zero-channel case."""

import jax
import jax.numpy as jnp
import numpy as np

from ferjax.models.attention import stochastic_pool


def test_expectation_is_sum_of_squares_over_sum_and_zero_for_empty_channels():
  x = np.zeros((2, 4, 4, 3), np.float32)
  x[0, 0, 0, 0], x[0, 1, 2, 0] = 1.0, 3.0
  x[1, :, :, 1] = -2.0  # negative activations are clipped to zero first
  x[1, 2, 2, 2] = 5.0
  pooled = np.asarray(stochastic_pool(jnp.asarray(x)))
  np.testing.assert_allclose(pooled[0, 0], (1 + 9) / 4)
  np.testing.assert_array_equal(pooled[1, :2], 0.0)
  np.testing.assert_allclose(pooled[1, 2], 5.0)


def test_zero_channels_give_zero_and_finite_gradients_when_sampling_and_not():
  x = jnp.zeros((1, 3, 3, 2))
  for rng in (None, jax.random.key(0)):
    value, grad = jax.value_and_grad(lambda x: jnp.sum(stochastic_pool(x, rng)))(x)
    assert value == 0.0
    assert np.all(np.isfinite(grad))


def test_samples_are_activations_chosen_in_proportion_to_them():
  x = jnp.asarray(np.array([1.0, 0.0, 3.0, -4.0], np.float32).reshape(1, 2, 2, 1))
  keys = jax.random.split(jax.random.key(0), 4000)
  samples = np.asarray(jax.vmap(lambda k: stochastic_pool(x, k))(keys)).ravel()
  assert set(np.unique(samples)) == {1.0, 3.0}
  assert abs(np.mean(samples == 3.0) - 0.75) < 0.03


def test_sampled_pooling_averages_to_the_expectation():
  x = jax.random.normal(jax.random.key(1), (2, 6, 6, 8))
  keys = jax.random.split(jax.random.key(2), 20000)
  mean = jnp.mean(jax.vmap(lambda k: stochastic_pool(x, k))(keys), axis=0)
  np.testing.assert_allclose(mean, stochastic_pool(x), rtol=0.03, atol=0.01)
