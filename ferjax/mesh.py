"""The device mesh and how batches lie on it: one code path from one CPU to a multi-host slice."""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def make_mesh(devices: list | None = None) -> Mesh:
  """A 1-d mesh over `devices` (default: every device of every process) named by DATA_AXIS."""
  return Mesh(np.asarray(devices or jax.devices()), (DATA_AXIS,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over the data axis, the rest whole."""
  return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def run_batch_sharding(mesh: Mesh) -> NamedSharding:
  """Training batches (runs, batch, ...): every run's batch split over the data axis."""
  return NamedSharding(mesh, PartitionSpec(None, DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
  """A full copy on every device."""
  return NamedSharding(mesh, PartitionSpec())


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
  """A global batch must split evenly over the devices and over the processes that load it."""
  devices, processes = mesh.devices.size, jax.process_count()
  if batch_size % devices or batch_size % processes:
    raise ValueError(f"batch size {batch_size} does not split evenly over {devices} devices and "
                     f"{processes} processes; use a multiple of {np.lcm(devices, processes)}")


def process_rows(mesh: Mesh, batch_size: int) -> np.ndarray:
  """The rows of a global batch that live on this process's devices (a contiguous run)."""
  check_batch_size(batch_size, mesh)
  index_map = batch_sharding(mesh).addressable_devices_indices_map((batch_size,))
  rows = np.unique(np.concatenate([np.arange(batch_size)[index[0]] for index in index_map.values()
                                  ]))
  if rows[-1] - rows[0] + 1 != len(rows):
    raise ValueError(f"this process's devices hold rows {rows.tolist()} of the batch, not one run; "
                     "build the mesh from jax.devices() in order")
  return rows
