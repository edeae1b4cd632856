"""Per-image histogram equalisation: the reference on the host, the same map inside a jitted (and
exported) graph, and the test of whether a set of images is equalised already.

The FER2013 archive ferjax is developed on holds images equalised one by one (OpenCV's
equalizeHist), while the face crops a trained network later labels are raw. A network trained on
equalised images must see its crops equalised the same way: `equalize_crops` is that step in
`ferjax.inference`'s preprocessing, so the workdir's classifier, the portable file and the ONNX file
all apply it.

OpenCV's form (imgproc/src/histogram.cpp): with h the 256-bin histogram of an image of N pixels,
cdf(v) = sum_{u <= v} h(u) and d = cdf(min) the count of its darkest value,

    v  ->  round((cdf(v) - d) * (255 / (N - d)))        (float32, rounded half to even)

and an image of one value is left as it is.
"""

import jax
import jax.numpy as jnp
import numpy as np

LEVELS = 256
# Equalising an equalised image again moves its pixels little: on the FER2013 archive the mean
# absolute move per image has median 1.3 levels (95th percentile 9.4), against 24.8 for CK+'s raw
# crops and 22.8 for the archive's images after a gamma of 1.5 (400 images each). `is_equalized`
# splits at this median move.
EQUALIZED_MOVE = 6.0


def equalize(pixels: np.ndarray) -> np.ndarray:
  """OpenCV's equalizeHist of one (H, W) uint8 image, in NumPy (the module docstring's map)."""
  cdf = np.cumsum(np.bincount(pixels.ravel(), minlength=LEVELS))
  darkest = cdf[pixels.min()]
  if darkest == pixels.size:
    return pixels
  scale = np.float32(LEVELS - 1) / np.float32(pixels.size - darkest)
  table = np.rint((cdf - darkest).clip(0).astype(np.float32) * scale).astype(np.uint8)
  return table[pixels]


def equalize_crops(crops: jax.Array) -> jax.Array:
  """`equalize` of every (H, W) uint8 image of (..., H, W), jittable, made of ops that both
  exporters (jax.export, jax2onnx) carry over: comparisons, sums, a matrix product, a gather.

  The histogram is the count of pixels equal to each level; the cumulative histogram its product
  with a triangular matrix of ones; each pixel's cdf a lookup. Counts stay below 2^24, so float32
  holds them exactly and the result is OpenCV's to the bit.
  """
  shape = crops.shape
  pixels = crops.reshape(*shape[:-2], shape[-2] * shape[-1])
  count = pixels.shape[-1]
  levels = pixels.astype(jnp.int32)
  histogram = (levels[..., None] == np.arange(LEVELS)).sum(axis=-2, dtype=jnp.float32)
  at_or_below = np.triu(np.ones((LEVELS, LEVELS), np.float32))  # [u, v] = 1 where u <= v.
  cdf = histogram @ at_or_below
  pixel_cdf = jnp.take_along_axis(cdf, levels, axis=-1)
  darkest = pixel_cdf.min(axis=-1, keepdims=True)
  scale = jnp.float32(LEVELS - 1) / jnp.maximum(count - darkest, 1.0)
  mapped = jnp.round((pixel_cdf - darkest) * scale).astype(crops.dtype)
  return jnp.where(darkest == count, pixels, mapped).reshape(shape)


def median_move(images: np.ndarray) -> float:
  """Median over (N, H, W) uint8 images of the mean absolute change, in levels, that equalising
  each one makes."""
  moves = [np.abs(equalize(image).astype(np.int16) - image).mean() for image in images]
  return float(np.median(moves))


def is_equalized(images: np.ndarray) -> bool:
  """Whether (N, H, W) uint8 images look histogram-equalised one by one (see EQUALIZED_MOVE)."""
  return median_move(images) < EQUALIZED_MOVE
