"""A trained classifier in one file, runnable without ferjax's training code, configs or workdir.

`export(classifier, path)` writes a zip with three members:
  model.jaxexport  the inference function (uint8 face crops -> class probabilities, the evaluation
                   preprocessing included) serialised by `jax.export` for CPU, CUDA and TPU, with a
                   symbolic batch size;
  weights.npz      its variables, keyed by their '/'-joined paths;
  meta.json        class names, input size, normalisation, whether crops are histogram-equalised
                   first (the function does it), the crop margin, the model's config, the
                   JAX version that serialised it and where it came from.
`PortableClassifier.load(path)` needs only JAX and NumPy: `probabilities(crops)` runs the stored
program.

A serialisation outlives few JAX releases: since JAX 0.11.1, `jax.export.deserialize` refuses one
older than its compatibility window. The file keeps the weights and the model's config, so where the
running JAX refuses the stored function and ferjax is installed, `load` rebuilds the network
(`ferjax.models.get_model`), serialises it anew, writes that into the file in place and says so on
stderr; later loads find the new serialisation and say nothing.
"""

import dataclasses
import functools
import io
import json
import os
import pathlib
import sys
import tempfile
import zipfile
from typing import Any

import jax
import numpy as np
from flax import traverse_util

from ferjax.data import buckets

FORMAT = "ferjax-portable/1"
PLATFORMS = ("cpu", "cuda", "tpu")
FUNCTION = "model.jaxexport"
_MEMBERS = (FUNCTION, "weights.npz", "meta.json")


def serialize(model, preprocessing, variables: dict) -> bytes:
  """`preprocessing.probabilities` of `model` serialised by `jax.export`, batch size symbolic."""
  from ferjax.inference.preprocessing import probabilities
  size = preprocessing.size
  function = jax.jit(functools.partial(probabilities, model, preprocessing))
  crops = jax.ShapeDtypeStruct(jax.export.symbolic_shape(f"batch, {size}, {size}"), np.uint8)
  specs = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), variables)
  return bytes(jax.export.export(function, platforms=PLATFORMS)(specs, crops).serialize())


def describe(classifier, margin: float) -> dict:
  """What a caller needs around an exported network (both file formats hold it): class names in
  output order, crop size, normalisation, crop margin, where the weights came from, the model's
  config (so the network can be rebuilt)."""
  preprocessing = classifier.preprocessing
  return {"class_names": classifier.class_names, "size": preprocessing.size,
          "mean": preprocessing.mean, "std": preprocessing.std,
          "equalize": preprocessing.equalize, "margin": margin,
          "source": classifier.source, "model": classifier.config.model.to_dict()}


def export(classifier, path: os.PathLike, margin: float) -> None:
  """Writes `classifier` (a `ferjax.inference.classifier.Classifier`) to `path` as one portable
  file."""
  variables = jax.tree.map(np.asarray, classifier.variables)
  weights = io.BytesIO()
  np.savez(weights, **traverse_util.flatten_dict(variables, sep="/"))
  meta = {"format": FORMAT, **describe(classifier, margin), "jax": jax.__version__}
  with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
    archive.writestr(FUNCTION, serialize(classifier.model, classifier.preprocessing, variables))
    archive.writestr("weights.npz", weights.getvalue())
    archive.writestr("meta.json", json.dumps(meta, indent=2))


def read(path: os.PathLike) -> tuple[dict, dict, bytes]:
  """(meta, variables, serialised function) of a portable file, checked to be one."""
  try:
    with zipfile.ZipFile(path) as archive:
      missing = [m for m in _MEMBERS if m not in archive.namelist()]
      if missing:
        raise ValueError(f"{path} is not a ferjax portable model: it lacks {', '.join(missing)}")
      meta = json.loads(archive.read("meta.json"))
      with np.load(io.BytesIO(archive.read("weights.npz"))) as weights:
        flat = {key: weights[key] for key in weights.files}
        variables = traverse_util.unflatten_dict(flat, sep="/")
      serialized = archive.read(FUNCTION)
  except zipfile.BadZipFile:
    raise ValueError(f"{path} is not a ferjax portable model (not a zip file)") from None
  if meta.get("format") != FORMAT:
    raise ValueError(
        f"{path}: unsupported format {meta.get('format')!r}; this loader reads {FORMAT}")
  return meta, variables, serialized


def preprocessing_of(meta: dict):
  """The `Preprocessing` a portable file's meta describes."""
  from ferjax.inference.preprocessing import Preprocessing
  return Preprocessing(meta["size"], meta["mean"], meta["std"], meta.get("equalize", False))


@dataclasses.dataclass
class PortableClassifier:
  """An exported classifier: `probabilities` of uint8 (N, size, size) grayscale face crops."""

  exported: Any
  variables: dict
  meta: dict
  source: str = ""

  @classmethod
  def load(cls, path: os.PathLike) -> "PortableClassifier":
    meta, variables, serialized = read(path)
    try:
      exported = jax.export.deserialize(bytearray(serialized))
    except Exception as error:  # Whatever the running JAX refuses: an expired or a damaged program.
      exported = rebuild(pathlib.Path(path), meta, variables, error)
    return cls(exported, variables, meta, source=f"{path} (from {meta['source']})")

  @property
  def class_names(self) -> list[str]:
    return self.meta["class_names"]

  @property
  def size(self) -> int:
    return self.meta["size"]

  @property
  def margin(self) -> float | None:
    return self.meta.get("margin")

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


def rebuild(path: pathlib.Path, meta: dict, variables: dict, error: Exception) -> Any:
  """The inference function serialised anew from the file's config and weights, written into the
  file in place of the one the running JAX refused (or kept for this run if the file is read-only).
  """
  refused = (f"{path}: JAX {jax.__version__} cannot load the function serialised by JAX "
             f"{meta.get('jax', 'an earlier release')} ({type(error).__name__}: {error})")
  try:
    from ferjax import models
  except ImportError:
    raise ValueError(f"{refused}; rebuilding it from the file's weights needs ferjax "
                     "installed") from error
  serialized = serialize(models.from_stored(meta["model"]), preprocessing_of(meta), variables)
  try:
    replace_function(path, serialized, dict(meta, jax=jax.__version__))
    done = f"rebuilt it from the weights and config and wrote it into {path}"
  except OSError as write_error:
    done = (f"rebuilt it from the weights and config for this run (rewriting the file failed: "
            f"{write_error})")
  print(f"{refused}; {done}", file=sys.stderr, flush=True)
  return jax.export.deserialize(bytearray(serialized))


def replace_function(path: pathlib.Path, serialized: bytes, meta: dict) -> None:
  """Rewrites the zip with `serialized` as its function and `meta` as its meta.json, atomically."""
  with zipfile.ZipFile(path) as archive:
    kept = {name: archive.read(name) for name in archive.namelist()
            if name not in (FUNCTION, "meta.json")}
  with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
    temporary = pathlib.Path(handle.name)
  try:
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
      archive.writestr(FUNCTION, serialized)
      for name, data in kept.items():
        archive.writestr(name, data)
      archive.writestr("meta.json", json.dumps(meta, indent=2))
    os.replace(temporary, path)
  finally:
    temporary.unlink(missing_ok=True)
