"""The papers' ablation variants as flags of the two networks.

Paper 000, Table 1: rows m1..m6 of the contextual network (m6 is m5's network trained with the joint
island loss, see `CONTEXTUAL_LOSS`). Paper 002, section 3.2: M-, MCA-, MSA-, MCSA-VGGNet.
"""

CONTEXTUAL_VARIANTS = {
    "m1": dict(fusion=False, gcca=False, pd=False, ra=False),
    "m2": dict(fusion=True, gcca=False, pd=False, ra=False),
    "m3": dict(fusion=True, gcca=True, pd=False, ra=False),
    "m4": dict(fusion=True, gcca=True, pd=True, ra=False),
    "m5": dict(fusion=True, gcca=True, pd=True, ra=True),
    "m6": dict(fusion=True, gcca=True, pd=True, ra=True),
}
CONTEXTUAL_LOSS = {name: "softmax" for name in CONTEXTUAL_VARIANTS} | {"m6": "island"}

MULTISCALE_VARIANTS = {
    "M": dict(channel_attention=False, spatial_attention=False),
    "MCA": dict(channel_attention=True, spatial_attention=False),
    "MSA": dict(channel_attention=False, spatial_attention=True),
    "MCSA": dict(channel_attention=True, spatial_attention=True),
}

# Every distinct network, named "<model>-<variant>" (m6 shares m5's network).
NETWORKS = {f"contextual-{row}": ("contextual", flags)
            for row, flags in CONTEXTUAL_VARIANTS.items() if row != "m6"}
NETWORKS |= {
    f"multiscale-{name}": ("multiscale", flags) for name, flags in MULTISCALE_VARIANTS.items()
}
