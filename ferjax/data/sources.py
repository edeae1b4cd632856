"""A job's input sources: the one interface both sources implement, and the registry of them.

The train loop and the train step see only `Source`: the loop feeds the step whatever
`source.train_feed()` yields, and the step turns it into its batch with `source.batch_in_step`. For
the grain source that is the batch itself, streamed by the host; for the device-resident source it
is the split on the device, from which the compiled step gathers its own batch
(no host work per step). `ferjax.data.job` assembles a job's sources from a config.
"""

import dataclasses
import importlib
from collections.abc import Iterator
from typing import Any, Protocol

import jax

from ferjax import mesh as mesh_lib
from ferjax.data import order


class Feed(Protocol):
  """The train step's second argument, step after step, and how to resume it."""

  def __next__(self) -> Any: ...

  def position(self) -> dict | None:
    """What a checkpoint keeps to resume the feed (None: it follows from the step alone)."""


class Source(Protocol):
  """Batches of one split (or of a subset of it) for the runs of one job."""

  @property
  def order(self) -> order.Order:
    """Which example fills each row of each batch (the first run's)."""

  def train_feed(self, position: dict | None = None) -> Feed:
    """The train step's inputs from the start, or from a checkpoint's `position`."""

  def batch_in_step(self, fed: Any, step: jax.Array) -> dict[str, jax.Array]:
    """Inside the compiled step: the (runs, batch, ...) training batch of `step` from what was
    fed."""

  def feed_sharding(self) -> Any:
    """How what is fed lies on the mesh (the step's in_sharding for it)."""

  def eval_batches(self) -> Iterator[dict[str, jax.Array]]:
    """One pass over every example, padded to whole batches, with a `mask` of the real rows."""


# config.data.source -> the class implementing it, imported on first use (grain and TFDS are heavy).
SOURCES = {"device": "ferjax.data.device:DeviceSource", "grain": "ferjax.data.pipeline:GrainSource"}


def source_class(name: str) -> type:
  """The source class config.data.source names."""
  module, _, name = SOURCES[name].partition(":")
  return getattr(importlib.import_module(module), name)


@dataclasses.dataclass(frozen=True)
class FedBatches:
  """Batches that the caller lays out on the mesh's run and data axes and feeds the train step
  itself (benchmarks, tests): the step side of a `Source` alone."""

  mesh: jax.sharding.Mesh

  @staticmethod
  def batch_in_step(fed: dict[str, jax.Array], step: jax.Array) -> dict[str, jax.Array]:
    """The fed batch is the step's batch."""
    del step
    return fed

  def feed_sharding(self) -> jax.sharding.NamedSharding:
    return mesh_lib.run_batch_sharding(self.mesh)
