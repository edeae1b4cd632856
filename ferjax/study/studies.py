"""The papers' tables as studies: which cells (config + arguments) make each row, for
`ferjax.study`.

  python -m ferjax.study --study=table1_fer2013 --budget=9m --ledger=docs/results/ledger.jsonl
  python -m ferjax.study --study=table1_ckplus --budget=1h --ledger=ledger.jsonl --width=0.25 \\
      --epochs=1 --runs=1
  python -m ferjax.report --ledger=ledger.jsonl

Every study keeps the papers' N = 10 runs per cell unless `--runs` says otherwise; CK+ studies train
all 10 subject-independent folds (`--folds` picks some). Published numbers come from
ferjax.study.published.
"""

from ferjax.study.plan import Cell, Study
from ferjax.study.published import PAPER_000_FIG_6_BEST, PAPER_000_TABLE_1, PAPER_000_TABLE_2

CKPLUS_FOLDS = tuple(range(10))
_TABLE_1_ROWS = ("m1", "m2", "m3", "m4", "m5", "m6")
# The paper's model 1 is "the original VGG16 model" (section 3.4); ferjax's m1 row is its backbone
# with a global average pool and one dense layer (docs/FIDELITY.md 0.2).
_M1_NOTE = ("ferjax's m1 is VGG16's convolutions + global average pool + dense, not the paper's "
            "\"original VGG16\" with its FC layers (fc_head=true).")
# Each row against the one before (the module it adds), and the baseline against the full network.
_TABLE_1_PAIRS = (*zip(_TABLE_1_ROWS, _TABLE_1_ROWS[1:]), ("m1", "m6"))
_PAPER_002_ROWS = ("M", "MCA", "MSA", "MCSA")


def table_1(dataset: str, config: str) -> tuple[Cell, ...]:
  """Paper 000's Table 1: m1..m6 with the published Acc / Sta."""
  return tuple(
      Cell(row, config, row, published=PAPER_000_TABLE_1[dataset][row]) for row in _TABLE_1_ROWS)


def table_2(dataset: str, config: str, paper_002_config: str) -> tuple[Cell, ...]:
  """The rows of paper 000's Table 2 ferjax has: its proposed method (m6); paper 002's MCSA with DDA
  beside it, which Table 2 does not list."""
  return (Cell("m6", config, "m6", published=PAPER_000_TABLE_2["Proposed method (m6)"][dataset]),
          Cell("paper 002 MCSA + DDA", paper_002_config, "MCSA"))


def reference_rows(dataset: str) -> tuple[tuple[str, float, float], ...]:
  """Table 2's other methods, which ferjax does not implement: published numbers only."""
  return tuple((method, *numbers[dataset]) for method, numbers in PAPER_000_TABLE_2.items()
               if not method.startswith("Proposed"))


def paper_002(config: str) -> tuple[Cell, ...]:
  """Paper 002's variants with its DDA loss (softmax + center + DDA) and with softmax alone."""
  cells = []
  for row in _PAPER_002_ROWS:
    cells.append(Cell(f"{row} + DDA", config, row))
    cells.append(Cell(f"{row} softmax", config, row, overrides=(("loss.name", "softmax"),)))
  return tuple(cells)


_PAPER_002_PAIRS = (("M + DDA", "MCA + DDA"), ("M + DDA", "MSA + DDA"), ("M + DDA", "MCSA + DDA"),
                    *((f"{row} softmax", f"{row} + DDA") for row in _PAPER_002_ROWS))


def fig_6(key: str, values: tuple[float, ...], fixed: tuple[str, float]) -> tuple[Cell, ...]:
  """One panel of paper 000's Fig. 6: m6 on FER2013 with `key` swept and the other weight
  `fixed`."""
  return tuple(
      Cell(f"{key.split('.')[1]}={value:g}", "fer2013", "m6", overrides=((key, value), fixed))
      for value in values)


def beyond(config: str) -> tuple[Cell, ...]:
  """Levers beyond the papers that FER2013 results above 74% use: ImageNet VGG16 convolutions (from
  the user's file named by FERJAX_VGG16: torchvision's vgg16-397923af.pth or Keras'
  vgg16_weights_tf_dim_ordering_tf_kernels.h5), test-time augmentation (reported beside the plain
  number of every cell) and a schedule twice as long."""
  return (Cell("m6", config, "m6,tta_report"),
          Cell("m6, 2x epochs", config, "m6,tta_report", epochs_factor=2.0),
          Cell("m1 + ImageNet VGG16", config, "m1,tta_report,pretrained={FERJAX_VGG16}",
               needs=("FERJAX_VGG16",)),
          Cell("m6 + ImageNet VGG16", config, "m6,tta_report,pretrained={FERJAX_VGG16}",
               needs=("FERJAX_VGG16",)))


_BEYOND_PAIRS = (("m6", "m6, 2x epochs"), ("m1 + ImageNet VGG16", "m6 + ImageNet VGG16"),
                 ("m6", "m6 + ImageNet VGG16"))

STUDIES = {study.name: study for study in (
    Study("table1_fer2013", "Paper 000 Table 1 on FER2013 (PrivateTest; selected on PublicTest)",
          table_1("fer2013", "fer2013"), comparisons=_TABLE_1_PAIRS, note=_M1_NOTE),
    Study("table1_ckplus", "Paper 000 Table 1 on CK+ (10 subject-independent folds)",
          table_1("ckplus", "cka"), folds=CKPLUS_FOLDS, comparisons=_TABLE_1_PAIRS,
          note="CK+48 has 6 classes without neutral; the paper's CK+ has 7 with neutral. "
               + _M1_NOTE),
    Study("table2_fer2013", "Paper 000 Table 2 on FER2013: the methods ferjax has",
          table_2("fer2013", "fer2013", "fer2013_msa"), reference_rows=reference_rows("fer2013")),
    Study("table2_ckplus", "Paper 000 Table 2 on CK+: the methods ferjax has",
          table_2("ckplus", "cka", "ck_msa"), folds=CKPLUS_FOLDS,
          reference_rows=reference_rows("ckplus")),
    Study("fig6_lambda1", "Paper 000 Fig. 6(b): lambda_1 from 1 to 10 at lambda = 0.01 (FER2013)",
          fig_6("loss.lambda1", tuple(float(v) for v in range(1, 11)), ("loss.lam", 0.01)),
          note="The paper's text: highest at lambda_1 = "
               f"{PAPER_000_FIG_6_BEST['loss.lambda1']:g}."),
    Study("fig6_lambda", "Paper 000 Fig. 6(a): lambda at lambda_1 = 7 (FER2013)",
          fig_6("loss.lam", (0.0005, 0.001, 0.005, 0.01, 0.05), ("loss.lambda1", 7.0)),
          note=f"The paper's text: highest at lambda = {PAPER_000_FIG_6_BEST['loss.lam']:g}."),
    Study("paper002_fer2013", "Paper 002's variants on FER2013, with and without its DDA loss",
          paper_002("fer2013_msa"), comparisons=_PAPER_002_PAIRS,
          note="Paper 002 gives its variants' accuracies only in a chart (Fig. 10): "
               "none are quoted."),
    Study("paper002_ckplus", "Paper 002's variants on CK+ (10 subject-independent folds), with and "
          "without its DDA loss", paper_002("ck_msa"), folds=CKPLUS_FOLDS,
          comparisons=_PAPER_002_PAIRS,
          note="Paper 002's own CK+ protocol is a leaky random 9:1 split; "
               "these folds are by subject."),
    Study("beyond_fer2013",
          "Beyond the papers on FER2013: ImageNet VGG16, test-time augmentation, 2x epochs",
          beyond("fer2013"), comparisons=_BEYOND_PAIRS,
          note="Neither paper uses pretrained weights or test-time augmentation; the TTA column "
               "averages 12 views (4 corner crops, the centre and the whole image, "
               "each mirrored)."),
    Study("shipped_fer2013",
          "The model that ships with ferjax: m1 trained beyond the papers on FER2013",
          (Cell("m1, beyond the papers", "fer2013_beyond"),), runs=1,
          note="configs/fer2013_beyond.py: mirrors, rotation, crops and erasing, a cosine schedule "
               "and label smoothing; docs/MODELS.md is its card."),
    Study("beyond_ckplus",
          "Beyond the papers on CK+: ImageNet VGG16, test-time augmentation, 2x epochs",
          beyond("cka"), folds=CKPLUS_FOLDS, comparisons=_BEYOND_PAIRS),
)}
