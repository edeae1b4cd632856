"""A Markdown report with pictures from finished training workdirs and sweeps, side by side with the
papers.

  python -m ferjax.report workdirs/fer2013_m6 workdirs/ck_m6 [--output=reports/]
  python -m ferjax.report workdirs/lambda_sweep workdirs/lambda1_sweep  # sweeps
                                                                        # (ferjax.analysis.sweep)
  python -m ferjax.report workdirs/ms_softmax workdirs/ms_center workdirs/ms_dda --embeddings
  python -m ferjax.report --ledger=docs/results/cpu_scale.jsonl        # studies' tables
                                                                       # (ferjax.study.tables)

Writes report.md (also printed) and PNG files into the output folder (default: the first path's
parent): per workdir a confusion matrix (summed over runs, row percentages) and learning curves
(mean over runs, min-max band); for two or more workdirs a grouped bar chart of per-class accuracy;
per sweep a table and a line plot of Acc +- Sta against the swept value; with --embeddings the test
split's embedding geometry per workdir (intra- and inter-class distances,
`ferjax.analysis.geometry`) and 2-D projections side by side. A workdir is finished when it holds
results.json, which ferjax.main writes last; a sweep when it holds sweep.json, which
ferjax.analysis.sweep writes last.
"""

import dataclasses
import json
import math
import os
import pathlib
from collections.abc import Sequence

import numpy as np
from absl import app, flags

from ferjax import cli
from ferjax.analysis import plots
from ferjax.analysis import sweep as sweep_lib
from ferjax.models.variants import CONTEXTUAL_LOSS, CONTEXTUAL_VARIANTS, MULTISCALE_VARIANTS
from ferjax.study import ledger, studies, tables
from ferjax.study.published import PAPER_000_TABLE_1, PAPER_000_TABLE_2, PAPER_002_VARIANTS
from ferjax.train import confusion_figure, fold_layout, progress
from ferjax.train import results as results_lib
from ferjax.train.results import Results

_OUTPUT = flags.DEFINE_string(
    "output", None, "Folder for report.md and the PNG files (default: the "
    "first workdir's parent).")
_LEDGER = flags.DEFINE_list(
    "ledger", [], "Study ledgers (JSON lines, merged): render each study's table "
    "(Markdown, JSON, PNG; ferjax.study.tables) instead of workdirs.")
_EMBEDDINGS = flags.DEFINE_bool("embeddings", False, "Also measure and draw each workdir's "
                                "test-split embedding geometry (loads the model and the data).")

_PAPER_OF_MODEL = {"contextual": ("paper 000 Table 1", PAPER_000_TABLE_1),
                   "multiscale": ("paper 002 Fig. 10", PAPER_002_VARIANTS)}
_KNOWN_VARIANTS = {
    "contextual": tuple(CONTEXTUAL_VARIANTS),
    "multiscale": tuple(MULTISCALE_VARIANTS)
}
_DATASET_NAMES = {"fer2013": "FER2013", "ckplus": "CK+"}


class ReportError(Exception):
  """A workdir that cannot be reported (missing, or not finished)."""


@dataclasses.dataclass
class Workdir:
  """One finished workdir: where it is, its results.json and the name the report gives it."""

  path: pathlib.Path
  results: Results
  name: str

  @property
  def variant(self) -> str | None:
    return variant_name(self.results.model, self.results.options, self.results.loss)

  @property
  def paper_dataset(self) -> str:
    """'fer2013' or 'ckplus': the key of the papers' tables."""
    return self.results.dataset.split("/")[0]


def load_workdir(path: os.PathLike, name: str | None = None) -> Workdir:
  """Reads a finished workdir's results.json; a missing one is an unfinished (or never started)
  run."""
  path = pathlib.Path(path)
  if not path.is_dir():
    raise ReportError(f"{path}: no such workdir")
  if not results_lib.exists(path):
    raise ReportError(f"{path}: no results.json, so the run is unfinished or was never trained; "
                      f"train it first (python -m ferjax.main --config=... --workdir={path})")
  try:
    results = Results.read(path)
  except results_lib.ResultsError as error:
    raise ReportError(str(error)) from None
  return Workdir(path, results, name or path.resolve().name)


def variant_name(model: str, options: dict, loss: str) -> str | None:
  """The papers' name of a network + loss: m1..m6 (paper 000 Table 1), M/MCA/MSA/MCSA (paper 002);
  None for a combination the papers do not have."""
  if model == "multiscale":
    return _matching(MULTISCALE_VARIANTS, options)
  if model == "contextual":
    rows = [row for row, flags_ in CONTEXTUAL_VARIANTS.items()
            if CONTEXTUAL_LOSS[row] == loss and _matches(flags_, options)]
    if rows:
      return rows[0]
    network = _matching({r: f for r, f in CONTEXTUAL_VARIANTS.items() if r != "m6"}, options)
    return f"{network}+{loss}" if network else None
  return None


def _matches(flags_: dict, options: dict) -> bool:
  return all(bool(options.get(key, False)) == value for key, value in flags_.items())


def _matching(variants: dict[str, dict], options: dict) -> str | None:
  return next((name for name, flags_ in variants.items() if _matches(flags_, options)), None)


def _model_label(workdir: Workdir) -> str:
  """'contextual m6', plus the width when it is not the papers' full network."""
  results = workdir.results
  variant = workdir.variant or "custom (" + ", ".join(
      k for k, v in results.options.items() if v is True) + ")"
  width = results.options.get("width", 1.0)
  return f"{results.model} {variant}" + (f" (width {width:g})" if width != 1.0 else "")


def _runs(results: dict) -> str:
  return f"{len(results.accuracy)} run" + ("s" if len(results.accuracy) != 1 else "")


def _percent(value: float, digits: int = 2) -> str:
  return f"{100.0 * value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
  """A Markdown table; '|' inside cells is escaped."""
  def line(cells):
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
  return "\n".join([line(header), line(["---"] * len(header))] + [line(r) for r in rows])


def per_class_means(results: dict) -> np.ndarray:
  """Per-class recall averaged over runs (for 'all folds', results.json already averaged the
  folds)."""
  return np.mean(np.asarray(results.per_class_accuracy, np.float64).reshape(
      -1, len(results.classes)), axis=0)


def results_table(workdirs: Sequence[Workdir]) -> str:
  """One row per workdir: what was trained, Acc / Sta over runs, per-class accuracy and wall
  time."""
  class_lists = {tuple(w.results.classes) for w in workdirs}
  shared = next(iter(class_lists)) if len(class_lists) == 1 else None
  header = ["name", "dataset", "model", "loss", "split", "runs", "Acc %", "Sta %"]
  header += [f"{c} %" for c in shared] if shared else ["per-class accuracy"]
  header += ["wall time"]
  rows = []
  for workdir in workdirs:
    r = workdir.results
    classes = per_class_means(r)
    cells = [_percent(v, 1) for v in classes] if shared else [
        ", ".join(f"{c}: {_percent(v, 1)}%" for c, v in zip(r.classes, classes, strict=True))]
    rows.append([workdir.name, r.dataset, _model_label(workdir), r.loss, r.split,
                 str(len(r.accuracy)), _percent(r.acc), _percent(r.sta), *cells,
                 progress.duration(r.wall_time_s, exact=True)])
  return _table(header, rows)


# How each CK+ fold scheme of ferjax.data.splits is named in the report; the leaky ones say so.
CKPLUS_PROTOCOLS = {
    "subject": "10 subject-independent folds",
    "leaky_per_class": "LEAKY per-class index folds (subjects on both sides)",
    "leaky_random": ("LEAKY random 9:1 image splits x 10 seeds (paper 002's protocol; subjects on "
                     "both sides)"),
}


def _protocol(workdir: Workdir) -> str:
  """How ferjax's number was obtained, where it may differ from the paper's protocol."""
  r = workdir.results
  if workdir.paper_dataset == "fer2013":
    notes = ["ferjax: selects on PublicTest, reports PrivateTest"]
  else:
    scheme = CKPLUS_PROTOCOLS[(r.protocol or "subject")]
    notes = [f"ferjax: {scheme}" + ("" if r.split == "all folds" else f", only {r.split}")]
    notes.append(_ckplus_classes(r.model, r.classes))
  width = r.options.get("width", 1.0)
  if width != 1.0:
    notes.append(f"width {width:g}")
  if r.options.get("align_corners"):
    notes.append("PD upsampling with aligned corners")
  if r.options.get("classifier") == "vgg_fc":
    notes.append("VGG16 FC head")
  if r.model == "contextual":
    notes.append("paper: Acc/Sta over 10 runs")
  return "; ".join(notes)


def _ckplus_classes(model: str, classes: Sequence[str]) -> str:
  """The class-set caveat of a CK+ row: CK+48 has no neutral. Paper 000 keeps neutral and drops
  contempt (section 3.1); paper 002 drops contempt to keep FER2013's seven expressions
  (section 2.6.2)."""
  ours = (f"{len(classes)} classes {'with' if 'contempt' in classes else 'without'} contempt, "
          "no neutral")
  paper = ("paper 7 with neutral, no contempt" if model == "contextual"
           else "paper 002: seven, contempt removed")
  return f"not like for like: {ours} (CK+48); {paper}"


def paper_table(workdirs: Sequence[Workdir]) -> str | None:
  """Ablation rows next to the published number of the same variant; None when no row has a
  variant."""
  rows = []
  for workdir in workdirs:
    r = workdir.results
    if workdir.variant not in _KNOWN_VARIANTS.get(r.model, ()):
      continue
    source, table = _PAPER_OF_MODEL[r.model]
    published = table.get(workdir.paper_dataset, {}).get(workdir.variant)
    ours = 100.0 * r.acc
    if published:
      paper_acc, paper_sta = f"{published[0]:.2f}", ("" if published[1] is None
                                                     else f"{published[1]:.2f}")
      difference = f"{ours - published[0]:+.2f}"
    else:
      paper_acc, paper_sta, difference = "not in text", "", ""
    rows.append([_DATASET_NAMES[workdir.paper_dataset] + f" ({r.dataset})", workdir.variant,
                 f"{paper_acc} ({source})", paper_sta, f"{_percent(r.acc)} ± {_percent(r.sta)}",
                 difference, str(len(r.accuracy)), workdir.name, _protocol(workdir)])
  if not rows:
    return None
  return _table(["dataset", "variant", "paper Acc %", "paper Sta", "ferjax Acc ± Sta %",
                 "difference (pp)", "ferjax runs", "workdir", "protocol"], rows)


def table_2(workdirs: Sequence[Workdir]) -> str | None:
  """Paper 000's Table 2 (other methods) with a row per ferjax m6 workdir; None without an m6
  run."""
  ours = [w for w in workdirs if w.variant == "m6"]
  if not ours:
    return None

  def cells(numbers: dict, dataset: str) -> list[str]:
    if dataset not in numbers:
      return ["–", "–"]
    return [f"{numbers[dataset][0]:.2f}", f"{numbers[dataset][1]:.2f}"]

  rows = [[method, *cells(numbers, "fer2013"), *cells(numbers, "ckplus")]
          for method, numbers in PAPER_000_TABLE_2.items()]
  for workdir in ours:
    r = workdir.results
    numbers = {workdir.paper_dataset: (100.0 * r.acc, 100.0 * r.sta)}
    rows.append([f"ferjax m6 ({workdir.name}, {_runs(r)})", *cells(numbers, "fer2013"),
                 *cells(numbers, "ckplus")])
  return _table(["method", "FER2013 Acc %", "FER2013 Sta", "CK+ Acc %", "CK+ Sta"], rows)


def _series(rows: list[dict], split: str, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
  """(epochs, values [len, runs]) of one metric of one split; None when it was not recorded."""
  rows = [row for row in rows if row["split"] == split and metric in row]
  if not rows:
    return None
  return (np.array([row["epoch"] for row in rows], np.float64),
          np.stack([np.atleast_1d(np.asarray(row[metric], np.float64)) for row in rows]))


def _pooled(series: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray] | None:
  """Several folds' series as one, their runs side by side, at the whole epochs all of them recorded
  (folds differ in steps per epoch, but every fold logs each epoch's end)."""
  if len(series) == 1:
    return series[0]
  common = set.intersection(*({e for e in x if e == math.floor(e)} for x, _ in series))
  if not common:
    return None
  epochs = np.array(sorted(common))
  return epochs, np.concatenate([v[np.isin(x, epochs)] for x, v in series], axis=1)


_CURVES = {"loss": [("train", "loss"), ("train", "softmax"), ("validation", "loss")],
           "accuracy": [("train", "accuracy"), ("validation", "accuracy")]}
# Panels of the per-branch diagnostics (ferjax.train.diagnostics: train metrics 'energy/<branch>'
# and 'grad/<branch>'), drawn on a log scale, where a starved branch sits decades below the others.
_BRANCH_PANELS = {"energy": "branch energy", "grad": "branch gradient"}


def branch_curves(folds: list[list[dict]]) -> list[tuple[str, str, str]]:
  """(panel, split, metric) of every per-branch diagnostic the folds' metrics hold."""
  metrics = sorted({key for rows in folds for row in rows if row["split"] == "train"
                    for key in row if key.partition("/")[0] in _BRANCH_PANELS})
  return [(_BRANCH_PANELS[metric.partition("/")[0]], "train", metric) for metric in metrics]


def metric_sources(workdir: Workdir) -> list[pathlib.Path]:
  """The metrics.jsonl files behind a workdir: its own, or every fold's for a CK+ 'all folds'
  summary."""
  own = workdir.path / progress.FILE
  if own.is_file():
    return [own]
  return [path / progress.FILE for path in fold_layout.fold_dirs(workdir.path)
          if (path / progress.FILE).is_file()]


def learning_curve_panels(workdir: Workdir) -> dict[str, list] | None:
  """Panels for plots.learning_curves: train loss (and its softmax part for a joint loss) and
  accuracy per logged step, validation loss and accuracy per epoch; None without metrics."""
  folds = [progress.read_metrics(path) for path in metric_sources(workdir)]
  if not folds:
    return None
  panels = {}
  curves = [(panel, split, metric) for panel, pairs in _CURVES.items() for split, metric in pairs]
  for panel, split, metric in curves + branch_curves(folds):
    if metric == "softmax" and workdir.results.loss == "softmax":
      continue
    series = [s for s in (_series(rows, split, metric) for rows in folds) if s is not None]
    pooled = _pooled(series) if len(series) == len(folds) else None
    if pooled is not None:
      label = metric.partition("/")[2] or (f"{split} {metric}" if metric != panel else split)
      panels.setdefault(panel, []).append((label, *pooled))
  return panels or None


def write_pictures(workdir: Workdir, output: pathlib.Path, stem: str) -> dict[str, str]:
  """Confusion matrix and learning curves of one workdir as PNG files; returns {kind: file name}."""
  r = workdir.results
  pictures = {"confusion": f"{stem}_confusion.png"}
  confusion = np.sum(np.asarray(r.confusion), axis=0)
  confusion_figure.draw(
      confusion, r.classes, output / pictures["confusion"],
      title=f"{workdir.name}: {_model_label(workdir)} on {r.dataset}, {r.split}, "
      f"sum over {_runs(r)}")
  panels = learning_curve_panels(workdir)
  if panels:
    pictures["curves"] = f"{stem}_curves.png"
    band = f"mean over {_runs(r)}" if r.split != "all folds" else \
        f"whole epochs, mean over {len(metric_sources(workdir))} folds x {_runs(r)}"
    plots.learning_curves(panels, output / pictures["curves"],
                          title=f"{workdir.name}: {band}, band = min-max",
                          log_panels=tuple(_BRANCH_PANELS.values()))
  return pictures


def _details(workdir: Workdir, pictures: dict[str, str]) -> str:
  """A workdir's section: where it is, best epochs, fold accuracies and its pictures."""
  r = workdir.results
  lines = [f"### {workdir.name}", "", f"- workdir: `{workdir.path}`",
           f"- {r.num_epochs} epochs; best epoch per run: {r.best_epoch}",
           f"- Acc per run %{' (mean over folds)' if r.fold_accuracy else ''}: "
           + ", ".join(_percent(a) for a in r.accuracy)]
  if r.fold_accuracy:
    lines.append("- Acc per fold %: " + ", ".join(_percent(a) for a in r.fold_accuracy))
  lines += ["", f"![confusion matrix of {workdir.name}]({pictures['confusion']})"]
  if "curves" in pictures:
    lines.append(f"![learning curves of {workdir.name}]({pictures['curves']})")
  else:
    lines.append("(no metrics.jsonl: no learning curves)")
  return "\n".join(lines)


def _unique_names(paths: Sequence[pathlib.Path]) -> list[str]:
  """Workdir basenames, with '-2', '-3' added where two workdirs share one
  (pictures must not clash)."""
  names, seen = [], {}
  for path in paths:
    name = path.resolve().name
    seen[name] = seen.get(name, 0) + 1
    names.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
  return names


def load_sweep(path: pathlib.Path) -> dict:
  try:
    return sweep_lib.read_summary(path)
  except ValueError as error:
    raise ReportError(str(error)) from None


def swept_axis(points: list[dict]) -> tuple[str, list[float] | None]:
  """(x label, numeric x values or None): the one numeric override that changes between points."""
  keys = [k for k in points[0] if len({json.dumps(p.get(k)) for p in points}) > 1]
  if len(keys) == 1 and all(isinstance(p[keys[0]], (int, float)) for p in points):
    return keys[0], [float(p[keys[0]]) for p in points]
  return ", ".join(keys) or "point", None


def sweep_section(path: pathlib.Path, sweep: dict, output: pathlib.Path, stem: str) -> str:
  """A sweep's table (one row per point) and its Acc +- Sta line plot."""
  rows = sweep["points"]
  xlabel, values = swept_axis([row["point"] for row in rows])
  picture = f"{stem}_sweep.png"
  plots.sweep_curve([row["label"] for row in rows], values, [row["acc"] for row in rows],
                    [row["sta"] for row in rows], output / picture, xlabel,
                    title=f"{sweep['name']}: {sweep['model']} ({sweep['loss']}) on "
                          f"{sweep['dataset']}, {sweep['num_runs']} run(s) per point")
  table = _table(["point", "runs", "Acc %", "Sta %", "Acc per run %"],
                 [[row["label"], str(len(row["accuracy"])), _percent(row["acc"]),
                   _percent(row["sta"]), ", ".join(_percent(a) for a in row["accuracy"])]
                  for row in rows])
  best = max(rows, key=lambda row: row["acc"])
  return "\n".join([f"### {stem}", "", f"- sweep `{sweep['name']}` in `{path}`; best point: "
                    f"{best['label']} ({_percent(best['acc'])}%)", "", table, "",
                    f"![{sweep['name']}]({picture})"])


def per_class_section(workdirs: Sequence[Workdir], output: pathlib.Path) -> str | None:
  """Grouped per-class accuracy bars of workdirs sharing one class list; None for fewer than two."""
  class_lists = {tuple(w.results.classes) for w in workdirs}
  if len(workdirs) < 2 or len(class_lists) != 1:
    return None
  classes = list(next(iter(class_lists)))
  plots.per_class_bars([w.name for w in workdirs],
                       np.stack([per_class_means(w.results) for w in workdirs]), classes,
                       output / "per_class.png", title="per-expression accuracy, mean over runs")
  return "![per-class accuracy of every workdir](per_class.png)"


def embedding_section(workdirs: Sequence[Workdir], output: pathlib.Path) -> str:
  """Test-split embedding geometry per workdir (table) and PCA / t-SNE projections (pictures)."""
  from ferjax.analysis import geometry  # Loads models and data: only with --embeddings.
  rows, projections = [], {"pca": [], "tsne": []}
  classes = None
  for workdir in workdirs:
    embeddings, labels, names = geometry.split_embeddings(workdir.path)
    classes = classes or names
    numbers = geometry.class_geometry(embeddings, labels)
    rows.append([workdir.name, workdir.results.loss, str(embeddings.shape[1]), str(len(labels)),
                 f"{numbers['intra']:.3f}", f"{numbers['inter']:.3f}", f"{numbers['ratio']:.3f}"])
    title = f"{workdir.name} ({workdir.results.loss}), intra/inter {numbers['ratio']:.2f}"
    projections["pca"].append((title, geometry.pca_2d(embeddings), labels))
    tsne = geometry.tsne_2d(embeddings)
    if tsne is not None:
      projections["tsne"].append((title, tsne, labels))
  lines = [_table(["workdir", "loss", "embedding width", "test examples", "intra", "inter",
                   "intra / inter"], rows), ""]
  for kind, panels in projections.items():
    if panels:
      plots.embedding_panels(panels, classes, output / f"embeddings_{kind}.png",
                             title=f"test-split embeddings, {kind.upper()}")
      lines.append(f"![embeddings, {kind}](embeddings_{kind}.png)")
  if not projections["tsne"]:
    lines.append("(t-SNE needs scikit-learn; PCA only)")
  return "\n".join(lines)


def build_report(paths: Sequence[os.PathLike], output: os.PathLike | None = None,
                 embeddings: bool = False) -> str:
  """Reads the workdirs and sweeps, writes report.md and the pictures into `output` (default: the
  first path's parent) and returns the Markdown. Every path is checked before anything is
  written."""
  if not paths:
    raise ReportError("no workdir given")
  paths = [pathlib.Path(p) for p in paths]
  names = _unique_names(paths)
  named = list(zip(paths, names, strict=True))
  sweeps = [(p, n, load_sweep(p)) for p, n in named if sweep_lib.holds_sweep(p)]
  workdirs = [load_workdir(p, n) for p, n in named if not sweep_lib.holds_sweep(p)]
  output = pathlib.Path(output) if output else paths[0].resolve().parent
  output.mkdir(parents=True, exist_ok=True)
  sections = ["# ferjax report"]
  if workdirs:
    sections += workdir_sections(workdirs, output, embeddings)
  if sweeps:
    sections += ["", "## Sweeps", "", "Acc / Sta per point over its runs (paper 000 eq. 8-9)."]
    sections += ["\n" + sweep_section(path, sweep, output, name) for path, name, sweep in sweeps]
  text = "\n".join(sections) + "\n"
  (output / "report.md").write_text(text)
  return text


def workdir_sections(workdirs: Sequence[Workdir], output: pathlib.Path,
                     embeddings: bool) -> list[str]:
  sections = ["", "## Results", "",
              ("Acc / Sta: mean and population standard deviation over runs of the test accuracy "
               "(paper 000 eq. 8-9); per-class columns are recall averaged over runs."), "",
              results_table(workdirs)]
  bars = per_class_section(workdirs, output)
  if bars:
    sections += ["", bars]
  comparison = paper_table(workdirs)
  if comparison:
    sections += [
        "", "## Side by side with the papers", "", comparison, "",
        ("Paper numbers as printed; paper 002 gives its variants' accuracies only in a chart "
         "(Figure 10), so none are quoted. Difference = ferjax Acc - paper Acc, percentage points. "
         "CK+ rows are not like for like: paper 000's CK+ has 7 classes, neutral kept and contempt "
         "dropped (section 3.1), while CK+48 has no neutral frames, so ferjax's CK+ has 6 classes "
         "(ckplus/6class) or 7 with contempt (ckplus/7class).")
    ]
  comparison = table_2(workdirs)
  if comparison:
    sections += [
        "", "## Paper 000 Table 2 with ferjax's m6", "", comparison, "",
        "The CK+ columns differ in classes: the paper's 7 include neutral, CK+48 has none."
    ]
  if embeddings:
    sections += [
        "", "## Embedding geometry (paper 002, Fig. 9)", "",
        ("On the test split: intra = mean distance of a feature to its class centre, inter = mean "
         "distance between class centres (`ferjax.analysis.geometry`)."), "",
        embedding_section(workdirs, output)
    ]
  sections += ["", "## Workdirs"]
  for workdir in workdirs:
    sections += ["", _details(workdir, write_pictures(workdir, output, workdir.name))]
  return sections


def ledger_report(paths: Sequence[str], output: os.PathLike | None) -> str:
  """The tables of the studies in the ledgers at `paths`, written to `output` (default: the first
  ledger's folder)."""
  contents = ledger.read(paths)
  ledger.report_problems(contents)
  found = tables.tables(contents.lines, studies.STUDIES)
  if not found:
    raise ReportError(f"{', '.join(paths)}: no line of a study in ferjax/study/studies.py")
  return tables.write(found, pathlib.Path(output or pathlib.Path(paths[0]).parent))


def main(argv: list[str]) -> None:
  cli.run(report, argv[1:], errors=(ReportError, ledger.LedgerError))


def report(paths: list[str]) -> None:
  """Prints (and writes) the report of `paths`, or of --ledger."""
  if _LEDGER.value:
    if paths:
      raise app.UsageError("give either --ledger or workdirs, not both")
    print(ledger_report(_LEDGER.value, _OUTPUT.value), end="")
    return
  if not paths:
    raise app.UsageError(
        "give one or more finished workdirs or sweeps: python -m ferjax.report PATH...")
  print(build_report(paths, _OUTPUT.value, _EMBEDDINGS.value), end="")
