"""`python -m ferjax.report`: tables and figures of workdirs and ledgers (see
ferjax.analysis.report)."""

from ferjax import cli
from ferjax.analysis import report

if __name__ == "__main__":
  cli.main(report.main)
