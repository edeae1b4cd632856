"""Explanations: Grad-CAM equals the class activation map where the two must agree (VGG16 + global
average pooling + dense, m1), and paper 002's spatial maps reach the panel."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import TINY
from PIL import Image

from ferjax import compiling
from ferjax.inference import explain
from ferjax.inference.classifier import Classifier
from ferjax.inference.preprocessing import Preprocessing
from ferjax.models import get_model, variants

CLASSES = ["a", "b", "c", "d", "e", "f"]


def classifier_of(name: str, **flags) -> Classifier:
  model = get_model(name, num_classes=len(CLASSES), width=TINY, batch_norm=True, **flags)
  variables = compiling.once(model.init)(jax.random.key(0), jnp.zeros((1, 48, 48, 1)))
  return Classifier(model, variables, CLASSES, Preprocessing(48, 0.5, 0.25), config=None)


def test_grad_cam_of_a_pooled_linear_head_is_the_class_activation_map(ckplus_images):
  """For logits = W^T mean(C5) + b, d logit_k / d C5 = W[:, k] / (h w) at every position, so
  Grad-CAM is relu(C5 . W[:, k]) (Zhou et al.'s CAM) up to scale."""
  classifier = classifier_of("contextual", **variants.CONTEXTUAL_VARIANTS["m1"])
  inputs = jnp.asarray(ckplus_images[0][:3] - 0.5) / 0.25
  cam, logits, _ = explain.grad_cam(classifier.model, classifier.variables, inputs)
  _, state = classifier.model.apply(classifier.variables, inputs, capture_intermediates=True)
  last_block = state["intermediates"]["backbone"]["__call__"][0][0][-1]
  head = classifier.variables["params"]["head"]["kernel"][:, jnp.argmax(logits, -1)].T  # (B, C)
  expected = jax.nn.relu(jnp.einsum("bhwc,bc->bhw", last_block, head))[..., None]
  expected = jax.image.resize(expected, inputs.shape[:3] + (1,), "linear")[..., 0]
  expected = expected / expected.max(axis=(1, 2), keepdims=True)
  np.testing.assert_allclose(cam, expected, atol=1e-5)
  assert cam.shape == (3, 48, 48) and float(cam.max()) == pytest.approx(1.0)


def test_paper_002_spatial_maps_reach_the_panel(ckplus_images, tmp_path):
  """(Paper 000's PD and RA maps are drawn by tests/test_predict.py's end-to-end run.)"""
  classifier = classifier_of("multiscale", **variants.MULTISCALE_VARIANTS["MCSA"])
  inputs = jnp.asarray(ckplus_images[0][:1] - 0.5) / 0.25
  _, aux = jax.jit(classifier.model.apply)(classifier.variables, inputs)
  maps = {name: np.asarray(m[0]) for name, m in explain.attention_maps(aux).items()}
  assert list(maps) == ["spatial attention 3", "spatial attention 4", "spatial attention 5"]
  assert [m.shape for m in maps.values()] == [(12, 12), (6, 6), (3, 3)]
  assert all(0.0 <= m.min() and m.max() <= 1.0 for m in maps.values())
  explanation = {"probabilities": np.full(len(CLASSES), 1 / len(CLASSES)), "maps": maps,
                 "grad_cam": np.linspace(0, 1, 48 * 48).reshape(48, 48),
                 "channel_weights": [np.asarray(w[0]) for w in aux["channel_weights"]]}
  crop = (ckplus_images[0][0, ..., 0] * 255).round().astype(np.uint8)
  explain.panel(crop, explanation, CLASSES, tmp_path / "panel.png", title="test")
  assert Image.open(tmp_path / "panel.png").size[0] > 100 * (len(maps) + 2)
