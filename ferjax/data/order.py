"""The order in which both sources visit examples, as a pure function of the position in the stream.

Training position `p` (step * global_batch + row) falls in epoch `p // (steps_per_epoch * batch)`;
its item is a keyed pseudo-random permutation of [0, n * views) evaluated at the position within the
epoch, and item `i` is example `i // views` seen through fixed view `i % views`. With one view an
epoch visits every example once; with the papers' 15 views (5 angles x 3 mirror states, see
`ferjax.data.augment.expansion_views`) it visits every (example, view) pair of the expanded set
once. The permutation is a 4-round Feistel network on 2h bits (2^2h >= n) with cycle walking,
written once against the array namespace `xp`, so NumPy (the grain source, in worker processes) and
jax.numpy (the device source, inside jit) compute the very same indices. Being stateless, it needs
no shuffle buffer, costs O(batch) per step, and a resumed run only has to know its step.
"""

import dataclasses
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np

_ROUNDS = 4


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
  """Training steps per epoch with the last partial batch dropped."""
  if num_examples < batch_size:
    raise ValueError(f"batch size {batch_size} exceeds the {num_examples} training examples")
  return num_examples // batch_size


def _mix(x, xp: ModuleType):
  """A 32-bit integer hash (a xorshift-multiply avalanche), wrapping identically in NumPy and
  JAX."""
  x = x ^ (x >> xp.uint32(16))
  x = x * xp.uint32(0x7FEB352D)
  x = x ^ (x >> xp.uint32(15))
  x = x * xp.uint32(0x846CA68B)
  return x ^ (x >> xp.uint32(16))


def _round_keys(seed, epoch, xp: ModuleType) -> list:
  """One 32-bit key per Feistel round, from the seed and the (per-element) epoch."""
  # At least 1-d: NumPy wraps uint32 arrays silently but warns on overflowing scalars. A Python seed
  # is reduced modulo 2^32 first; an array seed (one per run, under vmap) is cast.
  seed = seed % 2**32 if isinstance(seed, int) else seed
  epoch_key = _mix(
      xp.atleast_1d(epoch).astype(xp.uint32) * xp.uint32(0x9E3779B9) + xp.uint32(1), xp)
  seed_key = _mix(xp.atleast_1d(xp.asarray(seed)).astype(xp.uint32), xp)
  return [
      _mix(seed_key ^ epoch_key ^ xp.uint32(r * 0x85EBCA6B % 2**32), xp) for r in range(_ROUNDS)
  ]


def _half_bits(n: int) -> int:
  return max(1, ((n - 1).bit_length() + 1) // 2)


def _feistel(x, keys: list, half_bits: int, xp: ModuleType):
  """A bijection of [0, 2^(2 * half_bits)): balanced Feistel rounds with `_mix` as round
  function."""
  mask = xp.uint32((1 << half_bits) - 1)
  left, right = x >> xp.uint32(half_bits), x & mask
  for key in keys:
    left, right = right, left ^ (_mix(right ^ key, xp) & mask)
  return (left << xp.uint32(half_bits)) | right


def permute(positions, num_examples: int, seed: int, epoch, xp: ModuleType = np):
  """The permutation of epoch `epoch` (per element) of [0, num_examples), evaluated at
  `positions`."""
  keys = _round_keys(seed, epoch, xp)
  half = _half_bits(num_examples)
  x = _feistel(xp.asarray(positions).astype(xp.uint32), keys, half, xp)
  if xp is np:
    while (outside := x >= num_examples).any():
      x[outside] = _feistel(x, keys, half, xp)[outside]
  else:
    x = jax.lax.while_loop(lambda x: jnp.any(x >= num_examples),
                           lambda x: jnp.where(x >= num_examples, _feistel(x, keys, half, jnp), x),
                           x)
  return x.astype(xp.int32)


def train_order(positions, num_items: int, batch_size: int, seed: int, xp: ModuleType = np):
  """Item index at each training stream position; a fresh permutation of the items every epoch."""
  epoch_length = steps_per_epoch(num_items, batch_size) * batch_size
  positions = xp.asarray(positions)
  return permute(positions % epoch_length, num_items, seed, positions // epoch_length, xp)


def eval_order(positions, num_examples: int, xp: ModuleType = np):
  """(example index, mask) at each evaluation position: in order, padding past the end masked
  out."""
  positions = xp.asarray(positions)
  return xp.minimum(positions, num_examples - 1).astype(xp.int32), positions < num_examples


def num_eval_batches(num_examples: int, batch_size: int) -> int:
  """Batches that cover every example once, the last one padded."""
  return -(-num_examples // batch_size)


@dataclasses.dataclass(frozen=True)
class Order:
  """Which example (and view) fills each row of each batch, for `num_examples` examples, `views`
  fixed views of each, and a global batch size.

  `rows` are row numbers within the global batch: a process asks only for the rows it loads.
  """

  num_examples: int
  batch_size: int
  seed: int = 0
  views: int = 1

  @property
  def steps_per_epoch(self) -> int:
    return steps_per_epoch(self.num_examples * self.views, self.batch_size)

  @property
  def num_eval_batches(self) -> int:
    return num_eval_batches(self.num_examples, self.batch_size)

  def train(self, step, rows, xp: ModuleType = np):
    """Example index per row of training batch `step`."""
    return self.train_views(step, rows, xp)[0]

  def train_views(self, step, rows, xp: ModuleType = np):
    """(example index, view index) per row of training batch `step`."""
    positions = xp.asarray(step).astype(xp.int32) * self.batch_size + xp.asarray(rows)
    items = train_order(positions, self.num_examples * self.views, self.batch_size, self.seed, xp)
    return items // self.views, items % self.views

  def eval(self, number, rows, xp: ModuleType = np):
    """(example index, mask) per row of evaluation batch `number`."""
    positions = xp.asarray(number).astype(xp.int32) * self.batch_size + xp.asarray(rows)
    return eval_order(positions, self.num_examples, xp)
