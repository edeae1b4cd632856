#!/usr/bin/env bash
# The suite's second stack, run by tests/test_newest_stack.py beside the other tests: ferjax on
# Python 3.12 with the newest JAX, flax and optax that pip resolves (setup.cfg allows any jax>=0.10),
# installed from a wheel into a venv of its own (.venv312). A smoke run of the installed commands
# from outside the checkout:
#   the quick CK+ main job (paper 000's full network m6 and the island loss) for one epoch, then
#   --mode=evaluate on its workdir;
#   paper 002's full network (MCSA and the DDA loss) as a one-cell study into a ledger, and the
#   ledger's table (every other variant of either paper is a subset of its full network; the suite
#   trains all ten on the default stack);
#   predict on real CK+ faces from the workdir, export to a portable file and to ONNX, predict from the
#   portable file, and onnxruntime's probabilities against predict's; predict with the model the
#   wheel ships.
# Needs python3.12 (on PATH, or a pyenv 3.12; PYTHON312 names another) and the archives in
# FERJAX_MANUAL_DIR (default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

python312="${PYTHON312:-}"
if [[ -z "$python312" ]]; then
  if python3.12 -c "" 2>/dev/null; then
    python312=python3.12
  else
    python312="$(ls -d "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.12*/bin/python3.12 2>/dev/null | tail -n 1)"
  fi
fi
[[ -n "$python312" ]] || { echo "newest_stack: no python3.12 (install one, or set PYTHON312)" >&2; exit 1; }

step() { echo "== newest stack: $* ($(( $(date +%s) - started )) s)"; }
started=$(date +%s)
step "install ($python312)"
"$python312" -m venv --clear .venv312  # Afresh each time: the checkout as a wheel, never a stale one.
# pip byte-compiles nothing; the commands below write the bytecode of the modules they import.
.venv312/bin/pip install -q --no-compile '.[faces,onnx]'
unset PYTHONDONTWRITEBYTECODE
python="$repo/.venv312/bin/python"
"$python" -c "import ferjax, jax, flax, optax; print('python', __import__('platform').python_version(), 'jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export FERJAX_MANUAL_DIR="$(cd "${FERJAX_MANUAL_DIR:-../shared/data}" && pwd)" FERJAX_DATA_DIR="$work/tfds"
export JAX_COMPILATION_CACHE_DIR="$work/xla"
cd "$work"  # The installed commands and shipped configs, from outside the checkout.

step "the quick main job, one epoch"
"$python" -m ferjax.main --config=cka:quick,views=random,epochs=1 --workdir="$work/quick"
"$python" -m ferjax.main --config=cka:quick,views=random,epochs=1 --workdir="$work/quick" \
  --mode=evaluate

step "a study and its table"
"$python" -m ferjax.study --study=paper002_ckplus --cells="MCSA + DDA" --folds=0 --width=0.25 \
  --views=random --epochs=1 --runs=1 --ledger="$work/ledger.jsonl" --workdir="$work/study"
"$python" -m ferjax.report --ledger="$work/ledger.jsonl" --output="$work/tables"

step "predict, export, ONNX"
"$python" - "$work/faces" <<'EOF'
import pathlib, sys
from PIL import Image
from ferjax.data import archive
from ferjax.data.catalog import manual_dir
out = pathlib.Path(sys.argv[1])
out.mkdir()
with archive.Archive(pathlib.Path(manual_dir()) / "CK+48.zip") as source:
  for name in [n for n in source.members() if n.endswith(".png")][::200]:
    Image.fromarray(source.image(name)).save(out / pathlib.Path(name).name)
EOF
"$python" -m ferjax.predict --workdir="$work/quick" --faces=whole "$work/faces" --out="$work/workdir.jsonl"
"$python" -m ferjax.export --workdir="$work/quick" --out="$work/quick.ferjax"
"$python" -m ferjax.export --workdir="$work/quick" --out="$work/quick.onnx"
"$python" -m ferjax.predict --model="$work/quick.ferjax" --faces=whole "$work/faces" \
  --out="$work/portable.jsonl"
"$python" - "$work" <<'EOF'
import json, pathlib, sys
import numpy as np, onnxruntime
from PIL import Image
work = pathlib.Path(sys.argv[1])
def probabilities(name):
  rows = [json.loads(line) for line in (work / name).read_text().splitlines()]
  return {pathlib.Path(r["input"]).name: list(r["probabilities"].values()) for r in rows}
from_workdir, portable = probabilities("workdir.jsonl"), probabilities("portable.jsonl")
assert from_workdir and from_workdir.keys() == portable.keys(), (from_workdir.keys(), portable.keys())
session = onnxruntime.InferenceSession(str(work / "quick.onnx"))
worst = 0.0
for name, expected in from_workdir.items():
  crop = np.asarray(Image.open(work / "faces" / name).convert("L"))[None]
  (onnx,) = session.run(None, {"crops": crop})
  worst = max(worst, np.abs(np.subtract(portable[name], expected)).max(),
              np.abs(onnx[0] - expected).max())
assert worst < 2e-3, f"portable or ONNX probabilities differ from the workdir's by {worst}"
print(f"{len(from_workdir)} faces: workdir, portable file and ONNX agree within {worst:.1e}")
EOF
"$python" -m ferjax.predict --faces=whole "$work/faces" --out="$work/shipped.jsonl" 2> "$work/shipped.log"
head -n 1 "$work/shipped.log"
grep -q "^model: ferjax's shipped model 'fer2013'" "$work/shipped.log"
[[ $(wc -l < "$work/shipped.jsonl") -eq 5 ]]
step "done"
