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

from .datasets import Dataset, fingerprint, positive_label
from .methods import Method, Options
from .metrics import best_f1_threshold, curve_summary, fold_metrics
from .models import make_model


# --------------------------------------------------------------------------- scikit-learn estimators
# Any scikit-learn classifier (or Pipeline) as the model of `wce.compare(model=...)`: weighting
# methods reach it as sample weights (a Pipeline's final step gets ``<step>__sample_weight``),
# resampling runs before it (imbalanced-learn), and a loss with no sample-weight form is skipped.

NO_SAMPLE_WEIGHT_FORM = ("focal", "logit_adjusted")


def _final_step(estimator):
    steps = getattr(estimator, "steps", None)
    if steps:
        return steps[-1][0], steps[-1][1]
    return None, estimator


def _accepts_sample_weight(estimator) -> bool:
    from sklearn.utils.validation import has_fit_parameter

    _, final = _final_step(estimator)
    if final is None or final == "passthrough":
        return False
    try:
        return has_fit_parameter(final, "sample_weight")
    except (TypeError, ValueError):
        return False


def needs_sample_weight(method: Method) -> bool:
    """True if ``method`` trains with unequal sample weights (weighting, not resampling or plain CE)."""
    return method.scheme is not None or method.loss not in ("cross_entropy",)


def estimator_reasons(estimator, methods: list) -> dict:
    """``{method name: why it cannot run with this estimator, or None}``; ValueError if the
    estimator is not a classifier, or takes no sample weights and weighting methods were asked for."""
    if not (hasattr(estimator, "fit") and (hasattr(estimator, "predict_proba")
                                           or hasattr(estimator, "decision_function"))):
        raise ValueError(f"model must be one of the model names or a scikit-learn classifier with fit and "
                         f"predict_proba or decision_function; got {type(estimator).__name__}.")
    reasons = {}
    for m in methods:
        reasons[m.name] = (f"method {m.name!r} needs a custom loss that a scikit-learn estimator cannot "
                           "take as sample weights; use model='logreg'") if m.loss in NO_SAMPLE_WEIGHT_FORM else None
    weighted = [m.name for m in methods if not reasons[m.name] and needs_sample_weight(m)]
    if weighted and not _accepts_sample_weight(estimator):
        step, final = _final_step(estimator)
        what = type(final).__name__ + (f" (the final step {step!r} of the Pipeline)" if step else "")
        raise ValueError(f"{what} does not take sample_weight in fit, so these methods cannot run with it: "
                         f"{', '.join(weighted)}. Choose other methods (ce, ce+threshold, ros, smote, rus) "
                         "or an estimator whose fit takes sample_weight.")
    return reasons


class EstimatorModel:
    """A scikit-learn classifier trained on one fold's :class:`~wce.experiments.methods.FoldPlan`."""

    def __init__(self, estimator, weighted: bool):
        from sklearn.base import clone

        self.estimator, self.weighted = clone(estimator), weighted

    def fit(self, X: np.ndarray, y: np.ndarray, plan) -> "EstimatorModel":
        kw = {}
        if self.weighted and plan.sample_weight is not None:
            step, _ = _final_step(self.estimator)
            kw[f"{step}__sample_weight" if step else "sample_weight"] = plan.sample_weight
        self.estimator.fit(X, y.astype(np.int64), **kw)
        classes = list(getattr(self.estimator, "classes_", [0, 1]))
        self._column = classes.index(1) if 1 in classes else len(classes) - 1
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        if hasattr(self.estimator, "predict_proba"):
            p = np.clip(np.asarray(self.estimator.predict_proba(X))[:, self._column], 1e-12, 1 - 1e-12)
            return np.log(p) - np.log1p(-p)
        z = np.asarray(self.estimator.decision_function(X), dtype=np.float64)
        return z if z.ndim == 1 else z[:, self._column]

    def describe(self) -> str:
        return model_label(self.estimator) + (", sample_weight" if self.weighted else "")


def model_label(model) -> str:
    """How a report names the model: its name, or an estimator's class (and a Pipeline's steps)."""
    if isinstance(model, str):
        return model
    steps = getattr(model, "steps", None)
    if steps:
        return "Pipeline(" + ", ".join(type(est).__name__ for _, est in steps) + ")"
    return type(model).__name__


def _make_model(model, method: Method, seed: int, C: float):
    if isinstance(model, str):
        return make_model(model, seed, C=C)
    return EstimatorModel(model, needs_sample_weight(method))


@dataclass
class Problem:
    """A binary problem: ``y`` is 1 for the positive class (the minority class unless chosen)."""

    name: str
    X: np.ndarray
    y: np.ndarray
    positive: str
    note: str = ""
    fingerprint: str = ""  # of the data actually used: X, binary y, feature names, positive label
    spec: str = ""  # what the user gave (path or spec)

    @property
    def n_pos(self) -> int:
        return int(self.y.sum())

    @property
    def imbalance_ratio(self) -> float:
        return (len(self.y) - self.n_pos) / self.n_pos


def make_problem(data: Dataset, *, folds: int, positive=None) -> Problem:
    """Check a data set and make it binary (positive class vs the rest); ValueError says why not.

    The positive class is ``positive`` if given, else the minority class
    (:func:`wce.experiments.datasets.positive_label`)."""
    labels, counts = np.unique(np.asarray(data.y).astype(str), return_counts=True)
    if len(labels) < 2:
        raise ValueError(f"{data.name}: the target has a single class ({str(labels[0]) if len(labels) else 'none'!r}); "
                         "a comparison needs at least two.")
    X = np.asarray(data.X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != len(labels_of(data)) or X.shape[1] == 0:
        raise ValueError(f"{data.name}: X must be a 2-D array with one row per label and at least one "
                         f"column; got shape {X.shape} for {len(labels_of(data))} labels.")
    if not np.isfinite(X).all():
        raise ValueError(f"{data.name}: {int((~np.isfinite(X)).sum())} missing or infinite feature value(s); "
                         "impute or drop them first.")
    try:
        label = positive_label(data.y, positive)
    except ValueError as exc:
        raise ValueError(f"{data.name}: {exc}") from None
    positive_text = str(label)
    pos = int(np.flatnonzero(labels == positive_text)[0])
    y = (np.asarray(data.y).astype(str) == positive_text).astype(np.int64)
    chosen = "chosen" if positive is not None else "minority"
    note = ""
    if len(labels) > 2:
        note = f"{len(labels)} classes: positive = {chosen} class {positive_text!r}, the rest negative"
    elif positive is not None and counts[pos] > len(y) - counts[pos]:
        note = f"positive = chosen class {positive_text!r}, the majority class"
    if counts[pos] < folds or len(y) - counts[pos] < folds:
        which = "positive" if counts[pos] < folds else "negative"
        n = counts[pos] if counts[pos] < folds else len(y) - counts[pos]
        raise ValueError(f"{data.name}: the {which} class has {n} example(s), "
                         f"fewer than --folds {folds}; use fewer folds."
                         if which == "negative" else
                         f"{data.name}: the {'minority' if positive is None else 'positive'} class "
                         f"{positive_text!r} has {n} example(s), fewer than --folds {folds}; use fewer folds.")
    digest = fingerprint(X, y, data.feature_names, positive_text)
    return Problem(data.name, X, y, positive_text, note, digest)


def labels_of(data: Dataset) -> np.ndarray:
    return np.asarray(data.y).ravel()


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
    # Indexing copies the rows; the scaler then works in place on those copies (one copy each).
    X_train, y_train = problem.X[train], problem.y[train]
    scaler = StandardScaler(copy=False).fit(X_train)
    X_train = scaler.transform(X_train)
    X_test, y_test = scaler.transform(problem.X[test]), problem.y[test]
    X_fit, y_fit = resample(method, X_train, y_train, options, s)
    plan = method.plan(y_fit, options)
    threshold = 0.5
    if method.tune_threshold:
        inner = StratifiedShuffleSplit(n_splits=1, test_size=0.25, random_state=s)
        a, b = next(inner.split(X_fit, y_fit))
        m = _make_model(model, method, s, C).fit(X_fit[a], y_fit[a], method.plan(y_fit[a], options))
        threshold = best_f1_threshold(y_fit[b], expit(m.decision_function(X_fit[b])))
    fitted = _make_model(model, method, s, C).fit(X_fit, y_fit, plan)
    z = fitted.decision_function(X_test)
    # Unweighted methods need no correction: their "corrected" probabilities are the raw ones.
    log_ratio = 0.0 if not method.weighted else None
    if method.weighted and plan.log_weight_ratio is not None:
        # Resampling multiplies the class frequencies: correct for that too.
        n1, n0 = y_train.sum(), len(y_train) - y_train.sum()
        m1, m0 = y_fit.sum(), len(y_fit) - y_fit.sum()
        log_ratio = plan.log_weight_ratio + math.log((m1 / n1) / (m0 / n0))
    metrics = fold_metrics(y_test, z, threshold=threshold, log_weight_ratio=log_ratio)
    if options.recalibrate and method.weighted:
        # Platt / isotonic maps fitted inside the training fold (75/25 inner split of the
        # unresampled fold), applied to this model's test logits.
        from .models import recalibration_metrics

        metrics.update(recalibration_metrics(model, s, C=C, method=method, options=options, X_train=X_train,
                                             y_train=y_train, y_test=y_test, z_test=z, resample=resample,
                                             make=lambda: _make_model(model, method, s, C)))
    return {
        "dataset": problem.name, "method": method.name, "model": model if isinstance(model, str) else
        type(model).__name__, "repeat": repeat, "fold": fold,
        "n_train": int(len(train)), "n_test": int(len(test)), "threshold": threshold,
        "log_weight_ratio": log_ratio, "metrics": metrics,
        "estimator": fitted.describe() if hasattr(fitted, "describe") else type(fitted).__name__,
        # Not the test rows: their size grows with the data. The plots need only these.
        "curves": curve_summary(y_test, z, threshold=threshold, log_weight_ratio=log_ratio),
        "seconds": time.perf_counter() - start,
    }
