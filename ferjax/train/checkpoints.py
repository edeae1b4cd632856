"""Orbax checkpoints of a workdir: the training state, the best runs so far, and JSON bookkeeping.

Each checkpoint holds the whole TrainState (every run's network, optimizer, centres, learning rate
and schedule memory, and the step from which the RNG and data order follow), the best RunState by
validation accuracy (each run keeps its own best epoch), and a JSON record (epoch, best accuracies,
the grain iterator's position). Saving is asynchronous; the latest `keep` checkpoints stay, so the
best-by-validation weights are always in the newest one. A newest checkpoint that no longer restores
(a truncated file, a full disk during a write) while an older one does is set aside in
`<directory>_damaged/<step>`, kept and named in one line, and the work goes on from the older one.
"""

import os
import pathlib
import sys
from typing import Any

import jax
import orbax.checkpoint as ocp


class Checkpoints:
  """The checkpoints of one workdir."""

  def __init__(self, directory: os.PathLike, keep: int = 2, create: bool = True):
    options = ocp.CheckpointManagerOptions(max_to_keep=keep,
                                           enable_async_checkpointing=True,
                                           create=create)
    self._manager = ocp.CheckpointManager(os.path.abspath(os.fspath(directory)), options=options)

  @classmethod
  def existing(cls, directory: os.PathLike, keep: int, hint: str) -> "Checkpoints":
    """The checkpoints of a trained workdir, for reading: FileNotFoundError (with `hint`, how to
    train it) when `directory` holds none, and nothing is created."""
    directory = pathlib.Path(directory)
    if not directory.is_dir() or not any(p.name.isdigit() for p in directory.iterdir()):
      raise FileNotFoundError(f"no checkpoint in {directory}: {hint}")
    return cls(directory, keep, create=False)

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

  def restore_newest(self, state_like: Any, best_like: Any) -> tuple[int, Any, Any, dict] | None:
    """(step, state, best, record) of the newest checkpoint that restores; None without any.

    Newer checkpoints that fail while an older one restores are damaged: each is named on stderr
    with its error and moved to `<directory>_damaged/<step>`. When none restores, the newest one's
    error is raised and nothing is moved: that is a config that does not fit the workdir, not
    damage.
    """
    failures = []
    for step in sorted(self._manager.all_steps(), reverse=True):
      try:
        restored = self.restore(step, state_like, best_like)
      except Exception as error:  # noqa: BLE001 -- TensorStore, Orbax and JSON errors alike.
        failures.append((step, error))
        continue
      for damaged, error in failures:
        self._set_aside(damaged, error, step)
      return (step, *restored)
    if failures:
      raise failures[0][1]
    return None

  def _set_aside(self, step: int, error: Exception, resumed_from: int) -> None:
    """Moves damaged checkpoint `step` out of the manager's sight, saying so in one line."""
    directory = pathlib.Path(self._manager.directory)
    aside = directory.with_name(directory.name + "_damaged") / str(step)
    aside.parent.mkdir(exist_ok=True)
    (directory / str(step)).rename(aside)
    self._manager.reload()
    reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
    print(f"{directory / str(step)}: damaged checkpoint ({type(error).__name__}: {reason}); kept "
          f"in {aside}, going on from step {resumed_from}", file=sys.stderr, flush=True)

  def wait(self) -> None:
    """Blocks until every save has reached the disk."""
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
