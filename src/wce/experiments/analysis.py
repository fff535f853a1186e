"""From unit results to the summary a report shows: per-data-set intervals, ranks, tests, a verdict.

The verdict answers the question `wce compare` exists for: does class
weighting beat plain CE with a tuned threshold, and does it beat resampling?
Each weighting-type method is compared with ``ce+threshold`` and with each
resampling method present, on each primary metric, by a Wilcoxon signed-rank
test over data sets; the p-values of one metric are Holm-corrected together
(Demšar 2006). A difference counts only if the adjusted p-value is below 0.05.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from ..reporting.environment import environment
from .runner import model_label
from . import statistics as S
from .metrics import LOWER_IS_BETTER, METRICS, RECALIBRATED_METRICS

PRIMARY = ("f1", "pr_auc", "mcc", "brier", "brier_corrected")
REFERENCES = ("ce+threshold", "ros", "smote", "rus")
ALPHA = 0.05


def per_dataset(units: list, methods: list) -> list:
    """Rows ``{dataset, method, family, metric, mean, ci_low, ci_high, n_folds}``.

    Every metric of :data:`~wce.experiments.metrics.METRICS`, then the recalibration metrics
    (:data:`~wce.experiments.metrics.RECALIBRATED_METRICS`) of the methods that have them
    (weighted and resampled methods, unless recalibration was turned off)."""
    groups = defaultdict(list)
    for u in units:
        groups[(u["dataset"], u["method"])].append(u)
    family = {m.name: m.family for m in methods}
    rows = []
    for (dataset, method), us in groups.items():
        fraction = float(np.mean([u["n_test"] / u["n_train"] for u in us]))
        for metric in METRICS:
            mean, low, high = S.corrected_t_interval([u["metrics"][metric] for u in us], test_fraction=fraction)
            rows.append({"dataset": dataset, "method": method, "family": family[method], "metric": metric,
                         "mean": mean, "ci_low": low, "ci_high": high, "n_folds": len(us)})
        for metric in RECALIBRATED_METRICS:  # absent from units computed without recalibration
            values = [u["metrics"].get(metric) for u in us]
            values = [float("nan") if v is None else float(v) for v in values]
            if all(math.isnan(v) for v in values):
                continue
            mean, low, high = S.corrected_t_interval(values, test_fraction=fraction)
            rows.append({"dataset": dataset, "method": method, "family": family[method], "metric": metric,
                         "mean": mean, "ci_low": low, "ci_high": high, "n_folds": len(us)})
    return rows


def matrix(rows: list, datasets: list, methods: list, metric: str) -> np.ndarray:
    """Data sets × methods table of fold means for ``metric``."""
    index = {(r["dataset"], r["method"]): r["mean"] for r in rows if r["metric"] == metric}
    return np.array([[index[(d, m)] for m in methods] for d in datasets], dtype=np.float64)


def across_datasets(rows: list, datasets: list, methods: list) -> dict:
    """Mean ranks, Friedman test and Nemenyi CD per primary metric (Demšar 2006).

    A method with an undefined metric (focal loss has no prior-corrected Brier score) is
    left out of that metric's ranking.
    """
    out = {}
    all_methods = methods
    for metric in PRIMARY:
        table = matrix(rows, datasets, all_methods, metric)
        keep = ~np.isnan(table).any(axis=0)
        methods = [m for m, k in zip(all_methods, keep) if k]
        table = table[:, keep]
        higher = metric not in LOWER_IS_BETTER
        ranks = S.mean_ranks(table, higher_is_better=higher)
        stat, p = S.friedman(table)
        out[metric] = {
            "mean_ranks": dict(zip(methods, map(float, ranks))),
            "mean": dict(zip(methods, map(float, table.mean(axis=0)))),
            "friedman_statistic": stat, "friedman_p": p,
            "nemenyi_cd": S.nemenyi_cd(len(methods), len(datasets)) if len(datasets) > 1 else float("nan"),
        }
    return out


def comparisons(rows: list, datasets: list, methods: list) -> list:
    """Weighting-type methods vs ce+threshold and vs resampling: Wilcoxon + Holm per metric."""
    family = {r["method"]: r["family"] for r in rows}
    contenders = [m for m in methods if family[m] in ("weighting", "loss", "weighting+resampling")]
    references = [r for r in REFERENCES if r in methods]
    out = []
    for metric in PRIMARY:
        table = matrix(rows, datasets, methods, metric)
        col = {m: table[:, i] for i, m in enumerate(methods)}
        sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
        block = []
        for c in contenders:
            if np.isnan(col[c]).any():
                continue
            for r in references:
                wins, ties, losses, p = S.wilcoxon(sign * col[c], sign * col[r])
                block.append({"metric": metric, "method": c, "reference": r, "wins": wins, "ties": ties,
                              "losses": losses, "p": p,
                              "mean_difference": float(np.mean(col[c] - col[r]))})
        ps = [b["p"] for b in block]
        if block and not any(math.isnan(p) for p in ps):
            for b, adj in zip(block, S.holm(ps)):
                b["p_holm"] = float(adj)
        else:
            for b in block:
                b["p_holm"] = float("nan")
        for b in block:
            b["outcome"] = outcome(b)
        out += block
    return out


def outcome(c: dict) -> str:
    if math.isnan(c["p_holm"]) or c["p_holm"] >= ALPHA:
        return "no significant difference"
    return "better" if c["wins"] > c["losses"] else "worse"


def verdict(comps: list, n_datasets: int) -> list:
    """Plain-language sentences, one per (metric, reference)."""
    if n_datasets < 2:
        return ["One data set: the answer above uses paired tests on this data set's folds (corrected "
                "resampled t-test, Nadeau & Bengio 2003); the across-data-set tests (Friedman, Wilcoxon/Holm) "
                "need several data sets (Demšar 2006)."]
    lines = bottom_line(comps, n_datasets)
    for metric in PRIMARY:
        for ref in REFERENCES:
            block = [c for c in comps if c["metric"] == metric and c["reference"] == ref]
            if not block:
                continue
            better = [c["method"] for c in block if c["outcome"] == "better"]
            worse = [c["method"] for c in block if c["outcome"] == "worse"]
            best = max(block, key=lambda c: c["wins"] - c["losses"])
            text = (f"{metric}: vs {ref}, {len(better)} of {len(block)} weighting methods are significantly "
                    f"better" + (f" ({', '.join(better)})" if better else "")
                    + f", {len(worse)} significantly worse" + (f" ({', '.join(worse)})" if worse else "")
                    + f" (Wilcoxon, Holm-adjusted, alpha {ALPHA}, {n_datasets} data sets); best record: "
                    f"{best['method']} {best['wins']}/{best['ties']}/{best['losses']} wins/ties/losses, "
                    f"p_holm = {best['p_holm']:.3g}.")
            lines.append(text)
    return lines


def bottom_line(comps: list, n_datasets: int) -> list:
    """One summary sentence per reference group: threshold moving, resampling, calibration."""
    groups = (("plain CE + threshold moving", ("ce+threshold",)), ("resampling", ("ros", "smote", "rus")))
    ranking = ("f1", "pr_auc", "mcc")
    lines = []
    for label, refs in groups:
        block = [c for c in comps if c["reference"] in refs and c["metric"] in ranking]
        if not block:
            continue
        better = sum(c["outcome"] == "better" for c in block)
        worse = sum(c["outcome"] == "worse" for c in block)
        if better and not worse:
            word = "weighting beats"
        elif worse and not better:
            word = "weighting loses to"
        elif better and worse:
            word = "mixed: weighting neither consistently beats nor loses to"
        else:
            word = "weighting does not significantly beat (nor lose to)"
        lines.append(f"**Bottom line, {label}:** {word} {label} on F1, PR-AUC and MCC — {better} significant "
                     f"wins and {worse} significant losses in {len(block)} (method, reference, metric) "
                     f"comparisons over {n_datasets} data sets (Wilcoxon, Holm-adjusted per metric).")
    for metric, what in (("brier", "as trained"), ("brier_corrected", "after prior correction")):
        block = [c for c in comps if c["reference"] == "ce+threshold" and c["metric"] == metric]
        if block:
            worse = sum(c["outcome"] == "worse" for c in block)
            better = sum(c["outcome"] == "better" for c in block)
            lines.append(f"**Calibration {what}** (Brier vs plain CE): {worse} of {len(block)} weighting "
                         f"methods significantly worse, {better} significantly better.")
    return lines


def problem_summary(problems: list) -> list:
    """One JSON-ready row per data set: size, positives, imbalance ratio, note."""
    return [{"dataset": p.name, "n": int(len(p.y)), "n_features": int(p.X.shape[1]), "n_positive": p.n_pos,
             "positive": p.positive, "imbalance_ratio": float(p.imbalance_ratio), "note": p.note,
             "source": p.spec, "fingerprint": p.fingerprint}
            for p in problems]


def summarise(plan, units: list, command: str) -> dict:
    """Everything the report of a run shows, as one JSON-ready dict (see wce.reporting.compare)."""
    datasets = [p.name for p in plan.problems]
    methods = [m.name for m in plan.methods]
    rows = per_dataset(units, plan.methods)
    across = across_datasets(rows, datasets, methods)
    comps = comparisons(rows, datasets, methods) if len(datasets) > 1 else []
    config = plan.config
    return {
        "settings": {"model": model_label(config.model), "folds": config.folds, "repeats": config.repeats,
                     "seed": config.seed, "C": config.C, "options": vars(config.options),
                     "settings_key": config.settings_key()},
        "datasets": problem_summary(plan.problems),
        "methods": [{"name": m.name, "family": m.family, "description": m.description} for m in plan.methods],
        "skipped": [{"method": m.name, "reason": r} for m, r in plan.skipped],
        "per_dataset": rows, "across_datasets": across, "comparisons": comps,
        "verdict": verdict(comps, len(datasets)), "environment": environment(),
        "seconds_computing": float(sum(u["seconds"] for u in units)),
        "command": command,
    }
