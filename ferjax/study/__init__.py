"""Studies: a paper's table as cells, run within a time budget into an append-only ledger, and
rendered with intervals and tests (`python -m ferjax.study`)."""
