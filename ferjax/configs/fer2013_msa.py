r"""FER2013 with paper 002's multiscale VGG16 (M, MCA, MSA, MCSA; default MCSA): train on
Training, select on PublicTest, report PrivateTest. The paper's network and training settings are
paper002.py's; this file gives the epochs.

  python -m ferjax.main --config=configs/fer2013_msa.py --workdir=workdirs/fer2013_msa
  python -m ferjax.main --config=configs/fer2013_msa.py:MCA,runs=10 --workdir=workdirs/fer2013_mca
Switches: M|MCA|MSA|MCSA, gamma_sweep|loss_sweep (DDA's gamma; softmax vs center vs DDA, the
losses of Fig. 9; run by ferjax.analysis.sweep), and those of every config (common.parse_common).
  python -m ferjax.sweep --config=configs/fer2013_msa.py:gamma_sweep --workdir=workdirs/gamma_sweep
  python -m ferjax.sweep --config=configs/fer2013_msa.py:loss_sweep --workdir=workdirs/loss_sweep
"""

import ml_collections

from ferjax.configs import common, paper002

# Not given by paper 002. With lr x 0.9 per (expanded) epoch the rate ends at 53% of its start after
# 6; with views=random, at 1.5% after 40.
EPOCHS = {"expanded": 6, "random": 40}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  return common.paper_config(paper002.NETWORK, paper002.TRAINING, "fer2013", EPOCHS, arg)
