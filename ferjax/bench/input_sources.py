"""Input throughput: images/s of each data source feeding the training augmentation.

Times the grain source (with the given worker-process counts) and the device-resident source over a
dataset's training split, each feeding the same jitted augmentation (flip, rotation, crop/scale,
erasing, resize to `size`) as a training step would. Warm-up batches (compilation, worker start-up)
are not timed; the clock stops when the last augmented batch is ready on the device, so batches are
pipelined as in training.
"""

import functools
import time
from collections.abc import Callable, Iterator, Sequence

import jax

from ferjax import mesh as mesh_lib
from ferjax.bench import timing
from ferjax.data import augment, datasets, device, pipeline

def time_batches(batches: Iterator, consume: Callable, steps: int, warmup: int) -> float:
  """Seconds for `steps` batches after `warmup` untimed ones; `consume(step, batch)` returns
  arrays."""
  for step in range(warmup):
    jax.block_until_ready(consume(step, next(batches)))
  start = time.perf_counter()
  for step in range(warmup, warmup + steps):
    result = consume(step, next(batches))
  jax.block_until_ready(result)
  return time.perf_counter() - start


def input_throughput(dataset: str, manual_dir: str, data_dir: str, batch_size: int, steps: int,
                     warmup: int, size: int, workers: Sequence[int]) -> list[dict]:
  """images/s of each source on the training split, with the training augmentation applied."""
  builder = datasets.prepare(dataset, manual_dir, data_dir)
  mesh = mesh_lib.make_mesh()
  rng = jax.random.key(0)
  settings = augment.Settings(flip=True, rotation="uniform", crop_scale=(0.8, 1.0),
                              erase_prob=0.25, size=size)
  augment_fn = functools.partial(augment.augment_batch, settings=settings)

  @jax.jit
  def augment_step(step, images):
    return augment_fn(jax.random.fold_in(rng, step), images)

  @jax.jit
  def device_step(source, step):
    return augment_step(step, source.train_batch(step)["image"])

  results = []
  for num_workers in workers:
    source = pipeline.GrainSource.from_builder(builder,
                                               "train", mesh, batch_size, num_workers=num_workers)
    seconds = time_batches(source.train_batches(), lambda s, b: augment_step(s, b["image"]), steps,
                           warmup)
    results.append({"source": "grain", "workers": num_workers, "seconds": seconds})
  source = device.DeviceSource.from_builder(builder, "train", mesh, batch_size)
  steps_iter = iter(range(warmup + steps))
  seconds = time_batches(steps_iter, lambda s, _: device_step(source, s), steps, warmup)
  results.append({"source": "device", "workers": 0, "seconds": seconds})
  for result in results:
    result.update(dataset=dataset, batch_size=batch_size, steps=steps, size=size,
                  images_per_s=steps * batch_size / result["seconds"],
                  device=timing.describe_device())
  return results


def format_results(results: list[dict]) -> str:
  first = results[0]
  lines = [
      f"input throughput: {first['dataset']} train, batch {first['batch_size']}, {first['steps']} "
      f"timed steps, augmented to {first['size']}x{first['size']}, on {first['device']}",
      f"  {'source':<8}{'workers':>8}{'images/s':>12}"
  ]
  lines += [f"  {r['source']:<8}{r['workers']:>8}{r['images_per_s']:>12,.0f}" for r in results]
  return "\n".join(lines)
