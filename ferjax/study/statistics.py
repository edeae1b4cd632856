"""The statistics of a study's tables: Acc and Sta, a 95% interval, and t-tests between rows.

The papers report Acc (mean of N runs) and Sta (population standard deviation, paper 000 eq. 8-9)
and nothing about whether two rows differ. ferjax adds, per row, Student's t interval of the mean,
and between two rows Welch's t-test (unequal variances, Welch-Satterthwaite degrees of freedom) on
their runs, or the paired t-test where both rows hold the same folds (CK+ cross-validation: a fold's
difficulty is shared by the two rows, so their differences are paired). Only numpy and math: the
Student t distribution comes from the regularised incomplete beta function, evaluated by its
continued fraction (tests/test_statistics.py checks every function against scipy).
"""

import dataclasses
import math
from collections.abc import Sequence

import numpy as np


def _beta_fraction(a: float, b: float, x: float) -> float:
  """The continued fraction of I_x(a, b), evaluated by the modified Lentz method (converges for
  x < (a + 1) / (a + b + 2))."""
  tiny, eps = 1e-300, 1e-15
  c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
  d = 1.0 / (d if abs(d) > tiny else tiny)
  value = d
  for m in range(1, 10_000):
    for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                      -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
      d = 1.0 + numerator * d
      d = 1.0 / (d if abs(d) > tiny else tiny)
      c = 1.0 + numerator / c
      c = c if abs(c) > tiny else tiny
      value *= c * d
    if abs(c * d - 1.0) < eps:
      return value
  raise ArithmeticError(f"incomplete beta({a}, {b}, {x}) did not converge")


def incomplete_beta(a: float, b: float, x: float) -> float:
  """The regularised incomplete beta function I_x(a, b), for a, b > 0 and 0 <= x <= 1."""
  if x <= 0.0:
    return 0.0
  if x >= 1.0:
    return 1.0
  log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) +
               b * math.log1p(-x))
  if x < (a + 1.0) / (a + b + 2.0):
    return math.exp(log_front) * _beta_fraction(a, b, x) / a
  return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
  """P(|T| >= |t|) for Student's t with `df` degrees of freedom:
  I_{df / (df + t^2)}(df / 2, 1 / 2)."""
  if math.isinf(t):
    return 0.0
  return incomplete_beta(df / 2.0, 0.5, df / (df + t * t))


def t_quantile(probability: float, df: float) -> float:
  """The `probability` quantile of Student's t (0.5 < probability < 1), by bisection on the cdf."""
  if not 0.5 < probability < 1.0:
    raise ValueError(f"probability = {probability}; expected 0.5 < p < 1")
  tail = 2.0 * (1.0 - probability)  # The two-sided p-value the quantile has.
  low, high = 0.0, 1.0
  while t_two_sided_p(high, df) > tail:
    high *= 2.0
  for _ in range(200):
    middle = 0.5 * (low + high)
    low, high = (middle, high) if t_two_sided_p(middle, df) > tail else (low, middle)
    if high - low < 1e-12 * max(1.0, high):
      break
  return 0.5 * (low + high)


@dataclasses.dataclass(frozen=True)
class Summary:
  """One row's runs: n, Acc (mean), Sta (population std) and the 95% t interval of the mean (None
  for fewer than two runs)."""

  n: int
  acc: float
  sta: float
  interval: tuple[float, float] | None


def summarize(values: Sequence[float], level: float = 0.95) -> Summary:
  values = np.asarray(values, np.float64)
  if values.size == 0:
    raise ValueError("no runs to summarise")
  mean = float(values.mean())
  interval = None
  if values.size > 1:
    half = (t_quantile(0.5 + level / 2.0, values.size - 1) * values.std(ddof=1) /
            math.sqrt(values.size))
    interval = (mean - half, mean + half)
  return Summary(int(values.size), mean, float(values.std(ddof=0)),
                 None if interval is None else (float(interval[0]), float(interval[1])))


@dataclasses.dataclass(frozen=True)
class Test:
  """A t-test's statistic, degrees of freedom and two-sided p-value."""

  t: float
  df: float
  p: float


def welch(a: Sequence[float], b: Sequence[float]) -> Test | None:
  """Welch's t-test of mean(a) = mean(b); None unless both have two or more values. Two samples
  without any spread give p = 1 if their means are equal, else 0."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  if a.size < 2 or b.size < 2:
    return None
  va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
  difference = float(a.mean() - b.mean())
  if va + vb == 0.0:
    return Test(0.0 if difference == 0 else math.copysign(math.inf, difference), math.nan,
                1.0 if difference == 0 else 0.0)
  t = difference / math.sqrt(va + vb)
  df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
  return Test(float(t), float(df), float(t_two_sided_p(t, df)))


def paired(a: Sequence[float], b: Sequence[float]) -> Test | None:
  """The paired t-test of mean(a - b) = 0 over matched values; None for fewer than two pairs."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  if a.shape != b.shape:
    raise ValueError(f"paired samples differ in length: {a.size} and {b.size}")
  if a.size < 2:
    return None
  differences = a - b
  spread = differences.std(ddof=1)
  mean = float(differences.mean())
  if spread == 0.0:
    return Test(0.0 if mean == 0 else math.copysign(math.inf, mean), a.size - 1.0,
                1.0 if mean == 0 else 0.0)
  t = float(mean / (spread / math.sqrt(a.size)))
  return Test(t, a.size - 1.0, t_two_sided_p(t, a.size - 1.0))
