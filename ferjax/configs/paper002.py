"""Paper 002: its multiscale VGG16 (section 3.2: M, MCA, MSA, MCSA) and its training settings.
configs/fer2013_msa.py and configs/ck_msa.py train them on their datasets, each giving only its
epochs."""

from ferjax.configs import common
from ferjax.models import variants

NETWORK = common.Paper(  # The multiscale VGG16 of section 3.2: M, MCA, MSA, MCSA.
    name="paper002", model="multiscale", variants=variants.MULTISCALE_VARIANTS,
    kind="paper 002 variant", default_variant="MCSA",
    dropout=0.0)  # Paper 002 states no dropout.

TRAINING = common.Training(
    # Section 2.5: "The momentum is set to 0.9, the batch scale is set to 32, and the initial
    # learning rate is set to 0.01." Neither paper gives a weight decay: the usual VGG value.
    batch_size=32,
    optimizer=dict(learning_rate=0.01, momentum=0.9, nesterov=False, weight_decay=5e-4),
    # Section 2.5: "an exponential decay strategy", "decay coefficient is set to 0.9"; ferjax
    # applies it once per epoch (the paper does not say per what). factor, patience, threshold:
    # those of schedule=plateau (paper 000's).
    schedule=dict(name="exponential", factor=0.5, patience=3, threshold=1e-4, decay=0.9),
    # Softmax + center + DDA; weights of the DDA authors (ferjax.train.losses.multiscale_objective;
    # gamma per example: their 4 / batch 32). center_rate: the centres' update rate.
    loss=dict(name="dda", lam=0.01, lambda1=0.0, gamma=0.125, center_rate=0.5),
    # Section 2.7.2 expands the training set 15 times (common.FIFTEEN_VIEWS; its "±100" and "fifty
    # degrees" read as paper 000's -10..10 degrees at 5-degree steps).
    augmentation=common.FIFTEEN_VIEWS)

