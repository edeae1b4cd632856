"""Face crops as the expression networks were trained on them: square, optionally upright,
grayscale.

Paper 000 (section 3.1) detects faces with MTCNN, crops them, converts them to grayscale and resizes
them to the network's input; FER2013 and CK+48 hold such crops. `crop_face` does the same for any
image and box: a square around the box's centre, `margin` of its side added on every side, turned so
that the eyes lie on a horizontal line when landmarks are given, sampled at the image's own
resolution and then resized to `size` with a Lanczos filter (which low-pass filters when shrinking,
so large faces do not alias). Pixels outside the image are black, as in `ferjax.data.augment`'s
warps.
"""

import math
from typing import Sequence

import numpy as np
from PIL import Image

# FER2013 and CK+48 are framed like MTCNN's box: on their crops (upscaled 3x onto a larger canvas),
# the detected box's side is 0.98x (FER2013) and 1.04x (CK+48) the crop's side (median of 150 each;
# measured by `python -m ferjax.faces.framing`), so the crop needs no margin to match the training
# data.
DEFAULT_MARGIN = 0.0


def grayscale(image: np.ndarray) -> np.ndarray:
  """uint8 (H, W), (H, W, 1) or (H, W, 3) RGB -> uint8 (H, W), with ITU-R 601 luma as PIL computes
  it."""
  image = np.asarray(image)
  if image.dtype != np.uint8:
    raise ValueError(f"expected a uint8 image, got dtype {image.dtype}")
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if image.ndim == 2:
    return image
  if image.ndim == 3 and image.shape[-1] == 3:
    return np.asarray(Image.fromarray(image, "RGB").convert("L"))
  raise ValueError(f"expected an image of shape (H, W), (H, W, 1) or (H, W, 3), got {image.shape}")


def eye_angle(landmarks: np.ndarray) -> float:
  """Angle (radians) of the line from the left eye to the right eye (landmarks rows 0 and 1,
  (x, y))."""
  (left_x, left_y), (right_x, right_y) = np.asarray(landmarks, np.float64)[:2]
  return math.atan2(right_y - left_y, right_x - left_x)


def square_around(box: Sequence[float], margin: float) -> tuple[float, float, float]:
  """(centre x, centre y, side) of the square on box (x1, y1, x2, y2) widened by `margin` per
  side."""
  x1, y1, x2, y2 = (float(v) for v in box)
  if not (x2 > x1 and y2 > y1):
    raise ValueError(f"expected a box (x1, y1, x2, y2) with x2 > x1 and y2 > y1, got {tuple(box)}")
  return (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * (1 + 2 * margin)


def crop_face(image: np.ndarray, box: Sequence[float], landmarks: np.ndarray | None = None, *,
              size: int = 48, margin: float = DEFAULT_MARGIN, upright: bool = True) -> np.ndarray:
  """uint8 (size, size) grayscale crop of the face in `box`, turned upright by the eye line if
  `landmarks` (5, 2) are given and `upright` is set."""
  gray = Image.fromarray(grayscale(image), "L")
  cx, cy, side = square_around(box, margin)
  angle = eye_angle(landmarks) if (landmarks is not None and upright) else 0.0
  pixels = max(size, round(side))  # Sample at the source's resolution, then resize once.
  scale = side / pixels
  cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
  # PIL maps each output pixel (u, v) to the source point (a u + b v + c, d u + e v + f): the
  # output's x axis runs along the eye line, and the output's centre lands on the square's centre.
  half = pixels / 2
  coefficients = (cos, -sin, cx - cos * half + sin * half, sin, cos, cy - sin * half - cos * half)
  square = gray.transform((pixels, pixels), Image.Transform.AFFINE, coefficients,
                          resample=Image.Resampling.BILINEAR, fillcolor=0)
  if pixels != size:
    square = square.resize((size, size), Image.Resampling.LANCZOS)
  return np.asarray(square)
