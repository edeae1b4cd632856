"""Joining a multi-process JAX job: every process runs the same command, one per host (or per GPU).

`initialize(mode)`:
  * 'env': from FERJAX_COORDINATOR (host:port of process 0), FERJAX_NUM_PROCESSES and
    FERJAX_PROCESS_ID, as `launch/local.sh` sets them for N processes on one machine;
  * 'auto': `jax.distributed.initialize()` with no arguments, which detects Cloud TPU VMs, SLURM and
    Open MPI jobs (`launch/tpu_vm.sh`, `launch/slurm.sbatch`);
  * 'off': a single process.
The default 'env_or_off' is 'env' when FERJAX_COORDINATOR is set and 'off' otherwise.
"""

import os

import jax

MODES = ("env_or_off", "env", "auto", "off")


def initialize(mode: str = "env_or_off") -> None:
  """Connects this process to the others (see the module docstring); a no-op for 'off'."""
  if mode not in MODES:
    raise ValueError(f"unknown distributed mode {mode!r}; expected one of {', '.join(MODES)}")
  if mode == "env_or_off":
    mode = "env" if os.environ.get("FERJAX_COORDINATOR") else "off"
  if mode == "auto":
    jax.distributed.initialize()
  elif mode == "env":
    missing = [v for v in ("FERJAX_COORDINATOR", "FERJAX_NUM_PROCESSES", "FERJAX_PROCESS_ID")
               if not os.environ.get(v)]
    if missing:
      raise ValueError(f"distributed mode 'env' needs {', '.join(missing)} in the environment")
    jax.distributed.initialize(coordinator_address=os.environ["FERJAX_COORDINATOR"],
                               num_processes=int(os.environ["FERJAX_NUM_PROCESSES"]),
                               process_id=int(os.environ["FERJAX_PROCESS_ID"]))
