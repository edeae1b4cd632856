"""Locate -> crop -> classify for a batch of pictures (one photo, or frames of one video).

The faces of the whole batch are classified together, in one compiled call of the classifier (the
count padded to a power of two, so few programs compile). Each face becomes a record: its box,
detection score and landmarks when known, the label and every class's probability.
"""

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from ferjax.faces import align
from ferjax.inference.locate import Located, Picture

STAGES = ("locate", "crop", "classify")


@dataclasses.dataclass
class Labelled:
  """A picture with one record per face (in the locator's order) and the faces' crops."""

  picture: Picture
  records: list[dict]
  crops: np.ndarray


@dataclasses.dataclass(frozen=True)
class Crop:
  """How a box becomes the classifier's input (`ferjax.faces.align.crop_face`)."""

  margin: float
  upright: bool


class Labeller:
  """`labeller(pictures)` -> one `Labelled` per picture; `seconds` adds up the time per stage."""

  def __init__(self, classifier, locate: Callable[[list[Picture]], list[list[Located]]],
               crop: Crop, tta: bool = False):
    self.classifier, self.locate, self.crop, self.tta = classifier, locate, crop, tta
    self.seconds = dict.fromkeys(STAGES, 0.0)

  def _crops(self, image: np.ndarray, faces: list[Located]) -> np.ndarray:
    size = self.classifier.size
    crops = [align.crop_face(image, face.box, face.landmarks, size=size, margin=self.crop.margin,
                             upright=self.crop.upright) for face in faces]
    return np.stack(crops) if crops else np.zeros((0, size, size), np.uint8)

  def __call__(self, pictures: list[Picture]) -> list[Labelled]:
    clock = time.perf_counter()
    located = self.locate(pictures)
    clock = self._add("locate", clock)
    crops = [self._crops(picture.image, faces) for picture, faces in zip(pictures, located)]
    clock = self._add("crop", clock)
    probabilities = self.classifier.probabilities(np.concatenate(crops), tta=self.tta)
    self._add("classify", clock)
    labelled, start = [], 0
    for picture, faces, picture_crops in zip(pictures, located, crops):
      rows = probabilities[start:start + len(faces)]
      start += len(faces)
      labelled.append(Labelled(picture, self._records(faces, rows), picture_crops))
    return labelled

  def _add(self, stage: str, since: float) -> float:
    now = time.perf_counter()
    self.seconds[stage] += now - since
    return now

  def _records(self, faces: list[Located], probabilities: np.ndarray) -> list[dict]:
    names = self.classifier.class_names
    return [{"face": k, "box": _rounded(face.box),
             "score": None if face.score is None else round(float(face.score), 4),
             "landmarks": (None if face.landmarks is None else
                           [_rounded(point) for point in face.landmarks]),
             "label": names[int(np.argmax(p))],
             "probabilities": {name: round(float(v), 4) for name, v in zip(names, p)}}
            for k, (face, p) in enumerate(zip(faces, probabilities))]


def _rounded(values) -> list[float]:
  return [round(float(v), 1) for v in values]
