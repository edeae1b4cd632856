"""Face boxes a user already has (`python -m ferjax.predict --boxes=FILE`): their own detector's, or
hand-drawn.

Two formats, told apart by the file's suffix:

  CSV (.csv)           columns input, frame, x1, y1, x2, y2 (a header row naming them is optional);
                       frame empty for a photo.
  JSON lines (other)   one object per line with "input", "frame" (null or absent for a photo) and
                       either "x1", "y1", "x2", "y2" or "box": [x1, y1, x2, y2]; optional
                       "landmarks" (five (x, y) points: eyes, nose, mouth corners), which turn the
                       crop upright. ferjax.predict's own --out lines are such lines, so one run's
                       boxes can feed another.

Boxes are in pixels of the image or frame as stored (x right, y down), x2 > x1 and y2 > y1. A
relative `input` is relative to the current folder, as on the command line. A bad row (too few
columns, a value that is not a number, an empty box, a missing file) is named by its line number
and left out; the rest are used.
"""

import csv
import dataclasses
import json
import math
import pathlib
from collections.abc import Iterator

import numpy as np

COLUMNS = ("input", "frame", "x1", "y1", "x2", "y2")


@dataclasses.dataclass(frozen=True)
class GivenBox:
  """One row: the box (4,) x1, y1, x2, y2, optional landmarks (5, 2), and the line it came from."""

  box: np.ndarray
  landmarks: np.ndarray | None
  line: int


@dataclasses.dataclass
class BoxTable:
  """The boxes of a file by (resolved input path, frame or None), in file order, and its bad rows
  as (where, what is wrong)."""

  path: pathlib.Path
  boxes: dict[tuple[str, int | None], list[GivenBox]]
  errors: list[tuple[str, str]]
  named: dict[str, str]  # Resolved path -> the input as the file first writes it.

  @classmethod
  def read(cls, path: str | pathlib.Path) -> "BoxTable":
    path = pathlib.Path(path)
    try:
      text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
      raise ValueError(f"--boxes={path}: cannot read this file ({error})") from None
    rows = _csv_rows(text) if path.suffix.lower() == ".csv" else _json_rows(text)
    table = cls(path, {}, [], {})
    for line, row in rows:
      try:
        key, given = _parse(row, line)
      except ValueError as error:
        table.errors.append((f"{path} line {line}", str(error)))
        continue
      table.boxes.setdefault(key, []).append(given)
      table.named.setdefault(key[0], row["input"])
    if not table.boxes and not table.errors:
      raise ValueError(f"--boxes={path}: no boxes in this file")
    return table

  def inputs(self) -> list[pathlib.Path]:
    """Every input the file names, as it first writes it, in that order."""
    return [pathlib.Path(name) for name in self.named.values()]

  def frames(self, input_path: pathlib.Path) -> set[int]:
    """The frames of a video that have boxes."""
    name = str(input_path.resolve())
    return {frame for key, frame in self.boxes if key == name and frame is not None}

  def take(self, input_path: pathlib.Path, frame: int | None) -> list[GivenBox]:
    """The boxes of this input and frame, removed from the table (so what is left was not used)."""
    return self.boxes.pop((str(input_path.resolve()), frame), [])

  def left_over(self) -> Iterator[tuple[str, str]]:
    """(where, what) for each box no labelled image or frame took."""
    for (name, frame), given in sorted(self.boxes.items(), key=lambda item: item[1][0].line):
      picture = name if frame is None else f"frame {frame} of {name}"
      for box in given:
        yield (f"{self.path} line {box.line}",
               f"{picture} was not labelled (not among the inputs, or past the video's end)")


def _csv_rows(text: str) -> Iterator[tuple[int, dict]]:
  for line, cells in enumerate(csv.reader(text.splitlines()), start=1):
    if not cells or all(not cell.strip() for cell in cells):
      continue
    if line == 1 and [cell.strip().lower() for cell in cells] == list(COLUMNS):
      continue
    if len(cells) != len(COLUMNS):
      yield line, {"error": f"expected {len(COLUMNS)} columns ({', '.join(COLUMNS)}), got "
                            f"{len(cells)}"}
      continue
    yield line, dict(zip(COLUMNS, (cell.strip() for cell in cells)))


def _json_rows(text: str) -> Iterator[tuple[int, dict]]:
  for line, raw in enumerate(text.splitlines(), start=1):
    if not raw.strip():
      continue
    try:
      row = json.loads(raw)
    except json.JSONDecodeError as error:
      yield line, {"error": f"not valid JSON ({error.msg})"}
      continue
    yield line, (row if isinstance(row, dict) else {"error": "expected a JSON object"})


def _parse(row: dict, line: int) -> tuple[tuple[str, int | None], GivenBox]:
  """((resolved input, frame), box) of one row; ValueError saying what is wrong."""
  if "error" in row:
    raise ValueError(row["error"])
  name = row.get("input")
  if not isinstance(name, str) or not name:
    raise ValueError("no input named")
  path = pathlib.Path(name)
  if not path.is_file():
    raise ValueError(f"input {name}: no such file")
  frame = _frame(row.get("frame"))
  corners = row["box"] if "box" in row else [row.get(key) for key in COLUMNS[2:]]
  if not isinstance(corners, (list, tuple)) or len(corners) != 4:
    raise ValueError(f"box: expected [x1, y1, x2, y2], got {corners!r}")
  x1, y1, x2, y2 = (_number(name, value) for name, value in zip(COLUMNS[2:], corners))
  if not (x2 > x1 and y2 > y1):
    raise ValueError(f"empty box ({x1:g}, {y1:g}, {x2:g}, {y2:g}): expected x2 > x1 and y2 > y1")
  landmarks = row.get("landmarks")
  if landmarks is not None:
    landmarks = np.asarray(landmarks, dtype=float) if _points(landmarks) else None
    if landmarks is None:
      raise ValueError("landmarks: expected five [x, y] points")
  given = GivenBox(np.asarray([x1, y1, x2, y2], np.float32), landmarks, line)
  return (str(path.resolve()), frame), given


def _frame(value) -> int | None:
  if value is None or value == "":
    return None
  try:
    frame = int(value)
  except (TypeError, ValueError):
    frame = -1
  if frame < 0 or (isinstance(value, float) and value != frame):
    raise ValueError(f"frame {value!r}: expected a frame number (0, 1, ...) or nothing for a photo")
  return frame


def _number(name: str, value) -> float:
  try:
    number = float(value)
  except (TypeError, ValueError):
    number = math.nan
  if not math.isfinite(number) or isinstance(value, bool):
    raise ValueError(f"{name} {value!r}: expected a number")
  return number


def _points(value) -> bool:
  try:
    return np.asarray(value, dtype=float).shape == (5, 2)
  except (TypeError, ValueError):
    return False
