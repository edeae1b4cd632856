"""Video labelling throughput: frames/s of `python -m ferjax.predict`'s pipeline on a 640x480 video.

The video (written once into a temporary folder) holds four real CK+48 faces, 70 to 160 px, pasted
on a mid-gray 640x480 canvas and drifting a few pixels per frame, so MTCNN finds four faces in every
frame. The pipeline is the one ferjax.predict runs: frames decoded in a background thread, MTCNN on
`batch` frames per compiled call, the crops, and one classifier call per batch of faces. The
classifier is the case's network (paper 000's m6 by default) initialised, not trained: weights do
not change its cost. The first batch (compilation) is not timed; the row gives frames/s and the
seconds spent locating, cropping and classifying.
"""

import pathlib
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from ferjax.bench import cases, timing
from ferjax.data.archive import Archive
from ferjax.faces import extra
from ferjax.inference import labeller as labeller_lib
from ferjax.inference import locate, media
from ferjax.inference.classifier import Classifier
from ferjax.inference.preprocessing import Preprocessing

SHAPE = (480, 640)
FACES = {"CK+48/happy/S010_006_00000013.png": (40, 60, 160),
         "CK+48/surprise/S011_001_00000016.png": (260, 80, 120),
         "CK+48/anger/S010_004_00000017.png": (440, 40, 90),
         "CK+48/sadness/S011_002_00000020.png": (380, 300, 70)}
DRIFT = 2  # Pixels per frame, to the right (wrapping round).


def write_video(path: pathlib.Path, archive: pathlib.Path, frames: int, fps: float = 25.0) -> None:
  """`frames` 640x480 frames of the four CK+48 faces drifting right, as an MP4."""
  cv2 = extra.require("cv2", "opencv-python-headless")
  from PIL import Image
  with Archive(archive) as source:
    faces = {member: source.image(member) for member in FACES}
  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, SHAPE[::-1])
  for frame in range(frames):
    canvas = np.full(SHAPE, 128, np.uint8)
    for member, (x, y, side) in FACES.items():
      x = (x + DRIFT * frame) % (SHAPE[1] - side)
      canvas[y:y + side, x:x + side] = np.asarray(Image.fromarray(faces[member]).resize(
          (side, side), Image.Resampling.BICUBIC))
    writer.write(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))
  writer.release()


def classifier_of(case: cases.Case) -> Classifier:
  config = cases.config_of(case)
  from ferjax import models
  model = models.get_model(config.model.name, **config.model.options)
  size = config.input.size
  variables = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, size, size, 1)))
  names = [str(k) for k in range(config.model.options.num_classes)]
  return Classifier(model, variables, names,
                    Preprocessing(size, config.input.mean, config.input.std), config,
                    source=f"{case.variant} initialised")


def video_throughput(case: cases.Case, archive: pathlib.Path, frames: int, batch: int) -> dict:
  """frames/s of the labelling pipeline over a `frames`-frame 640x480 video (first batch
  untimed)."""
  labeller = labeller_lib.Labeller(classifier_of(case), locate.Detect(min_face_size=20),
                                   labeller_lib.Crop(margin=0.0, upright=True))
  with tempfile.TemporaryDirectory() as folder:
    path = pathlib.Path(folder) / "faces_640x480.mp4"
    write_video(path, archive, frames + batch)
    video = media.Video(path)
    batches = video.batches(batch)
    faces = sum(len(labelled.records) for labelled in labeller(to_pictures(path, next(batches))))
    labeller.seconds = dict.fromkeys(labeller_lib.STAGES, 0.0)
    start, timed, found = time.perf_counter(), 0, 0
    for frames_batch in batches:
      labelled = labeller(to_pictures(path, frames_batch))
      timed += len(labelled)
      found += sum(len(item.records) for item in labelled)
    seconds = time.perf_counter() - start
    video.close()
  return {"variant": case.variant, "width": case.width, "shape": list(SHAPE), "batch": batch,
          "frames": timed, "faces_per_frame": found / max(timed, 1),
          "first_batch_faces": faces, "seconds": seconds, "frames_per_s": timed / seconds,
          "stage_seconds": labeller.seconds, "device": timing.describe_device()}


def to_pictures(path: pathlib.Path, frames: list[media.Frame]) -> list[locate.Picture]:
  return [locate.Picture(path, frame.index, frame.time, frame.image) for frame in frames]


def format_video(result: dict) -> str:
  stages = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in
                     result["stage_seconds"].items())
  return (f"video labelling: {result['shape'][1]}x{result['shape'][0]}, {result['frames']} timed "
          f"frames, {result['faces_per_frame']:.1f} faces per frame, batch {result['batch']}, "
          f"classifier {result['variant']} width {result['width']:g}, on {result['device']}\n"
          f"  {result['frames_per_s']:.2f} frames/s ({result['seconds']:.1f} s: {stages}; the "
          "rest is waiting for decoding)")
