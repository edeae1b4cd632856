"""The grain and device sources: same batches for the same seed, epochs, evaluation coverage,
resume."""

import json
import os
import socket
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl import flags
from conftest import REPO

from ferjax import mesh as mesh_lib
from ferjax.data import device, order, pipeline, splits

BATCH = 64


@pytest.fixture(scope="module")
def mesh():
  flags.FLAGS.mark_as_parsed()  # grain's worker processes read absl flags.
  return mesh_lib.make_mesh()


def as_numpy(batch: dict) -> dict:
  return {key: np.asarray(value) for key, value in batch.items()}


def assert_same_batches(first, second, count: int) -> None:
  for step, (a, b) in enumerate(zip(first, second)):
    if step == count:
      return
    a, b = as_numpy(a), as_numpy(b)
    assert a.keys() == b.keys()
    for key in a:
      np.testing.assert_array_equal(a[key], b[key], err_msg=f"{key} differs at step {step}")


@pytest.mark.parametrize("n", [1, 2, 7, 927, 28709])
def test_order_is_a_permutation_and_identical_in_numpy_and_jax(n):
  positions = np.arange(n)
  permutation = order.permute(positions, n, seed=3, epoch=1)
  np.testing.assert_array_equal(np.sort(permutation), positions)
  in_jax = jax.jit(lambda p: order.permute(p, n, 3, 1, jnp))(jnp.asarray(positions))
  np.testing.assert_array_equal(np.asarray(in_jax), permutation)


def test_each_training_epoch_is_a_fresh_permutation_without_the_remainder():
  plan = order.Order(num_examples=100, batch_size=16, seed=0)
  epochs = [np.concatenate([plan.train(step, np.arange(16)) for step in range(e * 6, e * 6 + 6)])
            for e in range(3)]
  for visited in epochs:
    assert len(np.unique(visited)) == 96  # 6 whole batches of 16; the last 4 examples wait.
  assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
  other_seed = order.Order(num_examples=100, batch_size=16, seed=1)
  assert not np.array_equal(other_seed.train(0, np.arange(16)), plan.train(0, np.arange(16)))


@pytest.mark.parametrize("n, batch", [(100, 16), (835, 32)])
def test_an_expanded_epoch_visits_every_example_and_view_once(n, batch):
  plan = order.Order(num_examples=n, batch_size=batch, seed=5, views=15)
  assert plan.steps_per_epoch == n * 15 // batch
  rows = np.arange(batch)
  pairs = [np.stack(plan.train_views(step, rows)) for step in range(plan.steps_per_epoch)]
  items = np.concatenate([example * 15 + view for example, view in pairs])
  assert len(np.unique(items)) == len(items) == plan.steps_per_epoch * batch  # no pair twice
  assert len(items) > n * 15 - batch  # only the last partial batch waits
  in_jax = jax.jit(lambda step: plan.train_views(step, jnp.asarray(rows), jnp))(3)
  np.testing.assert_array_equal(np.stack(in_jax), pairs[3])
  # With one view, items are examples (the random-view mode's order); views of one example are
  # spread over the epoch.
  examples, views = order.Order(n, batch, 5).train_views(2, rows)
  np.testing.assert_array_equal(examples, order.permute(2 * batch + rows, n, 5, 0))
  assert not views.any()
  first_step_of = {}
  for step, (example, _) in enumerate(pairs):
    for e in example:
      first_step_of.setdefault(int(e), step)
  assert max(first_step_of.values()) < plan.steps_per_epoch // 2


def test_grain_and_device_sources_give_the_same_expanded_batches(ckplus_data, mesh):
  builder = ckplus_data["6class"]
  grain_source = pipeline.GrainSource.from_builder(builder,
                                                   "train", mesh, BATCH, seeds=(7, 8), views=15)
  device_source = device.DeviceSource.from_builder(builder,
                                                   "train", mesh, BATCH, seeds=(7, 8), views=15)
  assert device_source.order.steps_per_epoch == 927 * 15 // BATCH == 217
  assert_same_batches(grain_source.train_batches(), device_source.train_batches(), count=3)
  grain_late = grain_source.train_batches()
  grain_late.set_state({**grain_late.get_state(), "next_index": 216})
  # across the epoch end
  assert_same_batches(grain_late, device_source.train_batches(start=216), count=2)
  views = np.asarray(next(device_source.train_batches())["view"])
  assert views.shape == (2, BATCH) and views.min() >= 0 and views.max() <= 14 and len(
      np.unique(views)) > 5


def test_grain_and_device_sources_give_the_same_batches_across_epochs(ckplus_data, mesh):
  builder = ckplus_data["6class"]
  grain_source = pipeline.GrainSource.from_builder(builder, "train", mesh, BATCH, seeds=(7, 8))
  device_source = device.DeviceSource.from_builder(builder, "train", mesh, BATCH, seeds=(7, 8))
  assert grain_source.order.steps_per_epoch == 927 // BATCH == 14
  assert_same_batches(grain_source.train_batches(), device_source.train_batches(), count=16)
  batch = next(device_source.train_batches())
  assert batch["image"].dtype == jnp.uint8 and batch["image"].shape == (2, BATCH, 48, 48, 1)
  assert not np.array_equal(batch["index"][0], batch["index"][1])  # each run its own order
  assert batch["label"].dtype == jnp.int32 and bool(batch["mask"].all())


def test_grain_worker_processes_give_the_same_batches(ckplus_data, mesh):
  builder = ckplus_data["6class"]
  single = pipeline.GrainSource.from_builder(builder, "train", mesh, BATCH, seeds=(1,))
  workers = pipeline.GrainSource.from_builder(builder,
                                              "train", mesh, BATCH, seeds=(1,), num_workers=2)
  assert_same_batches(single.train_batches(), workers.train_batches(), count=4)


def test_grain_iterator_resumes_mid_epoch(ckplus_data, mesh):
  source = pipeline.GrainSource.from_builder(ckplus_data["6class"],
                                             "train", mesh, BATCH, seeds=(2,))
  batches = source.train_batches()
  for _ in range(5):
    next(batches)
  state = batches.get_state()
  expected = [next(batches) for _ in range(3)]
  resumed = source.train_batches()
  resumed.set_state(state)
  assert_same_batches(expected, resumed, count=3)


@pytest.mark.parametrize("kind", ["grain", "device"])
def test_evaluation_covers_every_example_once(ckplus_data, mesh, kind):
  builder = ckplus_data["7class"]
  source_class = pipeline.GrainSource if kind == "grain" else device.DeviceSource
  batches = [
      as_numpy(b) for b in source_class.from_builder(builder, "train", mesh, BATCH).eval_batches()
  ]
  assert len(batches) == -(-981 // BATCH) == 16
  indices = np.concatenate([b["index"][b["mask"]] for b in batches])
  np.testing.assert_array_equal(indices, np.arange(981))
  assert batches[-1]["mask"].sum() == 981 - 15 * BATCH and not batches[-1]["mask"][-1]


def test_a_fold_subset_yields_only_its_examples(ckplus_data, mesh):
  builder = ckplus_data["6class"]
  records = builder.as_data_source("train")
  subjects = np.array([records[i]["subject"] for i in range(len(records))])
  labels = np.array([records[i]["label"] for i in range(len(records))])
  train, test = splits.fold_indices(splits.subject_folds(subjects, labels), fold=0)
  grain_source = pipeline.GrainSource.from_builder(builder, "train", mesh, BATCH, indices=train)
  device_source = device.DeviceSource.from_builder(builder, "train", mesh, BATCH, indices=train)
  assert_same_batches(grain_source.train_batches(), device_source.train_batches(), count=3)
  seen = np.concatenate([np.asarray(b["index"]).ravel()
                         for b, _ in zip(device_source.train_batches(), range(12))])
  assert set(seen) <= set(train) and not set(seen) & set(test)
  evaluated = [as_numpy(b) for b in device.DeviceSource.from_builder(
      builder, "train", mesh, BATCH, indices=test).eval_batches()]
  np.testing.assert_array_equal(np.concatenate([b["index"][b["mask"]] for b in evaluated]), test)


def test_a_batch_larger_than_the_data_is_refused(ckplus_data, mesh):
  source = device.DeviceSource.from_builder(ckplus_data["6class"], "train", mesh, 1024)
  with pytest.raises(ValueError, match="batch size 1024 exceeds the 927 training examples"):
    next(source.train_batches())


EIGHT_DEVICES = """
import sys
import numpy as np
from absl import flags
import jax
from ferjax import mesh as mesh_lib
from ferjax.data import datasets, device, pipeline
flags.FLAGS.mark_as_parsed()
assert jax.device_count() == 8, jax.devices()
mesh = mesh_lib.make_mesh()
builder = datasets.get_builder("ckplus/7class", sys.argv[1])
for source in (pipeline.GrainSource.from_builder(builder, "train", mesh, 24),
               device.DeviceSource.from_builder(builder, "train", mesh, 24)):
  indices = []
  for batch in source.eval_batches():
    shards = batch["index"].addressable_shards
    assert len({s.device for s in shards}) == 8 and all(s.data.shape == (3,) for s in shards)
    indices.append(np.asarray(batch["index"])[np.asarray(batch["mask"])])
  assert np.array_equal(np.concatenate(indices), np.arange(981)), type(source).__name__
  train = next(iter(source.train_batches()))
  print(type(source).__name__, np.asarray(train["index"]).tolist())
"""


def test_sharding_over_eight_devices_covers_every_evaluation_example_once(ckplus_data, tfds_dir):
  env = {
      **os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
      "JAX_PLATFORMS": "cpu"
  }
  result = subprocess.run([sys.executable, "-c", EIGHT_DEVICES, str(tfds_dir)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  grain_line, device_line = result.stdout.strip().splitlines()
  assert grain_line.split(" ", 1)[1] == device_line.split(" ", 1)[1]


TWO_PROCESSES = """
import sys
import numpy as np
import jax
from absl import flags
process_id, port, data_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=process_id)
from jax.experimental import multihost_utils
from ferjax import mesh as mesh_lib
from ferjax.data import datasets, device, pipeline
flags.FLAGS.mark_as_parsed()
mesh = mesh_lib.make_mesh()
assert jax.process_count() == 2 and jax.device_count() == 4
assert mesh_lib.process_rows(mesh, 24).tolist() == \
list(range(12 * process_id, 12 * process_id + 12))
builder = datasets.get_builder("ckplus/7class", data_dir)
for source in (pipeline.GrainSource.from_builder(builder, "train", mesh, 24, seeds=(4,)),
               device.DeviceSource.from_builder(builder, "train", mesh, 24, seeds=(4,))):
  train = multihost_utils.process_allgather(next(iter(source.train_batches()))["index"], tiled=True)
  evaluated = [multihost_utils.process_allgather({k: b[k] for k in ("index", "mask")}, tiled=True)
               for b in source.eval_batches()]
  covered = np.concatenate([np.asarray(b["index"])[np.asarray(b["mask"])] for b in evaluated])
  assert np.array_equal(covered, np.arange(981)), type(source).__name__
  print(type(source).__name__, np.asarray(train).tolist())
"""


def test_two_processes_load_their_own_rows_of_the_same_global_batches(ckplus_data, tfds_dir, mesh):
  with socket.socket() as probe:
    probe.bind(("localhost", 0))
    port = probe.getsockname()[1]
  env = {
      **os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
      "JAX_PLATFORMS": "cpu"
  }
  processes = [
      subprocess.Popen(
          [sys.executable, "-c", TWO_PROCESSES,
           str(i), str(port), str(tfds_dir)],
          cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
          text=True) for i in range(2)
  ]
  outputs = [p.communicate(timeout=300) for p in processes]
  for process, (_, stderr) in zip(processes, outputs):
    assert process.returncode == 0, stderr[-3000:]
  expected = next(iter(device.DeviceSource.from_builder(
      ckplus_data["7class"], "train", mesh, 24, seeds=(4,)).train_batches()))["index"]
  for stdout, _ in outputs:
    lines = [
        line.split(" ", 1)
        for line in stdout.splitlines()
        if line.startswith(("GrainSource ", "DeviceSource "))
    ]
    assert [name for name, _ in lines] == ["GrainSource", "DeviceSource"], stdout
    for _, indices in lines:
      assert json.loads(indices) == np.asarray(expected).tolist()
