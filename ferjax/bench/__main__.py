"""`python -m ferjax.bench`: ferjax against the PyTorch reference, measured in one run on one
machine.

  python -m ferjax.bench --what=train --models=m6                    # the headline case
  python -m ferjax.bench --what=all --json=bench.json                # every variant, train and eval
  python -m ferjax.bench --what=train --models=m6 --image_size=224 --dtype=bfloat16
  python -m ferjax.bench --what=train --models=m6 --num_runs=10      # 10 runs, one program
  python -m ferjax.bench --what=train --config=configs/cka.py:m3,size=96   # any config's step
  python -m ferjax.bench --what=train,eval --models=m6 --torch=channels_last,compile
  python -m ferjax.bench --what=profile --models=m6                  # where a step's time goes
  python -m ferjax.bench --what=layers                               # VGG16's convs one by one
  python -m ferjax.bench --what=input --batch=256                    # data sources, images/s
  python -m ferjax.bench --what=video                                # labelling a 640x480 video

For each variant (m1..m6 of paper 000, M, MCA, MSA, MCSA of paper 002) `train` and `eval` time
ferjax's compiled step and PyTorch's (see ferjax.bench.torch_steps for its settings) on the same
device, batch, image size and precision, and print images/s, median step time, compile time, memory,
achieved FLOP/s and MFU. The first variant is the headline case: it also gets ferjax rows with the
papers' augmentation, from a fixed batch and from the device-resident source (the input must cost
nothing), and with --num_runs > 1 the N-run step (runs vmapped on accelerators, looped on
the CPU: see ferjax.train.steps.over_runs). The last line printed is the headline
ferjax/PyTorch speed ratio against PyTorch's fastest setting at the same precision.
"""

import dataclasses
import json
import pathlib
from collections.abc import Sequence

import jax
from absl import app, flags, logging

from ferjax import cli
from ferjax.data import catalog
from ferjax.bench import cases, ferjax_steps, profile, report, timing

WHATS = ("input", "train", "eval", "profile", "layers", "video", "all")
_WHAT = flags.DEFINE_list("what", ["train"],
                          f"What to measure, any of {WHATS}; all = input, train, eval.")
_MODELS = flags.DEFINE_list("models",
                            ["m6", "m1", "m2", "m3", "m4", "m5", "M", "MCA", "MSA", "MCSA"],
                            "Variants to time; the first is the headline case.")
_BATCH = flags.DEFINE_integer("batch", 32, "Batch size per run (both papers train with 32).")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 48,
                                   "Image side: 48 (native) or 224 (the papers').")
_DTYPE = flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16"],
                           "Compute precision of both.")
_NUM_RUNS = flags.DEFINE_integer("num_runs", 1,
                                 "Runs (seeds) trained by one ferjax program (headline case).")
_WIDTH = flags.DEFINE_float("width", 1.0, "Channel width multiplier (1 = the papers' networks).")
_CONFIG = flags.DEFINE_string(
    "config", None, "A config as ferjax.main takes it (configs/cka.py:m6,size=224): time its "
    "network, loss, input size, dtype and batch instead of --models, --batch, --image_size, "
    "--dtype and --width.")
_STEPS = flags.DEFINE_integer("steps", 10, "Timed steps per row (the median is reported).")
_WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed steps before timing (the first one compiles).")
_TORCH = flags.DEFINE_list(
    "torch", ["eager", "channels_last", "compile", "autocast"],
    "PyTorch settings to time: eager (NCHW), channels_last, compile, autocast.")
_JSON = flags.DEFINE_string("json", None, "Also write every row to this JSON file.")
_DATASET = flags.DEFINE_string("dataset", "fer2013",
                               "input: dataset to read (prepared on first use).")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", None, "input: downloaded archives (default: "
                                  "$FERJAX_MANUAL_DIR or ../shared/data).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "input: prepared TFDS datasets (default: "
                                "$FERJAX_DATA_DIR or ~/tensorflow_datasets).")
_WORKERS = flags.DEFINE_list("workers", ["0", "2"], "input: grain worker-process counts to time.")
_VIDEO_FRAMES = flags.DEFINE_integer("video_frames", 64, "video: timed frames.", lower_bound=1)
_VIDEO_BATCH = flags.DEFINE_integer("video_batch", 8, "video: frames per detection call.",
                                    lower_bound=1)


def say(text: str) -> None:
  print(text, flush=True)


def cases_to_time() -> list[cases.Case]:
  """--config's case, or one per --models variant at --batch, --image_size, --dtype, --width; the
  first is the headline case."""
  if _CONFIG.value:
    return [cases.from_config(_CONFIG.value)]
  cases.check_variants(_MODELS.value)
  return [cases.Case(variant, _BATCH.value, _IMAGE_SIZE.value, _DTYPE.value, 1, _WIDTH.value)
          for variant in _MODELS.value]


def step_rows(what: str, timed: Sequence[cases.Case]) -> list[dict]:
  """ferjax and PyTorch rows of `what` (train or eval) for every case, in the order run."""
  from ferjax.bench import torch_steps  # PyTorch is only needed for these rows.
  rows = []
  for number, case in enumerate(timed):
    settings = torch_steps.settings_for(case.dtype, _TORCH.value)
    variant = case.variant
    say(f"{what} {variant}: ferjax ...")
    if what == "train":
      ours = ferjax_steps.train_row(case, _STEPS.value, _WARMUP.value)
    else:
      ours = ferjax_steps.eval_row(case, _STEPS.value, _WARMUP.value)
    rows.append(ours)
    if what == "train" and number == 0:
      rows += headline_extras(case)
    for setting in settings:
      say(f"{what} {variant}: PyTorch {setting.label} ...")
      try:
        row = (torch_steps.train_row if what == "train" else torch_steps.eval_row)(
            case, setting, _STEPS.value, _WARMUP.value)
      except Exception as error:
        # torch.compile needs a working compiler toolchain; report and go on.
        say(f"  PyTorch {setting.label} failed: {type(error).__name__}: {str(error)[:300]}")
        continue
      rows.append(row | {"flops": ours["flops"]})
  return rows


def headline_extras(case: cases.Case) -> list[dict]:
  """ferjax rows that show the input costs nothing, and the N-run step."""
  say(f"train {case.variant}: ferjax with augmentation, fixed batch and device source ...")
  rows = [ferjax_steps.train_row(case, _STEPS.value, _WARMUP.value, augment=True),
          ferjax_steps.train_row(case, _STEPS.value, _WARMUP.value, augment=True, source="device")]
  if _NUM_RUNS.value > 1:
    say(f"train {case.variant}: ferjax, {_NUM_RUNS.value} runs in one program ...")
    together = dataclasses.replace(case, num_runs=_NUM_RUNS.value)
    rows.append(ferjax_steps.train_row(together, _STEPS.value, _WARMUP.value))
  return rows


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  cli.run(bench)


def bench() -> None:
  """Measures what --what asks, prints it and writes --json."""
  logging.set_verbosity(logging.WARNING)
  timed = cases_to_time()
  results: dict = {"device": timing.describe_device()}
  unknown = sorted(set(_WHAT.value) - set(WHATS))
  if unknown:
    raise app.UsageError(f"--what: unknown {unknown}; choose from {list(WHATS)}")
  whats = ("input", "train", "eval") if "all" in _WHAT.value else tuple(_WHAT.value)
  if "input" in whats:
    from ferjax.bench import input_sources  # grain and TFDS: only needed for the input sources.
    results["input"] = input_sources.input_throughput(
        _DATASET.value, _MANUAL_DIR.value or catalog.manual_dir(),
        _DATA_DIR.value or catalog.data_dir(), _BATCH.value, _STEPS.value, _WARMUP.value,
        _IMAGE_SIZE.value, [int(w) for w in _WORKERS.value])
    say(input_sources.format_results(results["input"]))
  if "video" in whats:
    from ferjax.bench import video  # OpenCV and MTCNN's weights: the 'faces' extra.
    results["video"] = video.video_throughput(
        timed[0], pathlib.Path(_MANUAL_DIR.value or catalog.manual_dir()) / "CK+48.zip",
        _VIDEO_FRAMES.value, _VIDEO_BATCH.value)
    say(video.format_video(results["video"]))
  if "profile" in whats:
    results["profile"] = profile.profile(timed[0], _STEPS.value, _WARMUP.value)
    say(profile.format_profile(results["profile"]))
  if "layers" in whats:
    from ferjax.bench import layers, torch_steps
    results["layers"] = layers.conv_layers(_BATCH.value, _STEPS.value, _WARMUP.value,
                                           _IMAGE_SIZE.value)
    results["matmul_tflops"] = {"jax": timing.peak_flops("float32") / 1e12,
                                "pytorch": torch_steps.peak_flops("float32") / 1e12}
    say(layers.format_layers(results["layers"], _BATCH.value, results["device"]))
    say(f"  {timing.matmul_size()}^3 float32 matrix product: "
        f"JAX {results['matmul_tflops']['jax']:.3f}, "
        f"PyTorch {results['matmul_tflops']['pytorch']:.3f} TFLOP/s")
  rows = []
  for what in ("train", "eval"):
    if what in whats:
      rows += step_rows(what, timed)
  if rows:
    from ferjax.bench import torch_steps
    report.add_utilisation(
        rows, lambda dtype: max(timing.peak_flops(dtype), torch_steps.peak_flops(dtype)))
    results["rows"] = rows
    results["versions"] = f"jax {jax.__version__}, {torch_steps.describe()}"
    say(report.format_rows(rows, f"{results['device']} ({results['versions']})"))
  if _JSON.value:
    with open(_JSON.value, "w") as handle:
      json.dump(results, handle, indent=2)
  if rows:
    say(report.headline(rows, timed[0].variant, _NUM_RUNS.value))


if __name__ == "__main__":
  cli.main(main)
