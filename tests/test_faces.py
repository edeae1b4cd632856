"""MTCNN face detection (`ferjax.faces`): the networks and NMS against the NumPy reference in
tests/mtcnn_numpy.py on the real pretrained weights, and the whole cascade on real photos: the
astronaut from scikit-image, CK+ faces pasted on a canvas, and images without faces."""

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import skimage.data
from PIL import Image

import mtcnn_numpy as ref
from conftest import CKPLUS_ARCHIVE
from ferjax.data.archive import Archive
from ferjax.faces import Detector, Face, detect, mtcnn

# Frames of four subjects, one expression each, and where the canvas test pastes them: x, y, side.
CANVAS_FACES = {"CK+48/happy/S010_006_00000013.png": (20, 30, 140),
                "CK+48/surprise/S011_001_00000014.png": (200, 20, 120),
                "CK+48/anger/S022_005_00000030.png": (340, 170, 120),
                "CK+48/sadness/S026_002_00000014.png": (60, 200, 150)}
CANVAS_SHAPE = (360, 480)  # The blank and noise tests use it too: the same compiled program.

# The astronaut's face and features, read off a 4x zoom by eye: (x1, y1, x2, y2) from cheek to cheek
# and hairline-ish to chin; (x, y) of eyes and mouth corners, left = smaller x.
ASTRONAUT_FACE = (180, 70, 270, 178)
ASTRONAUT_POINTS = {0: (204, 101), 1: (247, 104), 3: (205, 144), 4: (243, 143)}


@pytest.fixture(scope="module")
def keras_weights() -> dict[str, list[np.ndarray]]:
  return mtcnn.read_keras_weights()


@pytest.fixture(scope="module")
def detector(keras_weights) -> Detector:
  params = {name: mtcnn.keras_to_params(name, arrays) for name, arrays in keras_weights.items()}
  return Detector(weights=params)


@pytest.fixture(scope="module")
def ckplus_faces() -> dict[str, np.ndarray]:
  with Archive(CKPLUS_ARCHIVE) as source:
    return {member: source.image(member) for member in CANVAS_FACES}


def resized(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
  """uint8 (H, W) or (H, W, 3) resized bicubically to size = (height, width)."""
  return np.asarray(Image.fromarray(image).resize(size[::-1], Image.Resampling.BICUBIC))


def network_inputs(faces: dict[str, np.ndarray], shape: tuple[int, int], count: int) -> np.ndarray:
  """`count` normalised (H, W, 3) inputs: real CK+ faces (high face probability), then uniform
  noise."""
  rng = np.random.default_rng(0)
  real = [
      np.repeat(resized(f, shape)[..., None], 3, axis=2)
      for f in list(faces.values())[:min(count, 2)]
  ]
  noise = list(rng.integers(0, 256, (count - len(real),) + shape + (3,)).astype(np.uint8))
  return (np.stack(real + noise).astype(np.float32) - 127.5) / 128


@pytest.mark.parametrize("name, shape", [("pnet", (30, 40)), ("rnet", (24, 24)),
                                         ("onet", (48, 48))])
def test_network_matches_numpy_reference(name, shape, keras_weights, ckplus_faces):
  x = network_inputs(ckplus_faces, shape, count=4)
  params = mtcnn.keras_to_params(name, keras_weights[name])
  ours = jax.jit(mtcnn.NETWORKS[name]().apply)({"params": params}, jnp.asarray(x))
  theirs = getattr(ref, name)(x, keras_weights[name])
  assert len(ours) == len(theirs)
  for got, want in zip(ours, theirs):
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4)
  probability = np.asarray(ours[-1])
  assert probability.max() > 0.5 and probability.min() < 0.5  # Faces and noise both covered.


def test_weight_shapes_are_checked(keras_weights):
  with pytest.raises(ValueError, match="expected 13 weight arrays"):
    mtcnn.keras_to_params("pnet", keras_weights["pnet"][:-1])
  swapped = keras_weights["rnet"][:]
  swapped[0] = swapped[0].transpose(1, 0, 3, 2)
  with pytest.raises(ValueError, match=r"rnet\.conv1\.kernel"):
    mtcnn.keras_to_params("rnet", swapped)


def random_boxes(rng: np.random.Generator, count: int) -> np.ndarray:
  """Boxes of side 5..40 in a 100x100 field: many overlap."""
  corner = rng.uniform(0, 100, (count, 2))
  return np.concatenate([corner, corner + rng.uniform(5, 40, (count, 2))],
                        axis=1).astype(np.float32)


@pytest.mark.parametrize("method", ["union", "min"])
@pytest.mark.parametrize("threshold", [0.3, 0.7])
def test_nms_matches_numpy_reference(method, threshold):
  rng = np.random.default_rng(1)
  boxes, scores = random_boxes(rng, 200), rng.uniform(0, 1, 200).astype(np.float32)
  valid = rng.uniform(size=200) < 0.8
  keep = detect.nms(jnp.asarray(boxes), jnp.asarray(scores), jnp.asarray(valid), threshold, method)
  (indices,) = np.nonzero(valid)
  expected = indices[ref.greedy_nms(boxes[indices], scores[indices], threshold, method)]
  assert 5 < len(expected) < valid.sum()
  assert set(np.flatnonzero(np.asarray(keep))) == set(expected)


def test_pnet_windows_match_numpy_reference(keras_weights, ckplus_faces):
  x = network_inputs(ckplus_faces, (60, 50), count=1)
  regression, probability = ref.pnet(x, keras_weights["pnet"])
  scale_yx = (0.6, 0.6)
  boxes = np.asarray(
      detect.pnet_windows(jnp.asarray(regression[0]), jnp.asarray(probability[0]), scale_yx))
  want_boxes, want_scores = ref.pnet_boxes(regression[0], probability[0], 0.6, threshold=0.6)
  chosen = probability[0].reshape(-1) > 0.6
  assert 0 < chosen.sum() < chosen.size
  np.testing.assert_allclose(boxes[chosen], want_boxes, rtol=1e-5, atol=1e-4)
  np.testing.assert_allclose(probability[0].reshape(-1)[chosen], want_scores)


def iou(a, b) -> float:
  return ref.box_overlap(np.asarray(a, np.float64), np.asarray(b, np.float64), "union")


def check_face(face: Face) -> None:
  """Types and shapes of the public API; landmarks inside the box, left eye left of the right eye,
  eyes above the mouth corners."""
  assert face.box.shape == (4,) and face.box.dtype == np.float32
  assert face.landmarks.shape == (5, 2) and face.landmarks.dtype == np.float32
  assert isinstance(face.score, float)
  x1, y1, x2, y2 = face.box
  assert ((face.landmarks >= (x1, y1)) & (face.landmarks <= (x2, y2))).all()
  eyes, mouth = face.landmarks[:2], face.landmarks[3:]
  assert eyes[0, 0] < eyes[1, 0] and mouth[0, 0] < mouth[1, 0]
  assert eyes[:, 1].max() < face.landmarks[2, 1] < mouth[:, 1].min()


def test_astronaut_one_face(detector):
  faces = detector(skimage.data.astronaut())
  assert len(faces) == 1
  face = faces[0]
  check_face(face)
  assert face.score > 0.9
  assert iou(face.box, ASTRONAUT_FACE) > 0.6
  for index, point in ASTRONAUT_POINTS.items():
    assert np.linalg.norm(face.landmarks[index] - point) < 10, (index, face.landmarks[index])


def test_ckplus_faces_on_a_canvas(detector, ckplus_faces):
  """Tight 48x48 CK+ crops, upscaled to 120-150 px and pasted on mid-gray, are found as they are."""
  canvas = np.full(CANVAS_SHAPE, 128, np.uint8)
  for member, (x, y, side) in CANVAS_FACES.items():
    canvas[y:y + side, x:x + side] = resized(ckplus_faces[member], (side, side))
  faces = detector(canvas)
  assert len(faces) == len(CANVAS_FACES)
  assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)
  for x, y, side in CANVAS_FACES.values():
    overlaps = [iou(f.box, (x, y, x + side, y + side)) for f in faces]
    assert max(overlaps) > 0.4, (x, y, side, overlaps)
  for face in faces:
    check_face(face)
    assert face.score > 0.9


def test_grayscale_layouts_agree(detector, ckplus_faces):
  gray = np.full(CANVAS_SHAPE, 128, np.uint8)
  gray[100:200, 150:250] = resized(next(iter(ckplus_faces.values())), (100, 100))
  faces = [
      detector(image) for image in (gray, gray[..., None], np.repeat(gray[..., None], 3, axis=2))
  ]
  assert len(faces[0]) == 1
  for other in faces[1:]:
    assert len(other) == 1
    np.testing.assert_array_equal(other[0].box, faces[0][0].box)


@pytest.mark.parametrize("kind", ["blank", "noise"])
def test_no_faces(detector, kind):
  rng = np.random.default_rng(2)
  image = (np.full(CANVAS_SHAPE + (3,), 200, np.uint8) if kind == "blank"
           else rng.integers(0, 256, CANVAS_SHAPE + (3,), dtype=np.uint8))
  assert detector(image) == []


def test_input_checks(detector):
  # Shorter side below min_face_size: no pyramid.
  assert detector(np.zeros((15, 40), np.uint8)) == []
  bad = [(np.zeros((11, 40), np.uint8), "at least 12x12"),
         (np.zeros((40, 40, 3), np.float32), "uint8"),
         (np.zeros((40, 40, 2), np.uint8), r"\(H, W, 3\)"),
         (np.zeros((1, 40, 40, 3), np.uint8), r"\(H, W, 3\)")]
  for image, message in bad:
    with pytest.raises(ValueError, match=message):
      detector(image)


@pytest.mark.parametrize("missing", ["mtcnn", "joblib", "lz4"])
def test_missing_extra_is_named(monkeypatch, missing):
  find_spec = importlib.util.find_spec
  monkeypatch.setattr(importlib.util, "find_spec",
                      lambda name, *args: None if name == missing else find_spec(name, *args))
  with pytest.raises(ModuleNotFoundError, match=r"pip install -e '\.\[faces\]'") as error:
    Detector()
  assert missing in str(error.value)
