"""From uint8 face crops to class probabilities: the evaluation preprocessing and the network.

The one function every way of running a trained network shares: `Classifier` (jitted), the portable
file (serialised by `jax.export`) and the ONNX file (converted by jax2onnx) all hold
`probabilities`, so the three give the same numbers for the same crops.
"""

import dataclasses
from typing import Any

import flax.linen as nn
import jax

from ferjax.data import augment, histogram


@dataclasses.dataclass(frozen=True)
class Preprocessing:
  """How a face crop becomes the network's input: side in pixels, grayscale normalisation, and
  whether each crop is histogram-equalised first (as the training images were: the workdir's
  config.json records it, see `ferjax.train.config_file`)."""

  size: int
  mean: float
  std: float
  equalize: bool = False

  def inputs(self, crops: jax.Array, tta: bool = False) -> jax.Array:
    """uint8 (B, size, size) crops -> float (B, size, size, 1), or (12, B, ...) views with `tta`."""
    if self.equalize:
      crops = histogram.equalize_crops(crops)
    images = crops[..., None]
    if tta:
      return augment.tta_views(images, size=self.size, mean=self.mean, std=self.std)
    return augment.preprocess_eval(images, size=self.size, mean=self.mean, std=self.std)


def probabilities(model: nn.Module, preprocessing: Preprocessing, variables: Any,
                  crops: jax.Array, tta: bool = False) -> jax.Array:
  """(B, classes) softmax of uint8 (B, size, size) crops; with `tta`, the mean over the 12 views."""
  inputs = preprocessing.inputs(crops, tta)
  softmax = lambda view: jax.nn.softmax(model.apply(variables, view)[0], axis=-1)
  return jax.vmap(softmax)(inputs).mean(axis=0) if tta else softmax(inputs)
