#!/usr/bin/env bash
# The GPU measurements of the performance study, one part per call (each well under 10 minutes), each
# writing its printed table and JSON under $OUT (default: bench_gpu/):
#
#   launch/bench_gpu.sh headline   # paper-000 model, 224 px, bfloat16: ferjax vs PyTorch eager and compile
#   launch/bench_gpu.sh runs       # 48 px, 10 seeds vmapped in one program vs one after another
#   launch/bench_gpu.sh variants   # every variant, 48 px, float32, train and eval
#   launch/bench_gpu.sh profile    # per-op profile of the headline step
#   launch/bench_gpu.sh video      # labelling a 640x480 video: frames/s (ferjax.bench --what=video)
#
# The train/eval bench needs only jax, flax, optax, absl, ml_collections, numpy and torch; a machine
# without ml_collections gets it from a wheel (see launch/README.md). The video part also needs
# MTCNN's weights (the mtcnn wheel, with lz4) and CK+48.zip: launch/pack_lease.sh puts them in
# .lease_video/, which the video call carries instead of .lease/ (see launch/README.md).
set -euo pipefail
part="${1:?usage: launch/bench_gpu.sh headline|runs|variants|profile|video}"
out="${OUT:-bench_gpu}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1

# PYTHON: the interpreter (default python); BENCH_ARGS: flags appended to every part's (they win), e.g.
# the tiny settings of launch/lease.sh --dry-run.
bench() {
  # shellcheck disable=SC2086 -- BENCH_ARGS holds several flags.
  "${PYTHON:-python}" -m ferjax.bench "$@" ${BENCH_ARGS:-} --json="$out/$part.json" 2>&1 | tee "$out/$part.log"
}

# The video part on the lease machine: installs what it lacks from the carried wheels (.whl/ and
# .lease_video/, or LEASE_WHEELS and VIDEO_FILES) first.
video_bench() {
  local files="${VIDEO_FILES:-.lease_video}" py="${PYTHON:-python}" site
  local check="import ml_collections, importlib.util as u; assert u.find_spec('mtcnn') and u.find_spec('lz4')"
  if ! "$py" -c "$check" 2>/dev/null; then
    site="${TMPDIR:-/tmp}/ferjax_video_site"
    "$py" -m pip --version >/dev/null 2>&1 && pip=("$py" -m pip) || pip=(python3 -m pip)
    "${pip[@]}" install -q --no-index --no-deps --no-compile --target "$site" \
      "${LEASE_WHEELS:-.whl}"/*.whl "$files"/*.whl
    export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
  fi
  bench --what=video --models=m6 --width=0.25 --video_frames=256 --video_batch=8 \
    --manual_dir="$files"
}

case "$part" in
  headline) bench --what=train,eval --models=m6 --image_size=224 --dtype=bfloat16 --torch=eager,channels_last,compile ;;
  runs)     bench --what=train --models=m6 --num_runs=10 --torch=channels_last ;;
  variants) bench --what=train,eval --torch=channels_last,compile ;;
  profile)  bench --what=profile --models=m6 --image_size=224 --dtype=bfloat16 ;;
  video)    video_bench ;;
  *) echo "unknown part '$part'; expected headline, runs, variants, profile or video" >&2; exit 2 ;;
esac
