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

from absl import app

from ferjax.inference import locate, media
from ferjax.inference.boxes import BoxTable
from ferjax.inference.labeller import Crop, Labeller
from ferjax.inference.locate import Picture
from ferjax.inference.outputs import Outputs
from ferjax.inference.progress_bar import ProgressBar

@dataclasses.dataclass(frozen=True)
class Options:
  """How to label: the model, how faces are found and cropped, and where the results go (the flags
  of `python -m ferjax.predict`, which say what each one means)."""

  workdir: str | None = None
  model: str | None = None
  run: int | None = None
  fold: int = 0
  faces: str = "detect"
  boxes: str | None = None
  out: str | None = None
  csv: str | None = None
  annotate: str | None = None
  explain: str | None = None
  every: int = 1
  batch: int = 8
  tta: bool = False
  margin: float | None = None
  upright: bool = True
  min_face_size: int = 20

  def __post_init__(self):
    """Refuses a value out of range in one line that names it (the command's flags come here)."""
    if self.faces not in locate.MODES:
      raise ValueError(f"faces={self.faces!r}: expected one of {', '.join(locate.MODES)}")
    for name, least in (("every", 1), ("batch", 1), ("min_face_size", 12), ("margin", 0)):
      value = getattr(self, name)
      if value is not None and value < least:
        raise ValueError(f"{name}={value}: expected at least {least}")


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


def label_image(labeller: Labeller, outputs: Outputs, path: pathlib.Path, tally: Tally,
                options: Options) -> None:
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


def label_video(labeller: Labeller, outputs: Outputs, path: pathlib.Path, tally: Tally,
                options: Options) -> None:
  video = media.Video(path, options.every, labeller.locate.wanted_frames(path))
  stem = outputs.stem(path)
  outputs.open_video(stem, video.fps / options.every)
  bar = ProgressBar(str(path), video.frames_to_label)
  count, found, start = 0, 0, time.perf_counter()
  try:
    for frames in video.batches(options.batch):
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


def load_classifier(options: Options):
  """The model --workdir or --model names (at most one of them), else ferjax's shipped model."""
  if options.workdir is not None and options.model is not None:
    raise app.UsageError("give at most one of --workdir (a trained workdir) and --model (a "
                         "portable file or a shipped model's name)")
  from ferjax.inference import classifier
  if options.workdir is not None:
    return classifier.Classifier.from_workdir(options.workdir, options.run, options.fold)
  return classifier.load(options.model)


def locator(tally: Tally, options: Options):
  """--boxes' boxes (its bad rows failed in `tally`), or --faces' locator."""
  if options.boxes is None:
    return locate.Whole() if options.faces == "whole" else locate.Detect(options.min_face_size)
  if options.faces != "detect":
    raise app.UsageError("--boxes gives the faces: leave out --faces")
  table = BoxTable.read(options.boxes)
  for problem in table.errors:
    tally.fail(*problem)
  return locate.Given(table)


def run(inputs: list[str], options: Options) -> int:
  """Labels every input; returns the exit status (1 if any input failed)."""
  classifier = load_classifier(options)
  print(f"model: {classifier.source}; classes: {', '.join(classifier.class_names)}",
        file=sys.stderr)
  tally = Tally()
  if not inputs and options.boxes is None:
    raise app.UsageError("name at least one image, folder or video to label")
  locate_faces = locator(tally, options)
  if not inputs:
    inputs = locate_faces.table.inputs()
  labeller = Labeller(classifier, locate_faces,
                      Crop(classifier.crop_margin(options.margin), options.upright), options.tta)
  if options.out:
    pathlib.Path(options.out).parent.mkdir(parents=True, exist_ok=True)
  out = open(options.out, "w") if options.out else sys.stdout
  outputs = Outputs(out, classifier, options.annotate, options.explain, options.csv)
  try:
    for path in media.expand(inputs, lambda path, message: tally.fail(str(path), message)):
      try:
        label = label_video if media.is_video(path) else label_image
        label(labeller, outputs, path, tally, options)
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

