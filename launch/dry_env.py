"""Builds a Python environment holding only the accelerator machine's packages, for
`lease.sh --dry-run`.

  python launch/dry_env.py DEST      # prints DEST/bin/python

DEST becomes a fresh virtual environment (no pip, no site packages) into which every file of each
distribution installed in this interpreter that launch/accelerator_packages.txt names is linked,
file by file, so that shared namespace folders (google/, for protobuf beside
googleapis-common-protos) hold only the listed distributions' files. Packages the machine lacks
(launch/wheels.txt) are then installed from wheels by lease.sh exactly as on the lease, so a missing
wheel fails here first.
"""

import importlib.metadata
import os
import pathlib
import re
import subprocess
import sys
import sysconfig

HERE = pathlib.Path(__file__).resolve().parent


def names(path: pathlib.Path) -> set[str]:
  """Normalised distribution names of a list file (one per line, '#' comments, optional
  ==version)."""
  entries = set()
  for line in path.read_text().splitlines():
    line = line.split("#", 1)[0].strip()
    if line:
      entries.add(normalise(re.split(r"[=<>!~ ]", line, maxsplit=1)[0]))
  return entries


def normalise(name: str) -> str:
  return re.sub(r"[-_.]+", "-", name).lower()


def build(destination: pathlib.Path) -> pathlib.Path:
  subprocess.run([sys.executable, "-m", "venv", "--clear", "--without-pip", str(destination)],
                 check=True)
  python = destination / "bin" / "python"
  where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
  site = pathlib.Path(subprocess.run([str(python), "-c", where], capture_output=True, text=True,
                                     check=True).stdout.strip())
  wanted = names(HERE / "accelerator_packages.txt") - names(HERE / "wheels.txt")
  source_site = pathlib.Path(sysconfig.get_paths()["purelib"]).resolve()
  linked = 0
  for distribution in importlib.metadata.distributions():
    if normalise(distribution.metadata["Name"]) not in wanted or not distribution.files:
      continue
    for file in distribution.files:
      origin = pathlib.Path(distribution.locate_file(file)).resolve()
      if not origin.is_file() or source_site not in origin.parents:
        continue  # Scripts in bin/, and files outside site-packages, are not needed.
      target = site / origin.relative_to(source_site)
      target.parent.mkdir(parents=True, exist_ok=True)
      if not target.exists():
        os.symlink(origin, target)
        linked += 1
  print(f"dry_env: {destination}: linked {linked} files of the accelerator machine's packages",
        file=sys.stderr)
  return python


if __name__ == "__main__":
  if len(sys.argv) != 2:
    sys.exit("usage: python launch/dry_env.py DEST")
  print(build(pathlib.Path(sys.argv[1]).resolve()))
