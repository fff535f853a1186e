"""Long-tailed multiclass evidence on real data (``wce longtail``).

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

Methods (all trained through torch; names and losses from the one registry,
:mod:`wce.experiments.methods`, shared with ``wce compare``):

========================== ===================================================
``ce``                     softmax cross-entropy
``wce-balanced``           weighted CE, ``N / (C n_c)`` (scikit-learn 'balanced')
``class_balanced``         class-balanced CE, effective number with ``beta`` (Cui et al.)
``class_balanced_focal``   class-balanced focal loss (softmax form), ``beta``, ``gamma``
``focal``                  focal loss, ``gamma``
``ldam_drw``               LDAM (cosine last layer, ``s``, ``max_margin``) with
                           deferred re-weighting: class-balanced weights
                           (``beta_drw`` = 0.9999, as Cao et al.) after
                           ``drw_fraction`` of the epochs
``logit_adjusted``         logit-adjusted CE (Menon et al.), ``tau``
``posthoc_logit_adjusted`` the ``ce`` model, predictions from ``adjust_logits(tau)``
``balanced_softmax``       balanced softmax CE (Ren et al.)
========================== ===================================================

With ``tau = 1`` the logit-adjusted loss *is* balanced softmax (see
:func:`wce.losses.balanced_softmax_cross_entropy`); both are run so the report
shows the identity empirically, up to float rounding.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from .. import _validation as V
from .._optional import require
from ..losses import LOSSES, adjust_logits, value_and_grad
from ..reporting import environment as E
from ..reporting import files
from . import statistics as S
from .methods import LONG_TAIL_METHODS, METHODS, parse_methods

CALLER = "wce longtail"

# Short names of the packaged balanced multiclass sets (nothing downloads).
DATASETS = {
    "digits": "sklearn:digits",
    "penbased": "keel-balanced:penbased",
    "optdigits": "keel-balanced:optdigits",
    "satimage": "keel-balanced:satimage",
    "letter": "keel-balanced:letter",
}
SHOTS = ("many", "medium", "few")

# Published CIFAR-10-LT (imbalance ratio 100, ResNet-32) results: citations, not our results.
PUBLISHED = [
    {"method": "ce", "metric": "top-1 error %", "value": 29.64,
     "source": "Cui et al., CVPR 2019, Table 2 (softmax)"},
    {"method": "class_balanced_focal", "metric": "top-1 error %", "value": 25.43,
     "source": "Cui et al., CVPR 2019, Table 2 (class-balanced focal)"},
    {"method": "ldam_drw", "metric": "top-1 error %", "value": 22.97,
     "source": "Cao et al., NeurIPS 2019, Table 2 (LDAM-DRW)"},
    {"method": "ce", "metric": "top-1 error %", "value": 30.12,
     "source": "Zhang et al., AAAI 2021 (Bag of Tricks), CE baseline"},
    {"method": "wce-balanced", "metric": "top-1 error %", "value": 31.22,
     "source": "Zhang et al., AAAI 2021 (Bag of Tricks), inverse-frequency re-weighting"},
    {"method": "balanced_softmax", "metric": "top-1 error %", "value": 23.63,
     "source": "Zhang et al., AAAI 2021 (Bag of Tricks), balanced softmax"},
    {"method": "ce", "metric": "balanced accuracy", "value": 0.714,
     "source": "Menon et al., ICLR 2021 (arXiv:2007.07314), ERM"},
    {"method": "logit_adjusted", "metric": "balanced accuracy", "value": 0.779,
     "source": "Menon et al., ICLR 2021 (arXiv:2007.07314), logit-adjusted loss"},
]
# Published claims checked against our runs: (better, worse, who says so).
CLAIMS = [
    ("class_balanced_focal", "ce", "Cui et al. 2019: class-balanced focal beats softmax CE"),
    ("ldam_drw", "ce", "Cao et al. 2019: LDAM-DRW beats CE"),
    ("ce", "wce-balanced", "Zhang et al. 2021: plain inverse-frequency weighting is worse than CE"),
    ("balanced_softmax", "ce", "Zhang et al. 2021: balanced softmax beats CE"),
    ("balanced_softmax", "wce-balanced",
     "Zhang et al. 2021: balanced softmax beats inverse-frequency weighting"),
    ("logit_adjusted", "ce", "Menon et al. 2021: the logit-adjusted loss beats CE"),
    ("posthoc_logit_adjusted", "ce", "Menon et al. 2021: post-hoc logit adjustment beats CE"),
]


@dataclass
class LongTailConfig:
    datasets: tuple = tuple(DATASETS)
    imbalance_ratios: tuple = (10.0, 100.0)
    seeds: int = 3
    methods: tuple = LONG_TAIL_METHODS
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
        """Check every field; method aliases become the registry's names."""
        unknown = [d for d in self.datasets if d not in DATASETS]
        if unknown or not self.datasets:
            raise ValueError(
                f"unknown data set(s) {unknown}. Known: {', '.join(DATASETS)}."
            )
        self.methods = tuple(m.name for m in parse_methods(list(self.methods), command=CALLER))
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
# losses: one adapter between the registry's methods and the torch functional API
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
    (float64, slower), e.g. to rule out a backend difference. LDAM and balanced
    softmax always come from ``wce.torch``.
    """
    backend = require("wce.torch")
    names = ("weighted_cross_entropy", "focal_loss", "class_balanced_loss",
             "logit_adjusted_cross_entropy")
    if source == "reference":
        out = {n: _reference_loss(n) for n in names}
    else:
        out = {n: getattr(backend, n) for n in names}
    out["ldam_loss"] = backend.ldam_loss
    out["balanced_softmax_cross_entropy"] = backend.balanced_softmax_cross_entropy
    return out


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
    """CPU, torch, NumPy and Python versions: columns of every row of results.csv."""
    torch = require("torch")
    env = E.environment(packages=("numpy",), if_imported=())
    return {"cpu": env["cpu"], "torch": torch.__version__, "numpy": env["numpy"],
            "python": env["python"]}


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
    # A post-hoc method reuses the ce model, so ce is trained first whenever either is asked for.
    posthoc = {m for m in config.methods if METHODS[m].posthoc_adjustment}
    order = sorted(config.methods, key=lambda m: (m != "ce", m in posthoc))
    if posthoc and "ce" not in order:
        order = ["ce"] + order
    for method in order:
        start = time.perf_counter()
        if method in posthoc:
            logits = adjust_logits(ce_logits, counts, tau=config.tau)
            seconds = 0.0
        else:
            loss = METHODS[method].multiclass_loss(counts, config, losses)
            model = train(Xtr, ytr, loss, n_classes=C, seed=seed, config=config,
                          cosine=METHODS[method].loss == "ldam_drw")
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
    files.write_text_atomic(os.path.join(out, "results.csv"), results.to_csv(index=False))
    files.write_text_atomic(os.path.join(out, "per_class.csv"), per_class.to_csv(index=False))


# ---------------------------------------------------------------------------
# analysis; the report itself is written by wce.reporting.longtail
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
    """Mean rank of each method (1 = lowest mean error) over data sets, per IR (methods × IRs)."""
    pd = require("pandas")
    means = results.groupby(["imbalance_ratio", "dataset", "method"])["error"].mean()
    columns = {}
    for ir, part in means.groupby(level=0):
        table = part.droplevel(0).unstack("method")  # data sets × methods
        columns[ir] = pd.Series(S.mean_ranks(table.to_numpy(), higher_is_better=False),
                                index=table.columns)
    return pd.DataFrame(columns)


def write_report(results, per_class, out: str, config: LongTailConfig, *,
                 seconds: float | None = None, cpu_seconds: float | None = None,
                 command: str | None = None) -> str:
    """results.csv, per_class.csv, error.png, shots.png, report.md, config.json (and run.json
    with ``seconds``) under ``out``; returns the path of report.md."""
    _write_csv(results, per_class, out)
    return _report(results, per_class, out, config, seconds=seconds, cpu_seconds=cpu_seconds,
                   command=command)


def _report(results, per_class, out: str, config: LongTailConfig, *, seconds, cpu_seconds,
            command) -> str:
    """Everything but the CSVs (which --report-only reads and leaves as they are)."""
    from ..reporting import longtail as report

    methods = [m for m in LONG_TAIL_METHODS if m in set(results.method)]
    path = report.write(out, results, per_class, config, methods=methods, shots=SHOTS,
                        datasets={d: DATASETS[d] for d in config.datasets},
                        summary=summarise(results), ranks=mean_ranks(results),
                        claims=check_claims(results), published=PUBLISHED, seconds=seconds,
                        cpu_seconds=cpu_seconds, command=command)
    files.write_json_atomic(os.path.join(out, "config.json"), asdict(config), indent=2, default=list)
    if seconds is not None:
        files.write_json_atomic(os.path.join(out, "run.json"),
                                {"seconds": seconds, "cpu_seconds": cpu_seconds, "command": command},
                                indent=2)
    return path


def report_from_directory(out: str, *, command: str | None = None) -> str:
    """Rewrite the report of a finished run from its results.csv, per_class.csv and config.json."""
    pd = require("pandas")
    paths = [os.path.join(out, n) for n in ("results.csv", "per_class.csv", "config.json")]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise FileNotFoundError(f"no finished run in {out}: missing {', '.join(missing)}.")
    saved = files.read_json(paths[2])
    config = LongTailConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})
    run_info = files.read_json(os.path.join(out, "run.json")) or {}
    return _report(pd.read_csv(paths[0]), pd.read_csv(paths[1]), out, config,
                   seconds=run_info.get("seconds"), cpu_seconds=run_info.get("cpu_seconds"),
                   command=command or run_info.get("command"))
