r"""FER2013 trained beyond both papers, for the model that ships with ferjax (docs/MODELS.md):
paper 000's Table 1 baseline m1 (VGG16's convolutions with BatchNorm, global average pool, dense)
at width 0.25 and 48 px, sized to train on a 2-core CPU in about 2 hours. Selected on PublicTest,
reported on PrivateTest as every FER2013 config, and also with the 12 test-time views (tta_report).

  python -m ferjax.main --config=configs/fer2013_beyond.py --workdir=workdirs/fer2013_beyond
  python -m ferjax.export --workdir=workdirs/fer2013_beyond --out=ferjax/shipped/fer2013.ferjax

What departs from the papers' training (paper000.TRAINING), each a common practice rather than a
choice tuned here:
  * augmentation: one random view per step; a left-right mirror with probability 0.5 (no
    upside-down faces: the papers' third mirror state), a rotation uniform in +-10 degrees, a crop
    of 80-100% of the area, random erasing with probability 0.25 (Zhong et al. 2020);
  * cosine annealing of the rate over the run (schedules.end_epoch), from 0.02, Nesterov momentum;
  * label smoothing 0.1 (losses.smoothed_softmax_objective).
The argument takes every common switch (common.parse_common), e.g. epochs=, width=, seed=.
"""

import ml_collections

from ferjax.configs import common, paper000

EPOCHS = {"random": 40}

TRAINING = common.Training(
    batch_size=paper000.TRAINING.batch_size,
    optimizer=dict(learning_rate=0.02, momentum=0.9, nesterov=True, weight_decay=5e-4),
    schedule=dict(name="cosine"),
    # The weights every loss section holds (ferjax.train.hyper); the smoothed softmax uses none.
    loss=dict(paper000.TRAINING.loss, name="smoothed_softmax"),
    augmentation=dict(views="random", mirrors=("none", "horizontal"), flip=True,
                      rotation="uniform", max_degrees=10.0, crop_scale=(0.8, 1.0), erase_prob=0.25,
                      tta=False))


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = common.paper_config(paper000.NETWORK, TRAINING, "fer2013", EPOCHS,
                               f"m1,width=0.25,tta_report,{arg}")
  config.loss.name = TRAINING.loss["name"]  # paper_config gives m1 the papers' plain softmax.
  return config
