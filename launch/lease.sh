#!/usr/bin/env bash
# One accelerator lease turned into results, in one `device` call (launch/README.md gives the call):
#
#   1. the device, driver and library versions;
#   2. the packages the machine lacks, from the carried wheels (.whl/, launch/wheels.txt);
#   3. FER2013 prepared from the carried .lease/fer2013.tar.xz, in the background while 4-5 run;
#   4. smoke tests: one compiled train step of every variant of both papers at 48 px, finite, and of
#      m6 and MCSA at 224 px in bfloat16 (ferjax.bench.smoke);
#   5. the headline bench (launch/bench_gpu.sh headline, then runs; two minutes at most);
#   6. ferjax.study on paper 000's Table 1 at full width, FER2013 first, then CK+, with what is left;
#   7. what must come back, in at most 8 files under $OUT: lease.log, ledger.jsonl, smoke.jsonl and the
#      bench JSON.
#
#   launch/lease.sh             # on the lease machine (FERJAX_COMMIT=<hash> names the commit it runs)
#   launch/lease.sh --dry-run   # the same path on a CPU: a fresh environment holding only the machine's
#                               # packages plus the wheels, tiny width, m1 alone smoke-tested and benched
#                               # (the headline part's eval rows at 48 px, float32), a 60-second study
#                               # budget for FER2013's study alone (CK+'s is the same command)
#
# Settings (environment): LEASE_SECONDS, the whole script's budget (default 540: a 600-second call less
# the copying back); LEASE_STUDY_ARGS, the scale of the study (default: the configs' own epochs, full
# width, 10 runs a cell in programs of LEASE_RUNS_PER_JOB runs, default 1); OUT, where results go.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
dry_run=0
if [[ "${1:-}" == "--dry-run" ]]; then dry_run=1; shift; fi
[[ $# -eq 0 ]] || { echo "usage: launch/lease.sh [--dry-run]" >&2; exit 2; }

out="${OUT:-lease_out}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
started=$(date +%s)
budget="${LEASE_SECONDS:-540}"
left() { echo $(( budget - ($(date +%s) - started) )); }
stage() { echo; echo "== lease: $* ($(left) s left)"; }
scratch="${LEASE_SCRATCH:-/tmp/ferjax_lease}"
mkdir -p "$scratch"

lease() {
stage "1. device and versions"
date -u +%FT%TZ
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi (no NVIDIA GPU)"
if (( dry_run )); then
  python="$("${PYTHON:-python3}" "$repo/launch/dry_env.py" "$scratch/env")"  # Links that interpreter's packages.
  wheels="${LEASE_WHEELS:?--dry-run: set LEASE_WHEELS to wheels for this Python (launch/fetch_wheels.sh DIR X.Y)}"
  manual_dir="${FERJAX_MANUAL_DIR:-../shared/data}"
  data_dir="${FERJAX_DATA_DIR:-$scratch/tensorflow_datasets}"
  # m1 alone, the quickest to compile (each variant takes 12-50 s on a 2-core CPU; the lease steps all).
  smoke_args=(--width=0.0625 --batch=2)
  smoke_models=m1 smoke_models_224=m1
  # Eval rows alone: the train rows' five compiled programs are the bench's own tests' business.
  export BENCH_ARGS="--what=eval --models=m1 --width=0.0625 --image_size=48 --dtype=float32 --steps=2 --warmup=1 --torch=eager --batch=4"
  # The headline part alone: with BENCH_ARGS' flags, `runs` would time the same rows again.
  bench_parts=(headline) bench_seconds=(150)
  study_args=(--width=0.0625 --subset=64 --epochs=1 --views=random --runs=1)
  study_seconds=60 ckplus_study=0  # FER2013's study alone: CK+'s is the same command.
else
  python=python3
  wheels="${LEASE_WHEELS:-$repo/.whl}"
  manual_dir="$repo/.lease"
  data_dir="$scratch/tensorflow_datasets"
  smoke_args=()
  smoke_models=m1,m2,m3,m4,m5,m6,M,MCA,MSA,MCSA smoke_models_224=m6,MCSA
  bench_parts=(headline runs) bench_seconds=(80 40)  # two minutes in all
  # shellcheck disable=SC2206 -- the arguments are words.
  study_args=(${LEASE_STUDY_ARGS:---runs_per_job=${LEASE_RUNS_PER_JOB:-1}})
  study_seconds=0 ckplus_study=1
fi
"$python" - <<'EOF'
import importlib.metadata as md, platform
import jax
print(f"python {platform.python_version()}; jax devices: {jax.devices()}")
for name in ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "torch"):
  try:
    print(f"  {name} {md.version(name)}")
  except md.PackageNotFoundError:
    print(f"  {name}: not installed")
EOF

stage "2. carried wheels"
site="$scratch/site"
rm -rf "$site"
"$python" -m pip --version >/dev/null 2>&1 && pip=("$python" -m pip) || pip=("${PYTHON:-python3}" -m pip)
"${pip[@]}" install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$wheels"/*.whl
export PYTHONPATH="$site:$repo"
"$python" -c "import ferjax.train.loop, ferjax.study, tensorflow_datasets, grain, ml_collections; print('ferjax imports')"

stage "3. FER2013 and CK+ prepared (in the background)"
export FERJAX_MANUAL_DIR="$manual_dir" FERJAX_DATA_DIR="$data_dir"
( for dataset in ckplus/6class fer2013; do
    "$python" -m ferjax.data.prepare --dataset="$dataset" --manual_dir="$manual_dir" --data_dir="$data_dir"
  done ) > "$scratch/prepare.log" 2>&1 &
prepare=$!

stage "4. smoke tests"
rm -f "$out/smoke.jsonl"
"$python" -m ferjax.bench.smoke "${smoke_args[@]}" --models="$smoke_models" --json="$out/smoke.jsonl"
"$python" -m ferjax.bench.smoke "${smoke_args[@]}" --models="$smoke_models_224" --image_size=224 --dtype=bfloat16 \
  --json="$out/smoke.jsonl"

stage "5. headline bench"
for i in "${!bench_parts[@]}"; do
  part="${bench_parts[$i]}" seconds="${bench_seconds[$i]}"
  OUT="$scratch/bench" PYTHON="$python" timeout "$seconds" launch/bench_gpu.sh "$part" \
    || echo "bench $part: stopped after $seconds s"
  cp "$scratch/bench/$part.json" "$out/" 2>/dev/null || echo "bench $part: no JSON"
done

stage "6. Table 1 studies"
wait "$prepare" || { cat "$scratch/prepare.log"; echo "preparing the data failed" >&2; exit 1; }
tail -n 4 "$scratch/prepare.log"
ledger="$out/ledger.jsonl"
remaining=$(( study_seconds > 0 ? study_seconds : $(left) - 20 ))
if (( remaining < 60 )); then
  echo "lease: ${remaining} s left: too little for a study job; no study runs"
  remaining=0
fi
fer2013_seconds=$(( ckplus_study ? remaining * 2 / 3 : remaining ))
study_started=$(date +%s)
(( remaining == 0 )) || "$python" -m ferjax.study --study=table1_fer2013 --ledger="$ledger" --workdir="$scratch/work" \
  --budget="${fer2013_seconds}s" "${study_args[@]}"
ckplus_seconds=$(( remaining - ($(date +%s) - study_started) ))
if (( ckplus_study && ckplus_seconds > 10 )); then
  "$python" -m ferjax.study --study=table1_ckplus --ledger="$ledger" --workdir="$scratch/work" \
    --budget="${ckplus_seconds}s" "${study_args[@]}"
fi

stage "7. results"
touch "$ledger"
echo "$(wc -l < "$ledger") ledger lines; files in $out:"
ls -la "$out"
}

lease 2>&1 | tee -a "$out/lease.log"
exit "${PIPESTATUS[0]}"
