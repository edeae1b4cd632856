r"""CK+ (CK+48's 6 classes) with paper 002's multiscale VGG16 (M, MCA, MSA, MCSA; default
MCSA), subject-independent 10-fold cross-validation. Paper 002 removes contempt "to be compatible
with the seven basic expressions in the Fer2013 dataset" (section 2.6.2): seven classes with
neutral, presumably (the text does not name it), which CK+48 lacks. The paper's network and training
settings are paper002.py's; this file gives the epochs.

  python -m ferjax.main --config=configs/ck_msa.py --workdir=workdirs/ck_msa
  python -m ferjax.main --config=configs/ck_msa.py:MSA,fold=all,runs=10 \
    --workdir=workdirs/ck_msa_all
Paper 002's own protocol, LEAKY (a random 9:1 image split, section 2.6.2; 10 seeded repetitions):
  python -m ferjax.main --config=configs/ck_msa.py:folds=leaky_random,fold=all \
    --workdir=workdirs/ck_msa_9to1
Switches: M|MCA|MSA|MCSA, gamma_sweep|loss_sweep (run by ferjax.analysis.sweep), and those of every
config (common.parse_common).
  python -m ferjax.sweep --config=configs/ck_msa.py:loss_sweep,fold=all \
    --workdir=workdirs/ck_loss_sweep
"""

import ml_collections

from ferjax.configs import common, paper002

# Not given by paper 002: as configs/cka.py (10 expanded epochs of a fold's ~390 steps; 30 with
# views=random).
EPOCHS = {"expanded": 10, "random": 30}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  return common.paper_config(paper002.NETWORK, paper002.TRAINING, "ckplus/6class", EPOCHS,
                             arg)
