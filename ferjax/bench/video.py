"""Video labelling throughput: frames/s of `python -m ferjax.predict`'s pipeline on a 640x480 video.

The video (written into a temporary folder) is `ferjax.faces.clips`' crowd: four real CK+48 faces,
70 to 160 px, on a mid-gray 640x480 frame, drifting a few pixels per frame, so MTCNN finds four faces
in every frame. The pipeline is the one ferjax.predict runs: frames decoded in a background thread, MTCNN on
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

from ferjax import compiling
from ferjax.bench import cases, timing
from ferjax.faces import clips
from ferjax.inference import labeller as labeller_lib
from ferjax.inference import locate, media
from ferjax.inference.classifier import Classifier
from ferjax.inference.preprocessing import Preprocessing

def classifier_of(case: cases.Case) -> Classifier:
  config = cases.config_of(case)
  from ferjax import models
  model = models.get_model(config.model.name, **config.model.options)
  size = config.input.size
  variables = compiling.once(model.init)(jax.random.key(0), jnp.zeros((1, size, size, 1)))
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
    clips.write_crowd(path, archive, frames + batch)
    video = media.Video(path)
    batches = video.batches(batch)
    faces = sum(len(labelled.records) for labelled in labeller(locate.video_pictures(path, next(batches))))
    labeller.seconds = dict.fromkeys(labeller_lib.STAGES, 0.0)
    start, timed, found = time.perf_counter(), 0, 0
    for frames_batch in batches:
      labelled = labeller(locate.video_pictures(path, frames_batch))
      timed += len(labelled)
      found += sum(len(item.records) for item in labelled)
    seconds = time.perf_counter() - start
    video.close()
  return {"variant": case.variant, "width": case.width, "shape": list(clips.SHAPE), "batch": batch,
          "frames": timed, "faces_per_frame": found / max(timed, 1),
          "first_batch_faces": faces, "seconds": seconds, "frames_per_s": timed / seconds,
          "stage_seconds": labeller.seconds, "device": timing.describe_device()}


def format_video(result: dict) -> str:
  stages = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in
                     result["stage_seconds"].items())
  return (f"video labelling: {result['shape'][1]}x{result['shape'][0]}, {result['frames']} timed "
          f"frames, {result['faces_per_frame']:.1f} faces per frame, batch {result['batch']}, "
          f"classifier {result['variant']} width {result['width']:g}, on {result['device']}\n"
          f"  {result['frames_per_s']:.2f} frames/s ({result['seconds']:.1f} s: {stages}; the "
          "rest is waiting for decoding)")
