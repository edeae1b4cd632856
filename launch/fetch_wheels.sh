#!/usr/bin/env bash
# Downloads the wheels of launch/wheels.txt (the packages the accelerator machine lacks) into DIR, for
# the given Python version (default 3.12, the lease machine's; lease.sh --dry-run fetches its own
# interpreter's). Run it where pip can reach an index; nothing is fetched on the lease machine.
#
#   launch/fetch_wheels.sh .whl            # then: git check-ignore .whl (it is in .git/info/exclude)
set -euo pipefail
dir="${1:?usage: launch/fetch_wheels.sh DIR [PYTHON_VERSION]}"
version="${2:-3.12}"
python="${PYTHON:-python3}"
mkdir -p "$dir"
platforms=()
for platform in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 \
                manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$platform")
done
list="$(dirname "$0")/wheels.txt"
grep -v '^#' "$list" | grep -v sdist | grep . | xargs "$python" -m pip download -q --no-deps \
  --only-binary=:all: --python-version "$version" --implementation cp "${platforms[@]}" -d "$dir"
grep -v '^#' "$list" | grep sdist | cut -d' ' -f1 | xargs -r "$python" -m pip wheel -q --no-deps -w "$dir"
ls "$dir"/*.whl | wc -l | xargs echo "fetch_wheels: wheels in $dir:"
