"""PNG plots (matplotlib, Agg backend). `wce compare`: PR curves, reliability diagrams, metric
vs weight strength, mean ranks with the Nemenyi critical difference, and the sweep.
`wce longtail`: error per method and imbalance ratio, and many/medium/few-shot accuracy."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
from scipy.special import expit

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


def _colors(n: int):
    plt = _pyplot()
    cmap = plt.get_cmap("tab20")
    return [cmap(i % 20) for i in range(n)]


def _pooled(units: list, dataset: str | None = None) -> dict:
    """method -> (y, z, log_weight_ratio per row) pooled over test folds of repeat 0."""
    out = defaultdict(lambda: ([], [], []))
    for u in units:
        if u["repeat"] != 0 or (dataset is not None and u["dataset"] != dataset):
            continue
        y, z, r = out[u["method"]]
        y.extend(u["y"])
        z.extend(u["z"])
        r.extend([u["log_weight_ratio"] if u["log_weight_ratio"] is not None else math.nan] * len(u["y"]))
    return {m: tuple(np.asarray(a, dtype=np.float64) for a in v) for m, v in out.items()}


def pr_curves(units: list, datasets: list, methods: list, path: str, max_datasets: int = 4) -> None:
    """Precision-recall curves per method, test folds of the first repeat pooled, per data set."""
    from sklearn.metrics import precision_recall_curve

    plt = _pyplot()
    shown = datasets[:max_datasets]
    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 4.5), squeeze=False)
    colors = _colors(len(methods))
    for ax, dataset in zip(axes[0], shown):
        pooled = _pooled(units, dataset)
        for color, m in zip(colors, methods):
            y, z, _ = pooled[m]
            precision, recall, _ = precision_recall_curve(y, expit(z))
            ax.plot(recall, precision, color=color, lw=1.2, label=m)
        ax.set(title=f"{dataset} (repeat 0, folds pooled)", xlabel="recall", ylabel="precision",
               xlim=(0, 1), ylim=(0, 1.02))
    axes[0][-1].legend(fontsize=7, loc="upper right")
    _save(fig, path, dpi=90)


def _reliability(y, p, n_bins=10):
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    keep = count > 0
    mean_p = np.bincount(bins, weights=p, minlength=n_bins)[keep] / count[keep]
    frac = np.bincount(bins, weights=y, minlength=n_bins)[keep] / count[keep]
    return mean_p, frac


def reliability(units: list, methods: list, path: str) -> None:
    """Reliability diagrams, raw and after prior correction, test folds of repeat 0 pooled."""
    plt = _pyplot()
    pooled = _pooled(units)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    colors = _colors(len(methods))
    for ax, corrected in zip(axes, (False, True)):
        ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
        for color, m in zip(colors, methods):
            y, z, r = pooled[m]
            if corrected:
                if np.isnan(r).all():
                    continue
                z = z - np.nan_to_num(r)
            mean_p, frac = _reliability(y, expit(z))
            ax.plot(mean_p, frac, marker="o", ms=3, color=color, lw=1, label=m)
        ax.set(title="after prior correction (unweighted: unchanged)" if corrected else "as trained (test folds pooled)",
               xlabel="mean predicted probability", ylabel="fraction positive", xlim=(0, 1), ylim=(0, 1))
    axes[0].legend(fontsize=7)
    _save(fig, path, dpi=90)


def weight_strength(units: list, methods: list, path: str, metrics=("f1", "pr_auc", "brier")) -> None:
    """Each method's mean metric against its effective weight ratio w_pos/w_neg (1 = unweighted)."""
    plt = _pyplot()
    by = defaultdict(list)
    for u in units:
        by[u["method"]].append(u)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4))
    for ax, metric in zip(axes, metrics):
        for m in methods:
            us = by[m]
            ratios = [u["log_weight_ratio"] for u in us]
            if any(r is None for r in ratios) and m not in ("ce", "ce+threshold"):
                continue
            x = math.exp(np.mean([r or 0.0 for r in ratios]))
            v = np.nanmean([u["metrics"][metric] for u in us])
            ax.scatter([x], [v], s=18)
            ax.annotate(m, (x, v), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set(xscale="log", xlabel="effective w_pos / w_neg (geometric mean over folds)", ylabel=metric,
               title=f"{metric} vs weight strength")
    _save(fig, path, dpi=90)


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
