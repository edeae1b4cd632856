"""Batches padded to a few sizes, so a jitted function fed varying counts (faces per image) compiles
rarely."""

import numpy as np


def bucket(count: int) -> int:
  """The padded batch size for `count` items: the next power of two, at least 8."""
  return max(8, 1 << (max(count, 1) - 1).bit_length())


def pad(batch: np.ndarray) -> np.ndarray:
  """`batch` with zero items appended up to `bucket(len(batch))`; callers keep the first len(batch)
  outputs."""
  missing = bucket(len(batch)) - len(batch)
  return (np.concatenate([batch, np.zeros((missing,) + batch.shape[1:], batch.dtype)])
          if missing else batch)
