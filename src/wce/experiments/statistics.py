"""Statistics of `wce compare` and `wce longtail`: confidence intervals over folds, ranks and tests
across data sets.

* Per data set: the mean of a metric over the ``J = folds × repeats`` test
  folds with a 95% interval from the *corrected resampled t-test* of Nadeau &
  Bengio (2003). The folds of cross-validation share training rows, so they are
  not independent and the naive ``s / sqrt(J)`` is too narrow; the correction
  uses the variance ``(1/J + n_test/n_train) · s²`` with ``J − 1`` degrees of freedom.
* Across data sets (Demšar 2006): mean ranks of the methods (1 = best; ties
  get the average rank), the Friedman test, the Nemenyi critical difference
  ``CD = q_α sqrt(k (k + 1) / (6 N))`` with ``q_α`` the studentised range
  quantile divided by sqrt 2, and Wilcoxon signed-rank tests of chosen pairs
  with Holm's step-down correction.
* Per data set, two methods on the same folds: the *corrected resampled
  t-test* of the paired fold differences (Nadeau & Bengio 2003),
  ``t = mean(d) / sqrt((1/J + n_test/n_train) · s_d²)`` with ``J − 1`` degrees
  of freedom, ``J = folds × repeats``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def corrected_t_interval(values, *, test_fraction: float, confidence: float = 0.95) -> tuple:
    """``(mean, low, high)``; ``test_fraction`` = n_test / n_train of one fold (Nadeau & Bengio 2003)."""
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=np.float64)
    if v.size == 0:
        return (float("nan"),) * 3
    mean = float(v.mean())
    if v.size < 2:
        return mean, float("nan"), float("nan")
    var = (1.0 / v.size + test_fraction) * v.var(ddof=1)
    half = stats.t.ppf(0.5 + confidence / 2, v.size - 1) * math.sqrt(var)
    return mean, mean - half, mean + half


def corrected_paired_t_test(differences, *, test_fraction: float, confidence: float = 0.95) -> dict:
    """Corrected resampled t-test of paired fold differences (Nadeau & Bengio 2003).

    ``differences`` are ``a − b`` on the same ``J`` test folds (k folds × r repeats);
    ``test_fraction`` is n_test / n_train of one fold. The variance of the mean
    difference is ``(1/J + n_test/n_train) · s²`` instead of ``s²/J`` because
    the training sets overlap. Returns ``{mean, ci_low, ci_high, t, p, df, n}``
    (two-sided p); NaN where fewer than two folds are finite. Identical folds
    (``s = 0``) give p = 1 if the mean is 0 and p = 0 otherwise.
    """
    d = np.asarray([x for x in differences if not math.isnan(x)], dtype=np.float64)
    nan = float("nan")
    out = {"mean": float(d.mean()) if d.size else nan, "ci_low": nan, "ci_high": nan, "t": nan, "p": nan,
           "df": d.size - 1, "n": int(d.size)}
    if d.size < 2:
        return out
    mean = out["mean"]
    se = 0.0 if np.ptp(d) == 0 else math.sqrt((1.0 / d.size + test_fraction) * d.var(ddof=1))
    if se == 0.0:
        out.update(ci_low=mean, ci_high=mean, t=0.0 if mean == 0 else math.copysign(math.inf, mean),
                   p=1.0 if mean == 0 else 0.0)
        return out
    t = mean / se
    half = stats.t.ppf(0.5 + confidence / 2, d.size - 1) * se
    out.update(ci_low=mean - half, ci_high=mean + half, t=float(t),
               p=float(2 * stats.t.sf(abs(t), d.size - 1)))
    return out


def mean_ranks(table: np.ndarray, *, higher_is_better: bool = True) -> np.ndarray:
    """Mean rank of each column of ``table`` (data sets × methods); rank 1 is best, ties averaged."""
    scores = table if higher_is_better else -table
    ranks = np.vstack([stats.rankdata(-row) for row in scores])
    return ranks.mean(axis=0)


def friedman(table: np.ndarray) -> tuple:
    """``(statistic, p-value)`` of the Friedman test over data sets × methods (nan if not defined)."""
    if table.shape[0] < 2 or table.shape[1] < 3:
        return float("nan"), float("nan")
    if np.all(table == table[:, :1]):
        return 0.0, 1.0
    res = stats.friedmanchisquare(*table.T)
    return float(res.statistic), float(res.pvalue)


def nemenyi_cd(n_methods: int, n_datasets: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of mean ranks (Demšar 2006, eq. 5)."""
    q = stats.studentized_range.ppf(1 - alpha, n_methods, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(n_methods * (n_methods + 1) / (6.0 * n_datasets)))


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (monotone, capped at 1); NaN stays NaN and is not counted."""
    p = np.asarray(pvalues, dtype=np.float64)
    finite = ~np.isnan(p)
    if not finite.all():
        adjusted = np.full(p.shape, np.nan)
        adjusted[finite] = holm(p[finite])
        return adjusted
    order = np.argsort(p)
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p[i])
        adjusted[i] = min(1.0, running)
    return adjusted


def wilcoxon(a, b) -> tuple:
    """``(wins, ties, losses, p-value)`` of a vs b over data sets (two-sided signed-rank test)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d = a - b
    wins, ties, losses = int(np.sum(d > 1e-12)), int(np.sum(np.abs(d) <= 1e-12)), int(np.sum(d < -1e-12))
    if wins + losses == 0:
        return wins, ties, losses, 1.0
    if len(d) < 2:
        return wins, ties, losses, float("nan")
    return wins, ties, losses, float(stats.wilcoxon(a, b, zero_method="zsplit").pvalue)
