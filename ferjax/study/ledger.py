"""The study ledger: append-only JSON lines, one per finished run, the one owner of that format.

A line holds everything needed to trust and recompute a table row without the workdir: when it
finished; the study, cell, run and fold; the seeds; the full config and its hash; the dataset's
split sizes and the sha256 of the archive it was prepared from; the device, the library versions and
the git commit; wall time, steps and images/s; the selected epoch, the test accuracy, the per-class
accuracy and the confusion matrix. A study writes a job's lines only once the job has finished, in
one append, so an interrupted study never leaves a partial job behind.

Ledgers from several machines merge by concatenation: readers de-duplicate on (study, cell, run,
fold, config hash), keeping the first line. A line that does not parse (a copy cut short, a disk
filled up) is reported with its file and line number and skipped; it is never silently dropped.
"""

import dataclasses
import datetime
import hashlib
import importlib.metadata
import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import jax

if TYPE_CHECKING:
  from ferjax.train.results import Results

FORMAT = 1
# Config keys that do not change what a run computes: where data lives, how many runs share one
# program (a run's seeds depend only on its number), which fold (a field of its own), logging and
# checkpointing, the evaluation batch, and the input source (device and grain give identical
# batches).
UNHASHED = ("data_dir", "manual_dir", "num_runs", "first_run", "folds.fold", "log_every_steps",
            "checkpoint_keep", "eval_batch_size", "data.source", "data.num_workers")
REQUIRED = ("study", "cell", "run", "fold", "config_hash", "accuracy")
LIBRARIES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy")


class LedgerError(ValueError):
  """A ledger that cannot be read or written (a missing file, or a folder in its place)."""


def _without(config: dict, dotted: Sequence[str]) -> dict:
  config = json.loads(json.dumps(config))
  for key in dotted:
    *parents, last = key.split(".")
    section = config
    for parent in parents:
      section = section.get(parent, {})
    section.pop(last, None)
  return config


def config_hash(config: dict) -> str:
  """16 hex digits of the sha256 of the config's canonical JSON, without the UNHASHED keys."""
  text = json.dumps(_without(config, UNHASHED), sort_keys=True, separators=(",", ":"))
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def git_state(repository: os.PathLike | None = None) -> dict:
  """{'commit', 'dirty'} of the checkout holding ferjax; where it is no git checkout (a copied tree
  on an accelerator lease), the commit named by FERJAX_COMMIT, or None."""
  repository = pathlib.Path(repository or pathlib.Path(__file__).resolve().parent.parent)
  try:
    commit = subprocess.run(["git", "rev-parse", "HEAD"],
                            cwd=repository, capture_output=True, text=True,
                            check=True).stdout.strip()
    changes = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                             cwd=repository, capture_output=True, text=True,
                             check=True).stdout.strip()
    return {"commit": commit, "dirty": bool(changes)}
  except (OSError, subprocess.CalledProcessError):
    return {"commit": os.environ.get("FERJAX_COMMIT"), "dirty": None}


def environment() -> dict:
  """Where a run ran: device kind, platform and count, process count, Python and library versions,
  git."""
  versions = {}
  for name in LIBRARIES:
    try:
      versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      versions[name] = None
  device = jax.devices()[0]
  return {
      "device_kind": device.device_kind, "platform": device.platform,
      "device_count": jax.device_count(), "process_count": jax.process_count(),
      "host_cpu": host_cpu(), "host_cores": os.cpu_count(), "python": sys.version.split()[0],
      "versions": versions, "git": git_state()
  }


def host_cpu() -> str | None:
  """The host processor's model name (Linux), which a CPU-scale number depends on."""
  try:
    for text in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
      if text.startswith("model name"):
        return text.split(":", 1)[1].strip()
  except OSError:
    pass
  return None


def run_lines(study: str, cell: str, config: dict, results: "Results",
              seeds: dict[str, Sequence[int]], environment_: dict, scale: dict) -> list[dict]:
  """The ledger lines of one finished job (`ferjax.train.loop.train_one`'s results): one per run of
  its run axis.

  seeds: per run, 'run' (its seed number) and 'data' (its data-order seed). The job's wall time is
  shared by its runs (they trained in one program) and given whole, with how many runs shared it.
  """
  digest = config_hash(config)
  finished_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
  lines = []
  for index, run in enumerate(seeds["run"]):
    lines.append({
        "format": FORMAT, "finished_at": finished_at, "study": study, "cell": cell, "run": int(run),
        "fold": results.fold, "seed": config["seed"], "data_seed": int(seeds["data"][index]),
        "config_hash": digest, "scale": scale, "dataset": results.dataset, "split": results.split,
        "protocol": results.protocol, "split_sizes": results.split_sizes, "source": results.source,
        "environment": environment_, "wall_time_s": results.wall_time_s,
        "runs_in_program": len(seeds["run"]), "steps": results.steps,
        "images_per_second": results.images_per_second, "best_epoch": results.best_epoch[index],
        "num_epochs": results.num_epochs, "accuracy": results.accuracy[index],
        "classes": results.classes, "per_class_accuracy": results.per_class_accuracy[index],
        "confusion": results.confusion[index], "config": config,
    })
    if results.tta_accuracy is not None:
      lines[-1]["tta_accuracy"] = results.tta_accuracy[index]
    if results.pretrained is not None:
      lines[-1]["pretrained"] = results.pretrained
  return lines


def key(line: dict) -> tuple:
  """What makes two lines the same run: de-duplication merges on it."""
  return line["study"], line["cell"], line["run"], line["fold"], line["config_hash"]


def append(path: os.PathLike, lines: Iterable[dict]) -> None:
  """Appends `lines` in one write, flushed to disk (only process 0 writes)."""
  if jax.process_index() != 0:
    return
  text = "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines)
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  if path.exists() and path.stat().st_size:
    with open(path, "rb") as existing:  # A cut-off last line must not swallow the first new one.
      existing.seek(-1, os.SEEK_END)
      if existing.read(1) != b"\n":
        text = "\n" + text
  with open(path, "a") as ledger:
    ledger.write(text)
    ledger.flush()
    os.fsync(ledger.fileno())


@dataclasses.dataclass
class Contents:
  """A ledger's distinct lines in file order, and what was skipped ('file:line: why')."""

  lines: list[dict]
  problems: list[str]
  duplicates: int


def read(paths: os.PathLike | Sequence[os.PathLike], missing_ok: bool = False) -> Contents:
  """Every distinct line of the ledgers in `paths` (first occurrence wins), with problems listed."""
  paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
  lines, problems, seen, duplicates = [], [], set(), 0
  for path in map(pathlib.Path, paths):
    if not path.exists():
      if missing_ok:
        continue
      raise LedgerError(f"{path}: no such ledger")
    if path.is_dir():
      raise LedgerError(f"{path}: is a folder, not a ledger file (JSON lines)")
    with open(path) as ledger:
      for number, text in enumerate(ledger, start=1):
        if not text.strip():
          continue
        line, problem = _parse(text)
        if problem:
          problems.append(f"{path}:{number}: {problem}")
          continue
        if key(line) in seen:
          duplicates += 1
          continue
        seen.add(key(line))
        lines.append(line)
  return Contents(lines, problems, duplicates)


def _parse(text: str) -> tuple[dict | None, str | None]:
  try:
    line = json.loads(text)
  except json.JSONDecodeError as error:
    return None, f"not valid JSON ({error}; cut short?), skipped"
  if not isinstance(line, dict):
    return None, f"a JSON {type(line).__name__}, not an object, skipped"
  absent = [field for field in REQUIRED if field not in line]
  if absent:
    return None, f"lacks {', '.join(absent)}, skipped"
  return line, None


def report_problems(contents: Contents) -> None:
  """Prints every skipped line on stderr, so that none is lost without a word."""
  for problem in contents.problems:
    print(f"ledger: {problem}", file=sys.stderr)


def merge(paths: Sequence[os.PathLike], output: os.PathLike) -> Contents:
  """Writes the distinct lines of `paths` to `output` (replacing it); returns what was read."""
  contents = read(paths)
  output = pathlib.Path(output)
  output.parent.mkdir(parents=True, exist_ok=True)
  temporary = output.with_name(output.name + ".tmp")
  temporary.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in contents.lines))
  temporary.replace(output)
  return contents
