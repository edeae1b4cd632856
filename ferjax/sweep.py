"""`python -m ferjax.sweep`: train every point of a config's sweep (see ferjax.analysis.sweep).

  python -m ferjax.sweep --config=configs/fer2013.py:lambda_sweep,runs=3 --workdir=workdirs/lambda
"""

from absl import app, flags

from ferjax import cli, configs, distributed
from ferjax.analysis.sweep import run_sweep
from ferjax.train.loop import TrainingError

_CONFIG = configs.define_flag(
    "config", "A config with a sweep: configs/fer2013.py:lambda_sweep or fer2013:lambda_sweep.",
    lock_config=False)
_WORKDIR = flags.DEFINE_string("workdir", None, "The sweep's folder; rerunning resumes there.")
_TOGETHER = flags.DEFINE_bool("together", True, "Train points that differ only in loss weights or "
                              "learning rate as one program (--notogether: one after another).")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  cli.run(lambda: (distributed.initialize("env_or_off"),
                   run_sweep(_CONFIG.value, _WORKDIR.value, _TOGETHER.value)),
          errors=(TrainingError,))


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "workdir"])
  cli.main(main)
