"""Label the faces in photos and videos with a trained network:
locate -> crop -> classify -> report.

  python -m ferjax.predict photo.jpg                # the FER2013 model that ships with ferjax
  python -m ferjax.predict --workdir=workdirs/cka_quick photo.jpg photos/ clip.mp4
  python -m ferjax.predict --workdir=workdirs/cka_quick photos/ --out=faces.jsonl \\
      --annotate=annotated/
  python -m ferjax.predict --workdir=workdirs/cka_quick clip.mp4 --csv=clip.csv
  python -m ferjax.predict --workdir=workdirs/cka_quick --faces=whole crops/
  python -m ferjax.predict --workdir=workdirs/cka_quick --boxes=boxes.csv
  python -m ferjax.predict --workdir=workdirs/cka_quick photo.jpg --explain=explained/ --tta
  python -m ferjax.predict --model=cka_quick.ferjax photo.jpg   # written by python -m ferjax.export

Each face becomes one JSON line (input, frame, time, face, box, score, landmarks, label,
probabilities) on stdout or in --out, and with --csv one table row. Faces are found by MTCNN
(`--faces=detect`), taken to fill the image (`--faces=whole`, for crops such as the datasets') or
read from the user's boxes (`--boxes`); they are cropped as the training data were
(`ferjax.faces.align`) and classified together, one compiled call per photo or per batch of video
frames (`ferjax.inference.labeller`). INPUT may be image files, folders (searched recursively for
images and videos) or videos (every --every-th frame, decoded in a background thread). An
unreadable input, a bad row of --boxes, or an image smaller than the detector's 12x12 window is
named on stderr and skipped, and the exit status is 1 at the end if any failed; an image without
faces is reported on stderr and is not an error.
"""

import dataclasses
import pathlib
import sys
import time

from absl import app, flags

from ferjax import cli
from ferjax.faces import align
from ferjax.inference import locate, media
from ferjax.inference.boxes import BoxTable
from ferjax.inference.labeller import Crop, Labeller
from ferjax.inference.locate import Picture
from ferjax.inference.outputs import Outputs
from ferjax.inference.progress_bar import ProgressBar

_WORKDIR = flags.DEFINE_string("workdir", None, "A workdir trained by python -m ferjax.main.")
_MODEL = flags.DEFINE_string("model", None, "A portable file written by python -m ferjax.export, "
                             "or the name of a model that ships with ferjax ('fer2013', the "
                             "default when neither this nor --workdir is given).")
_RUN = flags.DEFINE_integer("run", None,
                            "Which of the workdir's runs (default: best validation "
                            "accuracy; run 0 without a validation split).")
_FOLD = flags.DEFINE_integer("fold", 0, "For a CK+ workdir trained on all folds: the fold's model.")
_FACES = flags.DEFINE_enum(
    "faces", "detect", locate.MODES, "detect: find faces with MTCNN; whole: each image is one "
    "face, already cropped.")
_BOXES = flags.DEFINE_string(
    "boxes", None, "Use these face boxes instead of a detector: a CSV (input, frame, x1, y1, x2, "
    "y2) or JSON lines file; with no INPUT, label every input it names.")
_OUT = flags.DEFINE_string("out", None, "Write the JSON lines here instead of stdout.")
_CSV = flags.DEFINE_string(
    "csv", None, "Also write one row per face and frame here, and beside it a PNG of each video's "
    "expressions over time.")
_ANNOTATE = flags.DEFINE_string("annotate", None,
                                "Write annotated PNGs (and MP4s for videos) here.")
_EXPLAIN = flags.DEFINE_string("explain", None,
                               "Write one attention / Grad-CAM panel per face here.")
_EVERY = flags.DEFINE_integer("every", 1, "Videos: label every N-th frame.", lower_bound=1)
_BATCH = flags.DEFINE_integer("batch", 8, "Videos: frames detected and classified per call.",
                              lower_bound=1)
_TTA = flags.DEFINE_bool("tta", False, "Average the softmax over 12 flipped and cropped views.")
_MARGIN = flags.DEFINE_float("margin", None, "Crop margin per side, as a fraction of the face box "
                             f"(default: the model's, else {align.DEFAULT_MARGIN}).",
                             lower_bound=0.0)
_UPRIGHT = flags.DEFINE_bool("upright", True,
                             "Turn each crop so the eyes lie on a horizontal line.")
_MIN_FACE = flags.DEFINE_integer("min_face_size", 20, "Smallest face side (pixels) to look for.",
                                 lower_bound=12)


@dataclasses.dataclass
class Tally:
  """What a run saw, for the closing summary and the exit status."""

  images: int = 0
  frames: int = 0
  faces: int = 0
  without_face: int = 0
  failed: list = dataclasses.field(default_factory=list)
  seconds: float = 0.0

  def fail(self, what: str, message: str) -> None:
    self.failed.append(what)
    print(f"error: {what}: {message}", file=sys.stderr, flush=True)

  def count(self, labelled) -> None:
    self.faces += len(labelled.records)
    if not labelled.records:
      self.without_face += 1
      if labelled.picture.frame is None:
        print(f"{labelled.picture.path}: no face found", file=sys.stderr)


def label_image(labeller: Labeller, outputs: Outputs, path: pathlib.Path, tally: Tally) -> None:
  image = media.read_image(path)
  start = time.perf_counter()
  (labelled,) = labeller([Picture(path, None, None, image)])
  seconds = time.perf_counter() - start
  tally.images += 1
  tally.seconds += seconds
  tally.count(labelled)
  outputs.write(labelled, outputs.stem(path))
  print(f"{path}: {len(labelled.records)} face(s) in {seconds * 1000:.0f} ms", file=sys.stderr,
        flush=True)


def label_video(labeller: Labeller, outputs: Outputs, path: pathlib.Path, tally: Tally) -> None:
  video = media.Video(path, _EVERY.value, labeller.locate.wanted_frames(path))
  stem = outputs.stem(path)
  outputs.open_video(stem, video.fps / _EVERY.value)
  bar = ProgressBar(str(path), video.frames_to_label)
  count, found, start = 0, 0, time.perf_counter()
  try:
    for frames in video.batches(_BATCH.value):
      for labelled in labeller(locate.video_pictures(path, frames)):
        tally.count(labelled)
        outputs.write(labelled, stem)
        count, found = count + 1, found + len(labelled.records)
      bar.update(count)
  finally:
    video.close()
    bar.close()
    plotted = outputs.close_video(path, stem)
  if count == 0:
    if video.wanted is None:
      raise media.InputError("this video has no frames that OpenCV could decode")
    print(f"{path}: no frame labelled (--boxes names none of its frames, or only frames past its "
          "end)", file=sys.stderr)
    return
  seconds = time.perf_counter() - start
  tally.frames += count
  tally.seconds += seconds
  print(f"{path}: {count} frame(s), {found} face(s), {count / seconds:.1f} frames/s"
        + (f"; timeline {plotted}" if plotted else ""), file=sys.stderr, flush=True)


def load_classifier():
  """The model --workdir or --model names (at most one of them), else ferjax's shipped model."""
  if _WORKDIR.value is not None and _MODEL.value is not None:
    raise app.UsageError("give at most one of --workdir (a trained workdir) and --model (a "
                         "portable file or a shipped model's name)")
  from ferjax.inference import classifier
  if _WORKDIR.value is not None:
    return classifier.Classifier.from_workdir(_WORKDIR.value, _RUN.value, _FOLD.value)
  return classifier.load(_MODEL.value)


def margin_of(classifier) -> float:
  if _MARGIN.value is not None:
    return _MARGIN.value
  return align.DEFAULT_MARGIN if classifier.margin is None else classifier.margin


def locator(tally: Tally):
  """--boxes' boxes (its bad rows failed in `tally`), or --faces' locator."""
  if _BOXES.value is None:
    return locate.Whole() if _FACES.value == "whole" else locate.Detect(_MIN_FACE.value)
  if _FACES.value != "detect":
    raise app.UsageError("--boxes gives the faces: leave out --faces")
  table = BoxTable.read(_BOXES.value)
  for problem in table.errors:
    tally.fail(*problem)
  return locate.Given(table)


def run(inputs: list[str]) -> int:
  """Labels every input; returns the exit status (1 if any input failed)."""
  classifier = load_classifier()
  print(f"model: {classifier.source}; classes: {', '.join(classifier.class_names)}",
        file=sys.stderr)
  tally = Tally()
  if not inputs and _BOXES.value is None:
    raise app.UsageError("name at least one image, folder or video to label")
  locate_faces = locator(tally)
  if not inputs:
    inputs = locate_faces.table.inputs()
  labeller = Labeller(classifier, locate_faces, Crop(margin_of(classifier), _UPRIGHT.value),
                      _TTA.value)
  if _OUT.value:
    pathlib.Path(_OUT.value).parent.mkdir(parents=True, exist_ok=True)
  out = open(_OUT.value, "w") if _OUT.value else sys.stdout
  outputs = Outputs(out, classifier, _ANNOTATE.value, _EXPLAIN.value, _CSV.value)
  try:
    for path in media.expand(inputs, lambda path, message: tally.fail(str(path), message)):
      try:
        (label_video if media.is_video(path) else label_image)(labeller, outputs, path, tally)
      except media.InputError as error:
        tally.fail(str(path), str(error))
      for problem in locate_faces.errors:
        tally.fail(*problem)
      locate_faces.errors.clear()
  finally:
    outputs.close()
    if out is not sys.stdout:
      out.close()
  if isinstance(locate_faces, locate.Given):
    for problem in locate_faces.table.left_over():
      tally.fail(*problem)
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
