"""The learning-rate rules of `ferjax.train.schedules.end_epoch` against PyTorch's schedulers on the
same losses."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import torch

from ferjax.train import schedules
from ferjax.train import state as state_lib

# Loss sequences with plateaus, ties, improvements below the relative threshold, and a long fall.
LOSSES = {
    "plateaus": [
        2.0, 1.5, 1.5, 1.6, 1.5, 1.7, 1.4, 1.4, 1.4, 1.4, 1.4, 1.3, 1.3, 1.3, 1.3, 1.3, 1.3
    ],
    # Gains below and above the relative threshold 1e-4 (not at it: float32 and float64 differ
    # there).
    "tiny_gains": [
        1.0, 0.99995, 0.99992, 0.99985, 0.99984, 0.9, 0.89995, 0.89992, 0.89985, 0.89984
    ], "falling": list(np.linspace(2.0, 0.1, 12)),
    "random": list(np.random.default_rng(0).uniform(0.5, 1.5, 40)),
}


def ferjax_rates(losses, name, patience=3, factor=0.5, rate=0.01):
  schedule = ml_collections.ConfigDict(dict(name=name, factor=factor, patience=patience,
                                            threshold=1e-4, decay=0.9, epochs=len(losses)))
  runs = state_lib.RunState(params={}, batch_stats={}, opt_state=(), centers=jnp.zeros((1, 1)),
                            learning_rate=jnp.float32(rate), best_loss=jnp.float32(jnp.inf),
                            bad_epochs=jnp.int32(0))
  step = jax.jit(
      lambda r, loss, epoch: schedules.end_epoch(r, epoch, loss, schedule, jnp.float32(rate)))
  rates = []
  for epoch, loss in enumerate(losses):
    runs = step(runs, jnp.float32(loss), jnp.int32(epoch))
    rates.append(float(runs.learning_rate))
  return np.array(rates)


def torch_rates(losses, patience=3, factor=0.5, rate=0.01):
  optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=rate)
  scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=factor,
                                                         patience=patience, threshold=1e-4,
                                                         threshold_mode="rel", cooldown=0)
  rates = []
  for loss in losses:
    scheduler.step(float(np.float32(loss)))
    rates.append(optimizer.param_groups[0]["lr"])
  return np.array(rates)


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("patience", [0, 1, 3])
def test_plateau_is_pytorch_reduce_lr_on_plateau(name, patience):
  np.testing.assert_allclose(ferjax_rates(LOSSES[name], "plateau", patience),
                             torch_rates(LOSSES[name], patience), rtol=1e-6)


def test_plateau_at_patience_halves_one_epoch_earlier_without_a_threshold():
  losses = [1.0, 1.0, 1.0, 1.0, 1.0]
  np.testing.assert_allclose(ferjax_rates(losses, "plateau_at_patience"),
                             [0.01, 0.01, 0.01, 0.005, 0.005])
  np.testing.assert_allclose(ferjax_rates(losses, "plateau"), [0.01, 0.01, 0.01, 0.01, 0.005])
  # Any new lowest loss counts as an improvement, however small.
  assert ferjax_rates([1.0, 0.99999, 0.99998, 0.99997],
                      "plateau_at_patience")[-1] == pytest.approx(0.01)
  assert ferjax_rates([1.0, 0.99999, 0.99998, 0.99997, 0.99996],
                      "plateau")[-1] == pytest.approx(0.005)


def torch_epoch_rates(scheduler_class, epochs: int = 10, **options) -> list[float]:
  """The rate after each of `epochs` epochs under a PyTorch scheduler stepped once per epoch."""
  optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
  scheduler = scheduler_class(optimizer, **options)
  rates = []
  for _ in range(epochs):
    optimizer.step()
    scheduler.step()
    rates.append(optimizer.param_groups[0]["lr"])
  return rates


def test_exponential_is_pytorch_exponential_lr():
  expected = torch_epoch_rates(torch.optim.lr_scheduler.ExponentialLR, gamma=0.9)
  np.testing.assert_allclose(ferjax_rates([1.0] * 10, "exponential"), expected, rtol=1e-6)


def test_cosine_is_pytorch_cosine_annealing_to_zero_at_the_last_epoch():
  expected = torch_epoch_rates(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=10)
  rates = ferjax_rates([1.0] * 10, "cosine")
  np.testing.assert_allclose(rates, expected, rtol=1e-5, atol=1e-9)
  assert rates[-1] == pytest.approx(0.0, abs=1e-9)


def test_without_validation_the_schedule_watches_the_training_cross_entropy():
  """On CK+ (no validation split) the epoch's monitored loss is the mean of the steps' softmax part:
  for m6 the joint loss also holds the island cosine term, a function of the centres alone
  (docs/FIDELITY.md 0.30)."""
  import types

  from ferjax.train import loop
  written = []
  job = types.SimpleNamespace(
      stop=types.SimpleNamespace(project=lambda step, total: None),
      checkpoints=types.SimpleNamespace(latest_step=None), total_steps=2,
      reporter=types.SimpleNamespace(write=lambda step, split, values: written.append(values),
                                     console=lambda step, values: None))
  steps = [{"loss": np.array([9.0]), "softmax": np.array([1.5]), "island": np.array([300.0]),
            "accuracy": np.array([0.5]), "grad_norm": np.array([1.0]),
            "learning_rate": np.array([0.01])}] * 2
  assert [float(x[0]) for x in loop.log_train(job, steps, step=2)] == [1.5, 1.5]
  assert float(written[0]["loss"][0]) == 9.0
