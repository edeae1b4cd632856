r"""FER2013 with paper 000's framework (Chen & Chen 2024): train on Training, select on
PublicTest, report PrivateTest; the argument picks Table 1's row (m1..m6, default m6) and other
switches. The paper's network and training settings are paper000.py's; this file gives the epochs.

  python -m ferjax.main --config=configs/fer2013.py --workdir=workdirs/fer2013
  python -m ferjax.main --config=configs/fer2013.py:m4,runs=10 --workdir=workdirs/fer2013_m4
A quick run (width 0.25, 2 expanded epochs of a fixed 1,024-image subset, minutes on a CPU):
  python -m ferjax.main --config=configs/fer2013.py:quick --workdir=workdirs/fer2013_quick
Switches: m1..m6, lambda_sweep|lambda1_sweep (paper 000's Fig. 6, section 3.3), align_corners=true
(m4..m6: the partial decoder upsamples as CPD's code), fc_head=true (m1: VGG16's own FC head), and
those of every config (common.parse_common). Any field can also be set with
--config.<key>=<value>.
  python -m ferjax.sweep --config=configs/fer2013.py:lambda1_sweep,runs=3 \
    --workdir=workdirs/lambda1_sweep
  python -m ferjax.sweep --config=configs/fer2013.py:lambda_sweep,runs=3 \
    --workdir=workdirs/lambda_sweep
"""

import ml_collections

from ferjax.configs import common, paper000

# Not given by paper 000. An epoch of the expanded set is 15 x 28,709 images (13,457 steps of 32):
# 6 of them (80,742 steps); 40 epochs (35,880 steps) with views=random.
EPOCHS = {"expanded": 6, "random": 40}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  return common.paper_config(paper000.NETWORK, paper000.TRAINING, "fer2013", EPOCHS, arg)
