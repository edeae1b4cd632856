"""Shared config pieces: the argument parser, the settings every run shares, and each paper's model
and loss (the variant tables live in ferjax.models.variants).

A config file's `get_config(arg)` receives the text after ':' in `--config=configs/x.py:arg`, e.g.
`m6,fold=3`. `parse_arg` turns it into a ConfigDict of typed values; a bare word sets `variant`.
"""

import os

import ml_collections

from ferjax import hyper
from ferjax.data import augment
from ferjax.models import variants


def _typed(text: str):
  """'3' -> 3, '0.5' -> 0.5, 'true' -> True, anything else stays a string."""
  lowered = text.lower()
  if lowered in ("true", "false"):
    return lowered == "true"
  for cast in (int, float):
    try:
      return cast(text)
    except ValueError:
      pass
  return text


def parse_arg(arg: str, **defaults) -> ml_collections.ConfigDict:
  """Parses 'word,key=value,...' over `defaults`; a bare word turns on a boolean switch or else sets
  'variant'; unknown keys raise."""
  parsed = ml_collections.ConfigDict(defaults, type_safe=False)
  for item in filter(None, (part.strip() for part in (arg or "").split(","))):
    key, sep, value = item.partition("=")
    if not sep:  # A bare word is a switch ('quick') or the variant ('m3').
      key, value = (item, "true") if isinstance(defaults.get(item), bool) else ("variant", item)
    if key not in defaults:
      raise ValueError(f"unknown config argument {key!r} in {arg!r}; allowed: {sorted(defaults)}")
    parsed[key] = _typed(value)
  return parsed


def choose(table: dict, name: str, what: str) -> dict:
  """table[name], or a ValueError listing the known names."""
  if name not in table:
    raise ValueError(f"unknown {what} {name!r}; choose one of {list(table)}")
  return table[name]


NUM_CLASSES = {"fer2013": 7, "ckplus/6class": 6, "ckplus/7class": 7}
# `quick`: epochs per view mode, and FER2013's training subset, sized for minutes on a 2-core CPU.
QUICK_EPOCHS = {"expanded": 2, "random": 20}
QUICK_SUBSET = {"fer2013": 1024}
# Pixel mean and std of each training set (uint8 / 255), for input normalisation.
PIXEL_STATS = {"fer2013": (0.514, 0.307), "ckplus/6class": (0.512, 0.293), "ckplus/7class": (0.512, 0.293)}
# Paper 000 (section 3.1) and paper 002 (section 2.7.2) expand the training set 15 times before
# training: 3 mirror states x rotations of -10..10 degrees at 5-degree steps. views="expanded" makes an
# epoch visit every (image, view) pair once (ferjax.data.augment.expansion_views); views="random" draws
# one random view per step instead (a flip with probability 0.5 and one of the angles).
PAPER_AUGMENTATION = dict(views="expanded", mirrors=augment.PAPER_MIRRORS, flip=True, rotation="discrete",
                          max_degrees=10.0, crop_scale=(), erase_prob=0.0, tta=False)


# The papers' sweeps (`python -m ferjax.sweep`): config overrides per point, and the paper they belong to.
# Paper 000, section 3.3 / Fig. 6: lambda1 from 1 to 10 at lambda = 0.01 (b), then lambda over five values
# at lambda1 = 7 (a). Paper 002 shows the DDA weight's effect (Fig. 9) without values: ferjax sweeps the
# DDA authors' gamma 0, 1, 2, 4, 8 at batch 32 (ferjax's per-example gamma = theirs / 32), and compares
# softmax, softmax + center, and softmax + center + DDA (the losses of Fig. 9).
SWEEPS = {
    "lambda1_sweep": ("paper000", tuple({"loss.lam": 0.01, "loss.lambda1": float(v)} for v in range(1, 11))),
    "lambda_sweep": ("paper000", tuple({"loss.lam": v, "loss.lambda1": 7.0}
                                       for v in (0.0005, 0.001, 0.005, 0.01, 0.05))),
    "gamma_sweep": ("paper002", tuple({"loss.gamma": g / 32} for g in (0.0, 1.0, 2.0, 4.0, 8.0))),
    "loss_sweep": ("paper002", ({"loss.name": "softmax"}, {"loss.name": "dda", "loss.gamma": 0.0},
                                {"loss.name": "dda"})),
}


def sweep_points(name: str, paper: str, loss: str) -> tuple:
  """The points of sweep `name` ('' for none), checked to belong to `paper` and to vary `loss`."""
  if not name:
    return ()
  owner, points = choose(SWEEPS, name, "sweep")
  if owner != paper:
    raise ValueError(f"sweep {name!r} belongs to {owner}'s configs, not {paper}'s")
  varied = {key for point in points for key in point}
  if "loss.name" not in varied and loss == "softmax":
    raise ValueError(f"sweep {name!r} varies loss weights, but this variant trains with softmax alone; "
                     "use a variant with the joint loss (m6)")
  return points

def base_config(dataset: str, args: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Everything but the model and loss: data, input, optimisation, runs, logging.

  `args` supplies: width, size, epochs, runs, seed, fold, folds, source, views, subset, dtype, sweep.
  """
  config = ml_collections.ConfigDict()
  config.dataset = dataset
  config.data_dir = os.environ.get("FERJAX_DATA_DIR", "~/tensorflow_datasets")
  config.manual_dir = os.environ.get("FERJAX_MANUAL_DIR", "../shared/data")
  # CK+ has no official split: 10 subject-independent folds (ferjax.data.splits); fold=-1 runs all 10.
  # folds=leaky_random is paper 002's protocol (10 seeded random 9:1 image splits; subjects leak).
  config.folds = ml_collections.ConfigDict(dict(scheme=args.folds, num_folds=10, fold=args.fold))
  # subset: a deterministic sample of that many examples of each split (0: all), for quick runs.
  # allow_inconsistent_splits: train even if one split's pixel statistics or sharpness depart from the
  # others' tenfold (ferjax.data.quality; such an archive is damaged, e.g. a blurred training split).
  config.data = ml_collections.ConfigDict(dict(source=args.source, num_workers=0, subset=dict(
      train=args.subset, validation=0, test=0), allow_inconsistent_splits=False))
  mean, std = PIXEL_STATS[dataset]
  # Native 48 px by default; the papers resize to 224 px (size=224).
  config.input = ml_collections.ConfigDict(dict(size=args.size, mean=mean, std=std, tta_report=args.tta_report,
                                                **dict(PAPER_AUGMENTATION, views=args.views)))
  config.batch_size = 32                       # paper 002 (section 2.5); paper 000 states none.
  config.dtype = args.dtype                    # float32, or bfloat16 convs and matmuls (ferjax.steps).
  config.eval_batch_size = 256
  config.num_epochs = args.epochs
  config.optimizer = ml_collections.ConfigDict(dict(
      learning_rate=0.01,                      # paper 002; paper 000 states no initial rate.
      momentum=0.9,                            # paper 002's SGD; paper 000 names no optimizer.
      nesterov=False,
      weight_decay=5e-4))                      # neither paper says; the usual VGG value.
  # plateau: PyTorch's ReduceLROnPlateau (threshold 1e-4, relative); exponential: x decay per epoch.
  config.schedule = ml_collections.ConfigDict(dict(name="plateau", factor=0.5, patience=3, threshold=1e-4,
                                                   decay=0.9))
  config.num_runs = args.runs                  # papers: N = 10 runs, Acc = mean, Sta = population std.
  config.first_run = 0                         # runs first_run.. of the seed: N runs split over jobs.
  config.per_run = hyper.empty()               # per-run loss weights / rates of a vmapped sweep.
  config.sweep = ml_collections.ConfigDict(dict(name=args.sweep, points=()))  # ferjax.sweep's points.
  config.seed = args.seed
  config.log_every_steps = 20
  config.checkpoint_keep = 2
  return config


def parse_common(arg: str, **model_defaults) -> ml_collections.ConfigDict:
  """parse_arg with the switches every config file takes:

  width= (channel multiplier), size= (input side; 224 is the papers'), epochs=, runs= (seeds in one
  program), seed=, fold=0..9|all, folds=subject|leaky_random|leaky_per_class (CK+ protocol),
  source=device|grain, views=expanded|random (the papers' 15-view epoch, or one random view per step),
  subset=N (a fixed sample of N training images), bn=true|false, dtype=float32|bfloat16,
  schedule=plateau|plateau_at_patience|exponential|constant, sweep=<name>, pretrained=PATH (ImageNet
  VGG16 convs from torchvision's .pth or Keras' .h5, beyond the papers; ferjax.models.pretrained),
  tta_report (also report the test split with 12-view test-time augmentation), and quick: width 0.25 and 2
  expanded epochs (20 random-view ones), with FER2013 on a 1,024-image subset: minutes on a CPU.
  """
  # bn: BatchNorm after every conv (neither paper mentions BatchNorm). Neither paper says its VGG16
  # starts from pretrained weights (paper 000 section 3.2 blames run-to-run variance on "the random
  # initialization of network parameters"); from scratch, plain VGG16 at lr 0.01 collapses to the
  # majority class on CK+ (measured: 29% on fold 0 after 15 epochs without BN, 75% with it), so BN is on.
  args = parse_arg(arg, width=1.0, size=48, epochs=0, runs=1, seed=0, fold=0, folds="subject",
                   source="device", views="expanded", subset=0, quick=False, bn=True, dtype="float32",
                   sweep="", schedule="", pretrained="", tta_report=False, **model_defaults)
  if args.get("variant") in SWEEPS:  # 'lambda_sweep' names a sweep of the default variant.
    args.sweep, args.variant = args.variant, model_defaults["variant"]
  if args.fold == "all":
    args.fold = -1
  if args.quick:
    args.width = min(args.width, 0.25)
    args.epochs = args.epochs or QUICK_EPOCHS.get(args.views, 0)
  return args


def dataset_args(args: ml_collections.ConfigDict, dataset: str,
                 epochs: dict[str, int]) -> ml_collections.ConfigDict:
  """Fills the dataset's defaults into parsed args: epochs per view mode (`epochs`), quick's subset."""
  args.epochs = args.epochs or epochs.get(args.views, 0)
  if args.quick and not args.subset:
    args.subset = QUICK_SUBSET.get(dataset, 0)
  return args


def paper000(dataset: str, arg: str, epochs: dict[str, int]) -> ml_collections.ConfigDict:
  """Paper 000's framework (Chen & Chen 2024) on `dataset`; the arg's variant is a Table 1 row;
  `epochs` maps each view mode ('expanded', 'random') to its default number of epochs."""
  # Paper-literal switches (docs/FIDELITY.md): align_corners, CPD's corner-aligned upsampling in the
  # partial decoder (variants with PD); fc_head, VGG16's own FC head for "the original VGG16" (m1 only).
  args = dataset_args(parse_common(arg, variant="m6", align_corners=False, fc_head=False), dataset, epochs)
  flags = choose(variants.CONTEXTUAL_VARIANTS, args.variant, "Table 1 row")
  if args.align_corners and not flags["pd"]:
    raise ValueError(f"align_corners=true sets the partial decoder's upsampling; {args.variant} has none "
                     "(use m4, m5 or m6)")
  if args.fc_head and args.variant != "m1":
    raise ValueError(f"fc_head=true is VGG16's FC head of Table 1's model 1; use m1, not {args.variant}")
  config = base_config(dataset, args)
  config.model = ml_collections.ConfigDict(dict(name="contextual", pretrained=args.pretrained, options=dict(
      flags, num_classes=NUM_CLASSES[dataset], width=args.width, dropout=0.001, batch_norm=args.bn,
      align_corners=args.align_corners, classifier="vgg_fc" if args.fc_head else "gap")))
  # Joint loss L = L_s + 0.005 (L_C + 7 L_cos) for m6 (eq. 7, section 3.3), softmax for m1..m5.
  config.loss = ml_collections.ConfigDict(dict(
      name=variants.CONTEXTUAL_LOSS[args.variant], lam=0.005, lambda1=7.0, gamma=0.0, center_rate=0.5))
  # Section 3.3: halve "when the loss rate ceased to decrease within three iterations" (PyTorch 1.4):
  # ReduceLROnPlateau(factor=0.5, patience=3) halves after the 4th epoch without a lower loss.
  config.schedule.name = args.schedule or "plateau"
  config.sweep.points = sweep_points(args.sweep, "paper000", config.loss.name)
  return config


def paper002(dataset: str, arg: str, epochs: dict[str, int]) -> ml_collections.ConfigDict:
  """Paper 002's multiscale VGG16 on `dataset`; the arg's variant is M, MCA, MSA or MCSA; `epochs` as
  in `paper000`."""
  args = dataset_args(parse_common(arg, variant="MCSA"), dataset, epochs)
  config = base_config(dataset, args)
  config.model = ml_collections.ConfigDict(dict(name="multiscale", pretrained=args.pretrained, options=dict(
      choose(variants.MULTISCALE_VARIANTS, args.variant, "paper 002 variant"),
      num_classes=NUM_CLASSES[dataset], width=args.width, dropout=0.0, batch_norm=args.bn)))
  # Softmax + center + DDA; weights of the DDA authors (see ferjax.losses.multiscale_objective).
  config.loss = ml_collections.ConfigDict(dict(name="dda", lam=0.01, lambda1=0.0, gamma=0.125,
                                               center_rate=0.5))
  # Section 2.5: "an exponential decay strategy", "decay coefficient is set to 0.9"; ferjax applies it
  # once per epoch (the paper does not say per what).
  config.schedule.name = args.schedule or "exponential"
  config.sweep.points = sweep_points(args.sweep, "paper002", config.loss.name)
  return config
