"""On-device augmentation in pure JAX: one affine bilinear warp per example, random erasing, TTA
views.

Batches of uint8 faces (B, H, W, C) are augmented inside the jitted train step, with one PRNG key
per example, so no host work is needed per step. Every function here is jit- and vmap-able and has
static output shapes.

Conventions. A single image is (H, W, C). x runs along W (columns, rightwards) and y along H (rows,
downwards). The pixel in row i, column j has its centre at the continuous point (x, y) = (j + 0.5,
i + 0.5), so an image covers the rectangle [0, W] x [0, H]. A warp matrix is 3x3 (the last row is
taken to be [0, 0, 1]; a 2x3 matrix works too) and maps homogeneous *output* points (x, y, 1) to the
*input* point sampled there, so each output pixel is one bilinear sample. Positive angles rotate the
content counter-clockwise as displayed (rows downwards), like `np.rot90` and PIL's `Image.rotate`,
about the image centre. Points inside the input rectangle are interpolated with edge clamping, so an
upsampling warp agrees with `jax.image.resize(..., "bilinear")` up to the image border; outside the
rectangle the value fades linearly to `fill` (default 0, i.e. black) over one input pixel, which
antialiases the edge of a rotated image.

Flip, rotation, crop/scale and resize are all thin wrappers over `warp`; `augment_batch` composes
them into one matrix per example and resamples once, so repeated interpolation never blurs the
faces.
"""

import dataclasses
import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import ml_collections
from jax.typing import ArrayLike

Size = int | tuple[int, int]
# A region of the input as (centre x, centre y, width, height), in continuous pixel coordinates.
Box = tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike]

ROTATIONS = ("uniform", "discrete", "none")
# Paper 000 (Chen & Chen 2024, section 3.1): rotations of +-10 degrees at 5-degree intervals.
PAPER_ANGLES = (-10.0, -5.0, 0.0, 5.0, 10.0)
# Mirror states as (mirror left-right, extra rotation in degrees): a vertical mirror is the
# left-right mirror turned by 180 degrees. Paper 002 (section 2.7.2) mirrors each image "to three
# times the number of original samples": ferjax reads the three states as the image, its left-right
# and its top-bottom mirror (neither paper names them), which with the 5 angles gives both papers'
# "15 times".
MIRRORS = {"none": (False, 0.0), "horizontal": (True, 0.0), "vertical": (True, 180.0)}
PAPER_MIRRORS = ("none", "horizontal", "vertical")
TTA_VIEW_NAMES = (
    "identity", "hflip", "top_left", "top_left_hflip", "top_right", "top_right_hflip",
    "bottom_left", "bottom_left_hflip", "bottom_right", "bottom_right_hflip",
    "center", "center_hflip",
)


def to_float(images: ArrayLike) -> jax.Array:
  """uint8 pixels -> float32 in [0, 1], the range every other function here works in."""
  return jnp.asarray(images, jnp.float32) / 255.0


def normalize(images: ArrayLike, mean: float | Sequence[float] = 0.0,
              std: float | Sequence[float] = 1.0) -> jax.Array:
  """(images - mean) / std; a sequence gives one value per channel (the last axis)."""
  mean = jnp.asarray(mean, jnp.float32)
  std = jnp.asarray(std, jnp.float32)
  return (jnp.asarray(images, jnp.float32) - mean) / std


def _pair(size: Size) -> tuple[int, int]:
  """An int side or an (height, width) pair as (height, width)."""
  return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _coverage(t: jax.Array, extent: int) -> jax.Array:
  """1 inside [0, extent], falling linearly to 0 at one pixel outside it."""
  return jnp.clip(1.0 + jnp.minimum(t, extent - t), 0.0, 1.0)


def _sample(image: jax.Array, xs: jax.Array, ys: jax.Array, fill: float) -> jax.Array:
  """Bilinear samples (..., C) of `image` (H, W, C) at continuous points `xs`, `ys` (same shape).

  Integer pixel positions return the pixel exactly (the other taps get weight 0), so flips and
  identity warps are lossless.
  """
  height, width = image.shape[:2]
  cols = jnp.clip(xs - 0.5, 0.0, width - 1.0)
  rows = jnp.clip(ys - 0.5, 0.0, height - 1.0)
  col0, row0 = jnp.floor(cols), jnp.floor(rows)
  wx, wy = (cols - col0)[..., None], (rows - row0)[..., None]
  c0, r0 = col0.astype(jnp.int32), row0.astype(jnp.int32)
  c1, r1 = jnp.minimum(c0 + 1, width - 1), jnp.minimum(r0 + 1, height - 1)
  top = image[r0, c0] * (1.0 - wx) + image[r0, c1] * wx
  bottom = image[r1, c0] * (1.0 - wx) + image[r1, c1] * wx
  value = top * (1.0 - wy) + bottom * wy
  inside = (_coverage(xs, width) * _coverage(ys, height))[..., None]
  return value * inside + fill * (1.0 - inside)


def warp(image: ArrayLike, matrix: ArrayLike, out_size: Size, fill: float = 0.0) -> jax.Array:
  """Affine bilinear resampling of one image (H, W, C) to float32 (out_h, out_w, C).

  `matrix` maps output pixel-centre coordinates (x, y, 1) to input coordinates (see the module
  docstring); the core of every geometric op here, one gather per output pixel.
  """
  out_h, out_w = _pair(out_size)
  m = jnp.asarray(matrix, jnp.float32)
  ys, xs = jnp.meshgrid(jnp.arange(out_h, dtype=jnp.float32) + 0.5,
                        jnp.arange(out_w, dtype=jnp.float32) + 0.5, indexing="ij")
  src_x = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
  src_y = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
  return _sample(jnp.asarray(image, jnp.float32), src_x, src_y, fill)


def _full_box(height: int, width: int) -> Box:
  """The whole image as a box."""
  return (width / 2.0, height / 2.0, float(width), float(height))


def _box_matrix(box: Box,
                out_size: Size,
                degrees: ArrayLike = 0.0,
                mirror: ArrayLike = False) -> jax.Array:
  """Output -> input matrix showing `box` of the input at `out_size`, rotated, then optionally
  mirrored.

  Output points are centred, mirrored (x -> -x), rotated (counter-clockwise content for positive
  `degrees`), scaled from output to box pixels and moved to the box centre; the rotation therefore
  turns the view about the box centre and may show input outside the box rather than fill.
  """
  out_h, out_w = _pair(out_size)
  cx, cy, box_w, box_h = (jnp.asarray(v, jnp.float32) for v in box)
  radians = jnp.deg2rad(jnp.asarray(degrees, jnp.float32))
  cos, sin = jnp.cos(radians), jnp.sin(radians)
  sign = jnp.where(mirror, -1.0, 1.0)
  sx, sy = box_w / out_w, box_h / out_h
  # input = box_centre + diag(sx, sy) @ R @ diag(sign, 1) @ (output - output_centre)
  linear = jnp.array([[sx * cos * sign, -sx * sin], [sy * sin * sign, sy * cos]])
  offset = jnp.stack([cx, cy]) - linear @ jnp.array([out_w / 2.0, out_h / 2.0])
  return jnp.concatenate([jnp.concatenate([linear, offset[:, None]], axis=1),
                          jnp.array([[0.0, 0.0, 1.0]])], axis=0)


def hflip(image: ArrayLike) -> jax.Array:
  """Mirrors one image (H, W, C) left-right; exact, as every sample lands on a pixel centre."""
  height, width = jnp.shape(image)[:2]
  return warp(image, _box_matrix(_full_box(height, width), (height, width), mirror=True),
              (height, width))


def rotate(image: ArrayLike, degrees: ArrayLike, fill: float = 0.0) -> jax.Array:
  """Rotates one image (H, W, C) about its centre, counter-clockwise for positive `degrees`.

  The output keeps the input size; corners brought in from outside the image get `fill`.
  """
  height, width = jnp.shape(image)[:2]
  matrix = _box_matrix(_full_box(height, width), (height, width), degrees=degrees)
  return warp(image, matrix, (height, width), fill)


def resize(images: ArrayLike, size: Size) -> jax.Array:
  """Bilinear resize of a batch (B, H, W, C) to (B, size, size, C) or (B, *size, C), half-pixel
  centres.

  Matches `jax.image.resize(..., "bilinear")` when upsampling. Downsampling takes one bilinear
  sample per pixel without antialiasing, fine for the mild shrinking of a crop/scale but not for
  large factors.
  """
  height, width = jnp.shape(images)[1:3]
  matrix = _box_matrix(_full_box(height, width), size)
  return jax.vmap(lambda image: warp(image, matrix, size))(images)


def random_erasing(key: jax.Array,
                   image: ArrayLike, prob: ArrayLike, area: tuple[float, float] = (0.02, 0.2),
                   aspect: tuple[float, float] = (0.3, 3.3), value: float = 0.0,
                   attempts: int = 10) -> jax.Array:
  """With probability `prob`, sets a random rectangle of one image (H, W, C) to `value`.

  Random erasing (Zhong et al., AAAI 2020): the rectangle's area is a uniform fraction in `area` of
  the image, its aspect (height / width) log-uniform in `aspect`, its position uniform over the
  places where it fits. The paper redraws until the rectangle fits; to keep static shapes `attempts`
  candidates are drawn at once and the first that fits is used (none fitting means no erasing).
  Applied as a mask, so the image is unchanged when nothing is erased.
  """
  image = jnp.asarray(image)
  height, width = image.shape[:2]
  k_shape, k_place = jax.random.split(key)
  area_u, aspect_u = jax.random.uniform(k_shape, (2, attempts))
  apply_u, top_u, left_u = jax.random.uniform(k_place, (3,))
  target = (area[0] + area_u * (area[1] - area[0])) * height * width
  ratio = jnp.exp(math.log(aspect[0]) + aspect_u * math.log(aspect[1] / aspect[0]))
  heights = jnp.round(jnp.sqrt(target * ratio)).astype(jnp.int32)
  widths = jnp.round(jnp.sqrt(target / ratio)).astype(jnp.int32)
  fits = (heights >= 1) & (widths >= 1) & (heights <= height) & (widths <= width)
  first = jnp.argmax(fits)
  h, w = heights[first], widths[first]
  top = jnp.floor(top_u * (height - h + 1)).astype(jnp.int32)
  left = jnp.floor(left_u * (width - w + 1)).astype(jnp.int32)
  rows = jnp.arange(height)[:, None]
  cols = jnp.arange(width)[None, :]
  inside = (rows >= top) & (rows < top + h) & (cols >= left) & (cols < left + w)
  erase = (apply_u < prob) & jnp.any(fits) & inside
  return jnp.where(erase[..., None], jnp.asarray(value, image.dtype), image)


def _angle(u: jax.Array, rotation: str, max_degrees: float, angles: Sequence[float]) -> jax.Array:
  """The rotation angle in degrees for the named policy, from a uniform draw `u` in [0, 1)."""
  if rotation == "uniform":
    return (2.0 * u - 1.0) * max_degrees
  if rotation == "discrete":
    index = jnp.minimum(jnp.floor(u * len(angles)).astype(jnp.int32), len(angles) - 1)
    return jnp.asarray(angles, jnp.float32)[index]
  return jnp.zeros((), jnp.float32)


def _crop_box(area_u: jax.Array, x_u: jax.Array, y_u: jax.Array, height: int, width: int,
              crop_scale: tuple[float, float]) -> Box:
  """A box with the image's aspect, area fraction uniform in `crop_scale`, placed uniformly inside.

  `area_u`, `x_u`, `y_u` are uniform draws in [0, 1) for its area and its horizontal and vertical
  place.
  """
  side = jnp.sqrt(crop_scale[0] + area_u * (crop_scale[1] - crop_scale[0]))
  box_w, box_h = side * width, side * height
  return (box_w / 2.0 + x_u * (width - box_w), box_h / 2.0 + y_u * (height - box_h), box_w, box_h)


def expansion_views(mirrors: Sequence[str] = PAPER_MIRRORS,
                    angles: Sequence[float] = PAPER_ANGLES) -> tuple[jax.Array, jax.Array]:
  """The fixed views of the papers' offline expansion: (mirror (V,) bool, degrees (V,) float32).

  View v = m * len(angles) + a is the image rotated by `angles[a]` about its centre, then mirrored
  by `mirrors[m]` (see MIRRORS): 3 x 5 = 15 views with the defaults, view 2 being the image itself.
  """
  unknown = sorted(set(mirrors) - set(MIRRORS))
  if unknown or not mirrors or not angles:
    raise ValueError(
        f"mirror states {list(mirrors)} and angles {list(angles)}: expected a non-empty "
        f"subset of {list(MIRRORS)} and at least one angle")
  pairs = [(MIRRORS[m][0], MIRRORS[m][1] + a) for m in mirrors for a in angles]
  return jnp.array([p[0] for p in pairs]), jnp.array([p[1] for p in pairs], jnp.float32)


@dataclasses.dataclass(frozen=True)
class Settings:
  """How `augment_batch` augments a training batch, fixed for a whole run: a left-right `flip`;
  the `rotation` ("uniform" in +-`max_degrees`, "discrete" among `angles`, or "none"); a crop of
  `crop_scale` = (min, max) area fraction (None: no crop); random erasing with probability
  `erase_prob`; the output `size` (None: as the input); normalisation by `mean` and `std`; and the
  mirror states of the papers' fixed views (`mirrors`). Built once from a config by
  `from_config`."""

  flip: bool = True
  rotation: str = "uniform"
  max_degrees: float = 10.0
  angles: tuple[float, ...] = PAPER_ANGLES
  crop_scale: tuple[float, float] | None = None
  erase_prob: float = 0.0
  size: Size | None = None
  mean: float | tuple[float, ...] = 0.0
  std: float | tuple[float, ...] = 1.0
  mirrors: tuple[str, ...] = PAPER_MIRRORS

  def __post_init__(self):
    if self.rotation not in ROTATIONS:
      raise ValueError(f"unknown rotation {self.rotation!r}; expected one of {ROTATIONS}")

  @classmethod
  def from_config(cls, input_config: ml_collections.ConfigDict) -> "Settings":
    """The settings of a config's input section (config.input)."""
    def fixed(value):  # Lists from a config (or its JSON) become hashable tuples.
      return tuple(value) if isinstance(value, (list, tuple)) else value

    return cls(flip=input_config.flip, rotation=input_config.rotation,
               max_degrees=input_config.max_degrees,
               crop_scale=fixed(input_config.crop_scale) or None,
               erase_prob=input_config.erase_prob, size=fixed(input_config.size),
               mean=fixed(input_config.mean), std=fixed(input_config.std),
               mirrors=tuple(input_config.get("mirrors", PAPER_MIRRORS)))


def _augment_one(key: jax.Array, image: jax.Array, view: tuple[jax.Array, jax.Array] | None, *,
                 settings: Settings, out_size: tuple[int, int]) -> jax.Array:
  """The random pipeline for one float image: one composed warp, normalisation, random erasing.

  `view` = (mirror, degrees) fixes the mirror and rotation (the papers' expansion); None draws them.
  All geometric draws come from one call to the generator, which keeps the compiled step small.
  """
  k_geometry, k_erase = jax.random.split(key)
  flip_u, angle_u, area_u, x_u, y_u = jax.random.uniform(k_geometry, (5,))
  height, width = image.shape[:2]
  if view is None:
    mirror = settings.flip & (flip_u < 0.5)
    degrees = _angle(angle_u, settings.rotation, settings.max_degrees, settings.angles)
  else:
    mirror, degrees = view
  box = (_full_box(height, width) if settings.crop_scale is None
         else _crop_box(area_u, x_u, y_u, height, width, settings.crop_scale))
  matrix = _box_matrix(box, out_size, degrees, mirror)
  out = normalize(warp(image, matrix, out_size), settings.mean, settings.std)
  if settings.erase_prob <= 0:
    return out
  return random_erasing(k_erase, out, settings.erase_prob)


def augment_batch(rng: jax.Array, images: ArrayLike, settings: Settings = Settings(),
                  views: ArrayLike | None = None) -> jax.Array:
  """Randomly augments a uint8 batch (B, H, W, C) into float32 (B, size, size, C), one key per
  example, as `settings` say.

  With `views` (B,) view numbers of `expansion_views(mirrors, angles)`, each example's mirror and
  rotation are that fixed view instead of random draws (`flip`, `rotation` and `max_degrees`
  unused): the papers' offline 15x expansion, visited one (image, view) pair at a time by
  `ferjax.data.order`.

  Per example: a horizontal flip with probability 0.5 (`flip`); a rotation about the view's centre,
  by an angle uniform in [-max_degrees, max_degrees] ("uniform"), drawn uniformly from `angles`
  ("discrete") or none ("none"); a crop/scale when `crop_scale` = (min, max) area fraction is given
  (aspect of the image, placed uniformly inside, see `_crop_box`); all resampled in one warp to
  `size` (None keeps H x W) with black fill, then `normalize(mean, std)` and random erasing with
  probability `erase_prob` (after normalisation, so its value 0 is the mean pixel whenever `mean` is
  the data mean).

  Without `views`, rotation="discrete" with flip=True draws one of the papers' views at random each
  step (one angle uniform from `angles`, a left-right flip with probability 0.5): ferjax's earlier,
  online stand-in for the expansion, kept as the `views=random` switch of the configs.

  `settings` is fixed at trace time (hashable: close over it, or pass it as a static argument).
  """
  floats = to_float(images)
  out_size = floats.shape[1:3] if settings.size is None else _pair(settings.size)
  one = functools.partial(_augment_one, settings=settings, out_size=out_size)
  keys = jax.random.split(rng, floats.shape[0])
  if views is None:
    return jax.vmap(lambda key, image: one(key, image, None))(keys, floats)
  view_mirror, view_degrees = expansion_views(settings.mirrors, settings.angles)
  views = jnp.asarray(views)
  return jax.vmap(one)(keys, floats, (view_mirror[views], view_degrees[views]))


def preprocess_eval(images: ArrayLike,
                    *, size: Size | None = None, mean: float | Sequence[float] = 0.0,
                    std: float | Sequence[float] = 1.0) -> jax.Array:
  """The deterministic path for evaluation: uint8 (B, H, W, C) -> float32, resized, normalised."""
  floats = to_float(images)
  if size is not None and _pair(size) != floats.shape[1:3]:
    floats = resize(floats, size)
  return normalize(floats, mean, std)


def _tta_boxes(height: int, width: int, crop_fraction: float) -> list[Box]:
  """The whole image, then its four corner crops and centre crop of side `crop_fraction`."""
  box_w, box_h = crop_fraction * width, crop_fraction * height
  left, right = box_w / 2.0, width - box_w / 2.0
  top, bottom = box_h / 2.0, height - box_h / 2.0
  corners = [(left, top), (right, top), (left, bottom), (right, bottom),
             (width / 2.0, height / 2.0)]
  return [_full_box(height, width)] + [(cx, cy, box_w, box_h) for cx, cy in corners]


def tta_views(images: ArrayLike,
              *, size: Size | None = None, crop_fraction: float = 0.875,
              mean: float | Sequence[float] = 0.0,
              std: float | Sequence[float] = 1.0) -> jax.Array:
  """The 12 test-time-augmentation views (V, B, size, size, C) of a uint8 batch, named by
  TTA_VIEW_NAMES.

  The image and its four corner and centre crops at `crop_fraction`, each rescaled to `size` and
  each also mirrored. View 0 is `preprocess_eval` of the batch and view 1 its mirror. Evaluation
  averages the softmax over the views (the ten-crop protocol plus the uncropped pair).
  """
  floats = to_float(images)
  height, width = floats.shape[1:3]
  out_size = (height, width) if size is None else _pair(size)
  matrices = jnp.stack([
      _box_matrix(box, out_size, mirror=mirror)
      for box in _tta_boxes(height, width, crop_fraction)
      for mirror in (False, True)
  ])
  per_view = jax.vmap(lambda m: jax.vmap(lambda image: warp(image, m, out_size))(floats))
  return normalize(per_view(matrices), mean, std)


VIEW_MODES = ("expanded", "random")


def views_per_example(config: ml_collections.ConfigDict) -> int:
  """How many fixed views of each training image an epoch holds: the papers' 15 (mirror states x
  angles) with config.input.views = 'expanded', 1 with 'random' (one random view drawn per step)."""
  if config.input.get("views", "random") == "random":
    return 1
  return len(config.input.mirrors) * len(PAPER_ANGLES)
