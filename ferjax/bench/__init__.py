"""Benchmarks: ferjax against the PyTorch reference on the same machine (run
`python -m ferjax.bench`)."""
