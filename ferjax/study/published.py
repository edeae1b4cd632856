"""The papers' published numbers: the one place ferjax's reports and studies read them from.

Only numbers the papers' text states are entered; a chart whose values the text does not give is
represented by what the text says of it.
"""

# Paper 000 (Chen & Chen, JIPS 2024), section 3.4, Table 1 "Comparison of the experimental results
# for various improvement strategies": (Acc %, Sta) per model row 1-6; row 6 adds the joint (island)
# loss, whose check mark the PDF extraction lost. Sta is printed without a unit. CK+ there has 7
# classes: section 3.1 lists eight with neutral and omits contempt. CK+48 has no neutral, so neither
# ckplus/6class (no contempt, no neutral) nor ckplus/7class (contempt, no neutral) has the paper's
# classes.
PAPER_000_TABLE_1: dict[str, dict[str, tuple[float, float]]] = {
    "fer2013": {"m1": (69.79, 0.38), "m2": (71.53, 0.35), "m3": (73.85, 0.34), "m4": (73.84, 0.26),
                "m5": (73.97, 0.25), "m6": (74.08, 0.24)},
    "ckplus": {"m1": (92.14, 0.31), "m2": (93.01, 0.27), "m3": (96.72, 0.24), "m4": (96.72, 0.16),
               "m5": (97.94, 0.13), "m6": (98.66, 0.11)},
}

# Paper 000, section 3.5, Table 2 "Performance comparison of different methods": (Acc %, Sta) on
# FER2013 and CK+. "Proposed method" is Table 1's model 6.
PAPER_000_TABLE_2: dict[str, dict[str, tuple[float, float]]] = {
    "Barman and Dutta [8]": {"fer2013": (48.75, 0.31), "ckplus": (92.15, 0.28)},
    "Agarwal and Mukherjee [9]": {"fer2013": (51.14, 0.38), "ckplus": (93.47, 0.29)},
    "Mollahosseini et al. [11]": {"fer2013": (58.72, 0.41), "ckplus": (95.36, 0.35)},
    "Verma et al. [14]": {"fer2013": (69.44, 0.37), "ckplus": (96.17, 0.34)},
    "Liu et al. [15]": {"fer2013": (72.01, 0.35), "ckplus": (96.49, 0.29)},
    "Proposed method (m6)": {"fer2013": (74.08, 0.24), "ckplus": (98.66, 0.11)},
}

# Paper 002, section 3.2 "Validation of Attention Mechanism": M-, MCA-, MSA- and MCSA-VGGNet are
# compared only in Figure 10 (a chart, lost in the text), and its Table 1 (angry / happy / sad per
# variant) is lost in the extraction too; the text states no accuracy of any variant, so none is
# entered here.
PAPER_002_VARIANTS: dict[str, dict[str, tuple[float, float | None]]] = {"fer2013": {}, "ckplus": {}}

# Paper 000, section 3.3 / Fig. 6 (a chart; the text gives no accuracies): on FER2013 "the
# recognition accuracy was significantly higher when lambda_1 = 7" (lambda = 0.01), and "the model
# achieved the highest recognition rate when lambda was set at 0.005" (lambda_1 = 7).
PAPER_000_FIG_6_BEST = {"loss.lambda1": 7.0, "loss.lam": 0.005}
