"""Per-fold metrics of the minority (positive) class.

Threshold metrics use ``p >= threshold`` (0.5, or the tuned threshold of
``ce+threshold``); a metric whose denominator is empty (e.g. precision with no
positive prediction) is 0, as in scikit-learn with ``zero_division=0``.

* ``precision``, ``recall``, ``f1`` of the positive class;
* ``pr_auc``: average precision (scikit-learn's ``average_precision_score``);
* ``roc_auc``;
* ``balanced_accuracy`` = (TPR + TNR) / 2; ``g_mean`` = sqrt(TPR · TNR);
* ``mcc``: Matthews correlation coefficient;
* ``brier`` = mean (p − y)²;
* ``ece``: expected calibration error, 10 equal-width bins of p:
  Σ_b (n_b / n) · |mean(y_b) − mean(p_b)|.

For weighted and resampled methods ``brier_corrected`` and ``ece_corrected``
are the same scores after prior correction (see :mod:`wce.experiments.methods`):
``p_corrected = sigmoid(z − log(w_pos / w_neg))``; for unweighted methods they
equal the raw scores (nothing to correct), for focal loss they are NaN (no
closed form).

Recalibration (opt-out, weighted and resampled methods only): a calibration map
is fitted inside the training fold, on the model's logits for a stratified 25%
inner split that the model did not train on (the inner model is trained on the
other 75%, resampled like the method), then applied to the test logits of the
model fitted on the whole fold, as scikit-learn's
``CalibratedClassifierCV(ensemble=False)`` does with one split:

* ``sigmoid``: Platt scaling (Platt 1999), ``p = sigmoid(a z + b)`` fitted by
  maximum likelihood with Platt's smoothed targets;
* ``isotonic``: isotonic regression of y on z (Zadrozny & Elkan 2002).

``brier_sigmoid``, ``ece_sigmoid``, ``brier_isotonic`` and ``ece_isotonic`` are
scored on the recalibrated probabilities; ``balanced_accuracy_sigmoid`` is the
balanced accuracy of ``p_sigmoid >= 0.5``, which shows what thresholding the
recalibrated probability at 0.5 would give up: the decisions should stay those
of the weighted model.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit

THRESHOLD_METRICS = ("precision", "recall", "f1", "balanced_accuracy", "g_mean", "mcc")
SCORE_METRICS = ("pr_auc", "roc_auc", "brier", "ece")
CORRECTED_METRICS = ("brier_corrected", "ece_corrected")
METRICS = THRESHOLD_METRICS + SCORE_METRICS + CORRECTED_METRICS
RECALIBRATIONS = ("sigmoid", "isotonic")
# Not part of METRICS: results computed before recalibration existed lack them, so readers use .get.
RECALIBRATED_METRICS = ("brier_sigmoid", "ece_sigmoid", "brier_isotonic", "ece_isotonic",
                        "balanced_accuracy_sigmoid")
# Metrics where lower is better (for ranks).
LOWER_IS_BETTER = ("brier", "ece", "brier_corrected", "ece_corrected", "brier_sigmoid", "ece_sigmoid",
                   "brier_isotonic", "ece_isotonic")


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """Σ_b (n_b / n) |mean(y_b) − mean(p_b)| over ``n_bins`` equal-width bins (p = 1 in the last)."""
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, weights=y, minlength=n_bins) - np.bincount(bins, weights=p, minlength=n_bins))
    return float(gap.sum() / max(len(p), 1)) if count.any() else 0.0


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0


def threshold_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    pred = p >= threshold
    pos = y == 1
    tp = float(np.sum(pred & pos))
    fp = float(np.sum(pred & ~pos))
    fn = float(np.sum(~pred & pos))
    tn = float(np.sum(~pred & ~pos))
    precision, recall, tnr = _ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(tn, tn + fp)
    denom = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "balanced_accuracy": (recall + tnr) / 2,
        "g_mean": math.sqrt(recall * tnr),
        "mcc": (tp * tn - fp * fn) / denom if denom > 0 else 0.0,
    }


def fold_metrics(y: np.ndarray, logits: np.ndarray, *, threshold: float = 0.5,
                 log_weight_ratio: float | None = None) -> dict:
    """All metrics of one test fold from the model's logits."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y, dtype=np.int64)
    p = expit(logits)
    out = threshold_metrics(y, p, threshold)
    out["pr_auc"] = float(average_precision_score(y, p))
    out["roc_auc"] = float(roc_auc_score(y, p))
    out["brier"] = float(np.mean((p - y) ** 2))
    out["ece"] = expected_calibration_error(y, p)
    if log_weight_ratio is None:
        out["brier_corrected"] = out["ece_corrected"] = float("nan")
    else:
        pc = expit(logits - log_weight_ratio)
        out["brier_corrected"] = float(np.mean((pc - y) ** 2))
        out["ece_corrected"] = expected_calibration_error(y, pc)
    return out


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The threshold maximising F1 on (y, p): midway between the best cut and the next score."""
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], np.asarray(y)[order]
    tp = np.cumsum(ys)
    k = np.arange(1, len(ps) + 1)
    f1 = 2 * tp / (k + ys.sum())
    # Only cut between distinct scores.
    last = np.r_[ps[1:] != ps[:-1], True]
    f1 = np.where(last, f1, -1.0)
    i = int(np.argmax(f1))
    if ys.sum() == 0 or f1[i] <= 0:
        return 0.5
    return float((ps[i] + ps[i + 1]) / 2) if i + 1 < len(ps) else float(ps[i])


def fit_platt(z: np.ndarray, y: np.ndarray) -> tuple:
    """``(a, b)`` of Platt scaling ``p = sigmoid(a z + b)``, maximum likelihood with Platt's targets
    ``(n_pos + 1) / (n_pos + 2)`` and ``1 / (n_neg + 2)`` (Platt 1999; as scikit-learn's sigmoid)."""
    from scipy.optimize import minimize

    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    n_pos = float(y.sum())
    n_neg = float(y.size - n_pos)
    t = np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))

    def nll(theta):
        s = theta[0] * z + theta[1]
        # -[t log sigmoid(s) + (1 - t) log(1 - sigmoid(s))] = logaddexp(0, s) - t s
        value = float(np.sum(np.logaddexp(0.0, s) - t * s))
        g = expit(s) - t
        return value, np.array([float(g @ z), float(g.sum())])

    result = minimize(nll, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return float(result.x[0]), float(result.x[1])


def fit_recalibration(kind: str, z: np.ndarray, y: np.ndarray):
    """A function from logits to recalibrated probabilities, fitted on ``(z, y)``."""
    if kind == "sigmoid":
        a, b = fit_platt(z, y)
        return lambda logits: expit(a * np.asarray(logits, dtype=np.float64) + b)
    if kind == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(z, y)
        return lambda logits: np.asarray(iso.predict(np.asarray(logits, dtype=np.float64)), dtype=np.float64)
    raise ValueError(f"Unknown recalibration {kind!r}; known: {', '.join(RECALIBRATIONS)}.")


def recalibrated_metrics(y_cal: np.ndarray, z_cal: np.ndarray, y_test: np.ndarray, z_test: np.ndarray) -> dict:
    """Brier score and ECE of the test logits after each recalibration fitted on ``(z_cal, y_cal)``,
    and the balanced accuracy of ``p_sigmoid >= 0.5``. NaN if the calibration split has one class."""
    y_cal = np.asarray(y_cal, dtype=np.int64)
    y_test = np.asarray(y_test, dtype=np.int64)
    out = dict.fromkeys(RECALIBRATED_METRICS, float("nan"))
    if y_cal.min() == y_cal.max():
        return out
    for kind in RECALIBRATIONS:
        p = fit_recalibration(kind, z_cal, y_cal)(z_test)
        out[f"brier_{kind}"] = float(np.mean((p - y_test) ** 2))
        out[f"ece_{kind}"] = expected_calibration_error(y_test, p)
        if kind == "sigmoid":
            out["balanced_accuracy_sigmoid"] = threshold_metrics(y_test, p, 0.5)["balanced_accuracy"]
    return out


# --------------------------------------------------------------------------- what a unit keeps for plots
# A unit file keeps no per-row labels or scores (their size grows with the data): only what the
# plots need, a few kilobytes whatever the size of the test fold.
PR_GRID = 101  # recall 0, 0.01, ..., 1
RELIABILITY_BINS = 10


def interpolated_precision(y: np.ndarray, p: np.ndarray, grid: int = PR_GRID) -> list:
    """Precision at recall ``0, 1/(grid-1), ..., 1``, interpolated as the best precision at that
    recall or more (the upper envelope of the PR curve, as in the interpolated average
    precision of information retrieval; Manning, Raghavan & Schütze 2008, ch. 8.4)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, p)
    order = np.argsort(recall, kind="stable")
    recall, precision = recall[order], precision[order]
    envelope = np.maximum.accumulate(precision[::-1])[::-1]  # best precision at recall >= r
    at = np.searchsorted(recall, np.linspace(0.0, 1.0, grid) - 1e-12, side="left")
    return np.round(envelope[np.minimum(at, len(envelope) - 1)], 5).tolist()


def reliability_bins(y: np.ndarray, p: np.ndarray, n_bins: int = RELIABILITY_BINS) -> dict:
    """Per equal-width bin of p: rows, Σp and Σy (poolable over folds; the bins of the ECE)."""
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    return {"count": np.bincount(bins, minlength=n_bins).tolist(),
            "sum_p": np.round(np.bincount(bins, weights=p, minlength=n_bins), 6).tolist(),
            "sum_y": np.bincount(bins, weights=y, minlength=n_bins).tolist()}


def curve_summary(y: np.ndarray, logits: np.ndarray, *, threshold: float, log_weight_ratio: float | None) -> dict:
    """What the plots of a report need from one test fold, in place of its rows: the interpolated
    PR curve (:data:`PR_GRID` points), the confusion counts of the decisions (``p >= threshold``),
    reliability bins before and after prior correction, and a digest of the scores (to draw
    methods with identical scores, such as ``ce`` and ``ce+threshold``, once)."""
    import hashlib

    y = np.asarray(y, dtype=np.int64)
    z = np.asarray(logits, dtype=np.float64)
    p = expit(z)
    pred = p >= threshold
    pos = y == 1
    corrected = None if log_weight_ratio is None else reliability_bins(y, expit(z - log_weight_ratio))
    return {"pr_precision": interpolated_precision(y, p),
            "confusion": {"tp": int(np.sum(pred & pos)), "fp": int(np.sum(pred & ~pos)),
                          "fn": int(np.sum(~pred & pos)), "tn": int(np.sum(~pred & ~pos))},
            "reliability": reliability_bins(y, p), "reliability_corrected": corrected,
            "digest": hashlib.sha1(np.round(z, 5).tobytes()).hexdigest()[:16]}
