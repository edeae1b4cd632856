"""The accelerator lease's path on this CPU: `launch/lease.sh --dry-run` in an environment holding
only the lease machine's packages plus the carried wheels, and the tar.xz repack the lease carries
FER2013 in (byte-identical members, the same prepared dataset)."""

import hashlib
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from conftest import CKPLUS_ARCHIVE, REPO

from ferjax.data import archive, datasets


def test_repacked_archive_holds_the_same_files_and_prepares_the_same_dataset(ckplus_data, tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  packed = archive.repack(CKPLUS_ARCHIVE, manual / "CK+48.tar.xz")
  assert packed.stat().st_size < CKPLUS_ARCHIVE.stat().st_size
  with archive.Archive(CKPLUS_ARCHIVE) as zipped, archive.Archive(packed) as tarred:
    assert tarred.members() == zipped.members()
    assert all(tarred.read(m) == zipped.read(m) for m in zipped.members()[::50])
  again = archive.repack(CKPLUS_ARCHIVE, tmp_path / "again.tar.xz")
  assert hashlib.sha256(again.read_bytes()).digest() == hashlib.sha256(packed.read_bytes()).digest()
  builder = datasets.prepare("ckplus/6class", manual, tmp_path / "tfds")
  assert datasets.recorded(builder, "source")["name"] == "CK+48.tar.xz"
  ours, reference = (datasets.read_split(builder, "train"),
                     datasets.read_split(ckplus_data["6class"], "train"))
  for key in ("image", "label", "subject"):
    np.testing.assert_array_equal(ours[key], reference[key])
  with pytest.raises(archive.ArchiveError, match="is not a readable tar.xz file"):
    (tmp_path / "bad.tar.xz").write_bytes(b"not xz")
    archive.Archive(tmp_path / "bad.tar.xz")


@pytest.fixture(scope="session")
def lease_wheels(request) -> pathlib.Path:
  """launch/wheels.txt fetched for this interpreter (once per list and Python version)."""
  version = f"{sys.version_info.major}.{sys.version_info.minor}"
  digest = hashlib.sha256((REPO / "launch" / "wheels.txt").read_bytes()).hexdigest()[:12]
  folder = pathlib.Path(request.config.cache.mkdir(f"ferjax_wheels_{version}_{digest}"))
  if not list(folder.glob("*.whl")):
    subprocess.run([str(REPO / "launch" / "fetch_wheels.sh"), str(folder), version], check=True,
                   env=dict(os.environ, PYTHON=sys.executable))
  return folder


def test_lease_dry_run(lease_wheels, fer2013_data, ckplus_data, tfds_dir, tmp_path):
  out = tmp_path / "out"
  environment = dict(os.environ,
                     OUT=str(out), LEASE_WHEELS=str(lease_wheels), PYTHON=sys.executable,
                     LEASE_SCRATCH=str(tmp_path / "scratch"), FERJAX_DATA_DIR=str(tfds_dir),
                     FERJAX_MANUAL_DIR=str(REPO.parent / "shared" / "data"))
  environment.pop("PYTHONPATH", None)
  done = subprocess.run([str(REPO / "launch" / "lease.sh"), "--dry-run"],
                        env=environment, capture_output=True, text=True, timeout=900)
  log = (out / "lease.log").read_text()
  assert done.returncode == 0, log[-4000:]
  for stage in ("1. device and versions", "2. carried wheels", "4. smoke tests",
                "5. headline bench", "6. Table 1 studies", "7. results"):
    assert f"== lease: {stage}" in log
  assert "linked" in done.stdout + done.stderr + log and "ferjax imports" in log
  smoke = [json.loads(line) for line in (out / "smoke.jsonl").read_text().splitlines()]
  assert [(row["variant"], row["image_size"], row["dtype"]) for row in smoke] == [
      ("m1", 48, "float32"), ("m1", 224, "bfloat16")] and all(row["finite"] for row in smoke)
  assert json.loads((out / "headline.json").read_text())
  lines = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
  assert lines and lines[0]["study"] == "table1_fer2013" and lines[0]["scale"]["width"] == 0.0625
  assert "study table1_fer2013:" in log and len(os.listdir(out)) <= 8


def test_video_bench_runs_on_the_lease_machines_packages_plus_its_carried_wheels(lease_wheels,
                                                                                 tmp_path):
  """`launch/bench_gpu.sh video` in an environment of the machine's packages only: it installs
  ml_collections and the rest from the carried wheels, MTCNN's weights from .lease_video's. The
  video case runs ferjax.predict's pipeline (decoding thread, MTCNN, crops, one classifier call per
  batch) on its 640x480 clip of four CK+48 faces, and finds all four in every frame."""
  carried = tmp_path / "lease_video"
  carried.mkdir()
  (carried / "CK+48.zip").symlink_to(CKPLUS_ARCHIVE)
  wanted = [line for line in (REPO / "launch" / "video_wheels.txt").read_text().splitlines()
            if line and not line.startswith("#")]
  subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(carried),
                  *wanted], check=True)
  made = subprocess.run(
      [sys.executable, str(REPO / "launch" / "dry_env.py"), str(tmp_path / "env")], check=True,
      capture_output=True, text=True)
  python = made.stdout.strip().splitlines()[-1]
  environment = dict(os.environ, OUT=str(tmp_path / "out"), PYTHON=python, TMPDIR=str(tmp_path),
                     LEASE_WHEELS=str(lease_wheels), VIDEO_FILES=str(carried),
                     BENCH_ARGS="--models=m1 --width=0.0625 --video_frames=2 --video_batch=2")
  environment.pop("PYTHONPATH", None)
  done = subprocess.run([str(REPO / "launch" / "bench_gpu.sh"), "video"], cwd=REPO,
                        env=environment, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
  video = json.loads((tmp_path / "out" / "video.json").read_text())["video"]
  assert (video["frames"], video["shape"], video["batch"]) == (2, [480, 640], 2)
  assert video["faces_per_frame"] == 4.0 and video["first_batch_faces"] == 8
  assert video["frames_per_s"] > 0 and set(video["stage_seconds"]) == {"locate", "crop",
                                                                        "classify"}
  assert "video labelling: 640x480, 2 timed frames, 4.0 faces per frame" in done.stdout
