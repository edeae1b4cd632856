"""ferjax's entry point: train and evaluate a config, or evaluate a finished workdir.

  python -m ferjax.main --config=configs/cka.py:quick --workdir=workdirs/cka_quick
  python -m ferjax.main --config=configs/cka.py:quick --workdir=workdirs/cka_quick --mode=evaluate

Config fields can be overridden with --config.<key>=<value>; an unknown key fails before any work.
Data locations come from the config, whose defaults read FERJAX_DATA_DIR and FERJAX_MANUAL_DIR.
"""

from absl import app, flags

from ferjax import cli, configs, distributed
from ferjax.train import loop

_CONFIG = configs.define_flag("config", "A config file or a shipped config's name, with its "
                               "argument: configs/cka.py:m6, or cka:m6.")
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Where checkpoints, metrics and results go; rerunning "
    "on the same workdir resumes.")
_MODE = flags.DEFINE_enum("mode", "train", ["train", "evaluate"], "train (and evaluate), or only "
                          "evaluate the workdir's newest checkpoint.")
_DISTRIBUTED = flags.DEFINE_enum("distributed", "env_or_off", ["env_or_off", "env", "auto", "off"],
                                 "How to join a multi-process job (see ferjax.distributed).")
_SPLIT = flags.DEFINE_string(
    "split", None, "With --mode=evaluate: the split to evaluate (default: the "
    "config's test split).")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  cli.run(train_or_evaluate, errors=(loop.TrainingError,))


def train_or_evaluate() -> None:
  distributed.initialize(_DISTRIBUTED.value)
  if _MODE.value == "train":
    loop.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  else:
    loop.evaluate_workdir(_CONFIG.value, _WORKDIR.value, _SPLIT.value)


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "workdir"])
  cli.main(main)
