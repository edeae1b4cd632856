"""The device-resident source: a whole split decoded once and kept on the accelerator.

FER2013's 35,887 images are 83 MB of uint8 pixels, CK+48's 981 images 2.3 MB: both fit on any
accelerator, so the host decodes them once and every later batch is an index gather inside the
jitted step, with no host work and no transfer per step. The split is kept whole on every device of
the mesh (a replicated NamedSharding): each device gathers its own rows of the batch from its local
copy, where a split spread over the devices would need a collective for every gather.

Batches match those of the grain source (`pipeline.py`) row for row for the same seed: both ask
`order.Order` which example fills each row.
"""

import dataclasses
import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

if TYPE_CHECKING:
  import tensorflow_datasets as tfds

from ferjax import mesh as mesh_lib
from ferjax.data import order as order_lib


def _put_replicated(array: np.ndarray, mesh: Mesh) -> jax.Array:
  """A host array copied whole onto every device of `mesh`, from any number of processes."""
  return jax.make_array_from_callback(array.shape, mesh_lib.replicated(mesh),
                                      lambda index: array[index])


@functools.partial(jax.tree_util.register_dataclass, data_fields=["arrays"],
                   meta_fields=["mesh", "batch_size", "seeds", "views"])
@dataclasses.dataclass(frozen=True)
class DeviceSource:
  """Batches gathered on device from `arrays` (image, label, index), or from their subset `indices`.

  Training batches are (runs, batch, ...), one independent order per seed in `seeds`, with the
  `view` (0..views-1) of each row: an epoch enumerates every (example, view) pair once
  (see `order.Order`).

  A pytree whose leaves are the arrays: pass the source into a jitted function as an argument (never
  close over it), so that the split is an input of the computation rather than a constant baked into
  it.
  """

  arrays: dict[str, jax.Array]
  mesh: Mesh
  batch_size: int
  seeds: tuple[int, ...] = (0,)
  views: int = 1

  @classmethod
  def from_builder(cls,
                   builder: "tfds.core.DatasetBuilder", split: str, mesh: Mesh, batch_size: int,
                   indices: np.ndarray | None = None, seeds: tuple[int, ...] = (0,),
                   views: int = 1) -> "DeviceSource":
    """Decodes `split` (or its examples `indices`) and puts it on the devices of `mesh`."""
    from ferjax.data import datasets  # TFDS: only needed to read a prepared dataset.
    examples = datasets.read_split(builder, split, indices)  # Decodes only the examples it keeps.
    indices = np.arange(len(examples["label"])) if indices is None else np.asarray(indices)
    return cls.from_arrays(examples["image"], examples["label"], mesh, batch_size, seeds, indices,
                           views)

  @classmethod
  def from_arrays(cls, images: np.ndarray, labels: np.ndarray, mesh: Mesh, batch_size: int,
                  seeds: tuple[int, ...] = (0,), indices: np.ndarray | None = None,
                  views: int = 1) -> "DeviceSource":
    """A source over host arrays: uint8 images (N, H, W, C), labels (N,), example ids
    (default 0..N-1)."""
    indices = np.arange(len(labels)) if indices is None else np.asarray(indices)
    host = {"image": np.asarray(images), "label": np.asarray(labels).astype(np.int32),
            "index": indices.astype(np.int32)}
    return cls({k: _put_replicated(v, mesh) for k, v in host.items()}, mesh, batch_size,
               tuple(seeds), views)

  @property
  def order(self) -> order_lib.Order:
    """The first run's order (all runs share num_examples, views and batch_size)."""
    return order_lib.Order(int(self.arrays["label"].shape[0]), self.batch_size, self.seeds[0],
                           self.views)

  def train_batch(self, step: jax.Array) -> dict[str, jax.Array]:
    """Training batch `step`, (runs, batch, ...); call it inside the jitted train step."""
    rows = jnp.arange(self.batch_size)
    positions, views = jax.vmap(
        lambda seed: dataclasses.replace(self.order, seed=seed).train_views(step, rows, jnp))(
            jnp.asarray(self.seeds, jnp.uint32))
    sharding = mesh_lib.run_batch_sharding(self.mesh)
    batch = self._gather(positions, jnp.ones(positions.shape, bool), sharding)
    return {**batch, "view": jax.lax.with_sharding_constraint(views.astype(jnp.int32), sharding)}

  def eval_batch(self, number: jax.Array) -> dict[str, jax.Array]:
    """Evaluation batch `number`, padded past the end with `mask` marking the real rows."""
    positions, mask = self.order.eval(number, jnp.arange(self.batch_size), jnp)
    return self._gather(positions, mask, mesh_lib.batch_sharding(self.mesh))

  def train_feed(self, position: dict | None = None) -> "Resident":
    """The train step's input at every step: this source itself (the step gathers its batch)."""
    del position  # The batch follows from the step alone.
    return Resident(self)

  @staticmethod
  def batch_in_step(fed: "DeviceSource", step: jax.Array) -> dict[str, jax.Array]:
    """The step's batch, gathered from the fed source (an argument of the step, not a constant)."""
    return fed.train_batch(step)

  def feed_sharding(self) -> jax.sharding.NamedSharding:
    return mesh_lib.replicated(self.mesh)

  def train_batches(self,
                    num_steps: int | None = None,
                    start: int = 0) -> Iterator[dict[str, jax.Array]]:
    """Training batches as an iterator, for code that does not fuse the gather into its step."""
    fetch = jax.jit(DeviceSource.train_batch)
    step = start
    while num_steps is None or step < num_steps:
      yield fetch(self, step)
      step += 1

  def eval_batches(self) -> Iterator[dict[str, jax.Array]]:
    """One pass over every example, padded to whole batches, with a `mask`."""
    fetch = jax.jit(DeviceSource.eval_batch)
    for number in range(self.order.num_eval_batches):
      yield fetch(self, number)

  def _gather(self, positions: jax.Array, mask: jax.Array,
              sharding: jax.sharding.NamedSharding) -> dict[str, jax.Array]:
    mesh_lib.check_batch_size(self.batch_size, self.mesh)
    batch = {key: value[positions] for key, value in self.arrays.items()}
    batch["mask"] = mask
    return jax.lax.with_sharding_constraint(batch, sharding)


@dataclasses.dataclass(frozen=True)
class Resident:
  """The feed of a device-resident source: the source itself, step after step."""

  source: DeviceSource

  def __next__(self) -> DeviceSource:
    return self.source

  def position(self) -> None:
    return None
