"""The benchmark command runs end to end (its numbers are reported, never asserted)."""

import json
import re
import subprocess
import sys

from conftest import DATA_DIR, REPO

from ferjax.bench import cases, report


def run_bench(*args: str) -> subprocess.CompletedProcess:
  result = subprocess.run([sys.executable, "-m", "ferjax.bench", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  return result


def test_input_benchmark_prints_images_per_second(ckplus_data, tfds_dir, tmp_path):
  output = tmp_path / "input.json"
  result = run_bench("--what=input", "--dataset=ckplus/6class", "--batch=32", "--steps=3",
                     "--warmup=1", "--workers=0", f"--data_dir={tfds_dir}",
                     f"--manual_dir={DATA_DIR}", f"--json={output}")
  assert "images/s" in result.stdout and "grain" in result.stdout and "device" in result.stdout
  rows = json.loads(output.read_text())["input"]
  assert [(r["source"], r["workers"]) for r in rows] == [("grain", 0), ("device", 0)]
  assert all(r["images_per_s"] > 0 and r["steps"] == 3 for r in rows)


def test_step_benchmark_times_a_config_in_ferjax_and_pytorch_and_ends_with_the_ratio(tmp_path):
  """A config's case (its network, loss and input) in bfloat16, which the training tests (all
  float32) do not reach: ferjax casts, PyTorch autocasts."""
  output = tmp_path / "bench.json"
  spec = "configs/cka.py:m1,width=0.0625,size=64,dtype=bfloat16"
  result = run_bench("--what=train,eval,profile", f"--config={spec}", "--steps=2", "--warmup=1",
                     "--torch=eager", f"--json={output}")
  results = json.loads(output.read_text())
  variant = spec.removeprefix("configs/")
  rows = {(r["what"], r["variant"], r["framework"], r["setting"], r["num_runs"])
          for r in results["rows"]}
  for what in ("train", "eval"):
    assert (what, variant, "ferjax", "jit", 1) in rows
    assert (what, variant, "pytorch", "eager NCHW bf16 autocast", 1) in rows
  assert ("train", variant, "ferjax", "jit + augmentation + device source", 1) in rows
  ferjax_rows = [r for r in results["rows"] if r["framework"] == "ferjax"]
  assert all(r["flops"] > 0 and r["images_per_s"] > 0 and 0 < r["mfu"] for r in ferjax_rows)
  assert {(r["dtype"], r["image_size"]) for r in results["rows"]} == {("bfloat16", 64)}
  assert results["profile"]["ops"] and results["profile"]["op_ms_total"] > 0
  last = result.stdout.strip().splitlines()[-1]
  assert re.fullmatch(rf"headline: {re.escape(variant)} train, batch 32, 64 px, bfloat16: .* "
                      r"ferjax/PyTorch = \d+\.\d\dx", last), last


def test_headline_compares_runs_in_one_program_and_the_fastest_pytorch_setting_at_one_dtype():
  def row(framework, setting, images_per_s, num_runs=1, dtype="float32"):
    return dict(framework=framework, setting=setting, what="train", variant="m6", batch=32,
                image_size=48, dtype=dtype, num_runs=num_runs, images_per_s=images_per_s)

  rows = [row("ferjax", "jit", 100.0), row("ferjax", "jit", 600.0, num_runs=10),
          row("pytorch", "eager NCHW", 50.0), row("pytorch", "eager channels_last", 80.0),
          row("pytorch", "eager channels_last bf16 autocast", 400.0, dtype="bfloat16")]
  vmapped, last = report.headline(rows, "m6", 10).splitlines()
  assert vmapped == ("10 runs in one program: 600 img/s against 100 img/s run one after another: "
                     "6.00x")
  assert last.endswith("PyTorch (eager channels_last) 80 img/s: ferjax/PyTorch = 1.25x")


def test_unknown_variant_fails_before_any_work():
  result = subprocess.run([sys.executable, "-m", "ferjax.bench", "--models=m9"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode != 0 and "m9" in result.stderr and "choose from" in result.stderr


def test_a_config_case_is_that_configs_network_loss_and_input_and_a_missing_file_one_line(
    monkeypatch):
  monkeypatch.chdir(REPO)  # Config files import `configs`, as under python -m ferjax.main.
  from ferjax.configs import cka
  spec = "configs/cka.py:m3,width=0.25,size=96"
  case = cases.from_config(spec)
  assert (case.batch, case.image_size, case.width, case.dtype) == (32, 96, 0.25, "float32")
  timed, trained = cases.config_of(case, augment=True), cka.get_config("m3,width=0.25,size=96")
  for key in ("model", "loss", "input", "optimizer", "dataset", "batch_size"):
    assert timed[key] == trained[key], key
  result = subprocess.run([sys.executable, "-m", "ferjax.bench", "--config=configs/none.py:m3"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 1 and result.stderr.startswith(
      "error: config 'configs/none.py:m3': no file 'configs/none.py'"), result.stderr


def test_layer_benchmark_times_every_vgg16_conv_shape_in_both_frameworks(tmp_path):
  output = tmp_path / "layers.json"
  result = run_bench("--what=layers", "--batch=2", "--image_size=16", "--steps=1", "--warmup=1",
                     f"--json={output}")
  results = json.loads(output.read_text())
  assert [(r["side"], r["c_in"], r["c_out"]) for r in results["layers"]][::4] == [
      (16, 1, 64), (4, 128, 256), (1, 512, 512)]
  assert all(r[f"{framework}_{kind}_ms"] > 0
             for r in results["layers"]
             for framework in ("jax", "torch")
             for kind in ("forward", "input_grad", "filter_grad"))
  assert ("JAX / PyTorch time, all three kernels" in result.stdout and
          results["matmul_tflops"]["jax"] > 0)
