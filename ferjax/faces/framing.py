"""How tightly a dataset frames its faces, measured with MTCNN: the crop margin that matches it.

  python -m ferjax.faces.framing --archive=../shared/data/CK+48.zip --count=150
  python -m ferjax.faces.framing --archive=../shared/data/fer2013.zip --prefix=train/

Each sampled crop is upscaled 3x and pasted into the middle of a mid-gray canvas twice its size, so
the detector sees the whole face with context; the detected box's side divided by the crop's side
gives the framing. A ratio r means the crop is the box widened by (1/r - 1)/2 of its side on every
side, which is the `margin` that `ferjax.faces.align.crop_face` should use to reproduce that
dataset's crops.
"""

import sys

import numpy as np
from absl import flags

from ferjax import cli
from ferjax.data import archive as archive_lib
from ferjax.faces.detect import Detector

_ARCHIVE = flags.DEFINE_string("archive",
                               None,
                               "A zip of face crops (FER2013 or CK+48).",
                               required=True)
_PREFIX = flags.DEFINE_string("prefix", "", "Only members under this path (e.g. train/).")
_COUNT = flags.DEFINE_integer("count", 150, "How many crops to sample.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Sampling seed.")
UPSCALE = 3


def box_to_crop_ratio(detector: Detector, crop: np.ndarray) -> float | None:
  """Side of the best detected box over the side of `crop` (uint8 (S, S)); None if no face is
  found."""
  from PIL import Image
  side = crop.shape[0] * UPSCALE
  large = np.asarray(Image.fromarray(crop).resize((side, side), Image.Resampling.BICUBIC))
  canvas = np.full((2 * side, 2 * side), 128, np.uint8)
  canvas[side // 2:side // 2 + side, side // 2:side // 2 + side] = large
  found = detector(canvas)
  if not found:
    return None
  x1, y1, x2, y2 = found[0].box
  return max(x2 - x1, y2 - y1) / side


def measure(path: str, prefix: str, count: int, seed: int) -> dict:
  """Median and quartiles of the box/crop ratio over `count` sampled crops, and the matching
  margin."""
  detector = Detector()
  with archive_lib.Archive(path) as source:
    members = [
        m for m in source.members() if m.startswith(prefix) and m.lower().endswith((".png", ".jpg"))
    ]
    if not members:
      raise ValueError(f"{path} has no .png or .jpg members under {prefix!r}")
    chosen = np.random.default_rng(seed).choice(members, min(count, len(members)), replace=False)
    ratios = [box_to_crop_ratio(detector, np.asarray(source.image(m), np.uint8)) for m in chosen]
  found = np.array([r for r in ratios if r is not None])
  if not len(found):
    raise ValueError(f"no face detected in {len(chosen)} crops of {path}")
  median = float(np.median(found))
  return {
      "archive": path, "sampled": len(chosen), "detected": len(found), "median_ratio": median,
      "quartiles": np.percentile(found, [25, 75]).round(3).tolist(),
      "margin": (1 / median - 1) / 2
  }


def main(argv: list[str]) -> None:
  del argv
  result = cli.run(measure, _ARCHIVE.value, _PREFIX.value, _COUNT.value, _SEED.value)
  print(
      f"{result['archive']}: faces detected in {result['detected']} of {result['sampled']} crops; "
      f"box side / crop side: median {result['median_ratio']:.3f}, "
      f"quartiles {result['quartiles']}; "
      f"matching margin {result['margin']:+.3f}",
      file=sys.stdout)


if __name__ == "__main__":
  cli.main(main)
