"""Labelled faces drawn onto the image they came from: box, five landmarks, label and
probability."""

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

COLOURS = ((230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
           (145, 30, 180), (70, 240, 240), (240, 50, 230))  # One per class, distinct on photos.


def annotate(image: np.ndarray, faces: Sequence[dict], class_names: Sequence[str]) -> np.ndarray:
  """RGB uint8 copy of `image` with each face's box, landmarks and "label p" drawn in its class
  colour.

  `faces` are prediction records with "box" (x1, y1, x2, y2), "landmarks" ((x, y) x 5), "label" and
  "probabilities" (class name -> probability).
  """
  canvas = Image.fromarray(np.asarray(image)).convert("RGB")
  draw = ImageDraw.Draw(canvas)
  line = max(2, round(min(canvas.size) / 250))
  font = ImageFont.load_default(size=max(12, round(min(canvas.size) / 30)))
  for face in faces:
    colour = COLOURS[list(class_names).index(face["label"]) % len(COLOURS)]
    x1, y1, x2, y2 = face["box"]
    draw.rectangle((x1, y1, x2, y2), outline=colour, width=line)
    for x, y in face["landmarks"]:
      draw.ellipse((x - line, y - line, x + line, y + line), fill=colour)
    text = f"{face['label']} {face['probabilities'][face['label']]:.0%}"
    left, top, right, bottom = draw.textbbox((x1, y1), text, font=font)
    lift = bottom - top + 2 * line
    origin = (x1, y1 - lift if y1 - lift >= 0 else y2 + line)
    left, top, right, bottom = draw.textbbox(origin, text, font=font)
    draw.rectangle((left - line, top - line, right + line, bottom + line), fill=colour)
    draw.text(origin, text, fill=(0, 0, 0), font=font)
  return np.asarray(canvas)
