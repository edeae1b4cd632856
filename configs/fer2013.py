r"""FER2013 with paper 000's framework (Chen & Chen 2024): train on Training, select on
PublicTest, report PrivateTest; the argument picks Table 1's row (m1..m6, default m6) and other
switches. The paper's training settings are TRAINING below; its network is common.PAPER_000.

  python -m ferjax.main --config=configs/fer2013.py --workdir=workdirs/fer2013
  python -m ferjax.main --config=configs/fer2013.py:m4,runs=10 --workdir=workdirs/fer2013_m4
A quick run (width 0.25, 2 expanded epochs of a fixed 1,024-image subset, minutes on a CPU):
  python -m ferjax.main --config=configs/fer2013.py:quick --workdir=workdirs/fer2013_quick
Switches: m1..m6, lambda_sweep|lambda1_sweep (paper 000's Fig. 6, section 3.3), align_corners=true
(m4..m6: the partial decoder upsamples as CPD's code), fc_head=true (m1: VGG16's own FC head), and
those of every config (configs/common.py:parse_common). Any field can also be set with
--config.<key>=<value>.
  python -m ferjax.sweep --config=configs/fer2013.py:lambda1_sweep,runs=3 \
    --workdir=workdirs/lambda1_sweep
  python -m ferjax.sweep --config=configs/fer2013.py:lambda_sweep,runs=3 \
    --workdir=workdirs/lambda_sweep
"""

import ml_collections

from configs import common

TRAINING = common.Training(
    batch_size=32,  # Paper 000 states none: paper 002's.
    # Paper 000 names no optimizer and no initial rate: paper 002's SGD, momentum 0.9, lr 0.01.
    # Neither paper gives a weight decay: the usual VGG value.
    optimizer=dict(learning_rate=0.01, momentum=0.9, nesterov=False, weight_decay=5e-4),
    # Section 3.3: halve "when the loss rate ceased to decrease within three iterations" (PyTorch
    # 1.4): ReduceLROnPlateau(factor=0.5, patience=3, threshold=1e-4, relative) halves after the 4th
    # epoch without a lower loss. decay: lr x 0.9 per epoch with schedule=exponential.
    schedule=dict(name="plateau", factor=0.5, patience=3, threshold=1e-4, decay=0.9),
    # Joint loss L = L_s + 0.005 (L_C + 7 L_cos) for m6 (eq. 7, section 3.3); m1..m5 train with
    # softmax alone (common.PAPER_000). center_rate: the centres' update rate (alpha of Wen et al.).
    loss=dict(name="island", lam=0.005, lambda1=7.0, gamma=0.0, center_rate=0.5),
    # Not given by paper 000. An epoch of the expanded set is 15 x 28,709 images (13,457 steps of
    # 32): 6 of them (80,742 steps); 40 epochs (35,880 steps) with views=random.
    epochs={"expanded": 6, "random": 40},
    # Section 3.1 expands the training set 15 times: 3 mirror states x rotations of -10..10 degrees
    # at 5-degree steps (ferjax.data.augment.expansion_views). views="expanded" visits every
    # (image, view) pair once per epoch; views=random draws one random view per step instead (a
    # flip with probability 0.5 and one of the angles).
    augmentation=dict(views="expanded", mirrors=("none", "horizontal", "vertical"), flip=True,
                      rotation="discrete", max_degrees=10.0, crop_scale=(), erase_prob=0.0,
                      tta=False))


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  return common.paper_config(common.PAPER_000, TRAINING, "fer2013", arg)
