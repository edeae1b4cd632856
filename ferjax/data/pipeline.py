"""The grain source: batches streamed from prepared ArrayRecord files, decoded in worker processes.

Each process loads only the rows of every global batch that live on its devices (grain's
`ShardByJaxProcess` says which process this is), and `jax.make_array_from_process_local_data` joins
them into one global array laid out on the data axis. Which example fills which row comes from
`order.Order`, a pure function of the step, so batches are the same for any number of processes or
workers, and the same as those of the device source (`device.py`) for the same seed.

Training batches: a fresh permutation per epoch, last partial batch dropped. Evaluation batches:
every example exactly once, in stored order, the last batch padded and `mask` marking the real rows.
"""

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import grain
import jax
import numpy as np
import tensorflow_datasets as tfds
from jax.sharding import Mesh

from ferjax import mesh as mesh_lib
from ferjax.data import order as order_lib
from ferjax.data import sources

Batch = dict[str, np.ndarray]
FEATURES = ("image", "label")
# Training streams are indexed up to this step; at 1,000 steps/s that is 35 years.
_ENDLESS_STEPS = 2**40
# Grain's default read-ahead (16 threads, 500 elements) is sized for one example per element; here
# an element is a whole batch, and 16 threads per worker process only fight over the cores (measured
# on 2 cores: 2 workers went from 2,900 to 11,600 images/s with these settings).
_READ_OPTIONS = grain.ReadOptions(num_threads=2, prefetch_buffer_size=4)


@dataclasses.dataclass(frozen=True)
class LoadBatch:
  """Reads one process-local batch: picklable, so grain can run it in a worker process.

  Training batches hold one batch per seed (run): (runs, rows, ...). Evaluation batches are shared
  by all runs: (rows, ...), with `mask` marking real examples.
  """

  records: Sequence[dict[str, Any]]
  indices: np.ndarray
  orders: tuple[order_lib.Order, ...]
  rows: np.ndarray
  train: bool

  def __call__(self, number: int) -> Batch:
    extra = {}
    if self.train:
      positions, views = (np.stack(parts) for parts in zip(*(o.train_views(number, self.rows)
                                                                for o in self.orders)))
      mask = np.ones(positions.shape, bool)
      extra["view"] = views.astype(np.int32)
    else:
      positions, mask = self.orders[0].eval(number, self.rows)
    record_ids = self.indices[positions]
    examples = self.records.__getitems__(record_ids.ravel().tolist())
    batch = {key: np.stack([np.asarray(e[key]) for e in examples]) for key in FEATURES}
    batch = {key: value.reshape(*positions.shape, *value.shape[1:]) for key, value in batch.items()}
    batch["label"] = batch["label"].astype(np.int32)
    return {**batch, "index": record_ids.astype(np.int32), "mask": mask, **extra}


class Batches:
  """An iterator of global batches (dicts of jax.Array) whose position can be saved and restored."""

  def __init__(self, dataset: grain.IterDataset, sharding: jax.sharding.NamedSharding,
               batch_axis: int, batch_size: int, length: int):
    self._iterator = dataset.__iter__()
    self._sharding = sharding
    self._batch_axis = batch_axis
    self._batch_size = batch_size
    self._length = length

  def __iter__(self) -> Iterator[dict[str, jax.Array]]:
    return self

  def __len__(self) -> int:
    return self._length

  def __next__(self) -> dict[str, jax.Array]:
    local = next(self._iterator)
    return {
        key:
            jax.make_array_from_process_local_data(self._sharding, value, self._global_shape(value))
        for key, value in local.items()
    }

  def _global_shape(self, local: np.ndarray) -> tuple[int, ...]:
    shape = list(local.shape)
    shape[self._batch_axis] = self._batch_size
    return tuple(shape)

  def get_state(self) -> dict[str, Any]:
    """Grain's iterator state: store it with the checkpoint to resume mid-epoch."""
    return self._iterator.get_state()

  def set_state(self, state: dict[str, Any]) -> None:
    self._iterator.set_state(state)

  def position(self) -> dict[str, Any]:
    """Where the stream is (`get_state`), as a checkpoint keeps it."""
    return self.get_state()


@dataclasses.dataclass(frozen=True)
class GrainSource:
  """Batches of `records` (a random-access TFDS data source), or of its subset `indices`.

  Training batches are (runs, batch, ...), one independent order per seed in `seeds`, with the
  `view` (0..views-1) of each row: an epoch enumerates every (example, view) pair once
  (see `order.Order`).
  """

  records: Sequence[dict[str, Any]]
  mesh: Mesh
  batch_size: int
  seeds: tuple[int, ...] = (0,)
  num_workers: int = 0
  indices: np.ndarray | None = None
  views: int = 1

  @classmethod
  def from_builder(cls, builder: tfds.core.DatasetBuilder, split: str, mesh: Mesh, batch_size: int,
                   **kwargs) -> "GrainSource":
    return cls(builder.as_data_source(split), mesh, batch_size, **kwargs)

  @property
  def orders(self) -> tuple[order_lib.Order, ...]:
    return tuple(order_lib.Order(len(self._indices()), self.batch_size, seed, self.views)
                 for seed in self.seeds)

  @property
  def order(self) -> order_lib.Order:
    """The first run's order (all runs share num_examples and batch_size)."""
    return self.orders[0]

  def train_batches(self, num_steps: int = _ENDLESS_STEPS) -> Batches:
    """Training batches 0, 1, ..., num_steps - 1, each (runs, batch, ...)."""
    self.order.steps_per_epoch  # noqa: B018 -- fails early if the batch exceeds the data.
    return self._batches(num_steps, train=True)

  def train_feed(self, position: dict | None = None) -> Batches:
    """The training batches, from the start or from a checkpoint's `position` of the stream."""
    batches = self.train_batches()
    if position:
      batches.set_state(position)
    return batches

  batch_in_step = staticmethod(sources.FedBatches.batch_in_step)  # The streamed batch is the batch.

  def feed_sharding(self) -> jax.sharding.NamedSharding:
    return sources.FedBatches(self.mesh).feed_sharding()

  def eval_batches(self) -> Batches:
    """One pass over every example, padded to whole batches, with a `mask`."""
    return self._batches(self.order.num_eval_batches, train=False)

  def _indices(self) -> np.ndarray:
    return np.arange(len(self.records)) if self.indices is None else np.asarray(self.indices)

  def _batches(self, num_batches: int, train: bool) -> Batches:
    shard = grain.sharding.ShardByJaxProcess()
    rows = mesh_lib.process_rows(self.mesh, self.batch_size)
    if jax.process_index() != shard.shard_index:
      raise RuntimeError("grain and JAX disagree on this process's index")
    load = LoadBatch(self.records, self._indices(), self.orders, rows, train)
    dataset = grain.MapDataset.range(num_batches).map(load).to_iter_dataset(_READ_OPTIONS)
    if self.num_workers:
      dataset = dataset.mp_prefetch(grain.MultiprocessingOptions(num_workers=self.num_workers))
    if train:
      return Batches(dataset, mesh_lib.run_batch_sharding(self.mesh), 1, self.batch_size,
                     num_batches)
    return Batches(dataset, mesh_lib.batch_sharding(self.mesh), 0, self.batch_size, num_batches)
