"""MTCNN face detection: the three-stage cascade of Zhang et al. 2016 (section II.A, figure 1) as
jitted JAX code.

  Stage 1 (P-Net): an image pyramid (scales 12 / min_face_size * scale_factor^k while the shorter
    side stays >= 12 px) is scanned by the fully convolutional P-Net: a 12x12 window at stride 2.
    Windows scoring > thresholds[0] become boxes (refined by the regression), NMS (IoU 0.5) per
    scale, NMS (IoU 0.7) across scales, then squared.
  Stage 2 (R-Net): 24x24 crops of those boxes; boxes refined, scored > thresholds[1], NMS (IoU 0.7),
    squared.
  Stage 3 (O-Net): 48x48 crops; five landmarks, boxes refined, scored > thresholds[2], NMS with the
    'min' overlap (intersection / smaller area, 0.7).

Details (box refinement by (w + 1, h + 1), landmarks from the box before its refinement, crops
sampled like TensorFlow's `crop_and_resize` with 0 outside the image) follow the `mtcnn` PyPI wheel
whose weights are used (`ferjax.faces.mtcnn`). NMS is greedy, as in the paper's release; the wheel's
variant drops a box overlapping any higher-scoring box, suppressed or not, and so can keep fewer
boxes.

Shapes. The number of candidates is data-dependent, so every stage works on a fixed-size buffer with
a validity mask: the `pnet_per_scale` best P-Net windows of each scale, the `rnet_size` best boxes
left after the cross-scale NMS, the `onet_size` best boxes left after R-Net. Candidates beyond a
buffer are the lowest-scoring ones and are dropped. The R- and O-Net buffers are cut to the next
power of two (at least 16) above the boxes the stage before kept, so a frame with 36 candidates runs
R-Net on 64 crops, not 256: each stage is its own jitted program, and only the count of kept boxes
is read back between them (a 640x480 frame: 115 ms before, 62 ms after, on 2 CPU cores). NMS is a
`lax.while_loop` that keeps the best live box and kills its overlaps, so it runs once per kept box.
The stages are compiled once per padded image shape (and buffer size): images are padded at the
bottom and right with normalised 0 (pixel 127.5, mid-gray, the same value crops take outside the
image) up to the next multiple of `bucket` pixels per side, the pyramid is that of the padded shape
with the scales too small for the real image switched off, and boxes whose centre falls outside the
real image are discarded. Photos of many sizes thus share a few programs.

Pyramid levels are downscaled by area resampling, as the wheel does (TensorFlow's `resize_area`),
with the wheel's level sizes int(side * scale). The cascade is sensitive to the pyramid: with
antialiased linear resampling (`jax.image.resize`) and sizes rounded up, a false positive on the
astronaut photo's helmet ring passed O-Net with 0.86.
"""

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ferjax.faces import mtcnn
from ferjax.data import buckets

PNET_CELL, PNET_STRIDE = 12, 2  # P-Net's window and stride in pyramid-level pixels.
NMS_PNET_SCALE, NMS_PNET_ALL, NMS_RNET, NMS_ONET = 0.5, 0.7, 0.7, 0.7


@dataclasses.dataclass(frozen=True)
class Face:
  """One detection. `box`: (4,) float32 x1, y1, x2, y2 in input-image pixels, not clipped to the
  image (a face cut by the border can stick out). `landmarks`: (5, 2) float32 (x, y) of the left
  eye, right eye, nose, mouth left, mouth right, left/right as seen in the image (left = smaller x).
  `score`: the O-Net face probability."""

  box: np.ndarray
  landmarks: np.ndarray
  score: float


@dataclasses.dataclass(frozen=True)
class _Config:
  min_face_size: int
  scale_factor: float
  pnet_per_scale: int
  rnet_size: int
  onet_size: int


def pyramid(height: int, width: int, min_face_size: int, scale_factor: float) -> list[float]:
  """Scales 12 / min_face_size * scale_factor^k, k = 0, 1, ..., while
  min(height, width) * scale >= 12."""
  scales, scale = [], PNET_CELL / min_face_size
  while min(height, width) * scale >= PNET_CELL:
    scales.append(scale)
    scale *= scale_factor
  return scales


def overlap(box: jax.Array, boxes: jax.Array, method: str) -> jax.Array:
  """Overlap of `box` (4,) with each of `boxes` (N, 4): intersection over union ('union') or over
  the smaller area ('min'); areas are (x2 - x1) * (y2 - y1); 0 where the denominator is not
  positive."""
  width = jnp.maximum(0.0, jnp.minimum(box[2], boxes[:, 2]) - jnp.maximum(box[0], boxes[:, 0]))
  height = jnp.maximum(0.0, jnp.minimum(box[3], boxes[:, 3]) - jnp.maximum(box[1], boxes[:, 1]))
  inter = width * height
  area = (box[2] - box[0]) * (box[3] - box[1])
  areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
  denominator = area + areas - inter if method == "union" else jnp.minimum(area, areas)
  return jnp.where(denominator > 0, inter / jnp.where(denominator > 0, denominator, 1.0), 0.0)


def nms(boxes: jax.Array, scores: jax.Array, valid: jax.Array, threshold: float,
        method: str = "union") -> jax.Array:
  """Greedy non-maximum suppression over a buffer: the mask of kept boxes among the `valid` ones.

  Repeatedly keeps the best-scoring live box (the first one on ties) and kills the live boxes that
  overlap it by more than `threshold`; one loop iteration per kept box.
  """

  def body(state):
    alive, keep = state
    best = jnp.argmax(jnp.where(alive, scores, -jnp.inf))
    alive = alive & (overlap(boxes[best], boxes, method) <= threshold)
    return alive.at[best].set(False), keep.at[best].set(True)

  _, keep = jax.lax.while_loop(lambda state: state[0].any(), body, (valid, jnp.zeros_like(valid)))
  return keep


def best(count: int, scores: jax.Array, valid: jax.Array) -> jax.Array:
  """Indices of the `count` best valid scores (invalid entries rank last)."""
  return jax.lax.top_k(jnp.where(valid, scores, -1.0), count)[1]


def square(boxes: jax.Array) -> jax.Array:
  """Boxes grown to squares of side max(w, h) around the same centre."""
  size = boxes[:, 2:] - boxes[:, :2]
  side = jnp.max(size, axis=1, keepdims=True)
  corner = boxes[:, :2] + 0.5 * (size - side)
  return jnp.concatenate([corner, corner + side], axis=1)


def refine(boxes: jax.Array, regression: jax.Array) -> jax.Array:
  """Boxes moved by the R-/O-Net regression, in units of (w + 1, h + 1) as the wheel's
  `adjust_bboxes`."""
  size = boxes[:, 2:] - boxes[:, :2] + 1.0
  return boxes + regression * jnp.concatenate([size, size], axis=1)


def place_landmarks(boxes: jax.Array, landmarks: jax.Array) -> jax.Array:
  """O-Net's (N, 10) relative landmarks (x1..x5, y1..y5) -> (N, 5, 2) image (x, y), as the wheel's
  `adjust_landmarks`: x1 - 1 + (w + 1) * lx."""
  size = boxes[:, 2:] - boxes[:, :2] + 1.0
  relative = jnp.stack([landmarks[:, :5], landmarks[:, 5:]], axis=-1)
  return boxes[:, None, :2] - 1.0 + size[:, None, :] * relative


def centred_inside(boxes: jax.Array, real_hw: jax.Array) -> jax.Array:
  """Whether each box's centre lies inside the real (unpadded) image."""
  centre = 0.5 * (boxes[:, :2] + boxes[:, 2:])
  return (centre >= 0).all(axis=1) & (centre[:, 0] < real_hw[1]) & (centre[:, 1] < real_hw[0])


def crop(image: jax.Array, boxes: jax.Array, size: int) -> jax.Array:
  """(size, size) bilinear crops of `image` (H, W, 3) at `boxes` (N, 4) -> (N, size, size, 3).

  Samples are spread evenly from the box's first corner to its second, both included, as
  TensorFlow's `crop_and_resize` does (in pixel units here); samples outside the image are 0.
  """
  height, width = image.shape[:2]
  steps = jnp.arange(size, dtype=jnp.float32) / (size - 1)
  xs = boxes[:, 0:1] + steps * (boxes[:, 2:3] - boxes[:, 0:1])
  ys = boxes[:, 1:2] + steps * (boxes[:, 3:4] - boxes[:, 1:2])

  def taps(coords, limit):
    low = jnp.floor(coords)
    index = lambda c: jnp.clip(c, 0, limit - 1).astype(jnp.int32)
    inside = (coords >= 0) & (coords <= limit - 1)
    return index(low), index(low + 1), (coords - low)[..., None], inside

  x0, x1, fx, inside_x = taps(xs, width)
  y0, y1, fy, inside_y = taps(ys, height)
  at = lambda rows, cols: image[rows[:, :, None], cols[:, None, :]]
  top = at(y0, x0) * (1 - fx[:, None]) + at(y0, x1) * fx[:, None]
  bottom = at(y1, x0) * (1 - fx[:, None]) + at(y1, x1) * fx[:, None]
  patches = top * (1 - fy[:, :, None]) + bottom * fy[:, :, None]
  inside = inside_y[:, :, None] & inside_x[:, None, :]
  return jnp.where(inside[..., None], patches, 0.0)


def area_taps(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray]:
  """Area resampling along one axis as (size_out, taps) input indices and weights: output pixel i is
  the mean of the input span [i, i + 1) * size_in / size_out, each input pixel weighted by the part
  of it inside the span (at most ceil(size_in / size_out) + 1 pixels)."""
  ratio = size_in / size_out
  start = np.arange(size_out)[:, None] * ratio
  index = np.floor(start).astype(np.int64) + np.arange(math.ceil(ratio) + 1)
  covered = np.minimum(start + ratio, index + 1) - np.maximum(start, index)
  weights = np.maximum(covered, 0.0) / ratio
  return np.minimum(index, size_in - 1).astype(np.int32), weights.astype(np.float32)


def _area_resize_rows(x: jax.Array, size: int) -> jax.Array:
  index, weights = area_taps(x.shape[0], size)
  # One row gather per tap: XLA:CPU ran the same as one gather and an einsum 10x slower.
  return sum(weights[:, t, None, None] * jnp.take(x, index[:, t], axis=0, indices_are_sorted=True)
             for t in range(index.shape[1]))


def area_resize(image: jax.Array, shape: tuple[int, int]) -> jax.Array:
  """(H, W, C) -> (shape[0], shape[1], C) by area resampling (TensorFlow's `resize_area`, as the
  wheel downscales its pyramid): each output pixel is the mean of the input area it covers. A gather
  of the few pixels each output covers, so the cost stays proportional to the image (a dense
  resampling matrix, as `jax.image.resize` builds, costs input side x output side per row)."""
  rows = _area_resize_rows(image, shape[0])
  return jnp.swapaxes(_area_resize_rows(jnp.swapaxes(rows, 0, 1), shape[1]), 0, 1)


def pnet_windows(regression: jax.Array, probability: jax.Array,
                 scale_yx: tuple[float, float]) -> jax.Array:
  """P-Net outputs at one pyramid level -> (H' * W', 4) refined boxes in image pixels.

  Cell (i, j) is the window x1 = 2j, y1 = 2i, x2 = x1 + 12, y2 = y1 + 12 at that level, moved by the
  regression times 12, then divided by the level's scale.
  """
  rows, cols = jnp.meshgrid(jnp.arange(probability.shape[0]),
                            jnp.arange(probability.shape[1]),
                            indexing="ij")
  corner = jnp.stack([cols, rows], axis=-1).astype(jnp.float32) * PNET_STRIDE
  windows = jnp.concatenate([corner, corner + PNET_CELL], axis=-1) + regression * PNET_CELL
  scale_y, scale_x = scale_yx
  return (windows / jnp.asarray([scale_x, scale_y, scale_x, scale_y])).reshape(-1, 4)


def _pnet_level(params, image, scale, real_hw, threshold, capacity):
  """One pyramid level: the `capacity` best windows above `threshold` (boxes, scores, valid)."""
  height, width = image.shape[:2]
  shape = (int(height * scale), int(width * scale))
  level = area_resize(image, shape)
  regression, probability = mtcnn.PNet().apply({"params": params}, level[None])
  boxes = pnet_windows(regression[0], probability[0], (shape[0] / height, shape[1] / width))
  scores = probability[0].reshape(-1)
  active = jnp.minimum(real_hw[0], real_hw[1]) * scale >= PNET_CELL
  valid = (scores > threshold) & centred_inside(boxes, real_hw) & active
  chosen = best(min(capacity, scores.shape[0]), scores, valid)
  pad = capacity - chosen.shape[0]
  return (jnp.pad(boxes[chosen], ((0, pad), (0, 0))), jnp.pad(scores[chosen], (0, pad)),
          jnp.pad(valid[chosen], (0, pad)))


def _keep_best(count, boxes, scores, keep, *extra):
  chosen = best(count, scores, keep)
  return (boxes[chosen], scores[chosen], keep[chosen]) + tuple(e[chosen] for e in extra)


def _propose(params, image, real_hw, thresholds, *, config: _Config):
  """Stage 1. image: (H, W, 3) normalised and padded; real_hw: the unpadded (height, width).
  Returns every P-Net window (boxes, scores) with the mask of those kept by both NMS, and their
  count."""
  scales = pyramid(*image.shape[:2], config.min_face_size, config.scale_factor)
  levels = [_pnet_level(params["pnet"], image, s, real_hw, thresholds[0], config.pnet_per_scale)
            for s in scales]
  boxes, scores, valid = (jnp.stack(parts) for parts in zip(*levels))
  keep = jax.vmap(functools.partial(nms, threshold=NMS_PNET_SCALE))(boxes, scores, valid)
  boxes, scores, keep = boxes.reshape(-1, 4), scores.reshape(-1), keep.reshape(-1)
  keep = nms(boxes, scores, keep, NMS_PNET_ALL)
  return boxes, scores, keep, keep.sum()


def _refine(params, image, boxes, scores, keep, thresholds, *, size: int):
  """Stage 2: the `size` best boxes left by stage 1 through R-Net; the kept ones and their count."""
  boxes, scores, keep = _keep_best(min(size, scores.shape[0]), boxes, scores, keep)
  boxes = square(boxes)
  regression, scores = mtcnn.RNet().apply({"params": params["rnet"]}, crop(image, boxes, 24))
  boxes = refine(boxes, regression)
  keep = nms(boxes, scores, keep & (scores > thresholds[1]), NMS_RNET)
  return boxes, scores, keep, keep.sum()


def _output(params, image, real_hw, boxes, scores, keep, thresholds, *, size: int):
  """Stage 3: the `size` best boxes left by stage 2 through O-Net. Returns the O-Net buffer: boxes
  (N, 4), landmarks (N, 5, 2), scores (N,), kept (N,)."""
  boxes, scores, keep = _keep_best(min(size, scores.shape[0]), boxes, scores, keep)
  boxes = square(boxes)
  regression, landmarks, scores = mtcnn.ONet().apply({"params": params["onet"]},
                                                     crop(image, boxes, 48))
  landmarks = place_landmarks(boxes, landmarks)
  boxes = refine(boxes, regression)
  keep = keep & (scores > thresholds[2]) & centred_inside(boxes, real_hw)
  keep = nms(boxes, scores, keep, NMS_ONET, "min")
  return boxes, landmarks, scores, keep


def buffer_size(count: int, capacity: int) -> int:
  """The R-Net or O-Net buffer for `count` live boxes: the next power of two of at least 16,
  capped at the configured capacity (beyond it the lowest-scoring boxes are dropped, as before)."""
  return min(capacity, max(16, 1 << (max(count, 1) - 1).bit_length()))


def as_rgb(image: np.ndarray) -> np.ndarray:
  """uint8 (H, W, 3), (H, W) or (H, W, 1) -> uint8 (H, W, 3); ValueError for anything else."""
  image = np.asarray(image)
  if image.dtype != np.uint8:
    raise ValueError(f"expected a uint8 image, got dtype {image.dtype}")
  if image.ndim == 2:
    image = image[..., None]
  if image.ndim != 3 or image.shape[2] not in (1, 3):
    raise ValueError(f"expected an (H, W, 3) RGB or (H, W) / (H, W, 1) grayscale image, "
                     f"got shape {image.shape}")
  if min(image.shape[:2]) < PNET_CELL:
    raise ValueError(f"expected an image of at least {PNET_CELL}x{PNET_CELL} pixels, "
                     f"got {image.shape[0]}x{image.shape[1]}")
  return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


class Detector:
  """MTCNN face detector: `Detector()(image)` -> list of `Face`, best score first.

  min_face_size: the smallest face side, in pixels, looked for (sets the first pyramid scale).
  scale_factor: the ratio between successive pyramid scales.
  thresholds: the face-probability thresholds of P-Net, R-Net and O-Net.
  weights: `ferjax.faces.mtcnn.load_weights()`'s dict; read from the `mtcnn` wheel when None.
  pnet_per_scale: best P-Net windows kept per pyramid scale, before NMS (buffer size).
  rnet_size: boxes passed to R-Net after P-Net's NMS (buffer size).
  onet_size: boxes passed to O-Net after R-Net's NMS, so also the most faces one image can yield.
  bucket: images are padded to a multiple of this many pixels per side (one compiled program each).

  Images whose shorter side is below min_face_size have no pyramid level and give []; images below
  12 pixels a side raise ValueError, as do other dtypes than uint8 and other shapes.
  """

  def __init__(self,
               min_face_size: int = 20, scale_factor: float = 0.709,
               thresholds: tuple[float, float, float] = (0.6, 0.7, 0.8),
               weights: dict | None = None, pnet_per_scale: int = 512, rnet_size: int = 256,
               onet_size: int = 32, bucket: int = 64):
    if min_face_size < PNET_CELL:
      raise ValueError(f"expected min_face_size >= {PNET_CELL}, got {min_face_size}")
    if not 0 < scale_factor < 1:
      raise ValueError(f"expected 0 < scale_factor < 1, got {scale_factor}")
    self.min_face_size, self.scale_factor, self.bucket = min_face_size, scale_factor, bucket
    # On the device once: the three stages of every call take them.
    self.thresholds = jax.device_put(np.asarray(thresholds, np.float32))
    self.params = jax.device_put(mtcnn.load_weights() if weights is None else weights)
    self.config = _Config(min_face_size, scale_factor, pnet_per_scale, rnet_size, onet_size)
    propose = functools.partial(_propose, config=self.config)
    # One program per stage and buffer size; `_batched` vmaps each over a video's frames.
    self._stages = (jax.jit(propose), jax.jit(_refine, static_argnames="size"),
                    jax.jit(_output, static_argnames="size"))
    self._batched = (jax.jit(jax.vmap(propose, in_axes=(None, 0, None, None))),
                     _over_frames(_refine, (None, 0, 0, 0, 0, None)),
                     _over_frames(_output, (None, 0, None, 0, 0, 0, None)))

  def padded_shape(self, height: int, width: int) -> tuple[int, int]:
    """The compiled shape an image of this size is padded to."""
    return (-(-height // self.bucket) * self.bucket, -(-width // self.bucket) * self.bucket)

  def __call__(self, image: np.ndarray) -> list[Face]:
    """Faces in a uint8 (H, W, 3) RGB or (H, W) / (H, W, 1) grayscale image, best score first."""
    image = as_rgb(image)
    if not pyramid(*image.shape[:2], self.min_face_size, self.scale_factor):
      return []
    outputs = self._cascade(self._stages, self._padded(image), _real_shape(image))
    return _faces(*jax.device_get(outputs))

  def detect_batch(self, images: list[np.ndarray]) -> list[list[Face]]:
    """`self(image)` for each of `images`, all of one shape (a video's frames), in one compiled
    call per stage: the cascade vmapped over the frames, the batch padded to a power of two (at
    least 8) so that a short last batch reuses the programs. The faces are those `self(image)`
    finds, up to float rounding in the batched convolutions."""
    frames = [as_rgb(image) for image in images]
    shapes = {frame.shape for frame in frames}
    if len(shapes) != 1:
      raise ValueError(f"detect_batch takes images of one shape, got {sorted(shapes)}")
    if not frames or not pyramid(*frames[0].shape[:2], self.min_face_size, self.scale_factor):
      return [[] for _ in frames]
    batch = buckets.pad(np.stack([self._padded(frame) for frame in frames]))
    outputs = jax.device_get(self._cascade(self._batched, batch, _real_shape(frames[0])))
    return [_faces(*(output[k] for output in outputs)) for k in range(len(frames))]

  def _cascade(self, stages, image, real_hw):
    """The three stages, each R-/O-Net buffer sized to the boxes the stage before kept (the
    largest count over a batch), so that a frame with few candidates runs small networks: the
    counts are the only values read back between stages."""
    propose, refine_stage, output_stage = stages
    params, thresholds = self.params, self.thresholds
    image = jax.device_put(image)  # Sent once; the three stages read it.
    *proposals, count = propose(params, image, real_hw, thresholds)
    size = buffer_size(int(np.max(count)), self.config.rnet_size)
    *refined, count = refine_stage(params, image, *proposals, thresholds, size=size)
    size = buffer_size(int(np.max(count)), self.config.onet_size)
    return output_stage(params, image, real_hw, *refined, thresholds, size=size)

  def _padded(self, image: np.ndarray) -> np.ndarray:
    """The image normalised to [-1, 1] and padded with 0 to its compiled shape."""
    height, width = image.shape[:2]
    padded = np.zeros(self.padded_shape(height, width) + (3,), np.float32)
    padded[:height, :width] = (image.astype(np.float32) - 127.5) / 128.0
    return padded


def _over_frames(stage, in_axes: tuple):
  """`stage` vmapped over a batch of frames along `in_axes`, jitted with its buffer size static."""

  def batched(*args, size: int):
    return jax.vmap(functools.partial(stage, size=size), in_axes=in_axes)(*args)

  return jax.jit(batched, static_argnames="size")


def _real_shape(image: np.ndarray) -> np.ndarray:
  return np.asarray(image.shape[:2], np.float32)


def _faces(boxes: np.ndarray, landmarks: np.ndarray, scores: np.ndarray,
           keep: np.ndarray) -> list[Face]:
  """The kept entries of the O-Net buffer as `Face`s, best score first."""
  order = [i for i in np.argsort(-scores, kind="stable") if keep[i]]
  return [Face(box=boxes[i].astype(np.float32), landmarks=landmarks[i].astype(np.float32),
               score=float(scores[i])) for i in order]
