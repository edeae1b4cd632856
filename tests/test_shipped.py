"""The model that ships with ferjax (docs/MODELS.md): its card's PrivateTest accuracies recomputed
from the FER2013 archive, and `python -m ferjax.predict` labelling a photo with it when no model is
named."""

import csv
import dataclasses
import re
import subprocess
import sys

import numpy as np
import pytest
import skimage.data
from PIL import Image
from conftest import DATA_DIR, REPO

import ferjax
from ferjax.data import fer2013
from ferjax.data.archive import Archive
from ferjax.inference import shipped

CARD = REPO / "docs" / "MODELS.md"
CHUNK = 512


def card_percent(row: str) -> float:
  """The percentage in the card's table row `| row | 66.12% |`."""
  found = re.search(rf"^\| {re.escape(row)} \| ([\d.]+)% \|", CARD.read_text(), re.MULTILINE)
  assert found, f"{CARD} has no row '| {row} | ...% |'"
  return float(found.group(1))


def accuracy(classifier, faces: np.ndarray, labels: np.ndarray) -> float:
  chunks = [classifier.probabilities(faces[i:i + CHUNK]) for i in range(0, len(faces), CHUNK)]
  return 100.0 * float(np.mean(np.concatenate(chunks).argmax(-1) == labels))


@pytest.fixture(scope="module")
def private_test() -> tuple[np.ndarray, np.ndarray]:
  with Archive(DATA_DIR / "fer2013.zip") as source:
    examples = fer2013.folder_examples(source)["private_test"]
    faces = np.stack([source.image(member) for member, _, _ in examples])
  return faces, np.array([label for _, _, label in examples])


def test_the_shipped_model_scores_what_its_card_says(private_test):
  """Evaluation reads the archive's images as they are (each already equalised, as in training);
  predict's path equalises every crop again, as it does a raw photo's."""
  faces, labels = private_test
  assert len(faces) == 3589
  classifier = ferjax.load_classifier("fer2013")
  assert classifier.class_names == list(fer2013.CLASSES) and classifier.preprocessing.equalize
  evaluation = dataclasses.replace(
      classifier, preprocessing=dataclasses.replace(classifier.preprocessing, equalize=False))
  assert abs(accuracy(evaluation, faces, labels) - card_percent("PrivateTest, one view")) <= 0.1
  assert abs(accuracy(classifier, faces, labels) -
             card_percent("PrivateTest through predict (crops equalised again)")) <= 0.1
  assert shipped.path("fer2013").stat().st_size <= 10 * 2**20


def test_predict_labels_a_photo_with_the_shipped_model_when_none_is_named(tmp_path):
  Image.fromarray(skimage.data.astronaut()).save(tmp_path / "astronaut.png")
  result = subprocess.run([sys.executable, "-m", "ferjax.predict", str(tmp_path / "astronaut.png"),
                           f"--csv={tmp_path / 'faces.csv'}"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
  assert result.returncode == 0, result.stderr
  assert result.stderr.splitlines()[0].startswith("model: ferjax's shipped model 'fer2013'")
  with open(tmp_path / "faces.csv", newline="") as table:
    (face,) = list(csv.DictReader(table))
  assert face["input"].endswith("astronaut.png") and face["label"] in fer2013.CLASSES
  assert abs(sum(float(face[name]) for name in fer2013.CLASSES) - 1.0) <= 4e-4  # 4 decimals each
