"""CK+ with paper 000's framework (Chen & Chen 2024), 6 classes (contempt dropped).

Run the full model (Table 1, row m6):
  FERJAX_MANUAL_DIR=../shared/data python -m ferjax.main --config=configs/cka.py
A Table 1 row:
  FERJAX_MANUAL_DIR=../shared/data python -m ferjax.main --config=configs/cka.py:m3
Smaller network for a quick look (width multiplier):
  python -m ferjax.main --config=configs/cka.py:m6,width=0.25

Until training lands (issue 4) the main job builds this model, runs it on a real CK+ image and prints
the class probabilities of the (untrained) network.
"""

import os

import ml_collections

from configs import common
from ferjax.models import variants

CLASSES = ("anger", "disgust", "fear", "happy", "sadness", "surprise")


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  args = common.parse_arg(arg, variant="m6", width=1.0, image_size=48)
  config = ml_collections.ConfigDict()
  config.dataset = "ckplus"
  config.classes = CLASSES
  config.manual_dir = os.environ.get("FERJAX_MANUAL_DIR", "../shared/data")
  config.image_size = args.image_size  # native 48 px; the paper resizes to 224 (section 3.1).
  config.channels = 1
  config.seed = 0

  config.model = ml_collections.ConfigDict()
  config.model.name = "contextual"
  config.model.options = ml_collections.ConfigDict(
      dict(common.choose(variants.CONTEXTUAL_VARIANTS, args.variant, "Table 1 row"),
           num_classes=len(CLASSES), width=args.width, dropout=0.001, batch_norm=False))
  config.loss = variants.CONTEXTUAL_LOSS[args.variant]
  return config
