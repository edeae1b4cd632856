"""`python -m ferjax.sweep`: train a config's sweep points (see ferjax.analysis.sweep)."""

from absl import flags

from ferjax import cli
from ferjax.analysis import sweep

if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "workdir"])
  cli.main(sweep.main)
