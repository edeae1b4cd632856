"""`python -m ferjax.predict`: label the faces in photos, folders and videos (see
ferjax.inference.predict, which `run`s with the `Options` these flags give)."""

import dataclasses
import sys

from absl import flags

from ferjax import cli
from ferjax.faces import align
from ferjax.inference import locate, predict

DEFAULTS = predict.Options()
flags.DEFINE_string("workdir", None, "A workdir trained by python -m ferjax.main.")
flags.DEFINE_string("model", None, "A portable file written by python -m ferjax.export, or the name "
                    "of a model that ships with ferjax ('fer2013', the default when neither this "
                    "nor --workdir is given).")
flags.DEFINE_integer("run", None, "Which of the workdir's runs (default: best validation accuracy; "
                     "run 0 without a validation split).")
flags.DEFINE_integer("fold", DEFAULTS.fold,
                     "For a CK+ workdir trained on all folds: the fold's model.")
flags.DEFINE_enum("faces", DEFAULTS.faces, locate.MODES, "detect: find faces with MTCNN; whole: "
                  "each image is one face, already cropped.")
flags.DEFINE_string("boxes", None, "Use these face boxes instead of a detector: a CSV (input, "
                    "frame, x1, y1, x2, y2) or JSON lines file; with no INPUT, label every input "
                    "it names.")
flags.DEFINE_string("out", None, "Write the JSON lines here instead of stdout.")
flags.DEFINE_string("csv", None, "Also write one row per face and frame here, and beside it a PNG "
                    "of each video's expressions over time.")
flags.DEFINE_string("annotate", None, "Write annotated PNGs (and MP4s for videos) here.")
flags.DEFINE_string("explain", None, "Write one attention / Grad-CAM panel per face here.")
flags.DEFINE_integer("every", DEFAULTS.every, "Videos: label every N-th frame (at least 1).")
flags.DEFINE_integer("batch", DEFAULTS.batch,
                     "Videos: frames detected and classified per call (at least 1).")
flags.DEFINE_bool("tta", DEFAULTS.tta, "Average the softmax over 12 flipped and cropped views.")
flags.DEFINE_float("margin", None, "Crop margin per side, as a fraction of the face box (default: "
                   f"the model's, else {align.DEFAULT_MARGIN}); at least 0.")
flags.DEFINE_bool("upright", DEFAULTS.upright,
                  "Turn each crop so the eyes lie on a horizontal line.")
flags.DEFINE_integer("min_face_size", DEFAULTS.min_face_size,
                     "Smallest face side (pixels) to look for (at least 12).")


def label(inputs: list[str]) -> int:
  """`predict.run` on `inputs` with the flags' options (a value out of range is a user error)."""
  options = predict.Options(**{field.name: flags.FLAGS[field.name].value
                               for field in dataclasses.fields(predict.Options)})
  return predict.run(inputs, options)


def main(argv: list[str]) -> None:
  sys.exit(cli.run(label, argv[1:]))


if __name__ == "__main__":
  cli.main(main)
