"""One compiled train step of every variant of both papers, checked finite: the first thing a lease
runs.

  python -m ferjax.bench.smoke                                   # 48 px float32, all ten variants
  python -m ferjax.bench.smoke --models=m6,MCSA --image_size=224 --dtype=bfloat16

The step is the one `ferjax.main` trains (the config's loss, optimizer, the papers' augmentation and
the device-resident source gathered inside the step), on random images. Prints one line per variant
with its compile time and loss, writes them to --json, and exits with status 1 if any loss or
gradient norm is not finite.
"""

import json
import sys
import time
from collections.abc import Sequence

import jax
import numpy as np
from absl import app, flags

from ferjax import cli
from ferjax.bench import cases, ferjax_steps

_MODELS = flags.DEFINE_list("models", list(cases.VARIANTS), "Variants to step once.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 48, "Input side (48 native, 224 the papers').")
_DTYPE = flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16"], "Compute dtype.")
_WIDTH = flags.DEFINE_float("width", 1.0, "Channel multiplier (1: the papers' networks).")
_BATCH = flags.DEFINE_integer("batch", 32, "Batch size (the papers': 32).")
_JSON = flags.DEFINE_string("json", None, "Append the rows (JSON lines) to this file.")


def smoke_row(case: cases.Case) -> dict:
  """Compiles and runs one train step of `case`; its compile seconds, loss, gradient norm,
  finiteness."""
  started = time.perf_counter()
  _, compile_s, step = ferjax_steps.compiled_train_step(case, augment=True, source="device")
  metrics = jax.device_get(step(0))
  loss, grad_norm = float(np.mean(metrics["loss"])), float(np.mean(metrics["grad_norm"]))
  return {
      "variant": case.variant, "image_size": case.image_size, "dtype": case.dtype,
      "width": case.width, "batch": case.batch, "device": jax.devices()[0].device_kind,
      "compile_s": compile_s, "seconds": time.perf_counter() - started, "loss": loss,
      "grad_norm": grad_norm, "finite": bool(np.isfinite(loss) and np.isfinite(grad_norm))
  }


def smoke(variants: Sequence[str], image_size: int, dtype: str, width: float,
          batch: int) -> list[dict]:
  cases.check_variants(list(variants))
  rows = []
  for variant in variants:
    row = smoke_row(cases.Case(variant, batch, image_size, dtype, width=width))
    print(f"smoke {variant} {image_size} px {dtype}: compiled in {row['compile_s']:.1f} s, loss "
          f"{row['loss']:.4g}, grad norm {row['grad_norm']:.4g}" +
          ("" if row["finite"] else "  NOT FINITE"),
          flush=True)
    rows.append(row)
  return rows


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  rows = cli.run(smoke, _MODELS.value, _IMAGE_SIZE.value, _DTYPE.value, _WIDTH.value, _BATCH.value)
  if _JSON.value:
    with open(_JSON.value, "a") as output:
      output.writelines(json.dumps(row) + "\n" for row in rows)
  failed = [row["variant"] for row in rows if not row["finite"]]
  if failed:
    print(f"smoke: non-finite loss or gradient in {', '.join(failed)}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
  cli.main(main)
