"""ferjax's entry point: `python -m ferjax.main --config=configs/cka.py[:arg]`.

Until training lands (issue 4) it runs the configured network forward on a real image of the
dataset archive and prints the class probabilities (see `ferjax.inspect_model`).
"""

from absl import app
from absl import flags
from ml_collections import config_flags

from ferjax import inspect_model

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file, e.g. configs/cka.py:m6.",
                                          lock_config=True)
_IMAGE = flags.DEFINE_string("image", None, "Archive member to run on (default: the first image).")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  inspect_model.run(_CONFIG.value, _IMAGE.value)


if __name__ == "__main__":
  flags.mark_flags_as_required(["config"])
  app.run(main)
