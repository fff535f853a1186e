"""PNG plots of a comparison (matplotlib, Agg backend): PR curves, reliability diagrams,
metric vs weight strength, mean ranks with the Nemenyi critical difference, and the sweep."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
from scipy.special import expit


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


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
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


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
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


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
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


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
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
