"""Where the faces are, three ways (`python -m ferjax.predict --faces=...`, `--boxes=FILE`):

  Detect   MTCNN finds them (`ferjax.faces.detect`); a video's frames are detected a batch at a
           time in one compiled call.
  Whole    each image is one face, already cropped (as in FER2013 and CK+48): no detector.
  Given    the boxes of a file the user made (`ferjax.inference.boxes`), their own detector's.

Each takes a batch of pictures (one photo, or frames of one video) and gives, per picture, its
faces as `Located` boxes in the picture's pixels.
"""

import abc
import dataclasses
import pathlib

import jax
import numpy as np

from ferjax.faces.detect import PNET_CELL, Detector
from ferjax.inference.boxes import BoxTable
from ferjax.inference.media import Frame, InputError

MODES = ("detect", "whole")


@dataclasses.dataclass(frozen=True)
class Picture:
  """A photo (frame None) or a video frame, RGB uint8 (H, W, 3)."""

  path: pathlib.Path
  frame: int | None
  time: float | None
  image: np.ndarray


def video_pictures(path: pathlib.Path, frames: list[Frame]) -> list[Picture]:
  """A batch of a video's decoded frames as pictures."""
  return [Picture(path, frame.index, frame.time, frame.image) for frame in frames]


@dataclasses.dataclass(frozen=True)
class Located:
  """One face: box (4,) x1, y1, x2, y2; five landmarks (5, 2) if known (they turn the crop
  upright); the detector's score if it was detected."""

  box: np.ndarray
  landmarks: np.ndarray | None = None
  score: float | None = None


class Locator(abc.ABC):
  """Gives each picture's faces; `errors` collects (where, what) of faces it could not use."""

  def __init__(self):
    self.errors: list[tuple[str, str]] = []

  def wanted_frames(self, path: pathlib.Path) -> set[int] | None:
    """The frames of this video to label; None for the every --every-th frame."""
    return None

  @abc.abstractmethod
  def __call__(self, pictures: list[Picture]) -> list[list[Located]]:
    """Per picture, its faces."""


class Detect(Locator):
  """MTCNN, with the smallest face side it looks for.

  `together`: detect a batch of frames in one vmapped call (`Detector.detect_batch`), or one frame
  per call. By default together on accelerators, one by one on the CPU, where the vmapped cascade
  was slower: 86 against 62 ms per 640x480 frame on 2 cores (16 frames of `ferjax.bench
  --what=video`'s clip, 2026-12-02). The faces of a batch are classified in one call either way.
  """

  def __init__(self, min_face_size: int, together: bool | None = None):
    super().__init__()
    self.detector = Detector(min_face_size=min_face_size)
    self.together = jax.default_backend() != "cpu" if together is None else together

  def __call__(self, pictures: list[Picture]) -> list[list[Located]]:
    height, width = pictures[0].image.shape[:2]
    if min(height, width) < PNET_CELL:
      raise InputError(f"too small to search for faces: {height}x{width} pixels, at least "
                       f"{PNET_CELL}x{PNET_CELL} needed")
    if self.together and len(pictures) > 1:
      found = self.detector.detect_batch([picture.image for picture in pictures])
    else:
      found = [self.detector(picture.image) for picture in pictures]
    return [[Located(face.box, face.landmarks, face.score) for face in faces] for faces in found]


class Whole(Locator):
  """The whole image is the face's box."""

  def __call__(self, pictures: list[Picture]) -> list[list[Located]]:
    return [[Located(np.asarray([0, 0, p.image.shape[1], p.image.shape[0]], np.float32))]
            for p in pictures]


class Given(Locator):
  """The boxes of a `BoxTable`; a box that misses its image is an error naming its line."""

  def __init__(self, table: BoxTable):
    super().__init__()
    self.table = table

  def wanted_frames(self, path: pathlib.Path) -> set[int] | None:
    return self.table.frames(path)

  def __call__(self, pictures: list[Picture]) -> list[list[Located]]:
    return [self._of(picture) for picture in pictures]

  def _of(self, picture: Picture) -> list[Located]:
    height, width = picture.image.shape[:2]
    located = []
    for given in self.table.take(picture.path, picture.frame):
      x1, y1, x2, y2 = given.box
      if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
        self.errors.append((f"{self.table.path} line {given.line}",
                            f"box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) lies outside {picture.path} "
                            f"({width}x{height} pixels)"))
        continue
      located.append(Located(given.box, given.landmarks))
    return located
