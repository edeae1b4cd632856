"""A trained classifier as an ONNX file, for runtimes without JAX (onnxruntime, mobile, browser).

`export_onnx(classifier, path, margin)` converts the same function as the portable file
(`ferjax.inference.preprocessing.probabilities`: uint8 face crops -> class probabilities) with
jax2onnx, the weights as constants and the evaluation preprocessing (scaling to [0, 1], the
training's mean and std, and the histogram equalisation where the training images had it) written
into the graph. Its one input `crops` is uint8 (batch, size, size),
grayscale, batch size free; its one output `probabilities` is float32 (batch, classes). The file's
metadata (`metadata_props`) hold what a caller needs around the graph:

  ferjax_format  "ferjax-onnx/1"
  class_names    JSON list, in output order
  size           the crop side in pixels
  mean, std      the normalisation already in the graph (for reference)
  equalize       "true" where the graph histogram-equalises each crop first, as the training
                 images were (`ferjax.data.histogram`)
  margin         the crop margin per side, as a fraction of the face box
  input          how to make the input (grayscale, square crop, uint8)
  source, model  where the weights came from; the model's config (JSON)
"""

import json
import logging
import os

import jax
import numpy as np

from ferjax.faces import extra
from ferjax.inference import export
from ferjax.inference import preprocessing as preprocessing_lib

FORMAT = "ferjax-onnx/1"
INPUT = "crops"
OUTPUT = "probabilities"


def metadata(classifier, margin: float) -> dict[str, str]:
  """The file's metadata_props: `export.describe`'s values as strings (JSON where not already
  strings), as ONNX requires, and how to make the input."""
  size = classifier.preprocessing.size
  described = {key: value if isinstance(value, str) else json.dumps(value)
               for key, value in export.describe(classifier, margin).items()}
  return {"ferjax_format": FORMAT, **described,
          "input": (f"{INPUT}: uint8 (batch, {size}, {size}) grayscale face crops, square around "
                    "the face box widened by margin per side; the graph scales and normalises "
                    "them")}


def export_onnx(classifier, path: os.PathLike, margin: float) -> None:
  """Writes `classifier` (a `Classifier`) to `path` as one self-contained ONNX file."""
  jax2onnx = extra.require("jax2onnx", extra="onnx")
  onnx = extra.require("onnx", extra="onnx")
  variables = jax.tree.map(np.asarray, classifier.variables)
  size = classifier.preprocessing.size

  def probabilities(crops: jax.Array) -> jax.Array:
    return preprocessing_lib.probabilities(classifier.model, classifier.preprocessing, variables,
                                           crops)

  batch = jax.export.symbolic_shape("batch")[0]
  # onnx_ir warns of every shape-only value it writes; the conversion is checked by tests instead.
  logging.getLogger("onnx_ir").setLevel(logging.ERROR)
  graph = jax2onnx.to_onnx(probabilities, [jax.ShapeDtypeStruct((batch, size, size), np.uint8)],
                           model_name="ferjax", input_names=[INPUT], output_names=[OUTPUT])
  # jax2onnx annotates some intermediate values in the wrong layout (NCHW for NHWC), which
  # onnxruntime reports at every load; the annotations are optional hints, so they are dropped.
  del graph.graph.value_info[:]
  for key, value in metadata(classifier, margin).items():
    graph.metadata_props.add(key=key, value=value)
  onnx.save(graph, os.fspath(path))
