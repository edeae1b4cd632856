"""`python -m ferjax.ledger`: merge study ledgers (JSON lines) into one, keeping each distinct line
once (see ferjax.study.ledger).

  python -m ferjax.ledger --into=docs/results/lease.jsonl docs/results/lease.jsonl new.jsonl
  python -m ferjax.report --ledger=docs/results/lease.jsonl   # then render its tables
"""

import sys

from absl import app, flags

from ferjax import cli
from ferjax.study import ledger

_INTO = flags.DEFINE_string("into", None, "The merged ledger to write (it may be one of the "
                            "inputs: it is replaced only once every input is read).")


def merge(paths: list[str], into: str) -> None:
  if not paths:
    raise app.UsageError("name the ledgers to merge: python -m ferjax.ledger --into=OUT A B ...")
  contents = ledger.merge(paths, into)
  ledger.report_problems(contents)
  print(f"ledger: {len(contents.lines)} lines into {into} ({contents.duplicates} duplicates "
        "dropped)", file=sys.stderr)


def main(argv: list[str]) -> None:
  cli.run(merge, argv[1:], _INTO.value, errors=(ledger.LedgerError,))


if __name__ == "__main__":
  flags.mark_flags_as_required(["into"])
  cli.main(main)
