"""CK+ (CK+48's 6 classes) with paper 002's multiscale VGG16 (M, MCA, MSA, MCSA; default MCSA), subject-
independent 10-fold cross-validation. Paper 002 removes contempt "to be compatible with the seven basic
expressions in the Fer2013 dataset" (section 2.6.2): seven classes with neutral, presumably (the text
does not name it), which CK+48 lacks.

  python -m ferjax.main --config=configs/ck_msa.py --workdir=workdirs/ck_msa
  python -m ferjax.main --config=configs/ck_msa.py:MSA,fold=all,runs=10 --workdir=workdirs/ck_msa_all
Switches: M|MCA|MSA|MCSA, width=, size=, epochs=, runs=, seed=, fold=0..9|all, source=device|grain,
bn=true|false, dtype=float32|bfloat16, quick, gamma_sweep|loss_sweep (or sweep=<name>, run by ferjax.sweep).
  python -m ferjax.sweep --config=configs/ck_msa.py:loss_sweep,fold=all --workdir=workdirs/ck_loss_sweep
"""

import ml_collections

from configs import common

# Not given by paper 002: as configs/cka.py.
EPOCHS = {"expanded": 10, "random": 30}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  return common.paper002("ckplus/6class", arg, EPOCHS)
