"""The three MTCNN networks as Flax modules, and their pretrained weights.

Zhang, Zhang, Li and Qiao, "Joint Face Detection and Alignment using Multi-task Cascaded
Convolutional Networks", IEEE Signal Processing Letters 2016: a cascade of three small CNNs
(section II.A), whose architectures are section II.B and figure 2.

  PNet (Proposal Network): fully convolutional, a 12x12 window with stride 2; per cell a face
       probability and a box regression.
  RNet (Refine Network): 24x24 crops of P-Net's candidates; face probability and box regression.
  ONet (Output Network): 48x48 crops; face probability, box regression and five landmarks.

Inputs are NHWC RGB images normalised as (pixel - 127.5) / 128, upright (not transposed as the
original Caffe models' Matlab code fed them): the wheel feeds its networks this way. The weights are
the ones the `mtcnn` PyPI wheel ships (mtcnn/assets/weights/{pnet,rnet,onet}.lz4: joblib pickles of
Keras `get_weights()` lists). They are read from the installed wheel at run time and never copied
into this repository; `mtcnn` itself is never imported, since it imports TensorFlow.
"""

import importlib.util
import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ferjax.faces import extra


# Input shape per network (any batch; P-Net takes any image of at least 12x12).
INPUT_SHAPES = {"pnet": (1, 12, 12, 3), "rnet": (1, 24, 24, 3), "onet": (1, 48, 48, 3)}

# Keras creates (and `get_weights()` lists) the layers in this order; conv and dense layers hold a
# kernel then a bias, PReLU layers an alpha.
KERAS_LAYERS = {
    "pnet": ("conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4_1", "conv4_2"),
    "rnet": ("conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "fc4", "prelu4", "fc5_1",
             "fc5_2"),
    "onet": ("conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4", "prelu4", "fc5",
             "prelu5", "fc6_1", "fc6_2", "fc6_3"),
}


class PReLU(nn.Module):
  """max(x, 0) + alpha * min(x, 0) with one learned alpha per channel (Keras PReLU).

  `shared_spatial`: alpha has shape (1, 1, C) and is shared over height and width (after convs);
  otherwise it has shape (C,) (after dense layers).
  """

  shared_spatial: bool = True

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    shape = (1, 1, x.shape[-1]) if self.shared_spatial else (x.shape[-1],)
    alpha = self.param("alpha", nn.initializers.constant(0.25), shape)
    return jnp.maximum(x, 0) + alpha * jnp.minimum(x, 0)


def _conv(features: int, kernel: int, name: str) -> nn.Conv:
  return nn.Conv(features, (kernel, kernel), padding="VALID", name=name)


def _max_pool(x: jax.Array, window: int, padding: str) -> jax.Array:
  """Stride-2 max pooling; 'SAME' pads like TensorFlow (the extra row/column at the end, with
  -inf)."""
  return nn.max_pool(x, (window, window), strides=(2, 2), padding=padding)


def _flatten_transposed(x: jax.Array) -> jax.Array:
  """Keras Permute((2, 1, 3)) then Flatten: (B, H, W, C) -> (B, W * H * C) in (w, h, c) order."""
  return jnp.transpose(x, (0, 2, 1, 3)).reshape(x.shape[0], -1)


class PNet(nn.Module):
  """Proposal network. (B, H, W, 3) -> (box regression (B, H', W', 4), face probability
  (B, H', W')), H' = ceil((H - 2) / 2) - 4: one output cell per 12x12 window at stride 2."""

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    x = PReLU(name="prelu1")(_conv(10, 3, "conv1")(x))
    x = _max_pool(x, 2, "SAME")
    x = PReLU(name="prelu2")(_conv(16, 3, "conv2")(x))
    x = PReLU(name="prelu3")(_conv(32, 3, "conv3")(x))
    regression = _conv(4, 1, "conv4_1")(x)
    probability = nn.softmax(_conv(2, 1, "conv4_2")(x))[..., 1]
    return regression, probability


class RNet(nn.Module):
  """Refine network. (B, 24, 24, 3) -> (box regression (B, 4), face probability (B,))."""

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    x = PReLU(name="prelu1")(_conv(28, 3, "conv1")(x))
    x = _max_pool(x, 3, "SAME")
    x = PReLU(name="prelu2")(_conv(48, 3, "conv2")(x))
    x = _max_pool(x, 3, "VALID")
    x = PReLU(name="prelu3")(_conv(64, 2, "conv3")(x))
    x = PReLU(shared_spatial=False,
              name="prelu4")(nn.Dense(128, name="fc4")(_flatten_transposed(x)))
    regression = nn.Dense(4, name="fc5_1")(x)
    probability = nn.softmax(nn.Dense(2, name="fc5_2")(x))[:, 1]
    return regression, probability


class ONet(nn.Module):
  """Output network. (B, 48, 48, 3) -> (box regression (B, 4), landmarks (B, 10), face probability
  (B,)).

  Landmarks are x1..x5 then y1..y5 as fractions of the input box: left eye, right eye, nose, mouth
  left, mouth right (left = smaller x in the image).
  """

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    x = PReLU(name="prelu1")(_conv(32, 3, "conv1")(x))
    x = _max_pool(x, 3, "SAME")
    x = PReLU(name="prelu2")(_conv(64, 3, "conv2")(x))
    x = _max_pool(x, 3, "VALID")
    x = PReLU(name="prelu3")(_conv(64, 3, "conv3")(x))
    x = _max_pool(x, 2, "SAME")
    x = PReLU(name="prelu4")(_conv(128, 2, "conv4")(x))
    x = PReLU(shared_spatial=False,
              name="prelu5")(nn.Dense(256, name="fc5")(_flatten_transposed(x)))
    regression = nn.Dense(4, name="fc6_1")(x)
    landmarks = nn.Dense(10, name="fc6_2")(x)
    probability = nn.softmax(nn.Dense(2, name="fc6_3")(x))[:, 1]
    return regression, landmarks, probability


NETWORKS: dict[str, type[nn.Module]] = {"pnet": PNet, "rnet": RNet, "onet": ONet}


def weights_dir() -> pathlib.Path:
  """The installed `mtcnn` wheel's weights folder, found without importing the package."""
  spec = importlib.util.find_spec("mtcnn")
  if spec is None:
    raise extra.missing("module 'mtcnn' is not installed; PyPI package 'mtcnn'", "mtcnn")
  roots = list(spec.submodule_search_locations or [])
  if spec.origin:
    roots.append(str(pathlib.Path(spec.origin).parent))
  for root in roots:
    folder = pathlib.Path(root) / "assets" / "weights"
    if folder.is_dir():
      return folder
  raise extra.missing(f"the installed 'mtcnn' has no assets/weights folder: {roots}", "mtcnn")


def read_keras_weights() -> dict[str, list[np.ndarray]]:
  """{'pnet': [...], 'rnet': [...], 'onet': [...]}: the wheel's arrays in Keras `get_weights()`
  order."""
  folder = weights_dir()
  extra.require("lz4")  # joblib needs it for .lz4 files.
  joblib = extra.require("joblib")
  arrays = {}
  for name in NETWORKS:
    path = folder / f"{name}.lz4"
    if not path.is_file():
      raise extra.missing(f"{path} is missing", "mtcnn")
    arrays[name] = [np.asarray(a, np.float32) for a in joblib.load(path)]
  return arrays


def keras_to_params(name: str, arrays: list[np.ndarray]) -> dict:
  """Flax params of network `name` from its Keras weight list; shapes are checked against the
  module."""
  expected = jax.eval_shape(
      lambda: NETWORKS[name]().init(jax.random.key(0), jnp.zeros(INPUT_SHAPES[name])))
  expected = expected["params"]
  slots = [(layer, key) for layer in KERAS_LAYERS[name]
           for key in (("alpha",) if layer.startswith("prelu") else ("kernel", "bias"))]
  if len(arrays) != len(slots):
    raise ValueError(f"{name}: expected {len(slots)} weight arrays, got {len(arrays)}")
  params: dict = {}
  for (layer, key), array in zip(slots, arrays):
    want = expected[layer][key].shape
    if tuple(array.shape) != tuple(want):
      raise ValueError(f"{name}.{layer}.{key}: expected shape {want}, got {array.shape}")
    params.setdefault(layer, {})[key] = jnp.asarray(array, jnp.float32)
  return params


def load_weights() -> dict[str, dict]:
  """{'pnet': params, 'rnet': params, 'onet': params} for
  `NETWORKS[name]().apply({'params': params}, x)`.

  Raises ModuleNotFoundError naming the 'faces' extra when `mtcnn`, `joblib` or `lz4` is missing.
  """
  return {name: keras_to_params(name, arrays) for name, arrays in read_keras_weights().items()}
