"""What the network looks at: its own attention maps and Grad-CAM, drawn as one PNG panel per face.

Maps each network exposes in `aux`:
  paper 000 with PD: the partial decoder's global map S_g (eq. 2), shown as sigmoid(S_g);
  paper 000 with RA: the reverse-attention weights A_5, A_4, A_3 = 1 - sigmoid(S_{i+1}) (eq. 3);
  paper 002 with spatial attention: M_s(F) of blocks 3-5 (eq. 2 of paper 002);
  either with channel attention (GCCA, or SE): every block's channel weights, as one bar plot.
Grad-CAM (Selvaraju et al. 2017) works for any of them: the gradient of the predicted class's logit
with respect to the last VGG block's output C5, averaged over positions, weights C5's channels; the
ReLU of that weighted sum, resized to the input, shows the regions that raised the class score.
"""

import functools
import os
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

from ferjax.data import buckets
from ferjax.inference.classifier import Classifier
from ferjax.inference.preprocessing import Preprocessing
from ferjax.models.vgg import VGG16

matplotlib.use("Agg")  # Files only; no display needed.
import matplotlib.pyplot as plt  # noqa: E402


def _with_last_block_shift(delta: jax.Array | None, captured: list):
  """An interceptor adding `delta` to the backbone's last block output (and recording that
  output)."""
  def interceptor(next_fun, args, kwargs, context):
    out = next_fun(*args, **kwargs)
    if not (isinstance(context.module, VGG16) and context.method_name == "__call__"):
      return out
    features, maps = out
    captured.append(features[-1])
    if delta is None:
      return out
    return features[:-1] + (features[-1] + delta,), maps
  return interceptor


def grad_cam(model: nn.Module, variables: Any,
             inputs: jax.Array) -> tuple[jax.Array, jax.Array, dict]:
  """(Grad-CAM maps (B, H, W) in [0, 1] for each image's predicted class, logits, aux)."""
  captured: list = []
  with nn.intercept_methods(_with_last_block_shift(None, captured)):
    logits, aux = model.apply(variables, inputs)
  last_block = captured[0]
  predicted = jnp.argmax(logits, axis=-1)

  def predicted_score(delta):
    with nn.intercept_methods(_with_last_block_shift(delta, [])):
      shifted_logits, _ = model.apply(variables, inputs)
    return jnp.take_along_axis(shifted_logits, predicted[:, None], axis=-1).sum()

  gradients = jax.grad(predicted_score)(jnp.zeros_like(last_block))
  channel_weights = gradients.mean(axis=(1, 2), keepdims=True)
  cam = nn.relu((channel_weights * last_block).sum(-1, keepdims=True))
  cam = jax.image.resize(cam, inputs.shape[:3] + (1,), "linear")[..., 0]
  peak = cam.max(axis=(1, 2), keepdims=True)
  return jnp.where(peak > 0, cam / jnp.where(peak > 0, peak, 1.0), 0.0), logits, aux


def attention_maps(aux: dict[str, Any]) -> dict[str, jax.Array]:
  """The network's own spatial maps, each (B, h, w) in [0, 1], keyed by the panel title."""
  maps = {}
  if "global_map" in aux:
    maps["PD global map"] = nn.sigmoid(aux["global_map"][..., 0])
  for block, reverse in zip((5, 4, 3), aux.get("reverse_attention", ())):
    maps[f"RA A{block}"] = reverse[..., 0]
  for block, spatial in list(enumerate(aux.get("spatial_maps", ()), start=1))[2:]:
    maps[f"spatial attention {block}"] = spatial[..., 0]
  return maps


@functools.partial(jax.jit, static_argnames=("model", "preprocessing"))
def _explain(model: nn.Module, preprocessing: Preprocessing, variables: Any, crops: jax.Array):
  """One jitted program per (model, preprocessing, batch size), reused across images and frames."""
  cam, logits, aux = grad_cam(model, variables, preprocessing.inputs(crops))
  return jax.nn.softmax(logits, -1), cam, attention_maps(aux), tuple(aux.get("channel_weights", ()))


def explanations(classifier: Classifier, crops: np.ndarray) -> list[dict[str, Any]]:
  """Per crop: probabilities, Grad-CAM, attention maps and channel weights as NumPy arrays (the
  batch padded to a bucket, so a stream of face counts compiles rarely)."""
  outputs = _explain(classifier.model, classifier.preprocessing, classifier.variables,
                     jnp.asarray(buckets.pad(crops)))
  probabilities, cam, maps, weights = jax.device_get(outputs)
  return [{"probabilities": probabilities[i], "grad_cam": cam[i],
           "maps": {name: value[i] for name, value in maps.items()},
           "channel_weights": [block[i] for block in weights]} for i in range(len(crops))]


def panel(crop: np.ndarray, explanation: dict[str, Any], class_names: list[str], path: os.PathLike,
          title: str = "") -> None:
  """One PNG: the crop, each attention map and Grad-CAM over it, the channel weights below."""
  overlays = dict(explanation["maps"], **{"Grad-CAM": explanation["grad_cam"]})
  weights = explanation["channel_weights"]
  columns = 1 + len(overlays)
  figure = plt.figure(figsize=(1.9 * columns, 2.6 + (1.3 if weights else 0.0)))
  grid = figure.add_gridspec(2 if weights else 1, columns, height_ratios=[2, 1] if weights else [1])
  image_axes = [figure.add_subplot(grid[0, i]) for i in range(columns)]
  image_axes[0].imshow(crop, cmap="gray", vmin=0, vmax=255)
  image_axes[0].set_title("input", fontsize=8)
  for axes, (name, heat) in zip(image_axes[1:], overlays.items()):
    # Each map is stretched over its own range (named in the title): RA weights often span only a
    # few hundredths, which a fixed 0..1 scale would show as one flat colour.
    low, high = float(heat.min()), float(heat.max())
    axes.imshow(crop, cmap="gray", vmin=0, vmax=255)
    axes.imshow(heat,
                cmap="jet", alpha=0.45, vmin=low, vmax=max(high, low + 1e-6),
                interpolation="bilinear",
                extent=(-0.5, crop.shape[1] - 0.5, crop.shape[0] - 0.5, -0.5))
    axes.set_title(f"{name}\n{low:.2f}..{high:.2f}", fontsize=7)
  for axes in image_axes:
    axes.set_axis_off()
  if weights:
    _channel_bars(figure.add_subplot(grid[1, :]), weights)
  probabilities = explanation["probabilities"]
  best = int(np.argmax(probabilities))
  figure.suptitle(f"{title}  {class_names[best]} {probabilities[best]:.0%}".strip(), fontsize=9)
  figure.tight_layout()
  figure.savefig(path, dpi=110)
  plt.close(figure)


def _channel_bars(axes, weights: list[np.ndarray]) -> None:
  """Every block's channel weights side by side, coloured by block."""
  start = 0
  for block, values in enumerate(weights, start=1):
    positions = np.arange(start, start + len(values))
    axes.bar(positions, values, width=1.0, color=f"C{block - 1}", label=f"block {block}")
    start += len(values)
  axes.set_xlim(0, start)
  axes.set_xlabel("channel (blocks 1-5)", fontsize=7)
  axes.set_ylabel("weight", fontsize=7)
  axes.tick_params(labelsize=6)
  axes.legend(fontsize=6, ncol=len(weights), loc="upper right", frameon=False)
