"""Paper 000 (Chen & Chen 2024): its network, the rows m1..m6 of Table 1, and its training settings.
configs/fer2013.py and configs/cka.py train them on their datasets, each giving only its epochs."""

from ferjax.configs import common
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
    batch_size=32,  # Paper 000 states none: paper 002's.
    # Paper 000 names no optimizer and no initial rate: paper 002's SGD, momentum 0.9, lr 0.01.
    # Neither paper gives a weight decay: the usual VGG value.
    optimizer=dict(learning_rate=0.01, momentum=0.9, nesterov=False, weight_decay=5e-4),
    # Section 3.3: halve "when the loss rate ceased to decrease within three iterations" (PyTorch
    # 1.4): ReduceLROnPlateau(factor=0.5, patience=3, threshold=1e-4, relative) halves after the 4th
    # epoch without a lower loss. decay: lr x 0.9 per epoch with schedule=exponential.
    schedule=dict(name="plateau", factor=0.5, patience=3, threshold=1e-4, decay=0.9),
    # Joint loss L = L_s + 0.005 (L_C + 7 L_cos) for m6 (eq. 7, section 3.3); m1..m5 train with
    # softmax alone (NETWORK.softmax_variants). center_rate: the centres' update rate (alpha of Wen
    # et al.).
    loss=dict(name="island", lam=0.005, lambda1=7.0, gamma=0.0, center_rate=0.5),
    # Section 3.1 expands the training set 15 times: 3 mirror states x rotations of -10..10 degrees
    # at 5-degree steps (ferjax.data.augment.expansion_views). views="expanded" visits every
    # (image, view) pair once per epoch; views=random draws one random view per step instead (a
    # flip with probability 0.5 and one of the angles).
    augmentation=dict(views="expanded", mirrors=("none", "horizontal", "vertical"), flip=True,
                      rotation="discrete", max_degrees=10.0, crop_scale=(), erase_prob=0.0,
                      tta=False))

