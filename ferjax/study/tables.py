"""A study's table from a ledger, as the paper prints it, with the statistics the papers do not
give.

Per row: Acc (mean over runs) and Sta (population std), the runs, the 95% t interval of the mean and
the published number beside it. Between the study's row pairs (consecutive rows holding runs, by
default): Welch's t-test over runs, and for cross-validated studies the paired t-test over folds. A
CK+ run counts once all of the scale's folds are in the ledger; a row missing runs or folds says how
many it holds. Lines of one study at different scales make separate tables, never one row.

  python -m ferjax.report --ledger=docs/results/cpu_scale.jsonl [--output=docs/results]
"""

import collections
import dataclasses
import json
import pathlib
from collections.abc import Sequence

import numpy as np

from ferjax.study import plan, statistics


@dataclasses.dataclass
class Row:
  """One cell's lines at one scale: per run its fold accuracies, and what a complete run needs."""

  cell: plan.Cell
  lines: list[dict]
  folds: tuple[int, ...] | None
  runs_wanted: int

  def fold_accuracies(self, key: str = "accuracy") -> dict[int, dict[int | None, float]]:
    """Per run, per fold: the lines' `key` ('accuracy', or 'tta_accuracy' where reported)."""
    by_run: dict[int, dict[int | None, float]] = collections.defaultdict(dict)
    for line in self.lines:
      if line.get(key) is not None:
        by_run[line["run"]][line["fold"]] = line[key]
    return by_run

  def run_accuracies(self, key: str = "accuracy") -> dict[int, float]:
    """Each complete run's accuracy (the mean over its folds for CK+)."""
    wanted = [None] if self.folds is None else list(self.folds)
    return {
        run: float(np.mean([folds[f] for f in wanted]))
        for run, folds in sorted(self.fold_accuracies(key).items())
        if all(f in folds for f in wanted)
    }

  def fold_means(self) -> dict[int, float]:
    """Mean accuracy over the runs present, per fold (cross-validated rows only)."""
    per_fold = collections.defaultdict(list)
    for line in self.lines:
      per_fold[line["fold"]].append(line["accuracy"])
    return {fold: float(np.mean(values)) for fold, values in per_fold.items() if fold is not None}

  def completeness(self) -> str:
    """'' when every wanted run is complete, else what the row holds."""
    complete = len(self.run_accuracies())
    if complete >= self.runs_wanted:
      return ""
    held = f"{complete} of {self.runs_wanted} runs"
    partial = set(self.fold_accuracies()) - set(self.run_accuracies())
    if partial and self.folds is not None:
      held += "; " + ", ".join(
          f"run {run}: {len(folds)}/{len(self.folds)} folds, "
          f"mean {100 * np.mean(list(folds.values())):.2f}%"
          for run, folds in sorted(self.fold_accuracies().items())
          if run in partial)
    return "incomplete: " + held

  def summary(self, key: str = "accuracy") -> statistics.Summary | None:
    accuracies = list(self.run_accuracies(key).values())
    return statistics.summarize(accuracies) if accuracies else None


@dataclasses.dataclass
class Table:
  """One study at one scale: its rows, the tests between row pairs, and where it ran."""

  study: plan.Study
  scale: dict
  rows: list[Row]
  not_run: list[str]  # The study's cells without a line at this scale.

  def row(self, name: str) -> Row:
    return next(row for row in self.rows if row.cell.name == name)

  def pairs(self) -> list[tuple[str, str]]:
    """The study's row pairs whose rows both hold lines; by default consecutive rows that hold
    lines."""
    names = [row.cell.name for row in self.rows]
    if self.study.comparisons is None:
      return list(zip(names, names[1:]))
    return [pair for pair in self.study.comparisons if set(pair) <= set(names)]

  def tests(self) -> list[dict]:
    results = []
    for first, second in self.pairs():
      a, b = self.row(first), self.row(second)
      welch = statistics.welch(list(a.run_accuracies().values()), list(b.run_accuracies().values()))
      entry = {
          "rows": [first, second],
          "welch": None if welch is None else dataclasses.asdict(welch)
      }
      if self.study.folds is not None:
        common = sorted(set(a.fold_means()) & set(b.fold_means()))
        test = statistics.paired([b.fold_means()[f] for f in common],
                                 [a.fold_means()[f] for f in common])
        entry["paired_over_folds"] = (None if test is None else
                                      dict(dataclasses.asdict(test), folds=len(common)))
      results.append(entry)
    return results

  def provenance(self) -> dict:
    """Devices, commits, dates and summed wall time of the table's lines."""
    lines = [line for row in self.rows for line in row.lines]
    environments = [line["environment"] for line in lines]
    devices = sorted({
        f"{e['device_count']} x {e['device_kind']}" + (f" ({e['host_cpu']}, {e['host_cores']} "
                                                       "cores)" if e.get("host_cpu") else "")
        for e in environments
    })
    commits = sorted({
        (e["git"]["commit"] or "unknown")[:10] + ("+dirty" if e["git"]["dirty"] else "")
        for e in environments
    })
    dates = sorted(line.get("finished_at", "") for line in lines)
    # A program's wall time is shared by its runs: count it once per program.
    programs = {
        (line["cell"], line["fold"], line["finished_at"] if "finished_at" in line else line["run"]):
            line["wall_time_s"] for line in lines
    }
    return {
        "devices": devices, "commits": commits, "first": dates[0] if dates else None,
        "last": dates[-1] if dates else None, "wall_time_s": float(sum(programs.values())),
        "hashes": {
            row.cell.name: len({line["config_hash"] for line in row.lines}) for row in self.rows
        }
    }


# How many runs a study command asked for, and how it packed them into programs, change nothing a
# line measured: lines that differ only there share a table, which counts the most runs any asked.
_PACKING = ("runs", "runs_per_job")


def tables(lines: Sequence[dict], studies: dict[str, plan.Study]) -> list[Table]:
  """The ledger's lines as tables: one per (study, scale), in the studies' order; lines of a study
  or cell that ferjax/study/studies.py no longer declares are left out."""
  grouped: dict[tuple[str, str], list[dict]] = collections.defaultdict(list)
  for line in lines:
    measured = {k: v for k, v in line.get("scale", {}).items() if k not in _PACKING}
    grouped[line["study"], json.dumps(measured, sort_keys=True)].append(line)
  result = []
  order = list(studies)
  for (name, scale_text), group in sorted(grouped.items()):
    if name not in studies:
      continue
    study = studies[name]
    runs = max(line.get("scale", {}).get("runs", study.runs) for line in group)
    scale = dict(sorted({**json.loads(scale_text), "runs": runs}.items()))
    folds = study.folds if study.folds is None or "folds" not in scale else tuple(scale["folds"])
    present = {line["cell"] for line in group}
    rows = [Row(cell, [line for line in group if line["cell"] == cell.name], folds, runs)
            for cell in study.cells if cell.name in present]
    result.append(
        Table(study, scale, rows, [cell.name for cell in study.cells if cell.name not in present]))
  # Stable: scales stay sorted.
  return sorted(result, key=lambda table: order.index(table.study.name))


def _percent(value: float | None) -> str:
  return "–" if value is None else f"{100.0 * value:.2f}"


def _p(test: dict | None) -> str:
  return "– (needs 2+ runs a row)" if test is None else f"{test['p']:.3g}"


def markdown(table: Table) -> str:
  """The table as Markdown: rows, then the tests between row pairs, then where and when it ran."""
  tta = any(line.get("tta_accuracy") is not None for row in table.rows for line in row.lines)
  where = table.provenance()
  header = [
      "row", "Acc %", "Sta %", "runs", "95% interval %", *(["TTA Acc %"] if tta else []),
      "paper Acc %", "paper Sta", "note"
  ]
  lines = [
      f"### {table.study.title}", "",
      "Scale: " + (", ".join(f"{k} {v}" for k, v in table.scale.items()) or "the configs' own"), "",
      "| " + " | ".join(header) + " |", "|" + "---|" * len(header)
  ]
  for row in table.rows:
    summary = row.summary()
    interval = "–" if summary is None or summary.interval is None else \
        f"{_percent(summary.interval[0])} – {_percent(summary.interval[1])}"
    published = row.cell.published
    lines.append("| " + " | ".join([
        row.cell.name, _percent(summary and summary.acc),
        _percent(summary.sta if summary and summary.n > 1 else None),
        str(summary.n if summary else 0), interval,
        *([_percent(getattr(row.summary("tta_accuracy"), "acc", None))] if tta else []),
        "–" if published is None else f"{published[0]:.2f}",
        "–" if published is None or published[1] is None else f"{published[1]:.2f}",
        row.completeness() or
        ("" if where["hashes"][row.cell.name] <= 1 else "lines of several configs")
    ]) + " |")
  for method, acc, sta in table.study.reference_rows:
    blank = "| | | | |" + (" |" if tta else "")
    lines.append(f"| {method} (published only) {blank} {acc:.2f} | {sta:.2f} | not in ferjax |")
  tests = table.tests()
  if tests:
    paired = table.study.folds is not None
    lines += ["", "| rows compared | Welch p (runs) |" + (" paired p (folds) |" if paired else ""),
              "|---|---|" + ("---|" if paired else "")]
    for entry in tests:
      text = f"| {entry['rows'][0]} vs {entry['rows'][1]} | {_p(entry['welch'])} |"
      if paired:
        test = entry["paired_over_folds"]
        text += (" – |" if test is None else
                 f" {test['p']:.3g} ({test['folds']} folds, t = {test['t']:.2f}) |")
      lines.append(text)
  lines += [
      "", f"Ran on {'; '.join(where['devices'])}, commit {', '.join(where['commits'])}, "
      f"{where['first']} to {where['last']}, {where['wall_time_s'] / 60:.1f} min of jobs."
  ]
  if table.not_run:
    lines += ["", f"Not run at this scale: {', '.join(table.not_run)}."]
  if table.study.note:
    lines += ["", table.study.note]
  return "\n".join(lines)


def as_json(table: Table) -> dict:
  rows = []
  for row in table.rows:
    summary = row.summary()
    tta = row.summary("tta_accuracy")
    rows.append({
        "row": row.cell.name, "summary": None if summary is None else dataclasses.asdict(summary),
        "tta_summary": None if tta is None else dataclasses.asdict(tta),
        "run_accuracy": row.run_accuracies(), "published": row.cell.published,
        "completeness": row.completeness() or "complete"
    })
  return {"study": table.study.name, "title": table.study.title, "scale": table.scale, "rows": rows,
          "tests": table.tests(), "provenance": table.provenance()}


def figure(table: Table, path: pathlib.Path) -> None:
  """Acc with Sta bars per row (none for a row of one run), the papers' Acc (and Sta) as
  markers."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  names = [row.cell.name for row in table.rows]
  fig, ax = plt.subplots(figsize=(3.2 + 1.0 * len(names), 3.8))
  x = np.arange(len(names))
  summaries = [row.summary() for row in table.rows]
  acc = [100 * s.acc if s else np.nan for s in summaries]
  bars = ax.bar(x, acc, color="#4c72b0", label="ferjax Acc ± Sta")
  spread = [(i, s) for i, s in enumerate(summaries) if s and s.n > 1]
  ax.errorbar([i for i, _ in spread], [100 * s.acc for _, s in spread],
              yerr=[100 * s.sta for _, s in spread], fmt="none", ecolor="black", capsize=4)
  # Each fold's accuracy (mean over its runs): the spread behind Acc.
  if table.study.folds is not None:
    for i, row in enumerate(table.rows):
      folds = list(row.fold_means().values())
      ax.scatter(np.full(len(folds), i) + np.linspace(-0.25, 0.25, len(folds)),
                 100 * np.asarray(folds),
                 s=10,
                 color="#222222",
                 zorder=3,
                 label="ferjax, per fold" if i == 0 else None)
  ax.bar_label(bars, labels=[f"{100 * s.acc:.1f}\n{s.n} run{'s' * (s.n > 1)}" if s else ""
                             for s in summaries], label_type="center", color="white", fontsize=8)
  published = [(i, row.cell.published) for i, row in enumerate(table.rows) if row.cell.published]
  if published:
    ax.errorbar([i for i, _ in published], [p[0] for _, p in published],
                yerr=[p[1] or 0.0 for _, p in published], fmt="D", color="#dd8452", capsize=4,
                label="paper Acc ± Sta")
  ax.set_xticks(x, names, rotation=20 if len(names) > 6 else 0)
  ax.set_ylabel("test accuracy %")
  scale = ", ".join(f"{k} {v}" for k, v in table.scale.items() if k != "folds")
  ax.set_title(table.study.name + (f"\n{scale}" if scale else ""), fontsize=9)
  ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
  ax.set_ylim(0, 100)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def file_stem(table: Table) -> str:
  scale = "_".join(f"{k}{v}" for k, v in table.scale.items() if k not in ("folds",))
  return "".join(
      c if c.isalnum() or c in "._-" else "_" for c in f"{table.study.name}_{scale}".rstrip("_"))


def write(tables_: Sequence[Table], output: pathlib.Path) -> str:
  """Writes tables.md, tables.json and a PNG per table into `output`; returns the Markdown."""
  output.mkdir(parents=True, exist_ok=True)
  sections = []
  for table in tables_:
    stem = file_stem(table)
    figure(table, output / f"{stem}.png")
    sections.append(markdown(table) + f"\n\n![{table.study.name}]({stem}.png)")
  text = "\n\n".join(sections) + "\n"
  (output / "tables.md").write_text(text)
  (output / "tables.json").write_text(json.dumps([as_json(t) for t in tables_], indent=2) + "\n")
  return text
