"""`python -m ferjax.export`: write a trained workdir's classifier as one file that predicts without
the training code.

  python -m ferjax.export --workdir=workdirs/cka_quick --out=cka_quick.ferjax  # jax.export
  python -m ferjax.export --workdir=workdirs/cka_quick --out=cka_quick.onnx    # '.[onnx]'
  python -m ferjax.predict --model=cka_quick.ferjax photo.jpg
  python -m ferjax.export --model=fer2013 --out=fer2013.onnx     # the shipped model as ONNX

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
_MODEL = flags.DEFINE_string("model", None, "Instead of --workdir: a portable file, or the name of "
                             "a model that ships with ferjax ('fer2013'), e.g. to write its ONNX.")
_OUT = flags.DEFINE_string("out", None, "The file to write: ONNX if it ends in .onnx, else one "
                           "portable file.")
_RUN = flags.DEFINE_integer("run", None, "Which of the workdir's runs (default: best validation "
                            "accuracy; run 0 without a validation split).")
_FOLD = flags.DEFINE_integer("fold", 0, "For a CK+ workdir trained on all folds: the fold's model.")
_MARGIN = flags.DEFINE_float("margin", None, "Crop margin per side the model expects, as a "
                             "fraction of the face box (default: a portable source's own, else "
                             f"{align.DEFAULT_MARGIN}).", lower_bound=0.0)


def export(source: str, out: str, run: int | None, fold: int, margin: float | None) -> None:
  """Writes the classifier of `source` (a workdir, its run `run` of fold `fold`; a portable file;
  a shipped model's name) to `out`, for crops cut with `margin` (default: the source's own, else
  `align.DEFAULT_MARGIN`)."""
  from ferjax.inference import classifier as classifier_lib
  classifier = classifier_lib.load(source, run, fold)
  margin = classifier.crop_margin(margin)
  print(f"model: {classifier.source}; classes: {', '.join(classifier.class_names)}",
        file=sys.stderr)
  pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)
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
  if (_WORKDIR.value is None) == (_MODEL.value is None):
    raise app.UsageError("give exactly one of --workdir and --model")
  cli.run(export, _WORKDIR.value or _MODEL.value, _OUT.value, _RUN.value, _FOLD.value,
          _MARGIN.value)


if __name__ == "__main__":
  flags.mark_flags_as_required(["out"])
  cli.main(main)
