"""Shared fixtures: real CK+ images from ../shared/data, the tiny test width, repository paths."""

import pathlib
import zipfile

import numpy as np
import pytest

from configs.cka import CLASSES
from ferjax import inspect_model

REPO = pathlib.Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data"
CKPLUS_ARCHIVE = DATA_DIR / "CK+48.zip"

TINY = 0.125


def ckplus_batch(per_class: int) -> tuple[np.ndarray, np.ndarray]:
  """`per_class` real CK+48 images of each of the 6 classes, as (N, 48, 48, 1) float32 and labels."""
  with zipfile.ZipFile(CKPLUS_ARCHIVE) as archive:
    names = sorted(archive.namelist())
  images, labels = [], []
  for label, cls in enumerate(CLASSES):
    members = [n for n in names if n.startswith(f"CK+48/{cls}/") and n.endswith(".png")]
    # Frames from different sequences: every third file skips a sequence's near-duplicates.
    for member in members[::3][:per_class]:
      images.append(inspect_model.read_archive_image(str(CKPLUS_ARCHIVE), member)[1])
      labels.append(label)
  x = np.stack(images).astype(np.float32)[..., None] / 255.0
  return x, np.asarray(labels, np.int32)


@pytest.fixture(scope="session")
def ckplus_images() -> tuple[np.ndarray, np.ndarray]:
  return ckplus_batch(per_class=2)
