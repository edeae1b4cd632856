"""Shared config pieces: the argument parser, the settings every run shares, and each paper's model
and loss (the variant tables live in ferjax.models.variants).

A config file's `get_config(arg)` receives the text after ':' in `--config=configs/x.py:arg`, e.g.
`m6,fold=3`. `parse_arg` turns it into a ConfigDict of typed values; a bare word sets `variant`.
"""

import os

import ml_collections

from ferjax import hyper
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
# Pixel mean and std of each training set (uint8 / 255), for input normalisation.
PIXEL_STATS = {"fer2013": (0.508, 0.206), "ckplus/6class": (0.512, 0.293), "ckplus/7class": (0.512, 0.293)}
# Paper 000 (section 3.1) and paper 002 (section 2.3) both flip and rotate by +-10 degrees at 5-degree
# steps; ferjax draws one of those views per step (see ferjax.data.augment.augment_batch).
PAPER_AUGMENTATION = dict(flip=True, rotation="discrete", max_degrees=10.0, crop_scale=(), erase_prob=0.0,
                          tta=False)


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

  `args` supplies: width, size, epochs, runs, seed, fold, source, quick, dtype, sweep.
  """
  config = ml_collections.ConfigDict()
  config.dataset = dataset
  config.data_dir = os.environ.get("FERJAX_DATA_DIR", "~/tensorflow_datasets")
  config.manual_dir = os.environ.get("FERJAX_MANUAL_DIR", "../shared/data")
  # CK+ has no official split: 10 subject-independent folds (ferjax.data.splits); fold=-1 runs all 10.
  config.folds = ml_collections.ConfigDict(dict(scheme="subject", num_folds=10, fold=args.fold))
  config.data = ml_collections.ConfigDict(dict(source=args.source, num_workers=0))
  mean, std = PIXEL_STATS[dataset]
  # Native 48 px by default; the papers resize to 224 px (size=224).
  config.input = ml_collections.ConfigDict(dict(size=args.size, mean=mean, std=std, **PAPER_AUGMENTATION))
  config.batch_size = 32                       # both papers.
  config.dtype = args.dtype                    # float32, or bfloat16 convs and matmuls (ferjax.steps).
  config.eval_batch_size = 256
  config.num_epochs = args.epochs
  config.optimizer = ml_collections.ConfigDict(dict(
      learning_rate=0.01,                      # paper 002; paper 000 gives none and uses the same.
      momentum=0.9,                            # both papers (SGD).
      nesterov=False,
      weight_decay=5e-4))                      # neither paper says; the usual VGG value.
  config.schedule = ml_collections.ConfigDict(dict(name="plateau", factor=0.5, patience=3, decay=0.9))
  config.num_runs = args.runs                  # papers: N = 10 runs, Acc = mean, Sta = population std.
  config.first_run = 0                         # runs first_run.. of the seed: N runs split over jobs.
  config.per_run = hyper.empty()               # per-run loss weights / rates of a vmapped sweep.
  config.sweep = ml_collections.ConfigDict(dict(name=args.sweep, points=()))  # ferjax.sweep's points.
  config.seed = args.seed
  config.log_every_steps = 20
  config.checkpoint_keep = 2
  return config


def parse_common(arg: str, **model_defaults) -> ml_collections.ConfigDict:
  """parse_arg with the switches every config file takes; `quick` shrinks a run to minutes on a CPU."""
  # bn: BatchNorm after every conv. The papers fine-tune VGG16 from (presumably ImageNet) weights that
  # ferjax cannot ship; from scratch, plain VGG16 at lr 0.01 collapses to the majority class on CK+
  # (measured: 29% on fold 0 after 15 epochs without BN, 75% with it), so BN is on by default.
  args = parse_arg(arg, width=1.0, size=48, epochs=0, runs=1, seed=0, fold=0, source="device",
                   quick=False, bn=True, dtype="float32", sweep="",
                   **model_defaults)
  if args.get("variant") in SWEEPS:  # 'lambda_sweep' names a sweep of the default variant.
    args.sweep, args.variant = args.variant, model_defaults["variant"]
  if args.fold == "all":
    args.fold = -1
  if args.quick:
    args.width = min(args.width, 0.25)
    args.epochs = args.epochs or 20
  return args


def paper000(dataset: str, arg: str, epochs: int) -> ml_collections.ConfigDict:
  """Paper 000's framework (Chen & Chen 2024) on `dataset`; the arg's variant is a Table 1 row."""
  args = parse_common(arg, variant="m6")
  args.epochs = args.epochs or epochs
  config = base_config(dataset, args)
  config.model = ml_collections.ConfigDict(dict(name="contextual", options=dict(
      choose(variants.CONTEXTUAL_VARIANTS, args.variant, "Table 1 row"),
      num_classes=NUM_CLASSES[dataset], width=args.width, dropout=0.001, batch_norm=args.bn)))
  # Joint loss L = L_s + 0.005 (L_C + 7 L_cos) for m6 (eq. 7, section 3.3), softmax for m1..m5.
  config.loss = ml_collections.ConfigDict(dict(
      name=variants.CONTEXTUAL_LOSS[args.variant], lam=0.005, lambda1=7.0, gamma=0.0, center_rate=0.5))
  config.schedule.name = "plateau"             # halve the rate after 3 epochs without improvement.
  config.sweep.points = sweep_points(args.sweep, "paper000", config.loss.name)
  return config


def paper002(dataset: str, arg: str, epochs: int) -> ml_collections.ConfigDict:
  """Paper 002's multiscale VGG16 on `dataset`; the arg's variant is M, MCA, MSA or MCSA."""
  args = parse_common(arg, variant="MCSA")
  args.epochs = args.epochs or epochs
  config = base_config(dataset, args)
  config.model = ml_collections.ConfigDict(dict(name="multiscale", options=dict(
      choose(variants.MULTISCALE_VARIANTS, args.variant, "paper 002 variant"),
      num_classes=NUM_CLASSES[dataset], width=args.width, dropout=0.0, batch_norm=args.bn)))
  # Softmax + center + DDA; weights of the DDA authors (see ferjax.losses.multiscale_objective).
  config.loss = ml_collections.ConfigDict(dict(name="dda", lam=0.01, lambda1=0.0, gamma=0.125,
                                               center_rate=0.5))
  config.schedule.name = "exponential"         # lr 0.01 x 0.9 per epoch (section 2.3).
  config.sweep.points = sweep_points(args.sweep, "paper002", config.loss.name)
  return config
