"""Paper 000 (Chen & Chen 2024): its network, the rows m1..m6 of Table 1, and its training settings.
configs/fer2013.py and configs/cka.py train them on their datasets, each giving only its epochs."""

from ferjax.configs import common, paper002
from ferjax.models import contextual, variants

NETWORK = common.Paper(  # The rows m1..m6 of Table 1.
    name="paper000", model="contextual", variants=variants.CONTEXTUAL_VARIANTS, kind="Table 1 row",
    default_variant="m6",
    # Section 3.3: "a set random dropout rate of 0.001".
    dropout=0.001,
    # Table 1: m6 is m5's network trained with the joint loss; m1..m5 train with softmax alone.
    softmax_variants=tuple(row for row, loss in variants.CONTEXTUAL_LOSS.items()
                           if loss == "softmax"),
    # Paper-literal switches (docs/FIDELITY.md): align_corners, CPD's corner-aligned upsampling in
    # the partial decoder (variants with PD); fc_head, VGG16's own FC head for "the original VGG16"
    # (m1 only); head, the fusion head's reading (variants with fusion; docs/FIDELITY.md 0.17).
    switches=dict(
        head=common.Switch(
            option="head", values=None,
            variants=tuple(row for row, flags in variants.CONTEXTUAL_VARIANTS.items()
                           if flags["fusion"]),
            refusal="head= reads the fusion head; {variant} has none (use {allowed})",
            default=contextual.DEFAULT_HEAD),
        align_corners=common.Switch(
            option="align_corners", values=None,
            variants=tuple(row for row, flags in variants.CONTEXTUAL_VARIANTS.items()
                           if flags["pd"]),
            refusal="align_corners=true sets the partial decoder's upsampling; {variant} has none "
                    "(use {allowed})"),
        fc_head=common.Switch(
            option="classifier", values=("gap", "vgg_fc"), variants=("m1",),
            refusal="fc_head=true is VGG16's FC head of Table 1's model 1; use {allowed}, not "
                    "{variant}")))

TRAINING = common.Training(
    # Paper 000 states no batch size, optimizer or initial rate: paper 002's (batch 32, SGD with
    # momentum 0.9, lr 0.01, and the weight decay neither paper gives).
    batch_size=paper002.TRAINING.batch_size,
    optimizer=paper002.TRAINING.optimizer,
    # Section 3.3: halve "when the loss rate ceased to decrease within three iterations" (PyTorch
    # 1.4): ReduceLROnPlateau(factor=0.5, patience=3, threshold=1e-4, relative) halves after the 4th
    # epoch without a lower loss. decay: lr x 0.9 per epoch with schedule=exponential.
    schedule=dict(name="plateau", factor=0.5, patience=3, threshold=1e-4, decay=0.9),
    # Joint loss L = L_s + 0.005 (L_C + 7 L_cos) for m6 (eq. 7, section 3.3); m1..m5 train with
    # softmax alone (NETWORK.softmax_variants). center_rate: the centres' update rate (alpha of Wen
    # et al.).
    loss=dict(name="island", lam=0.005, lambda1=7.0, gamma=0.0, center_rate=0.5),
    # Section 3.1 expands the training set 15 times (common.FIFTEEN_VIEWS).
    augmentation=common.FIFTEEN_VIEWS)

