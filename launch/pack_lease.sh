#!/usr/bin/env bash
# Prepares, on this machine, what an accelerator lease carries (launch/README.md): the wheels of the
# packages the machine lacks (.whl/, Python 3.12) and the datasets in a form that fits one call's 64 MiB
# beside the code and the wheels: CK+48.zip as it is, and fer2013.zip repacked byte for byte into a
# solid tar.xz (71 MB -> 52 MB; the builders read either, and the ledger records the sha256 of the one
# read). Both folders are ignored by git; the device call names them in `carry`. .lease_video/ holds
# what the video bench's own call carries (launch/video_wheels.txt and CK+48.zip).
#
#   launch/pack_lease.sh [DATA_DIR]     # default ../shared/data
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data}"
python="${PYTHON:-python3}"
mkdir -p .lease
cp "$data/CK+48.zip" .lease/
if [[ ! -s .lease/fer2013.tar.xz || "$data/fer2013.zip" -nt .lease/fer2013.tar.xz ]]; then
  echo "pack_lease: repacking $data/fer2013.zip into .lease/fer2013.tar.xz (about 90 s)"
  "$python" -c "import sys; from ferjax.data import archive; archive.repack(sys.argv[1], sys.argv[2])" \
    "$data/fer2013.zip" .lease/fer2013.tar.xz
fi
launch/fetch_wheels.sh .whl 3.12
# The video bench's second call (launch/bench_gpu.sh video): MTCNN's weights and CK+48.zip.
mkdir -p .lease_video
cp "$data/CK+48.zip" .lease_video/
grep -v '^#' launch/video_wheels.txt | grep . | xargs "$python" -m pip download -q --no-deps \
  --only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux2014_x86_64 \
  -d .lease_video
du -cb .lease .whl $(git ls-files) 2>/dev/null | tail -1 | awk '{printf "pack_lease: %.1f MiB would travel (at most 64)\n", $1 / 1048576}'
