"""Label the faces in photos and videos with a trained network:
detect -> crop -> classify -> report.

  python -m ferjax.predict --workdir=workdirs/cka_quick photo.jpg photos/ clip.mp4
  python -m ferjax.predict --workdir=workdirs/cka_quick photos/ --out=faces.jsonl \\
      --annotate=annotated/
  python -m ferjax.predict --workdir=workdirs/cka_quick photo.jpg --explain=explained/ --tta
  python -m ferjax.predict --workdir=workdirs/cka_quick --export=cka_quick.ferjax
  python -m ferjax.predict --model=cka_quick.ferjax photo.jpg

Each face found becomes one JSON line (input, frame, face, box, score, landmarks, label,
probabilities) on stdout or in --out. Faces are found by MTCNN (`ferjax.faces`), cropped as the
training data were (`ferjax.faces.align`) and classified together in one jitted call per image or
video frame. INPUT may be image files, folders (searched recursively for images and videos) or
videos (every --every-th frame). An unreadable input, or one smaller than the detector's 12x12
window, is reported and skipped, and the exit status is 1 at the end if any failed; an image without
faces is reported on stderr and is not an error.
"""

import dataclasses
import json
import pathlib
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

import numpy as np
from absl import app, flags

from ferjax import cli
from ferjax.faces import align, draw, extra
from ferjax.faces.detect import Detector, PNET_CELL

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}

_WORKDIR = flags.DEFINE_string("workdir", None, "A workdir trained by python -m ferjax.main.")
_MODEL = flags.DEFINE_string("model", None,
                             "A portable model written by --export (instead of --workdir).")
_RUN = flags.DEFINE_integer("run", None,
                            "Which of the workdir's runs (default: best validation accuracy).")
_FOLD = flags.DEFINE_integer("fold", 0, "For a CK+ workdir trained on all folds: the fold's model.")
_OUT = flags.DEFINE_string("out", None, "Write the JSON lines here instead of stdout.")
_ANNOTATE = flags.DEFINE_string("annotate", None,
                                "Write annotated PNGs (and MP4s for videos) here.")
_EXPLAIN = flags.DEFINE_string("explain", None,
                               "Write one attention / Grad-CAM panel per face here.")
_EVERY = flags.DEFINE_integer("every", 1, "Videos: label every N-th frame.", lower_bound=1)
_TTA = flags.DEFINE_bool("tta", False, "Average the softmax over 12 flipped and cropped views.")
_EXPORT = flags.DEFINE_string(
    "export", None, "Write the workdir's model here: an ONNX file if PATH ends in .onnx, else one "
    "portable file (jax.export).")
_MARGIN = flags.DEFINE_float("margin", None, "Crop margin per side, as a fraction of the face box "
                             f"(default: the model's, else {align.DEFAULT_MARGIN}).",
                             lower_bound=0.0)
_UPRIGHT = flags.DEFINE_bool("upright", True,
                             "Turn each crop so the eyes lie on a horizontal line.")
_MIN_FACE = flags.DEFINE_integer("min_face_size", 20, "Smallest face side (pixels) to look for.",
                                 lower_bound=12)


class InputError(Exception):
  """An input that cannot be read; the message names it."""


@dataclasses.dataclass
class Tally:
  """What a run saw, for the closing summary and the exit status."""

  images: int = 0
  frames: int = 0
  faces: int = 0
  without_face: int = 0
  failed: list = dataclasses.field(default_factory=list)
  seconds: float = 0.0


class Labeller:
  """Detects, crops and classifies the faces of one image at a time."""

  def __init__(self, classifier, detector: Detector, margin: float, upright: bool, tta: bool):
    self.classifier, self.detector = classifier, detector
    self.margin, self.upright, self.tta = margin, upright, tta

  def crops(self, image: np.ndarray, found: list) -> np.ndarray:
    size = self.classifier.size
    return np.stack([align.crop_face(image, face.box, face.landmarks, size=size, margin=self.margin,
                                     upright=self.upright) for face in found]) if found else \
        np.zeros((0, size, size), np.uint8)

  def __call__(self, image: np.ndarray) -> tuple[list[dict], np.ndarray]:
    """(one record per face, sorted by detection score; the faces' crops)."""
    found = self.detector(image)
    crops = self.crops(image, found)
    probabilities = self.classifier.probabilities(crops, tta=self.tta)
    names = self.classifier.class_names
    records = [{"face": k, "box": _rounded(face.box), "score": round(float(face.score), 4),
                "landmarks": [_rounded(point) for point in face.landmarks],
                "label": names[int(np.argmax(p))],
                "probabilities": {name: round(float(v), 4) for name, v in zip(names, p)}}
               for k, (face, p) in enumerate(zip(found, probabilities))]
    return records, crops


def _rounded(values) -> list[float]:
  return [round(float(v), 1) for v in values]


def expand(inputs: list[str], tally: Tally) -> Iterator[pathlib.Path]:
  """Every file named, and every image or video inside the folders named (sorted); missing ones
  fail."""
  for name in inputs:
    path = pathlib.Path(name)
    if path.is_dir():
      found = sorted(
          p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
      if not found:
        print(f"{path}: no images or videos in this folder", file=sys.stderr)
      yield from found
    elif path.is_file():
      yield path
    else:
      fail(tally, path, "no such file or folder")


def fail(tally: Tally, path: pathlib.Path, message: str) -> None:
  tally.failed.append(str(path))
  print(f"error: {path}: {message}", file=sys.stderr, flush=True)


def read_image(path: pathlib.Path) -> np.ndarray:
  """RGB uint8 (H, W, 3), turned as its EXIF orientation says; InputError naming the file
  otherwise."""
  from PIL import Image, ImageOps, UnidentifiedImageError
  try:
    with Image.open(path) as image:
      return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
  except (UnidentifiedImageError, OSError, ValueError) as error:
    raise InputError(f"cannot read this image ({error})") from None


def check_size(image: np.ndarray) -> None:
  """InputError for an image or frame smaller than MTCNN's P-Net window, where no face can be
  searched (the detector would raise a ValueError naming no file and end the run)."""
  height, width = image.shape[:2]
  if min(height, width) < PNET_CELL:
    raise InputError(f"too small to search for faces: {height}x{width} pixels, at least "
                     f"{PNET_CELL}x{PNET_CELL} needed")


def video_frames(path: pathlib.Path, every: int) -> tuple[float, Iterator[tuple[int, np.ndarray]]]:
  """(frames per second, iterator of (frame index, RGB frame)) for every `every`-th frame."""
  cv2 = extra.require("cv2", "opencv-python-headless")
  capture = cv2.VideoCapture(str(path))
  if not capture.isOpened():
    raise InputError("cannot open this video (OpenCV could not decode it)")
  fps = capture.get(cv2.CAP_PROP_FPS) or 25.0

  def frames():
    index = 0
    try:
      while True:
        ok, frame = capture.read()
        if not ok:
          return
        if index % every == 0:
          yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        index += 1
    finally:
      capture.release()
  return fps, frames()


class Outputs:
  """Where results go: JSON lines, annotated pictures and videos, explanation panels."""

  def __init__(self, out: TextIO, annotate: str | None, explain: str | None, classifier):
    self.out, self.classifier = out, classifier
    self.annotate = _folder(annotate)
    self.explain = _folder(explain)
    self._stems: set[str] = set()
    self._video: Any = None

  def stem(self, path: pathlib.Path) -> str:
    """A file-name stem unique within this run (inputs from different folders may share names)."""
    stem, n = path.stem, 1
    while stem in self._stems:
      n += 1
      stem = f"{path.stem}-{n}"
    self._stems.add(stem)
    return stem

  def write(self, path: pathlib.Path, frame: int | None, stem: str, image: np.ndarray,
            records: list[dict], crops: np.ndarray) -> None:
    for record in records:
      self.out.write(json.dumps({"input": str(path), "frame": frame, **record}) + "\n")
    self.out.flush()
    name = stem if frame is None else f"{stem}_frame{frame:06d}"
    if self.explain and records:
      self._explain(name, crops, records)
    if self.annotate:
      annotated = draw.annotate(image, records, self.classifier.class_names)
      if frame is None:
        from PIL import Image
        Image.fromarray(annotated).save(self.annotate / f"{stem}.png")
      else:
        self._video.write(annotated)

  def _explain(self, name: str, crops: np.ndarray, records: list[dict]) -> None:
    from ferjax.inference import explain
    for record, crop, explanation in zip(records, crops,
                                         explain.explanations(self.classifier, crops)):
      explain.panel(crop,
                    explanation, self.classifier.class_names,
                    self.explain / f"{name}_face{record['face']}.png",
                    title=f"{name} face {record['face']}")

  def open_video(self, stem: str, fps: float) -> None:
    if self.annotate:
      self._video = VideoWriter(self.annotate / f"{stem}.mp4", fps)

  def close_video(self) -> None:
    if self._video is not None:
      self._video.close()
      self._video = None


def _folder(name: str | None) -> pathlib.Path | None:
  if name is None:
    return None
  folder = pathlib.Path(name)
  folder.mkdir(parents=True, exist_ok=True)
  return folder


class VideoWriter:
  """An MP4 (mp4v) of RGB frames, opened at the first frame's size."""

  def __init__(self, path: pathlib.Path, fps: float):
    self.path, self.fps, self._writer = path, fps, None
    self._cv2 = extra.require("cv2", "opencv-python-headless")

  def write(self, frame: np.ndarray) -> None:
    if self._writer is None:
      fourcc = self._cv2.VideoWriter_fourcc(*"mp4v")
      self._writer = self._cv2.VideoWriter(str(self.path), fourcc, self.fps, frame.shape[1::-1])
    self._writer.write(self._cv2.cvtColor(frame, self._cv2.COLOR_RGB2BGR))

  def close(self) -> None:
    if self._writer is not None:
      self._writer.release()


def label_image(labeller: Labeller, outputs: Outputs, path: pathlib.Path, tally: Tally) -> None:
  image = read_image(path)
  check_size(image)
  start = time.perf_counter()
  records, crops = labeller(image)
  seconds = time.perf_counter() - start
  tally.images += 1
  tally.seconds += seconds
  _count(tally, path, None, records)
  outputs.write(path, None, outputs.stem(path), image, records, crops)
  print(f"{path}: {len(records)} face(s) in {seconds * 1000:.0f} ms", file=sys.stderr, flush=True)


def label_video(labeller: Labeller, outputs: Outputs, path: pathlib.Path, every: int,
                tally: Tally) -> None:
  fps, frames = video_frames(path, every)
  stem = outputs.stem(path)
  outputs.open_video(stem, fps / every)
  count, found, start = 0, 0, time.perf_counter()
  try:
    for index, frame in frames:
      check_size(frame)
      records, crops = labeller(frame)
      _count(tally, path, index, records)
      outputs.write(path, index, stem, frame, records, crops)
      count, found = count + 1, found + len(records)
      if count % 50 == 0:
        print(f"{path}: frame {index}, {found} face(s) so far", file=sys.stderr, flush=True)
  finally:
    outputs.close_video()
  if count == 0:
    raise InputError("this video has no frames that OpenCV could decode")
  seconds = time.perf_counter() - start
  tally.frames += count
  tally.seconds += seconds
  print(f"{path}: {count} frame(s), {found} face(s), {seconds / count * 1000:.0f} ms per frame",
        file=sys.stderr, flush=True)


def _count(tally: Tally, path: pathlib.Path, frame: int | None, records: list[dict]) -> None:
  tally.faces += len(records)
  if not records:
    tally.without_face += 1
    if frame is None:
      print(f"{path}: no face found", file=sys.stderr)


def load_classifier():
  """The model named by --workdir or --model (exactly one)."""
  if (_WORKDIR.value is None) == (_MODEL.value is None):
    raise app.UsageError(
        "give exactly one of --workdir (a trained workdir) or --model (an exported file)")
  if _MODEL.value is not None:
    if _EXPLAIN.value or _EXPORT.value:
      raise app.UsageError(
          "--explain and --export need the workdir (--workdir); --model holds only the "
          "inference function")
    from ferjax.inference.export import PortableClassifier
    return PortableClassifier.load(_MODEL.value)
  from ferjax.inference.classifier import Classifier
  return Classifier.from_workdir(_WORKDIR.value, _RUN.value, _FOLD.value)


def write_export(classifier, path: str, margin: float) -> None:
  """ONNX for a .onnx path (`onnx_export`), else the portable zip (`export`)."""
  if pathlib.Path(path).suffix.lower() == ".onnx":
    from ferjax.inference import onnx_export
    onnx_export.export_onnx(classifier, path, margin)
  else:
    from ferjax.inference import export
    export.export(classifier, path, margin)


def margin_of(classifier) -> float:
  if _MARGIN.value is not None:
    return _MARGIN.value
  return getattr(classifier, "meta", {}).get("margin", align.DEFAULT_MARGIN)


def run(inputs: list[str]) -> int:
  """Labels every input; returns the exit status (1 if any input failed)."""
  classifier = load_classifier()
  print(f"model: {classifier.source}; classes: {', '.join(classifier.class_names)}",
        file=sys.stderr)
  if _EXPORT.value:
    write_export(classifier, _EXPORT.value, margin_of(classifier))
    print(f"wrote {_EXPORT.value}", file=sys.stderr)
  if not inputs:
    if _EXPORT.value:
      return 0
    raise app.UsageError("name at least one image, folder or video to label")
  labeller = Labeller(classifier, Detector(min_face_size=_MIN_FACE.value), margin_of(classifier),
                      _UPRIGHT.value, _TTA.value)
  tally = Tally()
  out = open(_OUT.value, "w") if _OUT.value else sys.stdout
  try:
    outputs = Outputs(out, _ANNOTATE.value, _EXPLAIN.value, classifier)
    for path in expand(inputs, tally):
      try:
        if path.suffix.lower() in VIDEO_SUFFIXES:
          label_video(labeller, outputs, path, _EVERY.value, tally)
        else:
          label_image(labeller, outputs, path, tally)
      except InputError as error:
        fail(tally, path, str(error))
  finally:
    if out is not sys.stdout:
      out.close()
  summarise(tally)
  return 1 if tally.failed else 0


def summarise(tally: Tally) -> None:
  seen = tally.images + tally.frames
  per = f", {tally.seconds / seen * 1000:.0f} ms per image or frame" if seen else ""
  print(f"{tally.images} image(s), {tally.frames} video frame(s): {tally.faces} face(s), "
        f"{tally.without_face} without a face, {len(tally.failed)} failed{per}", file=sys.stderr)
  if tally.failed:
    print("failed: " + ", ".join(tally.failed), file=sys.stderr)


def main(argv: list[str]) -> None:
  sys.exit(cli.run(run, argv[1:]))
