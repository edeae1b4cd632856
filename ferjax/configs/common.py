"""Shared config pieces: the argument parser, the settings every run shares, what a paper's network
(`Paper`) and training settings (`Training`) hold, and `paper_config`, which builds a config from
them for a dataset. Each paper's own values are in paper000.py and paper002.py; each dataset's
config file adds only what differs (its epochs).

A config file's `get_config(arg)` receives the text after ':' in `--config=configs/x.py:arg`, e.g.
`m6,fold=3`. `parse_arg` turns it into a ConfigDict of typed values; a bare word sets `variant`.
"""

import dataclasses
from collections.abc import Mapping

import ml_collections

from ferjax.data import augment, catalog
from ferjax.train import hyper


def _typed(text: str) -> bool | int | float | str:
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


def choose(table: Mapping, name: str, what: str) -> object:
  """table[name], or a ValueError listing the known names."""
  if name not in table:
    raise ValueError(f"unknown {what} {name!r}; choose one of {list(table)}")
  return table[name]


# `quick`: epochs per view mode, and FER2013's training subset, sized for minutes on a 2-core CPU.
QUICK_EPOCHS = {"expanded": 2, "random": 20}
QUICK_SUBSET = {"fer2013": 1024}


@dataclasses.dataclass(frozen=True)
class Switch:
  """A paper-reading argument: the model option it sets, as (off, on) `values` or, with None, the
  argument's own value; the variants it applies to, and the error for the others (`refusal`,
  formatted with the `variant` and the usable ones as `allowed`), given when the argument differs
  from its `default`."""

  option: str
  values: tuple[object, object] | None
  variants: tuple[str, ...]
  refusal: str
  default: object = False


@dataclasses.dataclass(frozen=True)
class Paper:
  """A paper's network: the model, its variants (`kind` names one in errors) and the default one,
  the dropout rate, the variants that train with softmax alone whatever the config's loss, and the
  paper-literal switches (argument name -> Switch)."""

  name: str
  model: str
  variants: Mapping[str, Mapping[str, bool]]
  kind: str
  default_variant: str
  dropout: float
  softmax_variants: tuple[str, ...] = ()
  switches: Mapping[str, Switch] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Training:
  """A paper's training settings: the batch size; SGD's `optimizer` (learning_rate, momentum,
  nesterov, weight_decay); the `schedule` (its name, and every schedule's parameters so that
  schedule=<name> can switch); the `loss` (name and weights); the `augmentation`
  (ferjax.data.augment's arguments; `views` is the views= switch's default)."""

  batch_size: int
  optimizer: Mapping[str, float | bool]
  schedule: Mapping[str, str | float]
  loss: Mapping[str, str | float]
  augmentation: Mapping[str, object]


# Both papers expand the training set 15 times (paper 000 section 3.1, paper 002 section 2.7.2): 3
# mirror states x rotations of -10..10 degrees at 5-degree steps (augment.expansion_views).
# views="expanded" visits every (image, view) pair once per epoch; views=random draws one random
# view per step instead (a flip with probability 0.5 and one of the angles).
FIFTEEN_VIEWS = dict(views="expanded", mirrors=augment.PAPER_MIRRORS, flip=True,
                     rotation="discrete", max_degrees=max(augment.PAPER_ANGLES), crop_scale=(),
                     erase_prob=0.0, tta=False)

# The papers' sweeps (`python -m ferjax.sweep`): config overrides per point, and their paper.
# Paper 000, section 3.3 / Fig. 6: lambda1 from 1 to 10 at lambda = 0.01 (b), then lambda over five
# values at lambda1 = 7 (a). Paper 002 shows the DDA weight's effect (Fig. 9) without values: ferjax
# sweeps the DDA authors' gamma 0, 1, 2, 4, 8 at batch 32 (ferjax's per-example gamma = theirs /
# 32), and compares softmax, softmax + center, and softmax + center + DDA (the losses of Fig. 9).
SWEEPS = {
    "lambda1_sweep": ("paper000", tuple({"loss.lam": 0.01, "loss.lambda1": float(v)}
                                        for v in range(1, 11))),
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
    raise ValueError(f"sweep {name!r} varies loss weights, but this variant trains with softmax "
                     "alone; use a variant with the joint loss (m6)")
  return points


def base_config(dataset: str, args: ml_collections.ConfigDict,
                training: Training) -> ml_collections.ConfigDict:
  """Everything but the model and loss: data, input, optimisation, runs, logging.

  `args` supplies: width, size, epochs, runs, seed, fold, folds, source, views, subset, dtype,
  schedule, sweep.
  """
  config = ml_collections.ConfigDict()
  config.dataset = dataset
  config.data_dir = catalog.data_dir()
  config.manual_dir = catalog.manual_dir()
  # CK+ has no official split: 10 subject-independent folds (ferjax.data.splits); fold=-1 runs
  # all 10. folds=leaky_random is paper 002's protocol (10 seeded random 9:1 image splits; subjects
  # leak).
  config.folds = ml_collections.ConfigDict(dict(scheme=args.folds, num_folds=10, fold=args.fold))
  # subset: a deterministic sample of that many examples of each split (0: all), for quick runs.
  # allow_inconsistent_splits: train even if one split's pixel statistics or sharpness depart from
  # the others' tenfold (ferjax.data.quality; such an archive is damaged, e.g. a blurred split).
  config.data = ml_collections.ConfigDict(dict(source=args.source, num_workers=0, subset=dict(
      train=args.subset, validation=0, test=0), allow_inconsistent_splits=False))
  mean, std = catalog.dataset(dataset).pixel_stats  # Input normalisation.
  # Native 48 px by default; the papers resize to 224 px (size=224).
  config.input = ml_collections.ConfigDict(dict(
      training.augmentation, size=args.size, mean=mean, std=std, tta_report=args.tta_report,
      views=args.views))
  config.batch_size = training.batch_size
  config.dtype = args.dtype  # float32, or bfloat16 convs and matmuls (ferjax.train.steps).
  config.eval_batch_size = 256
  config.num_epochs = args.epochs
  config.optimizer = ml_collections.ConfigDict(dict(training.optimizer))
  config.schedule = ml_collections.ConfigDict(dict(
      training.schedule, name=args.schedule or training.schedule["name"]))
  config.num_runs = args.runs          # papers: N = 10 runs, Acc = mean, Sta = population std.
  config.first_run = 0                 # runs first_run.. of the seed: N runs split over jobs.
  config.per_run = hyper.empty()       # per-run loss weights / rates of a vmapped sweep.
  config.sweep = ml_collections.ConfigDict(dict(name=args.sweep, points=()))  # analysis.sweep's.
  config.seed = args.seed
  config.log_every_steps = 20
  # Per-branch energy and gradient of the classifier's fused input (ferjax.train.diagnostics).
  config.diagnostics = args.diagnostics
  config.checkpoint_keep = 2
  return config


# bn: BatchNorm after every conv (neither paper mentions BatchNorm). Neither paper says its VGG16
# starts from pretrained weights (paper 000 section 3.2 blames run-to-run variance on "the random
# initialization of network parameters"); from scratch, plain VGG16 at lr 0.01 collapses to the
# majority class on CK+ (measured: 29% on fold 0 after 15 epochs without BN, 75% with it): BN on.
COMMON_ARGS = dict(width=1.0, size=48, epochs=0, runs=1, seed=0, fold=0, folds="subject",
                   source="device", views="expanded", subset=0, quick=False, bn=True,
                   dtype="float32", sweep="", schedule="", pretrained="", tta_report=False,
                   diagnostics=False)


def parse_common(arg: str, **defaults) -> ml_collections.ConfigDict:
  """parse_arg over COMMON_ARGS, the switches every config file takes, and `defaults` (the variant,
  a paper's switches, a default that differs):

  width= (channel multiplier), size= (input side; 224 is the papers'), epochs=, runs= (seeds in one
  program), seed=, fold=0..9|all, folds=subject|leaky_random|leaky_per_class (CK+ protocol),
  source=device|grain, views=expanded|random (the papers' 15-view epoch, or one random view per
  step), subset=N (a fixed sample of N training images), bn=true|false, dtype=float32|bfloat16,
  schedule=plateau|plateau_at_patience|exponential|cosine|constant, sweep=<name>, pretrained=PATH
  (ImageNet VGG16 convs from torchvision's .pth or Keras' .h5, beyond the papers;
  ferjax.models.pretrained), tta_report (also report the test split with 12-view test-time
  augmentation), diagnostics (per-branch energy and gradient norms in the metrics,
  ferjax.train.diagnostics), and quick: width 0.25 and 2 expanded epochs (20 random-view ones),
  with FER2013 on a 1,024-image subset: minutes on a CPU.
  """
  args = parse_arg(arg, **{**COMMON_ARGS, **defaults})
  if args.get("variant") in SWEEPS:  # 'lambda_sweep' names a sweep of the default variant.
    args.sweep, args.variant = args.variant, defaults["variant"]
  if args.fold == "all":
    args.fold = -1
  if args.quick:
    args.width = min(args.width, 0.25)
    args.epochs = args.epochs or QUICK_EPOCHS.get(args.views, 0)
  return args


def dataset_args(args: ml_collections.ConfigDict, dataset: str,
                 epochs: Mapping[str, int]) -> ml_collections.ConfigDict:
  """Fills the dataset's defaults into parsed args: epochs per view mode (`epochs`), quick's
  subset."""
  args.epochs = args.epochs or epochs.get(args.views, 0)
  if args.quick and not args.subset:
    args.subset = QUICK_SUBSET.get(dataset, 0)
  return args


def _either(names: tuple[str, ...]) -> str:
  """('m4', 'm5', 'm6') -> 'm4, m5 or m6'."""
  return " or ".join(filter(None, (", ".join(names[:-1]), names[-1])))


def check_switches(paper: Paper, args: ml_collections.ConfigDict) -> None:
  """A ValueError for a paper-literal switch that is on for a variant it does not apply to."""
  for name, switch in paper.switches.items():
    if args[name] != switch.default and args.variant not in switch.variants:
      allowed = _either(switch.variants)
      raise ValueError(switch.refusal.format(variant=args.variant, allowed=allowed))


def switch_value(switch: Switch, on: object) -> object:
  """The model option's value for the switch's argument `on` (any truthy value turns it on)."""
  return on if switch.values is None else switch.values[bool(on)]


def model_config(paper: Paper, args: ml_collections.ConfigDict, flags: Mapping[str, bool],
                 dataset: str) -> ml_collections.ConfigDict:
  """config.model: the paper's network with the variant's `flags` and the switches of `args`."""
  switched = {switch.option: switch_value(switch, args[name])
              for name, switch in paper.switches.items()}
  options = dict(flags,
                 num_classes=catalog.dataset(dataset).num_classes, width=args.width,
                 dropout=paper.dropout, batch_norm=args.bn, **switched)
  return ml_collections.ConfigDict(dict(name=paper.model, pretrained=args.pretrained,
                                        options=options))


def paper_config(paper: Paper, training: Training, dataset: str, epochs: Mapping[str, int],
                 arg: str) -> ml_collections.ConfigDict:
  """`paper`'s network trained on `dataset` with `training` for `epochs` (per view mode), as the
  config argument `arg` sets."""
  args = parse_common(arg, variant=paper.default_variant, views=training.augmentation["views"],
                      **{name: switch.default for name, switch in paper.switches.items()})
  args = dataset_args(args, dataset, epochs)
  flags = choose(paper.variants, args.variant, paper.kind)
  check_switches(paper, args)
  config = base_config(dataset, args, training)
  config.model = model_config(paper, args, flags, dataset)
  loss = "softmax" if args.variant in paper.softmax_variants else training.loss["name"]
  config.loss = ml_collections.ConfigDict(dict(training.loss, name=loss))
  config.sweep.points = sweep_points(args.sweep, paper.name, config.loss.name)
  return config
