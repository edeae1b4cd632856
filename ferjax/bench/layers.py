"""VGG16's 3x3 convolutions one by one: forward, input gradient and filter gradient, JAX vs PyTorch.

This isolates the kernels the backend picks for each layer shape of the paper networks' backbone
(batch 32 by default, 48 px maps halving per block), so a gap in a whole-step number can be traced
to the convolution library rather than to the model code. Each kernel is jitted alone (JAX) or run
eagerly in channels_last (PyTorch, its fastest float32 CPU layout) on the same inputs; the median
of the timed calls is kept. Also timed: one large matrix product per framework, which shows whether
a gap is the convolution kernels' or the device's.
"""

import jax
import jax.numpy as jnp
import numpy as np

from ferjax.bench import timing

# (block, input channels, output channels, how many such layers in VGG16); block b's maps are the
# image side / 2^(b - 1).
VGG16_CONVS = ((1, 1, 64, 1), (1, 64, 64, 1), (2, 64, 128, 1), (2, 128, 128, 1), (3, 128, 256, 1),
               (3, 256, 256, 2), (4, 256, 512, 1), (4, 512, 512, 2), (5, 512, 512, 3))
KINDS = ("forward", "input_grad", "filter_grad")


def _conv(x, w):
  return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _jax_kernels() -> dict:
  return {"forward": jax.jit(_conv),
          "input_grad": jax.jit(lambda x, w, g: jax.vjp(_conv, x, w)[1](g)[0]),
          "filter_grad": jax.jit(lambda x, w, g: jax.vjp(_conv, x, w)[1](g)[1])}


def _time_jax(kernel, args, steps: int, warmup: int) -> float:
  return timing.time_steps(lambda _: kernel(*args), jax.block_until_ready, steps, warmup).step_s


def _time_torch(call, steps: int, warmup: int) -> float:
  from ferjax.bench import torch_steps
  return timing.time_steps(lambda _: call(), lambda _: torch_steps.synchronize(), steps,
                           warmup).step_s


def conv_layers(batch: int, steps: int, warmup: int, image_size: int = 48) -> list[dict]:
  """Milliseconds per kernel and layer shape for both frameworks, for `image_size` inputs."""
  import torch
  from ferjax.bench import torch_steps
  device = torch_steps.device()
  kernels = _jax_kernels()
  rng = np.random.default_rng(0)
  rows = []
  for block, c_in, c_out, count in VGG16_CONVS:
    side = image_size // 2 ** (block - 1)
    x = rng.standard_normal((batch, side, side, c_in), np.float32)
    w = rng.standard_normal((3, 3, c_in, c_out), np.float32) * 0.05
    g = rng.standard_normal((batch, side, side, c_out), np.float32)
    jx, jw, jg = (jnp.asarray(a) for a in (x, w, g))
    row = dict(side=side, c_in=c_in, c_out=c_out, count=count,
               gflop=2 * batch * side * side * 9 * c_in * c_out / 1e9)
    for kind, kernel in kernels.items():
      args = (jx, jw) if kind == "forward" else (jx, jw, jg)
      row[f"jax_{kind}_ms"] = _time_jax(kernel, args, steps, warmup) * 1e3
    channels_last = torch.channels_last
    tx = torch.from_numpy(x).permute(0, 3, 1, 2).to(device).contiguous(memory_format=channels_last)
    tw = torch.from_numpy(w).permute(3, 2, 0, 1).to(device).contiguous(memory_format=channels_last)
    tg = torch.from_numpy(g).permute(0, 3, 1, 2).to(device).contiguous(memory_format=channels_last)
    grad = torch.nn.grad
    row["torch_forward_ms"] = _time_torch(lambda: torch.conv2d(tx, tw, padding=1), steps,
                                          warmup) * 1e3
    row["torch_input_grad_ms"] = _time_torch(
        lambda: grad.conv2d_input(tx.shape, tw, tg, padding=1), steps, warmup) * 1e3
    row["torch_filter_grad_ms"] = _time_torch(
        lambda: grad.conv2d_weight(tx, tw.shape, tg, padding=1), steps, warmup) * 1e3
    rows.append(row)
  return rows


def format_layers(rows: list[dict], batch: int, device: str) -> str:
  lines = [
      f"VGG16 3x3 convolutions, batch {batch}, float32, on {device}: ms per layer (JAX / PyTorch)",
      f"  {'map':>5} {'in':>4} {'out':>4} {'x':>2} {'GFLOP':>6}" +
      "".join(f"{k:>20}" for k in KINDS)
  ]
  totals = np.zeros(6)
  for r in rows:
    pairs = [(r[f"jax_{k}_ms"], r[f"torch_{k}_ms"]) for k in KINDS]
    totals += np.array([v for pair in pairs for v in pair]) * r["count"]
    lines.append(
        f"  {r['side']:>5} {r['c_in']:>4} {r['c_out']:>4} {r['count']:>2} {r['gflop']:>6.2f}" +
        "".join(f"{j:>12.1f} /{t:>6.1f}" for j, t in pairs))
  lines.append(f"  {'all 13 layers':>24}" + "".join(
      f"{totals[2 * i]:>12.1f} /{totals[2 * i + 1]:>6.1f}" for i in range(3)))
  lines.append(
      f"  JAX / PyTorch time, all three kernels: {totals[0::2].sum():.0f} / "
      f"{totals[1::2].sum():.0f} ms "
      f"= {totals[0::2].sum() / totals[1::2].sum():.2f}")
  return "\n".join(lines)
