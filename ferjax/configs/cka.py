r"""CK+ with paper 000's framework (Chen & Chen 2024), subject-independent 10-fold
cross-validation; the argument picks Table 1's row (m1..m6, default m6) and other switches.
CK+48 has 6 classes once contempt is dropped; paper 000 drops contempt too but keeps neutral
(section 3.1), which CK+48 lacks, so the paper's CK+ has 7 classes and its Table 1 CK+ column is not
a like-for-like comparison. The paper's network and training settings are paper000.py's; this file
gives the epochs.

The full model on fold 0 (paper settings, 48 px):
  python -m ferjax.main --config=configs/cka.py --workdir=workdirs/cka
A quick run (width 0.25, 2 expanded epochs, minutes on a CPU; the README's main-job command):
  python -m ferjax.main --config=configs/cka.py:quick --workdir=workdirs/cka_quick
Table 1 row m3, all 10 folds, 10 runs per fold (paper 000's Acc / Sta protocol):
  python -m ferjax.main --config=configs/cka.py:m3,fold=all,runs=10 --workdir=workdirs/cka_m3
Switches: m1..m6, lambda_sweep|lambda1_sweep (paper 000's Fig. 6, run by ferjax.analysis.sweep),
align_corners=true (m4..m6: the partial decoder upsamples as CPD's code), fc_head=true (m1: VGG16's
own FC head), and those of every config (common.parse_common). Any field can also be set
with --config.<key>=<value>.
  python -m ferjax.sweep --config=configs/cka.py:lambda1_sweep,fold=all \
    --workdir=workdirs/cka_lambda1
"""

import ml_collections

from ferjax.configs import common, paper000

# Not given by paper 000. An epoch of the expanded set is 15 passes over a fold's ~834 training
# images (~390 steps of 32): 10 of them; 30 with views=random (one random view per step).
EPOCHS = {"expanded": 10, "random": 30}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  return common.paper_config(paper000.NETWORK, paper000.TRAINING, "ckplus/6class", EPOCHS,
                             arg)
