#!/usr/bin/env bash
# Runs ferjax on every worker of a Cloud TPU VM slice (v4/v5e/v5p/v6e), one process per host.
#
#   launch/tpu_vm.sh TPU_NAME ZONE <ferjax.main arguments...>
#   launch/tpu_vm.sh my-v5e-16 us-west4-a --config=configs/fer2013.py:runs=10 --workdir=gs://bucket/fer2013
#
# Assumes the repository is checked out at ~/ferjax on every worker with its virtual environment in
# ~/ferjax/.venv (jax[tpu] installed), and that the prepared dataset is reachable from every worker:
# a gs:// FERJAX_DATA_DIR (prepare once with `python -m ferjax.data.prepare --data_dir=gs://...`),
# or the same local path on each host. --distributed=auto lets jax.distributed.initialize() find the
# coordinator and the process ids from the TPU metadata; the workdir should be on GCS so that Orbax
# writes one checkpoint for the whole slice.
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "usage: launch/tpu_vm.sh TPU_NAME ZONE <ferjax.main arguments...>" >&2
  exit 2
fi
tpu=$1
zone=$2
shift 2
args=$(printf '%q ' "$@")
gcloud compute tpus tpu-vm ssh "$tpu" --zone="$zone" --worker=all --command="
  cd ~/ferjax && . .venv/bin/activate &&
  FERJAX_DATA_DIR=\${FERJAX_DATA_DIR:-$FERJAX_DATA_DIR} python -m ferjax.main --distributed=auto $args"
