"""A plain NumPy reference for the MTCNN networks and box logic, written independently of
`ferjax.faces` and taking the wheel's Keras weight lists directly (Zhang et al. 2016, section II.A).

Everything is float64 loops and broadcasting, chosen for obviousness rather than speed.
"""

import math

import numpy as np


def conv_valid(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
  """NHWC 'valid' convolution (cross-correlation, stride 1) with an HWIO kernel, looping over
  offsets."""
  kh, kw = kernel.shape[:2]
  out_h, out_w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
  out = np.zeros(x.shape[:1] + (out_h, out_w, kernel.shape[3]))
  for i in range(kh):
    for j in range(kw):
      out += x[:, i:i + out_h, j:j + out_w, :] @ kernel[i, j]
  return out + bias


def prelu(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
  return np.where(x > 0, x, alpha * x)


def max_pool(x: np.ndarray, window: int, stride: int, padding: str) -> np.ndarray:
  """TensorFlow max pooling: 'SAME' gives ceil(n / stride) outputs, padding with -inf, the odd extra
  row/column at the end; 'VALID' gives floor((n - window) / stride) + 1."""
  if padding == "SAME":
    sizes = [math.ceil(n / stride) for n in x.shape[1:3]]
    pads = [max((out - 1) * stride + window - n, 0) for out, n in zip(sizes, x.shape[1:3])]
    x = np.pad(x, ((0, 0), (pads[0] // 2, pads[0] - pads[0] // 2),
                   (pads[1] // 2, pads[1] - pads[1] // 2), (0, 0)),
               constant_values=-np.inf)
  else:
    sizes = [(n - window) // stride + 1 for n in x.shape[1:3]]
  out = np.full(x.shape[:1] + tuple(sizes) + x.shape[3:], -np.inf)
  for r in range(sizes[0]):
    for c in range(sizes[1]):
      out[:, r, c] = x[:, r * stride:r * stride + window,
                       c * stride:c * stride + window].max(axis=(1, 2))
  return out


def softmax(x: np.ndarray) -> np.ndarray:
  e = np.exp(x - x.max(axis=-1, keepdims=True))
  return e / e.sum(axis=-1, keepdims=True)


def permute_flatten(x: np.ndarray) -> np.ndarray:
  """Keras Permute((2, 1, 3)) + Flatten on NHWC: element [b, h, w, c] goes to
  [b, (w * H + h) * C + c]."""
  batch, height, width, channels = x.shape
  out = np.zeros((batch, height * width * channels))
  for h in range(height):
    for w in range(width):
      start = (w * height + h) * channels
      out[:, start:start + channels] = x[:, h, w, :]
  return out


def _conv_block(x, weights, pool=None):
  """conv (kernel, bias), PReLU (alpha), optional pool (window, padding); consumes 3 arrays."""
  kernel, bias, alpha = (np.asarray(w, np.float64) for w in weights[:3])
  x = prelu(conv_valid(x, kernel, bias), alpha)
  if pool is not None:
    x = max_pool(x, pool[0], 2, pool[1])
  return x, weights[3:]


def pnet(x: np.ndarray, weights: list) -> tuple[np.ndarray, np.ndarray]:
  """(B, H, W, 3) -> box regression (B, H', W', 4), face probability (B, H', W')."""
  x, rest = _conv_block(np.asarray(x, np.float64), weights, (2, "SAME"))
  x, rest = _conv_block(x, rest)
  x, rest = _conv_block(x, rest)
  regression = conv_valid(x, *rest[0:2])
  probability = softmax(conv_valid(x, *rest[2:4]))[..., 1]
  return regression, probability


def rnet(x: np.ndarray, weights: list) -> tuple[np.ndarray, np.ndarray]:
  """(B, 24, 24, 3) -> box regression (B, 4), face probability (B,)."""
  x, rest = _conv_block(np.asarray(x, np.float64), weights, (3, "SAME"))
  x, rest = _conv_block(x, rest, (3, "VALID"))
  x, rest = _conv_block(x, rest)
  x = prelu(permute_flatten(x) @ rest[0] + rest[1], rest[2])
  return x @ rest[3] + rest[4], softmax(x @ rest[5] + rest[6])[:, 1]


def onet(x: np.ndarray, weights: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(B, 48, 48, 3) -> box regression (B, 4), landmarks (B, 10), face probability (B,)."""
  x, rest = _conv_block(np.asarray(x, np.float64), weights, (3, "SAME"))
  x, rest = _conv_block(x, rest, (3, "VALID"))
  x, rest = _conv_block(x, rest, (2, "SAME"))
  x, rest = _conv_block(x, rest)
  x = prelu(permute_flatten(x) @ rest[0] + rest[1], rest[2])
  return x @ rest[3] + rest[4], x @ rest[5] + rest[6], softmax(x @ rest[7] + rest[8])[:, 1]


def box_overlap(a: np.ndarray, b: np.ndarray, method: str) -> float:
  """Intersection over union ('union') or over the smaller area ('min') of two x1, y1, x2, y2 boxes;
  0 when that denominator is not positive."""
  inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
  area_a, area_b = (a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])
  denominator = area_a + area_b - inter if method == "union" else min(area_a, area_b)
  return inter / denominator if denominator > 0 else 0.0


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, method: str) -> list[int]:
  """Indices kept by greedy NMS, best score first (ties: lower index first): each kept box removes
  the remaining ones overlapping it by more than `threshold`."""
  remaining = list(np.argsort(-np.asarray(scores), kind="stable"))
  kept = []
  while remaining:
    top = remaining.pop(0)
    kept.append(int(top))
    remaining = [i for i in remaining if box_overlap(boxes[top], boxes[i], method) <= threshold]
  return kept


def pnet_boxes(regression: np.ndarray, probability: np.ndarray, scale: float, threshold: float):
  """P-Net outputs of one image at one scale (H', W', 4), (H', W') -> boxes (N, 4) in image pixels
  and scores (N,) of the cells above `threshold`: cell (i, j) covers x 2j..2j+12, y 2i..2i+12 at
  that scale, each side moved by its regression times 12, all divided by the scale."""
  boxes, scores = [], []
  for i in range(probability.shape[0]):
    for j in range(probability.shape[1]):
      if probability[i, j] > threshold:
        dx1, dy1, dx2, dy2 = regression[i, j]
        window = [2 * j + 12 * dx1, 2 * i + 12 * dy1, 2 * j + 12 + 12 * dx2, 2 * i + 12 + 12 * dy2]
        boxes.append([v / scale for v in window])
        scores.append(probability[i, j])
  return np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64)
