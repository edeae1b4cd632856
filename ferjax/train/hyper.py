"""Per-run hyperparameters: values that may differ between the runs of one program.

A sweep whose points differ only in loss weights or the learning rate trains as one program (see
`ferjax.analysis.sweep`): each point's runs are rows of the run axis, and `config.per_run` gives
every run its own value of the swept settings and its seed number. Settings left empty there take
the config's value for every run, so an ordinary config needs no per-run section at all.
"""

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

# Config key -> its field in config.per_run. Only these may differ between the runs of one program.
PER_RUN = {"loss.lam": "lam", "loss.lambda1": "lambda1", "loss.gamma": "gamma",
           "loss.center_rate": "center_rate", "optimizer.learning_rate": "learning_rate"}
LOSS_WEIGHTS = ("loss.lam", "loss.lambda1", "loss.gamma", "loss.center_rate")


def empty() -> ml_collections.ConfigDict:
  """config.per_run for a config whose runs all share its settings; `run` lists seed numbers."""
  return ml_collections.ConfigDict({"run": (), **{field: () for field in PER_RUN.values()}})


def _per_run(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """config.per_run, or an empty one for configs saved before it existed."""
  return config.get("per_run") or empty()


def values(config: ml_collections.ConfigDict, key: str) -> np.ndarray:
  """(num_runs,) float32 values of `key` (one of PER_RUN): per run if set, else the config's
  value."""
  given = _per_run(config)[PER_RUN[key]]
  if len(given):
    return np.asarray(given, np.float32)
  section, name = key.split(".")
  return np.full(config.num_runs, config[section][name], np.float32)


def loss_weights(config: ml_collections.ConfigDict) -> dict[str, np.ndarray]:
  """{'lam', 'lambda1', 'gamma', 'center_rate'}: (num_runs,) loss weights of every run."""
  return {PER_RUN[key]: values(config, key) for key in LOSS_WEIGHTS}


def run_numbers(config: ml_collections.ConfigDict) -> tuple[int, ...]:
  """The seed number of every run: config.per_run.run if set, else first_run, first_run + 1, ...

  Runs with the same number draw the same initialisation, data order and augmentation, so a sweep's
  points can share seeds whether they train together or one after another.
  """
  given = _per_run(config).run
  if len(given):
    return tuple(int(r) for r in given)
  return tuple(range(config.first_run, config.first_run + config.num_runs))


def check(config: ml_collections.ConfigDict) -> None:
  """Every per-run list is empty or has num_runs entries."""
  per_run = _per_run(config)
  for field, given in per_run.items():
    if len(given) not in (0, config.num_runs):
      raise ValueError(
          f"config.per_run.{field} has {len(given)} values; expected none or num_runs = "
          f"{config.num_runs}")
  unknown = sorted(set(per_run) - {"run", *PER_RUN.values()})
  if unknown:
    raise ValueError(f"unknown config.per_run field(s) {unknown}; allowed: run, "
                     f"{', '.join(PER_RUN.values())}")


def data_seeds(seed: int, runs: tuple[int, ...]) -> tuple[int, ...]:
  """A data-order seed per run number, independent of the other runs and of other config seeds."""
  return tuple(int(np.random.SeedSequence([seed, run]).generate_state(1)[0]) for run in runs)


def run_keys(seed: int, runs: tuple[int, ...]) -> jax.Array:
  """One root key per run number; every per-step key is fold_in(run key, step), so a resumed run
  repeats its draws."""
  root = jax.random.key(seed)
  return jax.vmap(lambda r: jax.random.fold_in(root, r))(jnp.asarray(list(runs)))


@dataclasses.dataclass(frozen=True)
class Runs:
  """What differs between the runs of one program, resolved once from the config and passed down."""

  numbers: tuple[int, ...]             # Seed numbers (`run_numbers`).
  data_seeds: tuple[int, ...]          # Each run's data order (`data_seeds`).
  learning_rates: np.ndarray           # (runs,) starting rates, float32.
  loss_weights: dict[str, np.ndarray]  # 'lam', 'lambda1', 'gamma', 'center_rate': (runs,) float32.
  keys: jax.Array                      # (runs,) root keys (`run_keys`).

  def step_inputs(self) -> dict[str, jax.Array]:
    """The train step's per-run arguments: each run's key and loss weights (arguments, not
    constants, so that sweep points differing only in weights share one compiled program)."""
    return {
        "key": self.keys,
        **{
            name: jnp.asarray(value) for name, value in self.loss_weights.items()
        }
    }


def resolve(config: ml_collections.ConfigDict) -> Runs:
  """The config's per-run values."""
  numbers = run_numbers(config)
  return Runs(numbers=numbers,
              data_seeds=data_seeds(config.seed, numbers),
              learning_rates=values(config, "optimizer.learning_rate"),
              loss_weights=loss_weights(config), keys=run_keys(config.seed, numbers))
