"""When a training loop saves a checkpoint and returns early: SIGTERM, or a time budget.

A `Stop` is the SIGTERM handler of a training job (a cloud scheduler's notice) and, given a
deadline, its budget: once the step time is measured after compilation it refuses to go on with a
job that cannot finish before the deadline, and it stops any job when the deadline passes. Either
way the loop saves and returns, so rerunning on the workdir resumes where it stopped and nothing
half-done is reported as finished.
"""

import dataclasses
import time

from ferjax.train.progress import duration

# Steps timed after the compiled first step before the finish time is projected.
TIMED_STEPS = 10


class Stop:
  """Decides, step by step, whether a loop should save and return; `reason` says why it did.

  deadline: time.monotonic() by which the job must be done (None: no budget); reserve_s: seconds the
  job still needs after its last step (final evaluation and writing results).
  """

  def __init__(self, deadline: float | None = None, reserve_s: float = 0.0):
    self.deadline = deadline
    self.reserve_s = reserve_s
    self.reason: str | None = None
    self.step_seconds: float | None = None  # Measured after compilation, for planning further jobs.
    self._timing: tuple[float, int] | None = None

  def __call__(self, signum, frame) -> None:  # The SIGTERM handler.
    self.reason = "SIGTERM"

  def left(self) -> float:
    """Seconds to the deadline (infinite without one)."""
    return float("inf") if self.deadline is None else self.deadline - time.monotonic()

  def compiled(self, step: int) -> None:
    """Called once the first step of a job has run (compiled): its step clock starts here (one Stop
    serves every job of a study, each timed afresh)."""
    self._timing, self.step_seconds = (time.monotonic(), step), None

  def check(self) -> bool:
    """True when the loop should save and return now: SIGTERM came, or the deadline passed."""
    if self.reason is None and self.left() <= 0:
      self.reason = "the budget ran out"
    return self.reason is not None

  def project(self, step: int, total_steps: int) -> None:
    """Called where the host has waited for `step` to finish: once TIMED_STEPS steps are timed,
    measures the step time and, if the job cannot finish by the deadline, asks the loop to stop."""
    if (self._timing is None or self.step_seconds is not None
        or step - self._timing[1] < TIMED_STEPS):
      return
    started, first = self._timing
    self.step_seconds = (time.monotonic() - started) / (step - first)
    needed = (total_steps - step) * self.step_seconds + self.reserve_s
    if self.reason is None and needed > self.left():
      self.reason = (
          f"it cannot finish within the budget: {total_steps - step} more steps at "
          f"{self.step_seconds:.3g} s need {duration(needed)}, {duration(self.left())} left")


@dataclasses.dataclass(frozen=True)
class Stopped:
  """What a job stopped by its `Stop` returns instead of results: its checkpoint of `step` is saved,
  and rerunning the command resumes there."""

  step: int
  reason: str
