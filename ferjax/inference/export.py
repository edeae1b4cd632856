"""A trained classifier in one file, runnable without ferjax's training code, configs or workdir.

`export(classifier, path)` writes a zip with three members:
  model.jaxexport  the inference function (uint8 face crops -> class probabilities, the evaluation
                   preprocessing included) serialised by `jax.export` for CPU, CUDA and TPU, with a
                   symbolic batch size;
  weights.npz      its variables, keyed by their '/'-joined paths;
  meta.json        class names, input size, normalisation, the crop margin, and where it came from.
`PortableClassifier.load(path)` needs only JAX and NumPy: `probabilities(crops)` runs the stored
program.
"""

import dataclasses
import io
import json
import os
import zipfile
from typing import Any

import jax
import numpy as np
from flax import traverse_util

from ferjax.inference import buckets

FORMAT = "ferjax-portable/1"
PLATFORMS = ("cpu", "cuda", "tpu")
_MEMBERS = ("model.jaxexport", "weights.npz", "meta.json")


def export(classifier, path: os.PathLike, margin: float) -> None:
  """Writes `classifier` (a `ferjax.inference.classifier.Classifier`) to `path` as one portable
  file."""
  variables = jax.tree.map(np.asarray, classifier.variables)
  size = classifier.preprocessing.size

  def probabilities(variables: dict, crops: jax.Array) -> jax.Array:
    return jax.nn.softmax(
        classifier.model.apply(variables, classifier.preprocessing.inputs(crops))[0], -1)

  crops = jax.ShapeDtypeStruct(jax.export.symbolic_shape(f"batch, {size}, {size}"), np.uint8)
  exported = jax.export.export(jax.jit(probabilities), platforms=PLATFORMS)(
      jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), variables), crops)
  weights = io.BytesIO()
  np.savez(weights, **traverse_util.flatten_dict(jax.tree.map(np.asarray, variables), sep="/"))
  meta = {
      "format": FORMAT, "class_names": classifier.class_names, "size": size,
      "mean": classifier.preprocessing.mean, "std": classifier.preprocessing.std, "margin": margin,
      "source": classifier.source, "model": classifier.config.model.to_dict()
  }
  with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
    archive.writestr("model.jaxexport", bytes(exported.serialize()))
    archive.writestr("weights.npz", weights.getvalue())
    archive.writestr("meta.json", json.dumps(meta, indent=2))


@dataclasses.dataclass
class PortableClassifier:
  """An exported classifier: `probabilities` of uint8 (N, size, size) grayscale face crops."""

  exported: Any
  variables: dict
  meta: dict
  source: str = ""

  @classmethod
  def load(cls, path: os.PathLike) -> "PortableClassifier":
    try:
      with zipfile.ZipFile(path) as archive:
        missing = [m for m in _MEMBERS if m not in archive.namelist()]
        if missing:
          raise ValueError(f"{path} is not a ferjax portable model: it lacks {', '.join(missing)}")
        meta = json.loads(archive.read("meta.json"))
        with np.load(io.BytesIO(archive.read("weights.npz"))) as weights:
          flat = {key: weights[key] for key in weights.files}
          variables = traverse_util.unflatten_dict(flat, sep="/")
        exported = jax.export.deserialize(bytearray(archive.read("model.jaxexport")))
    except zipfile.BadZipFile:
      raise ValueError(f"{path} is not a ferjax portable model (not a zip file)") from None
    if meta.get("format") != FORMAT:
      raise ValueError(
          f"{path}: unsupported format {meta.get('format')!r}; this loader reads {FORMAT}")
    return cls(exported, variables, meta, source=f"{path} (from {meta['source']})")

  @property
  def class_names(self) -> list[str]:
    return self.meta["class_names"]

  @property
  def size(self) -> int:
    return self.meta["size"]

  def probabilities(self, crops: np.ndarray, tta: bool = False) -> np.ndarray:
    """(N, classes) softmax of the crops (the batch padded to a bucket, so few sizes compile)."""
    if tta:
      raise ValueError(
          "a portable model holds the plain evaluation path only; test-time augmentation "
          "needs the workdir (--workdir ... --tta)")
    crops = np.asarray(crops)
    if crops.dtype != np.uint8 or crops.shape[1:] != (self.size, self.size):
      raise ValueError(f"expected uint8 crops of shape (N, {self.size}, {self.size}), "
                       f"got {crops.dtype} {crops.shape}")
    if len(crops) == 0:
      return np.zeros((0, len(self.class_names)), np.float32)
    return np.asarray(self.exported.call(self.variables, buckets.pad(crops)))[:len(crops)]
