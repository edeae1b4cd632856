"""Where `python -m ferjax.predict`'s results go: JSON lines, the `--csv` table and each video's
timeline PNG, annotated pictures and videos, explanation panels."""

import json
import pathlib
from typing import TextIO

import numpy as np

from ferjax.faces import draw
from ferjax.inference import media, timeline
from ferjax.inference.labeller import Labelled
from ferjax.inference.table import FaceTable


def folder(name: str | None) -> pathlib.Path | None:
  if name is None:
    return None
  path = pathlib.Path(name)
  path.mkdir(parents=True, exist_ok=True)
  return path


class Outputs:
  """Writes each `Labelled` picture to every output asked for; `open_video`/`close_video` bracket a
  video's frames."""

  def __init__(self, out: TextIO, classifier, annotate: str | None = None,
               explain: str | None = None, table: str | None = None):
    self.out, self.classifier = out, classifier
    self.annotate, self.explain = folder(annotate), folder(explain)
    self.table = None
    if table:
      path = pathlib.Path(table)
      path.parent.mkdir(parents=True, exist_ok=True)
      self.table = FaceTable(path, classifier.class_names)
    self._stems: set[str] = set()
    self._video: media.VideoWriter | None = None
    self._timeline: timeline.Timeline | None = None

  def stem(self, path: pathlib.Path) -> str:
    """A file-name stem unique within this run (inputs from different folders may share names)."""
    stem, n = path.stem, 1
    while stem in self._stems:
      n += 1
      stem = f"{path.stem}-{n}"
    self._stems.add(stem)
    return stem

  def write(self, labelled: Labelled, stem: str) -> None:
    picture, records = labelled.picture, labelled.records
    place = {"input": str(picture.path), "frame": picture.frame}
    if picture.time is not None:
      place["time"] = round(picture.time, 3)
    for record in records:
      self.out.write(json.dumps(place | record) + "\n")
    self.out.flush()
    if self.table:
      self.table.write(labelled)
    if self._timeline is not None:
      self._timeline.add(picture.time, records)
    name = stem if picture.frame is None else f"{stem}_frame{picture.frame:06d}"
    if self.explain and records:
      self._explain(name, labelled.crops, records)
    if self.annotate:
      annotated = draw.annotate(picture.image, records, self.classifier.class_names)
      if picture.frame is None:
        from PIL import Image
        Image.fromarray(annotated).save(self.annotate / f"{stem}.png")
      else:
        self._video.write(annotated)

  def _explain(self, name: str, crops: np.ndarray, records: list[dict]) -> None:
    from ferjax.inference import explain
    for record, crop, explanation in zip(records, crops,
                                         explain.explanations(self.classifier, crops)):
      explain.panel(crop, explanation, self.classifier.class_names,
                    self.explain / f"{name}_face{record['face']}.png",
                    title=f"{name} face {record['face']}")

  def open_video(self, stem: str, fps: float) -> None:
    if self.annotate:
      self._video = media.VideoWriter(self.annotate / f"{stem}.mp4", fps)
    if self.table:
      self._timeline = timeline.Timeline(self.classifier.class_names)

  def close_video(self, path: pathlib.Path, stem: str) -> pathlib.Path | None:
    """Ends the video's outputs; returns the timeline PNG written, if any."""
    if self._video is not None:
      self._video.close()
      self._video = None
    written = None
    if self._timeline is not None and self._timeline.times:
      written = self.table.path.parent / f"{stem}_timeline.png"
      timeline.plot(self._timeline, written, f"{path}: first face of each frame")
    self._timeline = None
    return written

  def close(self) -> None:
    if self.table:
      self.table.close()
