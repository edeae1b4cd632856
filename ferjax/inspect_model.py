"""Runs the configured network on one real image and prints what it predicts.

This is the main job until training lands (issue 4): it proves that the install works, that the
archive is readable and that the full model runs forward on a real face. The weights are the random
initialisation, so the probabilities are those of an untrained network.
"""

import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ferjax.data import archive, ckplus
from ferjax.models import get_model


def read_archive_image(path: os.PathLike, member: str | None = None) -> tuple[str, np.ndarray]:
  """One image of a CK+48 archive (the first if `member` is None) as (member, (H, W) uint8)."""
  with archive.Archive(path) as source:
    if member is None:
      member = next(m for m in source.members() if m.lower().endswith(".png"))
    return member, source.image(member)


def to_model_input(image: np.ndarray, size: int) -> jax.Array:
  """(H, W) uint8 -> (1, size, size, 1) float32 in [0, 1], bilinear resize."""
  x = jnp.asarray(image, jnp.float32)[None, :, :, None] / 255.0
  return jax.image.resize(x, (1, size, size, 1), "bilinear")


def run(config: ml_collections.ConfigDict, member: str | None = None) -> dict[str, float]:
  """Builds the model of `config`, runs it on one archive image and prints the class probabilities."""
  path = ckplus.Ckplus.locate(config.manual_dir)
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
