"""The benchmark command runs end to end on a small dataset (its numbers are reported, never asserted)."""

import json
import subprocess
import sys

from conftest import DATA_DIR, REPO


def test_input_benchmark_prints_images_per_second(ckplus_data, tfds_dir, tmp_path):
  output = tmp_path / "input.json"
  result = subprocess.run(
      [sys.executable, "-m", "ferjax.bench", "--what=input", "--dataset=ckplus/6class", "--batch_size=32",
       "--steps=3", "--warmup=1", "--workers=0", f"--data_dir={tfds_dir}", f"--manual_dir={DATA_DIR}",
       f"--output={output}"], cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "images/s" in result.stdout and "grain" in result.stdout and "device" in result.stdout
  rows = json.loads(output.read_text())
  assert [(r["source"], r["workers"]) for r in rows] == [("grain", 0), ("device", 0)]
  assert all(r["images_per_s"] > 0 and r["steps"] == 3 for r in rows)
