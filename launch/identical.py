"""Checks that the working tree trains exactly as an earlier commit does on this machine.

  .venv/bin/python launch/identical.py --base=<commit> [--jobs=main,fer2013] [--scratch=DIR] \\
      [--base_only]

Runs each job (the README's main job; a two-epoch FER2013 quick run) with the code of `--base` (a
git worktree) and with the working tree, in fresh workdirs, and compares their `metrics.jsonl` line
by line and their `results.json` key by key, bit for bit, leaving out only what measures time. The
base's outputs are regenerated on this machine, and kept in the scratch folder under the base's
commit hash, so that a second check against the same base only reruns the working tree. Exit status
1 on any difference, naming the file, line and key.
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
JOBS = {"main": "configs/cka.py:quick", "fer2013": "configs/fer2013.py:quick,epochs=2"}
# What differs between two equal runs.
TIMINGS = {"wall_time_s", "images_per_second", "finished_at"}


def commit_of(revision: str) -> str:
  return subprocess.run(["git", "rev-parse", f"{revision}^{{commit}}"], cwd=REPO, check=True,
                        capture_output=True, text=True).stdout.strip()


def train(tree: pathlib.Path, config: str, workdir: pathlib.Path) -> None:
  """`python -m ferjax.main` with the code of `tree` (first on the path, ahead of any install)."""
  if workdir.exists():
    shutil.rmtree(workdir)
  env = dict(os.environ, PYTHONPATH=str(tree), FERJAX_MANUAL_DIR=os.environ.get(
      "FERJAX_MANUAL_DIR", str(REPO.parent / "shared" / "data")))
  check = (
      f"import ferjax, pathlib; assert pathlib.Path(ferjax.__file__).is_relative_to({str(tree)!r}),"
      " ferjax.__file__")
  subprocess.run([sys.executable, "-c", check], cwd=tree, env=env, check=True)
  print(f"{tree}: {config}", flush=True)
  subprocess.run(
      [sys.executable, "-m", "ferjax.main", f"--config={config}", f"--workdir={workdir}"], cwd=tree,
      env=env, check=True)


def without_timings(value):
  if isinstance(value, dict):
    return {key: without_timings(item) for key, item in value.items() if key not in TIMINGS}
  return value


def differences(base: pathlib.Path, new: pathlib.Path) -> list[str]:
  """Where two workdirs' metrics.jsonl and results.json differ (empty when they are identical)."""
  found = []
  base_lines = (base / "metrics.jsonl").read_text().splitlines()
  new_lines = (new / "metrics.jsonl").read_text().splitlines()
  if len(base_lines) != len(new_lines):
    found.append(f"metrics.jsonl: {len(base_lines)} lines at the base, {len(new_lines)} now")
  for number, (before, after) in enumerate(zip(base_lines, new_lines), 1):
    if without_timings(json.loads(before)) != without_timings(json.loads(after)):
      found.append(f"metrics.jsonl line {number}: {before} != {after}")
  before, after = (
      without_timings(json.loads((d / "results.json").read_text())) for d in (base, new))
  for key in sorted(set(before) | set(after)):
    if before.get(key, "<absent>") != after.get(key, "<absent>"):
      found.append(f"results.json[{key!r}]: {before.get(key, '<absent>')!r:.200} != "
                   f"{after.get(key, '<absent>')!r:.200}")
  return found


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--base", required=True, help="the commit whose behaviour the tree must keep")
  parser.add_argument("--jobs", default=",".join(JOBS), help=f"some of {', '.join(JOBS)}")
  parser.add_argument("--scratch", default=os.path.join(tempfile.gettempdir(), "ferjax_identical"))
  parser.add_argument("--base_only",
                      action="store_true",
                      help="only run the base (ahead of a change)")
  args = parser.parse_args()
  base = commit_of(args.base)
  scratch = pathlib.Path(args.scratch)
  base_tree = scratch / "trees" / base
  if not base_tree.exists():
    subprocess.run(["git", "worktree", "add", "--detach", str(base_tree), base], cwd=REPO,
                   check=True)
  failed = False
  for job in args.jobs.split(","):
    if job not in JOBS:
      parser.error(f"--jobs: unknown job {job!r}; expected some of {', '.join(JOBS)}")
    base_workdir = scratch / "base" / base / job
    if not (base_workdir / "results.json").exists():
      train(base_tree, JOBS[job], base_workdir)
    if args.base_only:
      continue
    train(REPO, JOBS[job], scratch / "now" / job)
    found = differences(base_workdir, scratch / "now" / job)
    print(f"{job}: " + ("identical to " + base[:10] if not found else f"{len(found)} differences"))
    for line in found:
      print(f"  {line}")
    failed |= bool(found)
  return int(failed)


if __name__ == "__main__":
  sys.exit(main())
