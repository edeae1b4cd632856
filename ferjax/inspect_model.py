"""Runs the configured network on one real image and prints what it predicts.

This is the main job until training lands (issue 4): it proves that the install works, that the
archive is readable and that the full model runs forward on a real face. The weights are the random
initialisation, so the probabilities are those of an untrained network.
"""

import io
import os
import time
import zipfile
from typing import Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from PIL import Image

from ferjax.models import get_model

CKPLUS_SOURCE = ("CK+48.zip is the widely used face-cropped CK+ distribution "
                 "(CK+48/<class>/S<subject>_<sequence>_<frame>.png, e.g. from Kaggle's 'CK+48' dataset)")


def archive_path(config: ml_collections.ConfigDict) -> str:
  """The dataset archive the config names, or FileNotFoundError saying where to put it."""
  path = os.path.join(config.manual_dir, config.archive)
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"dataset archive not found: {path}. Put {config.archive} in {config.manual_dir!r} or point "
        f"FERJAX_MANUAL_DIR at the folder holding it. {CKPLUS_SOURCE}.")
  return path


def read_archive_image(path: str, member: Optional[str] = None) -> tuple[str, np.ndarray]:
  """Reads one PNG/JPEG from a zip (the first image if `member` is None) as a (H, W) uint8 array."""
  with zipfile.ZipFile(path) as archive:
    names = [n for n in archive.namelist() if n.lower().endswith((".png", ".jpg", ".jpeg"))]
    if not names:
      raise ValueError(f"{path} holds no .png/.jpg images")
    member = member or names[0]
    try:
      data = archive.read(member)
    except KeyError:
      raise ValueError(f"{path} has no member {member!r}") from None
  try:
    image = Image.open(io.BytesIO(data)).convert("L")
  except OSError as error:
    raise ValueError(f"cannot decode {member!r} in {path}: {error}") from None
  return member, np.asarray(image)


def to_model_input(image: np.ndarray, size: int) -> jax.Array:
  """(H, W) uint8 -> (1, size, size, 1) float32 in [0, 1], bilinear resize."""
  x = jnp.asarray(image, jnp.float32)[None, :, :, None] / 255.0
  return jax.image.resize(x, (1, size, size, 1), "bilinear")


def run(config: ml_collections.ConfigDict, member: Optional[str] = None) -> dict[str, float]:
  """Builds the model of `config`, runs it on one archive image and prints the class probabilities."""
  path = archive_path(config)
  member, image = read_archive_image(path, member)
  x = to_model_input(image, config.image_size)
  model = get_model(config.model.name, **config.model.options)
  start = time.perf_counter()
  variables = jax.jit(model.init)(jax.random.key(config.seed), x)
  logits, aux = jax.jit(model.apply)(variables, x)
  probabilities = np.asarray(jax.nn.softmax(logits[0]))
  seconds = time.perf_counter() - start
  num_params = sum(p.size for p in jax.tree.leaves(variables["params"]))
  options = ", ".join(f"{k}={v}" for k, v in config.model.options.items())
  print(f"model: {config.model.name}({options}), {num_params:,} parameters, untrained weights")
  print(f"image: {member} from {path}, input {tuple(x.shape)}")
  print("aux: " + ", ".join(f"{k} {jax.tree.map(lambda a: tuple(a.shape), v)}"
                             for k, v in sorted(aux.items())))
  print(f"init + forward on {jax.devices()[0].platform}: {seconds:.1f} s")
  print("class probabilities:")
  for name, p in zip(config.classes, probabilities):
    print(f"  {name:<10} {p:.4f}")
  return dict(zip(config.classes, map(float, probabilities)))
