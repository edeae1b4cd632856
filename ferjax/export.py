"""`python -m ferjax.export`: write a trained workdir's classifier as one file that predicts without
the training code.

  python -m ferjax.export --workdir=workdirs/cka_quick --out=cka_quick.ferjax  # jax.export
  python -m ferjax.export --workdir=workdirs/cka_quick --out=cka_quick.onnx    # '.[onnx]'
  python -m ferjax.predict --model=cka_quick.ferjax photo.jpg

The portable file (`ferjax.inference.export`) holds the serialised inference function, the class
names and the crop it expects; the ONNX file (`ferjax.inference.onnx_export`) runs with onnxruntime
alone. Both take face crops as the training data were cut (`ferjax.faces.align`) with `--margin`.
"""

import pathlib
import sys

from absl import app, flags

from ferjax import cli
from ferjax.faces import align

_WORKDIR = flags.DEFINE_string("workdir", None, "A workdir trained by python -m ferjax.main.")
_OUT = flags.DEFINE_string("out", None, "The file to write: ONNX if it ends in .onnx, else one "
                           "portable file.")
_RUN = flags.DEFINE_integer("run", None, "Which of the workdir's runs (default: best validation "
                            "accuracy; run 0 without a validation split).")
_FOLD = flags.DEFINE_integer("fold", 0, "For a CK+ workdir trained on all folds: the fold's model.")
_MARGIN = flags.DEFINE_float("margin", align.DEFAULT_MARGIN, "Crop margin per side the model "
                             "expects, as a fraction of the face box.", lower_bound=0.0)


def export(workdir: str, out: str, run: int | None, fold: int, margin: float) -> None:
  """Writes the classifier of `workdir` (its run `run` of fold `fold`) to `out`."""
  from ferjax.inference.classifier import Classifier
  classifier = Classifier.from_workdir(workdir, run, fold)
  print(f"model: {classifier.source}; classes: {', '.join(classifier.class_names)}",
        file=sys.stderr)
  if pathlib.Path(out).suffix.lower() == ".onnx":
    from ferjax.inference import onnx_export
    onnx_export.export_onnx(classifier, out, margin)
  else:
    from ferjax.inference import export as portable
    portable.export(classifier, out, margin)
  print(f"wrote {out}", file=sys.stderr)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  cli.run(export, _WORKDIR.value, _OUT.value, _RUN.value, _FOLD.value, _MARGIN.value)


if __name__ == "__main__":
  flags.mark_flags_as_required(["workdir", "out"])
  cli.main(main)
