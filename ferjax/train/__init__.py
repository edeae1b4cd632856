"""Training: the loop, the compiled steps and their state, and every file a workdir holds.

`loop.train_and_evaluate(config, workdir)` trains a config's N runs (every CK+ fold, or FER2013),
selects on validation and reports the test split. It owns the workdir: `checkpoints` (Orbax),
`progress` (console, `metrics.jsonl`, TensorBoard), `results` (`results.json`, `confusion.png`).
"""
