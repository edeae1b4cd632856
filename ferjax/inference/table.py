"""`--csv=PATH`: one row per face and frame, for spreadsheets and pandas.

Columns: input, frame (empty for a photo), time_s (seconds into the video; empty for a photo), face
(0, 1, ... within the picture), x1, y1, x2, y2 (the box in pixels), score (the detector's; empty
for whole-image and given boxes), label, then one column per class with its probability. A picture
without a face gets one row with the face columns empty, so every labelled frame is in the table.
"""

import csv
import pathlib

from ferjax.inference.labeller import Labelled

PLACE = ("input", "frame", "time_s")
FACE = ("face", "x1", "y1", "x2", "y2", "score", "label")


class FaceTable:

  def __init__(self, path: pathlib.Path, class_names: list[str]):
    self.path, self.class_names = path, class_names
    self._file = open(path, "w", newline="")
    self._writer = csv.writer(self._file)
    self._writer.writerow(PLACE + FACE + tuple(class_names))

  def write(self, labelled: Labelled) -> None:
    picture = labelled.picture
    place = [str(picture.path), _blank(picture.frame),
             "" if picture.time is None else f"{picture.time:.3f}"]
    if not labelled.records:
      self._writer.writerow(place + [""] * (len(FACE) + len(self.class_names)))
    for record in labelled.records:
      probabilities = [record["probabilities"][name] for name in self.class_names]
      self._writer.writerow(place + [record["face"], *record["box"], _blank(record["score"]),
                                     record["label"], *probabilities])

  def close(self) -> None:
    self._file.close()


def _blank(value) -> object:
  return "" if value is None else value
