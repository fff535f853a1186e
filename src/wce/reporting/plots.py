"""PNG plots (matplotlib, Agg backend). `wce compare`: PR curves, reliability diagrams, metric
vs weight strength, mean ranks with the Nemenyi critical difference, and the sweep.
`wce longtail`: error per method and imbalance ratio, and many/medium/few-shot accuracy."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from . import files


def _pyplot():
    from .._optional import require

    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str, *, dpi: int) -> None:
    """Lay out, write (whole or not at all) and close ``fig``."""
    fig.tight_layout()
    with files.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    _pyplot().close(fig)


def _pooled(units: list, dataset: str | None = None) -> dict:
    """method -> the ``curves`` of its test folds of repeat 0 (see
    :func:`wce.experiments.metrics.curve_summary`), in unit order."""
    out = defaultdict(list)
    for u in units:
        if u["repeat"] != 0 or (dataset is not None and u["dataset"] != dataset):
            continue
        out[u["method"]].append(u["curves"])
    return dict(out)


def _pr_curve(curves: list) -> tuple:
    """(recall, precision): the folds' interpolated precision at each recall, averaged."""
    precision = np.mean([c["pr_precision"] for c in curves], axis=0)
    return np.linspace(0.0, 1.0, len(precision)), precision


def _bins(curves: list, corrected: bool) -> tuple | None:
    """(mean p, fraction positive) per non-empty reliability bin, folds pooled; None if the
    probabilities have no prior correction."""
    key = "reliability_corrected" if corrected else "reliability"
    parts = [c[key] for c in curves]
    if not parts or any(b is None for b in parts):
        return None
    count = np.sum([b["count"] for b in parts], axis=0).astype(np.float64)
    keep = count > 0
    return (np.sum([b["sum_p"] for b in parts], axis=0)[keep] / count[keep],
            np.sum([b["sum_y"] for b in parts], axis=0)[keep] / count[keep])


LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p", "d", "H", "8", "1", "2", "3")


def _style(i: int) -> dict:
    """Colour, line style and marker of the i-th series: no two share a colour (up to 20), and
    line style and marker tell them apart in grey or for colour-blind readers."""
    cmap = _pyplot().get_cmap("tab10" if i < 10 else "tab20")
    color = cmap(i) if i < 10 else cmap((2 * (i - 10) + 1) % 20)
    return {"color": color, "ls": LINESTYLES[i % len(LINESTYLES)], "marker": MARKERS[i % len(MARKERS)]}


def _groups(pooled: dict, methods: list) -> list:
    """Methods grouped by identical scores on every fold (ce and ce+threshold share their model),
    in order."""
    groups = []
    for m in methods:
        if m not in pooled:
            continue
        for g in groups:
            if [c["digest"] for c in pooled[g[0]]] == [c["digest"] for c in pooled[m]]:
                g.append(m)
                break
        else:
            groups.append([m])
    return groups


def _operating_point(units: list, dataset: str, method: str) -> tuple:
    """Pooled (recall, precision) of the method's decisions over the test folds of repeat 0."""
    tp = fp = fn = 0
    for u in units:
        if u["repeat"] != 0 or u["dataset"] != dataset or u["method"] != method:
            continue
        c = u["curves"]["confusion"]
        tp, fp, fn = tp + c["tp"], fp + c["fp"], fn + c["fn"]
    return (tp / (tp + fn) if tp + fn else 0.0), (tp / (tp + fp) if tp + fp else 0.0)


def pr_curves(units: list, datasets: list, methods: list, path: str, max_datasets: int = 4,
              focus: dict | None = None) -> None:
    """Precision-recall curves of the test folds of the first repeat, per data set: each fold's
    interpolated precision (best precision at that recall or more) averaged over the folds.

    ``focus`` maps a data set to the methods to draw (by default those that matter for its
    verdict: ce, ce+threshold, the recommended and the best weighting method); without it, all.
    Methods with identical scores (ce and ce+threshold) share one curve; each method's
    operating point (its decisions: p >= 0.5 or its tuned threshold) is marked on it."""
    plt = _pyplot()
    shown = datasets[:max_datasets]
    fig, axes = plt.subplots(1, len(shown), figsize=(5.2 * len(shown), 4.8), squeeze=False)
    for ax, dataset in zip(axes[0], shown):
        pooled = _pooled(units, dataset)
        chosen = (focus or {}).get(dataset) or methods
        for i, group in enumerate(_groups(pooled, chosen)):
            style = _style(i)
            recall, precision = _pr_curve(pooled[group[0]])
            label = " = ".join(group) + (" (same scores)" if len(group) > 1 else "")
            ax.plot(recall, precision, color=style["color"], ls=style["ls"], lw=1.6, label=label)
            for k, m in enumerate(group):
                r, p = _operating_point(units, dataset, m)
                ax.plot([r], [p], marker=MARKERS[(i + k) % len(MARKERS)], ms=8, color=style["color"],
                        mec="black", mew=0.6, ls="none", label=f"{m}: its decisions")
        hidden = len(methods) - len(chosen)
        name = dataset if len(dataset) <= 40 else dataset[:37] + "..."
        note = f"; {hidden} other methods in results.csv" if hidden > 0 else ""
        ax.set_title(f"{name}\nrepeat 0, mean over folds{note}", fontsize=9)
        ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
        ax.legend(fontsize=7, loc="best")
    _save(fig, path, dpi=90)


def reliability(units: list, methods: list, path: str, focus: list | None = None) -> None:
    """Reliability diagrams, raw and after prior correction, test folds of repeat 0 pooled.

    ``focus``: the methods to draw (default all). Methods with identical probabilities
    (ce and ce+threshold: the threshold moves the decisions, not the probabilities) are
    drawn once."""
    plt = _pyplot()
    pooled = _pooled(units)
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.8))
    groups = _groups(pooled, focus or methods)
    for ax, corrected in zip(axes, (False, True)):
        ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="perfect calibration")
        for i, group in enumerate(groups):
            style = _style(i)
            bins = _bins(pooled[group[0]], corrected)
            if bins is None:  # no closed-form correction (focal loss)
                continue
            mean_p, frac = bins
            label = " and ".join(group) + (" (same probabilities)" if len(group) > 1 else "")
            ax.plot(mean_p, frac, marker=style["marker"], ms=4, color=style["color"], ls=style["ls"], lw=1.3,
                    label=label)
        ax.set(title="after prior correction (unweighted: unchanged)" if corrected else "as trained (test folds pooled)",
               xlabel="mean predicted probability", ylabel="fraction positive", xlim=(0, 1), ylim=(0, 1))
    axes[0].legend(fontsize=7, loc="upper left")
    _save(fig, path, dpi=90)


def weight_strength(units: list, methods: list, path: str, metrics=("f1", "pr_auc", "brier"),
                    rows: list | None = None) -> None:
    """Each method's mean metric against its effective weight ratio w_pos/w_neg (1 = unweighted),
    with 95% error bars; the y axis starts at 0. One data set: the corrected fold intervals of
    ``rows`` (the summary's per-data-set rows); several: a t-interval over the data-set means."""
    from scipy import stats

    plt = _pyplot()
    by = defaultdict(list)
    for u in units:
        by[u["method"]].append(u)
    datasets = sorted({u["dataset"] for u in units})
    index = {(r["dataset"], r["method"], r["metric"]): r for r in rows or []}
    points = []
    for m in methods:
        us = by[m]
        ratios = [u["log_weight_ratio"] for u in us]
        if not us or (any(r is None for r in ratios) and m not in ("ce", "ce+threshold")):
            continue
        points.append((m, math.exp(np.mean([r or 0.0 for r in ratios]))))
    # Dodge points at (nearly) the same weight sideways, in log space, so none hides another.
    xs = {}
    for m, x in points:
        same = [n for n, other in points if abs(math.log(other) - math.log(x)) < 0.05]
        k = same.index(m)
        xs[m] = x * math.exp(0.08 * (k - (len(same) - 1) / 2))
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4.6))
    for ax, metric in zip(np.atleast_1d(axes), metrics):
        top = 0.0
        bounded = metric not in ("brier", "ece", "brier_corrected", "ece_corrected")
        for i, (m, _) in enumerate(points):
            style = _style(i)
            if len(datasets) == 1:
                r = index.get((datasets[0], m, metric))
                v = np.nanmean([u["metrics"][metric] for u in by[m]]) if r is None else r["mean"]
                low, high = (v, v) if r is None or r["ci_low"] is None or math.isnan(r["ci_low"]) else \
                    (r["ci_low"], r["ci_high"])
            else:
                per = [np.nanmean([u["metrics"][metric] for u in by[m] if u["dataset"] == d]) for d in datasets]
                per = [x for x in per if not math.isnan(x)]
                v = float(np.mean(per)) if per else math.nan
                half = stats.t.ppf(0.975, len(per) - 1) * np.std(per, ddof=1) / math.sqrt(len(per)) \
                    if len(per) > 1 else 0.0
                low, high = v - half, v + half
            if math.isnan(v):
                continue
            if bounded:  # a score in [0, 1]: so is its interval
                low, high = max(low, 0.0), min(high, 1.0)
            ax.errorbar([xs[m]], [v], yerr=[[v - low], [high - v]], fmt=style["marker"], color=style["color"],
                        ms=6, capsize=3, lw=1.2, label=m)
            top = max(top, high)
        ax.set_xscale("log")
        _plain_log_ticks(ax, [x for x in xs.values()])
        ax.set_ylim(0, 1.02 if bounded else max(top * 1.15, 1e-3))
        where = "" if len(datasets) == 1 else f"mean over {len(datasets)} data sets, "
        ax.set(xlabel="effective w_pos / w_neg (geometric mean over folds)", ylabel=metric,
               title=f"{metric} vs weight strength\n{where}95% CI{' (clipped to [0, 1])' if bounded else ''}, "
                     "y axis from 0")
    np.atleast_1d(axes)[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.text(0.01, 0.01, "points at the same weight are shifted sideways so none hides another", fontsize=7,
             color="grey")
    _save(fig, path, dpi=90)


def _plain_log_ticks(ax, xs: list) -> None:
    """Ticks 1, 2, 5, 10, 20, ... written as plain numbers on a log axis (no overlapping minor labels)."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    if not xs:
        return
    low, high = min(xs) / 1.3, max(xs) * 1.3
    ticks = [m * 10.0 ** e for e in range(-3, 6) for m in (1, 2, 5) if low <= m * 10.0 ** e <= high]
    ax.set_xlim(low, high)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])


def ranks(across: dict, path: str, n_datasets: int) -> None:
    """Mean ranks per primary metric with the Nemenyi critical difference (Demšar 2006)."""
    plt = _pyplot()
    metrics = list(across)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 0.32 * len(across[metrics[0]]["mean_ranks"]) + 1.5))
    for ax, metric in zip(np.atleast_1d(axes), metrics):
        r = across[metric]["mean_ranks"]
        order = sorted(r, key=r.get)
        ax.barh(range(len(order)), [r[m] for m in order], color="tab:blue", alpha=0.7)
        ax.set_yticks(range(len(order)), order, fontsize=7)
        ax.invert_yaxis()
        cd = across[metric]["nemenyi_cd"]
        best = r[order[0]]
        if not math.isnan(cd):
            ax.axvline(best + cd, color="tab:red", ls="--", lw=1, label=f"best + CD ({cd:.2f})")
            ax.legend(fontsize=7, loc="lower right")
        ax.set(xlabel="mean rank (1 = best)",
               title=f"{metric}: Friedman p = {across[metric]['friedman_p']:.2g}, {n_datasets} sets")
    _save(fig, path, dpi=90)


def sweep(rows: list, path: str, balanced_weight: float) -> None:
    """CV metric vs positive weight, with the n_neg / n_pos weight marked."""
    plt = _pyplot()
    metrics = ("f1", "pr_auc", "brier", "ece")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.8))
    w = np.array([r["pos_weight"] for r in rows])
    for ax, metric in zip(axes, metrics):
        mean = np.array([r[metric] for r in rows])
        low = np.array([r[f"{metric}_ci_low"] for r in rows])
        high = np.array([r[f"{metric}_ci_high"] for r in rows])
        ax.plot(w, mean, marker="o", ms=3)
        ax.fill_between(w, low, high, alpha=0.2)
        ax.axvline(balanced_weight, color="grey", ls="--", lw=1, label="n_neg / n_pos")
        ax.set(xscale="log", xlabel="pos_weight", ylabel=metric, title=metric)
    axes[0].legend(fontsize=7)
    _save(fig, path, dpi=90)


def error_bars(summary, methods: list, path: str) -> None:
    """Top-1 error per method, one panel per data set, one bar per imbalance ratio (mean ± std)."""
    plt = _pyplot()
    datasets = list(dict.fromkeys(summary["dataset"]))
    irs = sorted(set(summary["imbalance_ratio"]))
    methods = [m for m in methods if m in set(summary["method"])]
    fig, axes = plt.subplots(1, len(datasets), figsize=(max(3.2 * len(datasets) + 1, 6.5), 4.2),
                             squeeze=False, sharey=False)
    width = 0.8 / len(irs)
    for ax, name in zip(axes[0], datasets):
        for k, ir in enumerate(irs):
            part = summary[(summary.dataset == name) & (summary.imbalance_ratio == ir)]
            part = part.set_index("method").reindex(methods)
            x = np.arange(len(methods)) + (k - (len(irs) - 1) / 2) * width
            ax.bar(x, 100 * part["error_mean"], width, yerr=100 * part["error_std"].fillna(0),
                   label=f"IR={ir:g}", capsize=2)
        ax.set_title(name)
        ax.set_xticks(np.arange(len(methods)))
        ax.set_xticklabels(methods, rotation=70, fontsize=7)
        ax.set_ylabel("top-1 error on balanced test (%)")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Long-tailed training, balanced test: mean ± std over seeds", fontsize=10)
    _save(fig, path, dpi=110)


def shot_accuracy(results, methods: list, shots: tuple, path: str) -> None:
    """Many / medium / few-shot accuracy per method at the largest IR, mean over data sets and seeds."""
    plt = _pyplot()
    ir = max(results.imbalance_ratio)
    part = results[results.imbalance_ratio == ir]
    methods = [m for m in methods if m in set(part.method)]
    means = part.groupby("method")[[f"{g}_accuracy" for g in shots]].mean().reindex(methods)
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(shots)
    for k, g in enumerate(shots):
        ax.bar(np.arange(len(methods)) + (k - 1) * width, 100 * means[f"{g}_accuracy"], width,
               label=f"{g}-shot")
    ax.set_xticks(np.arange(len(methods)))
    ax.set_xticklabels(methods, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("accuracy on the balanced test set (%)")
    ax.set_title(f"IR = {ir:g}: mean over data sets and seeds")
    ax.set_ylim(0, 115)
    ax.legend(fontsize=8, ncol=3, loc="upper center")
    _save(fig, path, dpi=110)
