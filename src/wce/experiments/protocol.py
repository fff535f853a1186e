"""The evaluation protocol: repeated stratified k-fold, everything fitted inside the training fold.

For each (repeat, fold) the test rows are held out first; then, on the
training rows only (TRAPS 16):

1. a ``StandardScaler`` is fitted and applied to both parts;
2. the method's resampler (imbalanced-learn) runs on the scaled training rows;
3. the class weights / loss options are computed from the (resampled)
   training labels;
4. ``ce+threshold`` fits on 75% of the training fold, picks the F1-optimal
   threshold on the other 25% (stratified), then refits on the whole fold;
5. the model is fitted and scored on the test rows.

Seeds depend on (seed, repeat, fold) only, so every method sees the same
splits and a run with the same seed gives identical results.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.special import expit
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedShuffleSplit
from sklearn.preprocessing import StandardScaler

from .datasets import Dataset
from .methods import Method, Options
from .metrics import best_f1_threshold, fold_metrics
from .models import make_model


@dataclass
class Problem:
    """A binary problem: ``y`` is 1 for the positive (minority) class."""

    name: str
    X: np.ndarray
    y: np.ndarray
    positive: str
    note: str = ""

    @property
    def n_pos(self) -> int:
        return int(self.y.sum())

    @property
    def imbalance_ratio(self) -> float:
        return (len(self.y) - self.n_pos) / self.n_pos


def make_problem(data: Dataset, *, folds: int) -> Problem:
    """Check a data set and make it binary (minority class vs the rest); ValueError says why not."""
    labels, counts = np.unique(np.asarray(data.y).astype(str), return_counts=True)
    if len(labels) < 2:
        raise ValueError(f"{data.name}: the target has a single class ({str(labels[0]) if len(labels) else 'none'!r}); "
                         "a comparison needs at least two.")
    X = np.asarray(data.X, dtype=np.float64)
    if not np.isfinite(X).all():
        raise ValueError(f"{data.name}: {int((~np.isfinite(X)).sum())} missing or infinite feature value(s); "
                         "impute or drop them first.")
    # Positive = least frequent class (ties: the last label in sorted order).
    pos = len(counts) - 1 - int(np.argmin(counts[::-1]))
    positive = str(labels[pos])
    y = (np.asarray(data.y).astype(str) == positive).astype(np.int64)
    note = ""
    if len(labels) > 2:
        note = f"{len(labels)} classes: positive = minority class {positive!r}, the rest negative"
    if counts[pos] < folds:
        raise ValueError(f"{data.name}: the minority class {positive!r} has {counts[pos]} example(s), "
                         f"fewer than --folds {folds}; use fewer folds.")
    return Problem(data.name, X, y, positive, note)


def splits(y: np.ndarray, *, folds: int, repeats: int, seed: int) -> list:
    """``[(repeat, fold, train_idx, test_idx), ...]`` of repeated stratified k-fold."""
    cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    out = []
    for i, (train, test) in enumerate(cv.split(np.zeros(len(y)), y)):
        out.append((i // folds, i % folds, train, test))
    return out


def unit_seed(seed: int, repeat: int, fold: int) -> int:
    return int(np.random.SeedSequence([seed, repeat, fold]).generate_state(1)[0] % (2**31 - 1))


def resample(method: Method, X: np.ndarray, y: np.ndarray, options: Options, seed: int):
    """The method's imbalanced-learn resampler on the training rows (identity if none)."""
    if method.resampler is None:
        return X, y
    if method.resampler == "ros":
        from imblearn.over_sampling import RandomOverSampler as sampler
        kw = {}
    elif method.resampler == "rus":
        from imblearn.under_sampling import RandomUnderSampler as sampler
        kw = {}
    else:
        from imblearn.over_sampling import SMOTE as sampler
        n_pos = int(y.sum())
        if n_pos < 2:
            raise ValueError("SMOTE needs at least 2 minority examples in a training fold.")
        kw = {"k_neighbors": min(5, n_pos - 1)}
        if method.family == "weighting+resampling":
            # Only part of the way, so the weights still have work to do; a fold already at or
            # above that ratio is left as it is.
            if n_pos / (len(y) - n_pos) * (1 + 1e-9) >= options.smote_ratio or \
                    round(options.smote_ratio * (len(y) - n_pos)) <= n_pos:
                return X, y
            kw["sampling_strategy"] = options.smote_ratio
    return sampler(random_state=seed, **kw).fit_resample(X, y)


def run_unit(problem: Problem, method: Method, model: str, repeat: int, fold: int,
             train: np.ndarray, test: np.ndarray, *, options: Options, seed: int, C: float = 1.0) -> dict:
    """Train and score one (method, repeat, fold); returns a JSON-ready dict."""
    start = time.perf_counter()
    s = unit_seed(seed, repeat, fold)
    scaler = StandardScaler().fit(problem.X[train])
    X_train, y_train = scaler.transform(problem.X[train]), problem.y[train]
    X_test, y_test = scaler.transform(problem.X[test]), problem.y[test]
    X_fit, y_fit = resample(method, X_train, y_train, options, s)
    plan = method.plan(y_fit, options)
    threshold = 0.5
    if method.tune_threshold:
        inner = StratifiedShuffleSplit(n_splits=1, test_size=0.25, random_state=s)
        a, b = next(inner.split(X_fit, y_fit))
        m = make_model(model, s, C=C).fit(X_fit[a], y_fit[a], method.plan(y_fit[a], options))
        threshold = best_f1_threshold(y_fit[b], expit(m.decision_function(X_fit[b])))
    fitted = make_model(model, s, C=C).fit(X_fit, y_fit, plan)
    z = fitted.decision_function(X_test)
    # Unweighted methods need no correction: their "corrected" probabilities are the raw ones.
    log_ratio = 0.0 if not method.weighted else None
    if method.weighted and plan.log_weight_ratio is not None:
        # Resampling multiplies the class frequencies: correct for that too.
        n1, n0 = y_train.sum(), len(y_train) - y_train.sum()
        m1, m0 = y_fit.sum(), len(y_fit) - y_fit.sum()
        log_ratio = plan.log_weight_ratio + math.log((m1 / n1) / (m0 / n0))
    metrics = fold_metrics(y_test, z, threshold=threshold, log_weight_ratio=log_ratio)
    return {
        "dataset": problem.name, "method": method.name, "model": model, "repeat": repeat, "fold": fold,
        "n_train": int(len(train)), "n_test": int(len(test)), "threshold": threshold,
        "log_weight_ratio": log_ratio, "metrics": metrics,
        "y": y_test.tolist(), "z": np.round(z, 5).tolist(),
        "seconds": time.perf_counter() - start,
    }
