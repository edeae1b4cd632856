"""Videos of real CK+48 faces, for the README's worked examples and the video benchmark.

  python -m ferjax.faces.clips --clip=expressions --out=s011.mp4   # one subject, six expressions
  python -m ferjax.faces.clips --clip=crowd --out=crowd.mp4        # four faces a frame, drifting

expressions: subject S011 (held out of CK+ fold 0: none of its faces trains a fold-0 model) shows
  each of its six sequences in class order, the three frames CK+48 keeps of each held for a second
  at 10 frames/s (18 s), the face 240 px wide in the middle of a 640x480 mid-gray frame.
crowd: four faces (70 to 160 px, four subjects and expressions) on a 640x480 mid-gray frame,
  drifting right by 2 px a frame at 25 frames/s, so MTCNN finds four faces in every frame.
"""

import pathlib

import numpy as np
from absl import flags
from PIL import Image

from ferjax import cli
from ferjax.data import catalog
from ferjax.data.archive import Archive
from ferjax.data.ckplus import PAPER_CLASSES
from ferjax.faces import extra

SHAPE = (480, 640)
CROWD = {"CK+48/happy/S010_006_00000013.png": (40, 60, 160),
         "CK+48/surprise/S011_001_00000016.png": (260, 80, 120),
         "CK+48/anger/S010_004_00000017.png": (440, 40, 90),
         "CK+48/sadness/S011_002_00000020.png": (380, 300, 70)}
DRIFT = 2  # Crowd: pixels per frame, to the right (wrapping round).
SUBJECT, SIDE = "S011", 240  # Expressions: the subject and the face's side in pixels.


def _writer(path: pathlib.Path, fps: float):
  cv2 = extra.require("cv2", "opencv-python-headless")
  return cv2, cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, SHAPE[::-1])


def _pasted(canvas: np.ndarray, face: np.ndarray, x: int, y: int, side: int) -> None:
  canvas[y:y + side, x:x + side] = np.asarray(
      Image.fromarray(face).resize((side, side), Image.Resampling.BICUBIC))


def write_crowd(path: pathlib.Path, archive: pathlib.Path, frames: int, fps: float = 25.0) -> None:
  """`frames` frames of the four CK+48 faces drifting right, as an MP4."""
  with Archive(archive) as source:
    faces = {member: source.image(member) for member in CROWD}
  cv2, writer = _writer(path, fps)
  for frame in range(frames):
    canvas = np.full(SHAPE, 128, np.uint8)
    for member, (x, y, side) in CROWD.items():
      _pasted(canvas, faces[member], (x + DRIFT * frame) % (SHAPE[1] - side), y, side)
    writer.write(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))
  writer.release()


def expression_frames(archive: pathlib.Path) -> list[tuple[str, np.ndarray]]:
  """(class, face) of SUBJECT's CK+48 frames: its sequences in class order, each sequence's frames
  in file order."""
  with Archive(archive) as source:
    members = sorted(m for m in source.members() if f"/{SUBJECT}_" in m)
    return [(cls, source.image(member)) for cls in PAPER_CLASSES
            for member in members if member.startswith(f"CK+48/{cls}/")]


def write_expressions(path: pathlib.Path, archive: pathlib.Path, fps: float = 10.0) -> list[str]:
  """The subject's faces, each for one second, as an MP4; returns the class of each second."""
  shown = expression_frames(archive)
  cv2, writer = _writer(path, fps)
  x, y = (SHAPE[1] - SIDE) // 2, (SHAPE[0] - SIDE) // 2
  for _, face in shown:
    canvas = np.full(SHAPE, 128, np.uint8)
    _pasted(canvas, face, x, y, SIDE)
    frame = cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)
    for _ in range(round(fps)):
      writer.write(frame)
  writer.release()
  return [cls for cls, _ in shown]


_CLIP = flags.DEFINE_enum("clip", "expressions", ["expressions", "crowd"], "Which clip.")
_OUT = flags.DEFINE_string("out", None, "The MP4 to write.", required=True)
_ARCHIVE = flags.DEFINE_string("archive", None, "CK+48.zip (default: in $FERJAX_MANUAL_DIR or "
                               "../shared/data).")
_FRAMES = flags.DEFINE_integer("frames", 250, "crowd: frames to write.", lower_bound=1)


def main(argv: list[str]) -> None:
  del argv
  cli.run(write)


def write() -> None:
  archive = pathlib.Path(_ARCHIVE.value or pathlib.Path(catalog.manual_dir()) / "CK+48.zip")
  out = pathlib.Path(_OUT.value)
  if _CLIP.value == "crowd":
    write_crowd(out, archive, _FRAMES.value)
    print(f"wrote {out}: {_FRAMES.value} frames of four faces")
  else:
    seconds = write_expressions(out, archive)
    print(f"wrote {out}: {SUBJECT}, {len(seconds)} s: " + ", ".join(seconds))


if __name__ == "__main__":
  cli.main(main)
