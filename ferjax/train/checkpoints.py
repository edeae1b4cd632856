"""Orbax checkpoints of a workdir: the training state, the best runs so far, and JSON bookkeeping.

Each checkpoint holds the whole TrainState (every run's network, optimizer, centres, learning rate
and schedule memory, and the step from which the RNG and data order follow), the best RunState by
validation accuracy (each run keeps its own best epoch), and a JSON record (epoch, best accuracies,
the grain iterator's position). Saving is asynchronous; the latest `keep` checkpoints stay, so the
best-by-validation weights are always in the newest one.
"""

import os
from typing import Any

import jax
import orbax.checkpoint as ocp


class Checkpoints:
  """The checkpoints of one workdir."""

  def __init__(self, directory: os.PathLike, keep: int = 2):
    options = ocp.CheckpointManagerOptions(max_to_keep=keep,
                                           enable_async_checkpointing=True,
                                           create=True)
    self._manager = ocp.CheckpointManager(os.path.abspath(os.fspath(directory)), options=options)

  @property
  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state: Any, best: Any, record: dict) -> None:
    """Starts writing checkpoint `step` in the background (see `wait`)."""
    self._manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), best=ocp.args.StandardSave(best),
        record=ocp.args.JsonSave(record)))

  def restore(self, step: int, state_like: Any, best_like: Any) -> tuple[Any, Any, dict]:
    """(state, best, record) of checkpoint `step`, laid out like the given templates."""
    abstract = lambda tree: jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)  # noqa: E731
    restored = self._manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract(state_like)),
        best=ocp.args.StandardRestore(abstract(best_like)), record=ocp.args.JsonRestore()))
    return restored["state"], restored["best"], restored["record"]

  def wait(self) -> None:
    """Blocks until every save has reached the disk."""
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
