"""Benchmarks, each measured in one run on the machine it runs on.

  python -m ferjax.bench --what=input                   # images/s of each input source, augmented
  python -m ferjax.bench --what=input --size=224 --output=input.json

`input` times the grain source (with 0 and with 2 worker processes) and the device-resident source
over FER2013's training split, each feeding the same jitted augmentation (flip, rotation, crop/scale,
erasing, resize to --size) as a training step would, and prints images/s. Warm-up batches (compilation,
worker start-up) are not timed; the clock stops when the last augmented batch is ready on the device.
"""

import functools
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence

import jax
from absl import app, flags, logging

from ferjax import mesh as mesh_lib
from ferjax.data import augment, datasets, device, pipeline

_WHAT = flags.DEFINE_enum("what", "input", ["input"], "What to measure.")
_DATASET = flags.DEFINE_string("dataset", "fer2013", "Dataset to read (prepared on first use).")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", datasets.DEFAULT_MANUAL_DIR, "Downloaded archives.")
_DATA_DIR = flags.DEFINE_string("data_dir", datasets.DEFAULT_DATA_DIR, "Prepared TFDS datasets.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 256, "Global batch size.")
_STEPS = flags.DEFINE_integer("steps", 100, "Timed batches per source.")
_WARMUP = flags.DEFINE_integer("warmup", 5, "Untimed batches per source before the clock starts.")
_SIZE = flags.DEFINE_integer("size", 48, "Side of the augmented images (224 is the papers' setting).")
_WORKERS = flags.DEFINE_list("workers", ["0", "2"], "Grain worker-process counts to time.")
_OUTPUT = flags.DEFINE_string("output", None, "Also write the results to this JSON file.")


def time_batches(batches: Iterator, consume: Callable, steps: int, warmup: int) -> float:
  """Seconds for `steps` batches after `warmup` untimed ones; `consume(step, batch)` returns arrays."""
  for step in range(warmup):
    jax.block_until_ready(consume(step, next(batches)))
  start = time.perf_counter()
  for step in range(warmup, warmup + steps):
    result = consume(step, next(batches))
  jax.block_until_ready(result)
  return time.perf_counter() - start


def describe_devices() -> str:
  """'1 x NVIDIA H100 80GB HBM3', or for the CPU backend the host's core count."""
  kind = jax.devices()[0].device_kind
  cores = f" ({os.cpu_count()} cores)" if jax.devices()[0].platform == "cpu" else ""
  return f"{jax.device_count()} x {kind}{cores}"


def input_throughput(dataset: str, batch_size: int, steps: int, warmup: int, size: int,
                     workers: Sequence[int]) -> list[dict]:
  """images/s of each source on the training split, with the training augmentation applied."""
  builder = datasets.prepare(dataset, _MANUAL_DIR.value, _DATA_DIR.value)
  mesh = mesh_lib.make_mesh()
  rng = jax.random.key(0)
  augment_fn = functools.partial(augment.augment_batch, flip=True, rotation="uniform",
                                 crop_scale=(0.8, 1.0), erase_prob=0.25, size=size)

  @jax.jit
  def augment_step(step, images):
    return augment_fn(jax.random.fold_in(rng, step), images)

  @jax.jit
  def device_step(source, step):
    return augment_step(step, source.train_batch(step)["image"])

  results = []
  for num_workers in workers:
    source = pipeline.GrainSource.from_builder(builder, "train", mesh, batch_size, num_workers=num_workers)
    seconds = time_batches(source.train_batches(), lambda s, b: augment_step(s, b["image"]), steps, warmup)
    results.append({"source": "grain", "workers": num_workers, "seconds": seconds})
  source = device.DeviceSource.from_builder(builder, "train", mesh, batch_size)
  steps_iter = iter(range(warmup + steps))
  seconds = time_batches(steps_iter, lambda s, _: device_step(source, s), steps, warmup)
  results.append({"source": "device", "workers": 0, "seconds": seconds})
  for result in results:
    result.update(dataset=dataset, batch_size=batch_size, steps=steps, size=size,
                  images_per_s=steps * batch_size / result["seconds"],
                  device=describe_devices())
  return results


def format_results(results: list[dict]) -> str:
  first = results[0]
  lines = [f"input throughput: {first['dataset']} train, batch {first['batch_size']}, {first['steps']} "
           f"timed steps, augmented to {first['size']}x{first['size']}, on {first['device']}",
           f"  {'source':<8}{'workers':>8}{'images/s':>12}"]
  lines += [f"  {r['source']:<8}{r['workers']:>8}{r['images_per_s']:>12,.0f}" for r in results]
  return "\n".join(lines)


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  logging.set_verbosity(logging.WARNING)
  results = input_throughput(_DATASET.value, _BATCH_SIZE.value, _STEPS.value, _WARMUP.value, _SIZE.value,
                             [int(w) for w in _WORKERS.value])
  print(format_results(results), flush=True)
  if _OUTPUT.value:
    with open(_OUTPUT.value, "w") as handle:
      json.dump(results, handle, indent=2)


if __name__ == "__main__":
  app.run(main)
