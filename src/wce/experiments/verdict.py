"""The answer for each data set: should you weight the loss here, and what exactly to use.

For one data set every method is compared with ``ce+threshold`` and with ``ce``
on the *same* test folds: the paired fold differences get the corrected
resampled t-test of Nadeau & Bengio (2003) (variance ``(1/(k·r) + n_test/n_train)·s²``,
``k·r − 1`` degrees of freedom), a 95% interval and a p-value, per metric; the
p-values of one metric on one data set are Holm-corrected together. The
verdict is about one metric (``--metric``, default minority-class F1, the metric
the threshold of ``ce+threshold`` is tuned for).

:func:`build` turns a run into a JSON-ready dict: the tests, one plain-language
paragraph per data set generated from the numbers, the recommended method with
its parameters computed from the full data's class counts, how to correct its
probabilities, and lines for PyTorch, Keras, scikit-learn, XGBoost and
LightGBM that reproduce it with wce (``recommended.json``).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from ..weights import class_weights
from ..weights._schemes import effective_number_weights
from . import statistics as S
from .metrics import LOWER_IS_BETTER, METRICS, RECALIBRATED_METRICS
from .protocol import model_label  # an estimator is named by its class: the JSON holds text

DEFAULT_METRIC = "f1"
METRIC_CHOICES = ("f1", "mcc", "pr_auc", "balanced_accuracy", "g_mean", "recall", "precision", "roc_auc",
                  "brier", "ece")
LABELS = {"f1": "F1", "mcc": "MCC", "pr_auc": "PR-AUC", "balanced_accuracy": "balanced accuracy",
          "g_mean": "G-mean", "recall": "recall", "precision": "precision", "roc_auc": "ROC-AUC",
          "brier": "Brier score", "ece": "ECE", "brier_corrected": "Brier after prior correction",
          "ece_corrected": "ECE after prior correction", "brier_sigmoid": "Brier after Platt scaling",
          "ece_sigmoid": "ECE after Platt scaling", "brier_isotonic": "Brier after isotonic recalibration",
          "ece_isotonic": "ECE after isotonic recalibration",
          "balanced_accuracy_sigmoid": "balanced accuracy of Platt-scaled p >= 0.5"}
# Metrics tested per data set (the chosen one is added if it is not among them).
TESTED = ("f1", "pr_auc", "mcc", "balanced_accuracy", "recall", "precision", "brier", "ece")
REFERENCES = ("ce+threshold", "ce")
WEIGHTING_FAMILIES = ("weighting", "loss", "weighting+resampling")
ALPHA = 0.05
FORMAT = 1  # of recommended.json


def check_metric(metric: str) -> str:
    """The metric the verdict is about; ValueError names the choices."""
    if metric not in METRIC_CHOICES:
        raise ValueError(f"Unknown --metric {metric!r}. Known: {', '.join(METRIC_CHOICES)}.")
    return metric


def _sign(metric: str) -> float:
    return -1.0 if metric in LOWER_IS_BETTER else 1.0


def _folds(units: list) -> dict:
    """``{dataset: {method: {(repeat, fold): unit}}}``."""
    out: dict = defaultdict(lambda: defaultdict(dict))
    for u in units:
        out[u["dataset"]][u["method"]][(u["repeat"], u["fold"])] = u
    return out


def _value(unit: dict, metric: str) -> float:
    v = unit["metrics"].get(metric)
    return float("nan") if v is None else float(v)


def paired_test(a: dict, b: dict, metric: str, metric_b: str | None = None) -> dict:
    """Corrected resampled t-test of ``metric`` of fold results ``a`` minus ``metric_b`` (default the
    same) of ``b``, both ``{(repeat, fold): unit}``, over the folds they share."""
    keys = sorted(set(a) & set(b))
    d = [_value(a[k], metric) - _value(b[k], metric_b or metric) for k in keys]
    fraction = float(np.mean([a[k]["n_test"] / a[k]["n_train"] for k in keys])) if keys else float("nan")
    return S.corrected_paired_t_test(d, test_fraction=fraction)


def _mean(folds: dict, metric: str) -> float:
    v = [_value(u, metric) for u in folds.values()]
    v = [x for x in v if not math.isnan(x)]
    return float(np.mean(v)) if v else float("nan")


def outcome(row: dict) -> str:
    if math.isnan(row["p_holm"]) or row["p_holm"] >= ALPHA or row["difference"] == 0:
        return "no significant difference"
    return "better" if _sign(row["metric"]) * row["difference"] > 0 else "worse"


def dataset_tests(folds: dict, dataset: str, families: dict, metrics) -> list:
    """Every method vs each reference present, per metric, Holm-corrected per (data set, metric).

    ``folds`` is ``{method: {(repeat, fold): unit}}`` of one data set; ``families`` maps
    method names to families. ``ce`` is not tested against ``ce+threshold`` (the mirror of
    ``ce+threshold`` against ``ce``).
    """
    references = [r for r in REFERENCES if r in folds]
    rows = []
    for metric in metrics:
        block = []
        for ref in references:
            for m in folds:
                if m == ref or (m == "ce" and ref == "ce+threshold"):
                    continue
                t = paired_test(folds[m], folds[ref], metric)
                block.append({"dataset": dataset, "metric": metric, "method": m, "family": families.get(m, ""),
                              "reference": ref, "mean": _mean(folds[m], metric),
                              "reference_mean": _mean(folds[ref], metric), "difference": t["mean"],
                              "ci_low": t["ci_low"], "ci_high": t["ci_high"], "t": t["t"], "p": t["p"],
                              "n_folds": t["n"]})
        for row, adjusted in zip(block, S.holm([b["p"] for b in block])):
            row["p_holm"] = float(adjusted)
            row["outcome"] = outcome(row)
        rows += block
    return rows


# --------------------------------------------------------------------------- recommendation

def _counts(y) -> tuple:
    y = np.asarray(y, dtype=np.int64)
    return int(y.size - y.sum()), int(y.sum())


def parameters(method, y, options, *, thresholds=()) -> dict:
    """The method's parameters computed from the full data's labels ``y`` (1 = minority class):
    scheme, class weights ``[w_neg, w_pos]``, pos_weight, threshold (median over folds), etc."""
    n_neg, n_pos = _counts(y)
    out: dict = {"n_negative": n_neg, "n_positive": n_pos}
    weights = None
    if method.loss == "cross_entropy" and method.scheme is not None and method.resampler is None:
        weights = class_weights(np.asarray(y, dtype=np.int64), scheme=method.scheme, classes=[0, 1])
        out["scheme"] = method.scheme
    elif method.loss == "pos_weight":
        r = n_neg / n_pos if method.value is None else method.value
        out["pos_weight"] = float(r)
        weights = np.array([1.0, r])
    elif method.loss == "class_balanced":
        weights = effective_number_weights(np.array([n_neg, n_pos], dtype=float), options.beta)
        out.update(beta=options.beta, samples_per_class=[n_neg, n_pos])
    elif method.loss == "cost_sensitive":
        fn = n_neg / n_pos if options.cost_fn is None else options.cost_fn
        out["cost_matrix"] = [[0.0, float(options.cost_fp)], [float(fn), 0.0]]
        weights = np.array([1.0 + options.cost_fp, 1.0 + fn])
    elif method.loss == "focal":
        out["gamma"] = options.gamma
    elif method.loss == "logit_adjusted":
        out.update(tau=options.tau, class_prior=[n_neg, n_pos])
        # Trained on z + tau log(prior); on a linear model the same as plain CE with the
        # threshold sigmoid(tau log(n_pos / n_neg)) on its probability.
        out["equivalent_threshold_on_plain_ce"] = float(1.0 / (1.0 + (n_neg / n_pos) ** options.tau))
    if method.resampler is not None:
        out["resampler"] = method.resampler
        if method.family == "weighting+resampling":
            target = max(n_pos, int(round(options.smote_ratio * n_neg)))
            out.update(sampling_strategy=options.smote_ratio, scheme=method.scheme,
                       counts_after_resampling=[n_neg, target])
            weights = class_weights(np.r_[np.zeros(n_neg, np.int64), np.ones(target, np.int64)],
                                    scheme=method.scheme, classes=[0, 1])
    if weights is not None:
        out["class_weight"] = [float(weights[0]), float(weights[1])]
        out["weight_ratio"] = float(weights[1] / weights[0])
    if method.tune_threshold and len(thresholds):
        out["threshold"] = float(np.median(thresholds))
        out["threshold_per_fold"] = [float(t) for t in thresholds]
    return out


def _log_odds_factor(method, params: dict) -> float | None:
    """log of the factor by which training inflated the positive odds (None: no closed form)."""
    if not method.weighted:
        return 0.0
    if method.loss == "focal":
        return None
    n_neg, n_pos = params["n_negative"], params["n_positive"]
    if method.loss == "logit_adjusted":
        return params["tau"] * math.log(n_neg / n_pos)
    log_ratio = math.log(params["weight_ratio"]) if "weight_ratio" in params else 0.0
    if method.resampler is not None:
        # imbalanced-learn's default balances the classes: over-sampling to n_neg positives,
        # under-sampling to n_pos negatives; weighting + SMOTE stops at its ratio.
        after = params.get("counts_after_resampling",
                           [n_pos, n_pos] if method.resampler == "rus" else [n_neg, n_neg])
        log_ratio += math.log((after[1] / n_pos) / (after[0] / n_neg))
    return log_ratio


def probabilities(method, params: dict, recalibration: dict | None) -> dict:
    """Whether and how to correct the recommended model's probabilities."""
    factor = _log_odds_factor(method, params)
    if factor == 0.0:
        return {"correct": False, "how": "none: trained without weights, its probabilities estimate the data's "
                                          "class frequencies (check the ECE column)"}
    out = {"correct": True, "keep_decisions": "predict positive as the weighted model does (p >= 0.5 on its "
                                              "raw output); correct only the probability you report"}
    if factor is not None:
        out.update(log_odds_shift=factor, how=f"prior correction: p = sigmoid(z - {factor:.6g}), z the model's "
                                             "logit (Saerens et al. 2002; King & Zeng 2001)")
    else:
        out["how"] = ("no closed form (focal loss): recalibrate on held-out data, e.g. scikit-learn's "
                      "CalibratedClassifierCV(method='sigmoid')")
    if recalibration:
        out["recalibration"] = recalibration
    return out


def _num(x: float) -> str:
    return repr(float(x))


def snippets(method, params: dict, *, C: float) -> dict:
    """Lines that reproduce ``method`` with wce; ``X``, ``y`` (1 = minority class), ``X_new`` assumed.

    The weights of a weighted-mean loss (the ``wce-*`` schemes, ``class_balanced``) are scaled to a
    mean row weight of 1 on the data: then ``Σ w·l / n`` (scikit-learn's, PyTorch's and the boosting
    libraries' sum or mean over rows) is the weighted mean ``Σ w·l / Σ w`` that `wce compare` trained."""
    w = params.get("class_weight")
    if w is not None and method.resampler is None and (
            (method.loss == "cross_entropy" and method.scheme is not None) or method.loss == "class_balanced"):
        n_neg, n_pos = params["n_negative"], params["n_positive"]
        scale = (n_neg + n_pos) / (n_neg * w[0] + n_pos * w[1])
        w = [w[0] * scale, w[1] * scale]
    thr = params.get("threshold", params.get("equivalent_threshold_on_plain_ce"))
    predict = (f"\ny_pred = (model.predict_proba(X_new)[:, 1] >= {_num(thr)}).astype(int)"
               if thr is not None else "\ny_pred = model.predict(X_new)")
    lr = f"LogisticRegression(C={_num(C)}, max_iter=1000"
    head = ("from sklearn.linear_model import LogisticRegression\nfrom sklearn.preprocessing import StandardScaler\n")
    out: dict = {}
    # scikit-learn (the model `wce compare --model logreg` trains)
    if method.loss == "focal":
        out["scikit-learn"] = None
    elif method.resampler is not None:
        sampler = {"ros": "RandomOverSampler", "rus": "RandomUnderSampler", "smote": "SMOTE"}[method.resampler]
        module = "under_sampling" if method.resampler == "rus" else "over_sampling"
        kw = f"sampling_strategy={_num(params['sampling_strategy'])}, " if "sampling_strategy" in params else ""
        cw = ", class_weight='balanced'" if w is not None else ""
        out["scikit-learn"] = (head + f"from imblearn.{module} import {sampler}\nfrom imblearn.pipeline import "
                               f"make_pipeline\nmodel = make_pipeline(StandardScaler(), {sampler}({kw}random_state=0), "
                               f"{lr}{cw})).fit(X, y){predict}")
    else:
        cw = f", class_weight={{0: {_num(w[0])}, 1: {_num(w[1])}}}" if w is not None else ""
        out["scikit-learn"] = (head + "from sklearn.pipeline import make_pipeline\n"
                               f"model = make_pipeline(StandardScaler(), {lr}{cw})).fit(X, y){predict}")
    # PyTorch and Keras: one logit per row, y as floats 0/1 (two logits for logit adjustment);
    # Keras losses take probabilities unless told from_logits=True.
    binary = ("BinaryCrossEntropyLoss", "BinaryCrossEntropy")
    comment = ("", "")
    if method.loss == "focal":
        args, (torch_cls, keras_cls) = f"gamma={_num(params['gamma'])}", ("BinaryFocalLoss",) * 2
    elif method.loss == "logit_adjusted":
        args = f"class_prior={params['class_prior']}, tau={_num(params['tau'])}"
        torch_cls, keras_cls = "LogitAdjustedCrossEntropyLoss", "LogitAdjustedCrossEntropy"
        comment = ("  # two logits per row, y class indices", "  # two logits per row")
    elif method.loss == "pos_weight":
        args, (torch_cls, keras_cls) = f"pos_weight={_num(params['pos_weight'])}", binary
    elif w is not None:
        args, (torch_cls, keras_cls) = f"class_weight=[{_num(w[0])}, {_num(w[1])}]", binary
    else:
        args, (torch_cls, keras_cls) = "", binary
    torch_loss = f"wce.torch.{torch_cls}({args})"
    keras_loss = f"wce.keras.{keras_cls}({args + ', ' if args else ''}from_logits=True)"
    resample_note = ""
    if method.resampler is not None:
        resample_note = (f"# resample the training set first (imbalanced-learn {method.resampler}), "
                         "then train on X_res, y_res\n")
    thr_note = f"\n# predict positive when sigmoid(logit) >= {_num(thr)}" if thr is not None else ""
    out["pytorch"] = f"{resample_note}import wce.torch\nloss_fn = {torch_loss}{comment[0]}{thr_note}"
    out["keras"] = (f"{resample_note}import wce.keras\nmodel.compile(optimizer='adam', loss={keras_loss})  "
                    f"# the model outputs logits{comment[1].replace('  #', ',')}{thr_note}")
    # Gradient-boosted trees with wce's objectives
    if method.loss == "focal":
        gb = f"loss='focal', gamma={_num(params['gamma'])}"
    elif method.loss == "cost_sensitive":
        gb = f"loss='cost_sensitive', cost_matrix={params['cost_matrix']!r}"
    elif w is not None:
        gb = f"class_weight=[{_num(w[0])}, {_num(w[1])}]"
    else:
        gb = ""
    for lib, cls in (("xgboost", "WeightedXGBClassifier"), ("lightgbm", "WeightedLGBMClassifier")):
        if method.loss == "logit_adjusted":
            out[lib] = None  # no sample-weight form
            continue
        line = f"{resample_note}from wce.{lib} import {cls}\nmodel = {cls}({gb}).fit(X, y)"
        if thr is not None:
            line += f"\n# threshold {_num(thr)} was tuned for --model logreg: tune it again for trees"
        out[lib] = line
    return out


# --------------------------------------------------------------------------- text

def _signed(x: float, digits: int = 3) -> str:
    return f"{x:+.{digits}f}".replace("-", "−")


def _plain(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}".replace("-", "−")


def _ci(row: dict) -> str:
    if math.isnan(row["ci_low"]):
        return "no interval: fewer than two folds"
    return f"95% CI {_signed(row['ci_low'])} to {_signed(row['ci_high'])}"


def _p(p: float) -> str:
    return "–" if math.isnan(p) else ("< 0.001" if p < 0.001 else f"{p:.2g}")


def _reference_name(ref: str) -> str:
    return "plain CE with a tuned threshold" if ref == "ce+threshold" else "plain CE"


def _gain(row: dict, sign: float) -> float:
    d = row["difference"]
    return -math.inf if math.isnan(d) else sign * d


def dataset_answer(dataset: str, tests: list, folds: dict, families: dict, metric: str) -> dict:
    """The verdict of one data set: reference, best weighting method, recommended method, text."""
    ref = next((r for r in REFERENCES if r in folds), None)
    label = LABELS[metric]
    sign = _sign(metric)
    index = {(t["metric"], t["method"], t["reference"]): t for t in tests}
    answer: dict = {"dataset": dataset, "metric": metric, "reference": ref, "best_weighting": None,
                    "weighting_significant": None}
    weighting = [m for m in folds if families.get(m) in WEIGHTING_FAMILIES]
    if ref is None:
        best = max(folds, key=lambda m: sign * _mean(folds[m], metric))
        answer.update(recommended=best, weighting_recommended=families.get(best) in WEIGHTING_FAMILIES,
                      text=f"On {dataset}, neither ce nor ce+threshold was run, so there is no reference to "
                           f"test against; {best} has the best mean {label}.")
        return answer
    rows = {m: index[(metric, m, ref)] for m in folds if (metric, m, ref) in index}
    sentences = []
    weighting = [m for m in weighting if m in rows]
    best_w = max(weighting, key=lambda m: _gain(rows[m], sign)) if weighting else None
    if best_w is not None:
        r = rows[best_w]
        answer["best_weighting"] = best_w
        answer["weighting_significant"] = r["outcome"]
        stats_text = f"{_signed(r['difference'])}, {_ci(r)}, Holm-adjusted p = {_p(r['p_holm'])}"
        if r["outcome"] == "better":
            sentences.append(f"On {dataset}, weighting beat {_reference_name(ref)} on {label}: {best_w} "
                             f"{_plain(r['mean'])} vs {_plain(r['reference_mean'])} ({stats_text}).")
        elif r["outcome"] == "worse":
            sentences.append(f"On {dataset}, weighting did worse than {_reference_name(ref)} on {label}: even "
                             f"the best weighting method, {best_w}, {_plain(r['mean'])} vs "
                             f"{_plain(r['reference_mean'])} ({stats_text}).")
        else:
            sentences.append(f"On {dataset}, weighting did not beat {_reference_name(ref)} on {label}: the best "
                             f"weighting method, {best_w}, {_plain(r['mean'])} vs {_plain(r['reference_mean'])} "
                             f"({stats_text}).")
        sentences.append(_side_effects(best_w, ref, index, folds))
    else:
        sentences.append(f"On {dataset}, no weighting method was run.")
    # Recommendation: the largest significant improvement over the reference, else the reference
    # (or plain CE if tuning the threshold made it significantly worse).
    winners = [m for m, r in rows.items() if r["outcome"] == "better" and m not in REFERENCES]
    if winners:
        rec = max(winners, key=lambda m: _gain(rows[m], sign))
        why = (f"it is significantly better than {ref} on {label} ({_signed(rows[rec]['difference'])}, "
               f"{_ci(rows[rec])})")
    else:
        rec = ref
        why = f"no method is significantly better than {ref} on {label}"
        if ref == "ce+threshold" and "ce" in folds:
            back = index.get((metric, "ce+threshold", "ce"))
            if back is not None and back["outcome"] == "worse":
                rec, why = "ce", f"{why}, and tuning the threshold made {label} significantly worse than plain CE"
        if rec == "ce+threshold":
            why += "; it keeps plain CE's probabilities"
    answer.update(recommended=rec, recommended_family=families.get(rec),
                  weighting_recommended=families.get(rec) in WEIGHTING_FAMILIES, why=why)
    sentences.append(f"Recommended: {rec} ({why}).")
    answer["text"] = " ".join(s for s in sentences if s)
    return answer


def _side_effects(method: str, ref: str, index: dict, folds: dict) -> str:
    """What else the method changed against the reference: significant changes and calibration."""
    raised, lowered, unchanged = [], [], []
    for metric in ("recall", "balanced_accuracy", "precision"):
        r = index.get((metric, method, ref))
        significant = r is not None and r["outcome"] != "no significant difference"
        if r is None or (metric == "precision" and not significant):
            continue
        if abs(r["difference"]) < 5e-4:  # below the three decimals shown: no change to report
            unchanged.append(LABELS[metric])
            continue
        tag = "significant" if significant else "within noise"
        (raised if r["difference"] > 0 else lowered).append(
            f"{LABELS[metric]} ({_signed(r['difference'])}, {tag})")
    parts = []
    if raised:
        parts.append("raised " + " and ".join(raised))
    if lowered:
        parts.append("lowered " + " and ".join(lowered))
    if unchanged:
        parts.append("left " + " and ".join(unchanged) + " unchanged (within 0.0005)")
    brier = index.get(("brier", method, ref))
    if brier is not None and brier["reference_mean"] > 0:
        ratio = brier["mean"] / brier["reference_mean"]
        if brier["outcome"] == "worse":
            parts.append(f"worsened calibration (Brier ×{ratio:.1f}: {_plain(brier['mean'])} vs "
                         f"{_plain(brier['reference_mean'])})")
        elif brier["outcome"] == "better":
            parts.append(f"improved calibration (Brier ×{ratio:.2f})")
        else:
            parts.append(f"left the Brier score within noise (×{ratio:.2f})")
    text = ("It " + ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] + ".") if parts else ""
    if brier is not None and brier["outcome"] == "worse" and ref == "ce+threshold":
        text += " A tuned threshold on plain CE moves the decisions without touching the probabilities."
    worse = brier is not None and brier["outcome"] == "worse"
    recal = recalibration_summary(method, ref, folds, brier_worse=worse)
    if recal:
        text += " " + recal["text"]
    return text


def recalibration_summary(method: str, ref: str, folds: dict, *, brier_worse: bool) -> dict | None:
    """Does recalibration fitted inside the training fold bring ``method``'s Brier score back to
    the reference's, and at what cost in balanced accuracy if its output is thresholded at 0.5?
    ``brier_worse``: the data set's (Holm-adjusted) test found the raw Brier score worse than the
    reference's; otherwise the calibration needs no repair, as the answer's sentence before says."""
    a = folds.get(method, {})
    if not a or all(math.isnan(_value(u, "brier_sigmoid")) for u in a.values()):
        return None
    b = folds[ref]
    out = {"method": method, "reference": ref}
    for kind in ("sigmoid", "isotonic"):
        t = paired_test(a, b, f"brier_{kind}", "brier")
        out[kind] = {"brier": _mean(a, f"brier_{kind}"), "ece": _mean(a, f"ece_{kind}"),
                     "brier_difference": t["mean"], "ci_low": t["ci_low"], "ci_high": t["ci_high"], "p": t["p"]}
    out["reference_brier"] = _mean(b, "brier")
    out["reference_ece"] = _mean(b, "ece")
    out["brier_raw"] = _mean(a, "brier")
    out["balanced_accuracy"] = _mean(a, "balanced_accuracy")
    out["balanced_accuracy_sigmoid_at_0.5"] = _mean(a, "balanced_accuracy_sigmoid")
    best = min(("sigmoid", "isotonic"), key=lambda k: out[k]["brier"])
    s = out[best]
    needed = bool(brier_worse)
    restored = not (s["p"] < ALPHA and s["brier_difference"] > 0)
    out.update(best=best, needed=needed, restored=restored)
    name = "Platt scaling" if best == "sigmoid" else "isotonic recalibration"
    if not needed:
        out["text"] = (f"Its calibration needs no repair: Brier {_plain(out['brier_raw'])} against plain CE's "
                       f"{_plain(out['reference_brier'])}, not significantly worse; {name} fitted inside each "
                       f"training fold gives {_plain(s['brier'])} (ECE {_plain(s['ece'])} vs "
                       f"{_plain(out['reference_ece'])}).")
        return out
    verb = "restores" if restored else "does not restore"
    out["text"] = (f"{name.capitalize()} fitted inside each training fold {verb} plain CE's calibration: Brier "
                   f"{_plain(out['brier_raw'])} → {_plain(s['brier'])} (reference {_plain(out['reference_brier'])}; "
                   f"ECE {_plain(s['ece'])} vs {_plain(out['reference_ece'])}); the weighted model's decisions, and "
                   f"so its balanced accuracy {_plain(out['balanced_accuracy'])}, are kept if you threshold its raw "
                   f"output and report the recalibrated probability (thresholding the Platt-scaled probability at "
                   f"0.5 instead gives {_plain(out['balanced_accuracy_sigmoid_at_0.5'])}).")
    return out


def recalibration_rows(folds: dict, datasets: list) -> list:
    """Mean and corrected 95% interval of the recalibration metrics, per (data set, method) that has
    them, with the raw Brier score, ECE and balanced accuracy beside them."""
    rows = []
    for dataset in datasets:
        items = folds.get(dataset, {}).items()
        if all(all(math.isnan(_value(u, "brier_sigmoid")) for u in f.values()) for _, f in items):
            continue
        for method, f in items:  # the references (not recalibrated) stand beside the weighted methods
            if method not in REFERENCES and all(math.isnan(_value(u, "brier_sigmoid")) for u in f.values()):
                continue
            fraction = float(np.mean([u["n_test"] / u["n_train"] for u in f.values()]))
            row = {"dataset": dataset, "method": method}
            for metric in ("brier", "ece", "balanced_accuracy") + RECALIBRATED_METRICS:
                mean, low, high = S.corrected_t_interval([_value(u, metric) for u in f.values()],
                                                         test_fraction=fraction)
                row[metric] = {"mean": mean, "ci_low": low, "ci_high": high}
            rows.append(row)
    return rows


# --------------------------------------------------------------------------- the whole run

def build(plan, units: list, *, metric: str = DEFAULT_METRIC) -> dict:
    """Per-data-set verdicts, the recommendations and the headline lines of a run (JSON-ready).

    ``plan`` is the validated :class:`~wce.experiments.runner.Plan`, ``units`` the unit results
    in :func:`~wce.experiments.runner.collect` order. Keys: ``metric``, ``tests`` (rows of
    :func:`dataset_tests`), ``datasets`` (one answer per data set, with ``text``),
    ``recommendations`` (one per data set, the content of ``recommended.json``),
    ``headline`` (lines for the top of the console output and of report.md) and
    ``weighting_recommended`` / ``n_datasets``.
    """
    check_metric(metric)
    config = plan.config
    families = {m.name: m.family for m in plan.methods}
    by_name = {m.name: m for m in plan.methods}
    tested = tuple(dict.fromkeys((metric,) + TESTED))
    folds = _folds(units)
    tests, answers, recommendations = [], [], []
    for problem in plan.problems:
        f = folds.get(problem.name, {})
        if not f:
            continue
        rows = dataset_tests(f, problem.name, families, tested)
        answer = dataset_answer(problem.name, rows, f, families, metric)
        tests += rows
        answers.append(answer)
        method = by_name[answer["recommended"]]
        thresholds = [u["threshold"] for u in f[method.name].values()]
        params = parameters(method, problem.y, config.options, thresholds=thresholds)
        recal = None
        if answer.get("best_weighting") == method.name and answer.get("reference"):
            worse = any(t["metric"] == "brier" and t["method"] == method.name and t["reference"] == answer["reference"]
                        and t["outcome"] == "worse" for t in rows)
            recal = recalibration_summary(method.name, answer["reference"], f, brier_worse=worse)
            recal = {k: v for k, v in recal.items() if k != "text"} if recal else None
        recommendations.append({
            "dataset": problem.name, "positive_class": problem.positive, "metric": metric,
            "method": method.name, "family": method.family, "description": method.description,
            "why": answer.get("why", ""), "verdict": answer["text"], "model": model_label(config.model), "C": config.C,
            "parameters": params, "probabilities": probabilities(method, params, recal),
            "snippets": snippets(method, params, C=config.C),
            "labels": f"y = 1 for the minority class {problem.positive!r}, 0 otherwise",
        })
    recalibration = recalibration_rows(folds, [p.name for p in plan.problems])
    k = sum(bool(a.get("weighting_recommended")) for a in answers)
    n = len(answers)
    headline = [a["text"] for a in answers] if n == 1 else [
        f"Weighting recommended on {k} of {n} data sets ({LABELS[metric]}: a weighting method significantly "
        f"better than {answers[0]['reference'] if answers else 'the reference'} on the same folds, corrected "
        "resampled t-test, Holm-adjusted within each data set)."]
    return {"metric": metric, "alpha": ALPHA, "tests": tests, "datasets": answers, "recalibration": recalibration,
            "recommendations": recommendations, "headline": headline,
            "weighting_recommended": k, "n_datasets": n}


def recommended_json(verdict: dict) -> dict:
    """The content of ``recommended.json``: one data set's recommendation at the top level,
    every data set's under ``recommendations``."""
    recs = verdict["recommendations"]
    out = {"format": FORMAT, "metric": verdict["metric"], "weighting_recommended": verdict["weighting_recommended"],
           "n_datasets": verdict["n_datasets"]}
    if len(recs) == 1:
        out.update(recs[0])
    out["recommendations"] = recs
    return out


def attach(summary: dict, plan, units: list, *, metric: str = DEFAULT_METRIC) -> dict:
    """Add ``dataset_verdict`` (see :func:`build`) to a summary of
    :func:`wce.experiments.analysis.summarise`; returns the summary."""
    summary["dataset_verdict"] = build(plan, units, metric=metric)
    summary["recommended"] = recommended_json(summary["dataset_verdict"])
    return summary


__all__ = ["DEFAULT_METRIC", "METRIC_CHOICES", "attach", "build", "check_metric", "dataset_tests", "paired_test",
           "parameters", "recommended_json", "snippets"]

# Metrics a summary may carry beyond METRICS (recalibration); kept for readers of this module.
ALL_METRICS = METRICS + RECALIBRATED_METRICS
