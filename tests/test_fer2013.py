"""FER2013 end to end through `train_and_evaluate`, as both papers' configs run it: the expanded
epoch, selection of each run's best epoch on PublicTest, the report on PrivateTest, and a SIGKILL in
the second epoch resumed to the same result, and the archive's equalisation recorded and applied to
raw faces. A deterministic subset of the real data and a tiny
width keep it to seconds of training (64 training images x 15 views: 30 steps an epoch)."""

import dataclasses
import functools
import json
import signal
import subprocess
import sys

import cv2
import jax
import numpy as np
import pytest
from conftest import DATA_DIR, REPO, TINY
from test_scale_out import environment, run, wait_for_checkpoint

from ferjax.configs import fer2013, fer2013_msa
from ferjax.data.archive import Archive
from ferjax.inference import preprocessing
from ferjax.inference.classifier import Classifier
from ferjax.train import config_file, loop

ARG = f"width={TINY},epochs=2,subset=64"
EVAL_SUBSET = 96
STEPS_PER_EPOCH = 64 * 15 // 32
OVERRIDES = [
    f"--config.data.subset.validation={EVAL_SUBSET}", f"--config.data.subset.test={EVAL_SUBSET}",
    "--config.log_every_steps=10"
]


def small(module, tfds_dir):
  config = module.get_config(ARG)
  config.data_dir, config.manual_dir = str(tfds_dir), str(DATA_DIR)
  config.data.subset.validation = config.data.subset.test = EVAL_SUBSET
  config.log_every_steps = 10
  return config


def rows(workdir, split: str) -> list[dict]:
  lines = (workdir / "metrics.jsonl").read_text().splitlines()
  return [row for row in map(json.loads, lines) if row["split"] == split]


@pytest.fixture(scope="module")
def paper000_run(fer2013_data, tfds_dir, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("fer2013_m6")
  return workdir, loop.train_and_evaluate(small(fer2013, tfds_dir), workdir)


@pytest.fixture(scope="module")
def paper002_run(fer2013_data, tfds_dir, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("fer2013_mcsa")
  return workdir, loop.train_and_evaluate(small(fer2013_msa, tfds_dir), workdir)


@pytest.mark.parametrize("which", ["paper000_run", "paper002_run"])
def test_fer2013_selects_on_public_test_and_reports_private_test(which, request):
  workdir, results = request.getfixturevalue(which)
  assert results.split == "private_test" and results.protocol == "fer2013"
  assert results.views == "expanded"
  validation = rows(workdir, "validation")
  assert [row["step"] for row in validation] == [STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH]
  accuracies = np.array([row["accuracy"] for row in validation])  # (epochs, runs)
  np.testing.assert_array_equal(results.best_epoch, np.argmax(accuracies, axis=0) + 1)
  assert np.sum(results.confusion) == EVAL_SUBSET
  assert all(np.isfinite(row["loss"]).all() for row in rows(workdir, "train"))
  assert json.loads((workdir / "results.json").read_text())["accuracy"] == results.accuracy
  assert (workdir / "confusion.png").stat().st_size > 0


def test_fer2013_killed_in_its_second_epoch_resumes_to_the_same_result(
    paper000_run, tfds_dir, tmp_path):
  straight, expected = paper000_run
  env = environment(tfds_dir)
  command = [sys.executable, "-m", "ferjax.main", f"--config=configs/fer2013.py:{ARG}", *OVERRIDES,
             f"--workdir={tmp_path}"]
  process = subprocess.Popen(command,
                             cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
  wait_for_checkpoint(tmp_path, STEPS_PER_EPOCH, process)  # written after the first validation
  process.send_signal(signal.SIGKILL)
  process.communicate(timeout=60)
  assert not (tmp_path / "results.json").exists()
  resumed = run(command, env)
  assert f"resuming {tmp_path} from step {STEPS_PER_EPOCH} (epoch 1)" in resumed.stdout
  assert "private_test: accuracy" in resumed.stdout
  results = json.loads((tmp_path / "results.json").read_text())
  assert results["accuracy"] == expected.accuracy and results["confusion"] == expected.confusion
  assert results["best_epoch"] == expected.best_epoch
  assert (rows(tmp_path, "validation")[-1]["accuracy"] ==
          rows(straight, "validation")[-1]["accuracy"])


def test_a_raw_face_gets_the_probabilities_of_its_equalised_copy_in_evaluation(paper000_run):
  """The archive's training images are equalised one by one: the workdir records it, and the
  classifier (predict's, the portable file's and the ONNX file's function) equalises each raw crop
  as OpenCV does before the evaluation preprocessing."""
  workdir, _ = paper000_run
  assert config_file.read(workdir).input.equalized is True
  with Archive(DATA_DIR / "fer2013.zip") as source:
    members = [m for m in source.members() if "/PrivateTest_" in m][:16]
    faces = np.stack([source.image(m) for m in members])
  raw = (255 * (faces / 255.0)**1.5).astype(np.uint8)  # Raw-looking copies: gamma 1.5.
  classifier = Classifier.from_workdir(workdir)
  evaluation = dataclasses.replace(classifier.preprocessing, equalize=False)
  equalised = np.stack([cv2.equalizeHist(face) for face in raw])
  evaluate = jax.jit(functools.partial(preprocessing.probabilities, classifier.model, evaluation))
  expected = evaluate(classifier.variables, equalised)
  np.testing.assert_allclose(classifier.probabilities(raw), expected, atol=1e-6)
