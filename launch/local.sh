#!/usr/bin/env bash
# Runs N ferjax processes on this machine as one JAX job (process 0 coordinates on a free port).
#
#   launch/local.sh N <ferjax.main arguments...>
#   launch/local.sh 2 --config=configs/cka.py:quick --workdir=workdirs/cka_2proc
#
# Every process sees only its own share of the devices: on CPU, XLA_FLAGS can give each several
# (--xla_force_host_platform_device_count=4); on a multi-GPU machine set CUDA_VISIBLE_DEVICES per
# process instead (FERJAX_DEVICES_PER_PROCESS=1 does this for you). Process 0's output is shown;
# the others' goes to <workdir>/process_<i>.log. The exit code is the first non-zero one.
set -euo pipefail
if [[ $# -lt 2 || ! $1 =~ ^[0-9]+$ ]]; then
  echo "usage: launch/local.sh NUM_PROCESSES <ferjax.main arguments...>" >&2
  exit 2
fi
num=$1
shift
python=${PYTHON:-python}
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("localhost", 0)); print(s.getsockname()[1])')
workdir=$(printf '%s\n' "$@" | sed -n 's/^--workdir=//p' | tail -1)
logdir=${workdir:-.}
mkdir -p "$logdir"
pids=()
for ((i = 0; i < num; i++)); do
  env_vars=(FERJAX_COORDINATOR="localhost:$port" FERJAX_NUM_PROCESSES="$num" FERJAX_PROCESS_ID="$i")
  if [[ -n ${FERJAX_DEVICES_PER_PROCESS:-} ]]; then
    first=$((i * FERJAX_DEVICES_PER_PROCESS))
    env_vars+=(CUDA_VISIBLE_DEVICES="$(seq -s, "$first" $((first + FERJAX_DEVICES_PER_PROCESS - 1)))")
  fi
  if [[ $i -eq 0 ]]; then
    env "${env_vars[@]}" "$python" -m ferjax.main "$@" &
  else
    env "${env_vars[@]}" "$python" -m ferjax.main "$@" > "$logdir/process_$i.log" 2>&1 &
  fi
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || { code=$?; if [[ $status -eq 0 ]]; then status=$code; fi; }
done
exit $status
