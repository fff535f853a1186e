"""`wce compare` at scale against the same study written with scikit-learn + imbalanced-learn.

A generated binary problem (``make_classification``: ``--features`` features, 5% positives,
seed 0) of each size in ``--sizes`` is run by

* ``wce``: ``wce.compare(X, y, methods=..., folds=5, repeats=2, out=DIR, recalibrate=False)``
  then ``CompareResult.to_report`` (report.md, results.csv/json, plots, recommended.json);
* ``wce+recalibration``: the same with the default ``recalibrate=True`` (one extra fit per
  weighted unit, for the calibration-repair columns), if ``--recalibration``;
* ``sklearn``: the script a scikit-learn user would write for the same study: the same
  ``RepeatedStratifiedKFold`` splits, and per fold a ``StandardScaler`` pipeline with
  ``LogisticRegression`` (plain; ``class_weight`` for each weighting method, scaled to a
  mean row weight of 1 as wce's weighted mean; ``TunedThresholdClassifierCV`` on a
  stratified 25% split for the tuned threshold; the plain model with its intercept
  shifted for logit adjustment) and imbalanced-learn pipelines (``RandomOverSampler``,
  ``SMOTE``, ``RandomUnderSampler``, SMOTE to 0.5 + balanced weights), scored with the
  same metrics (scikit-learn's, and the same 10-bin ECE), averaged per method.

The methods are wce's default set without ``focal`` (scikit-learn's ``LogisticRegression``
has no focal loss): ce, ce+threshold, wce-balanced, wce-inverse_sqrt, pos_weight,
class_balanced, logit_adjusted, cost_sensitive, ros, smote, rus, wce-balanced+smote.

Each (tool, size) runs in a fresh subprocess with one BLAS/OpenMP thread (both tools alike)
that loads the data from a ``.npy`` file, resets its peak-RSS counter (Linux
``/proc/self/clear_refs``; a psutil sampling thread otherwise) and reports the time of the
study and its peak RSS (``VmHWM``: the data included); for wce also the bytes of the unit
files it keeps to resume. The tools take turns, so the changing load of the shared machine
falls on both. Writes ``benchmarks/results/compare.csv``, ``compare.md`` (through
``benchmarks/tables.py``) and ``compare.png``.

Run:  python benchmarks/bench_compare.py                                  (10k and 100k rows)
      python benchmarks/bench_compare.py --sizes 10000,100000,1000000 --recalibration
      python benchmarks/bench_compare.py --sizes 5000 --folds 3 --repeats 1 --out /tmp/bc   (quick)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
METHODS = ("ce", "ce+threshold", "wce-balanced", "wce-inverse_sqrt", "pos_weight", "class_balanced",
           "logit_adjusted", "cost_sensitive", "ros", "smote", "rus", "wce-balanced+smote")
TOOLS = ("wce", "wce+recalibration", "sklearn")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
GOALS = {"peak_rss_mb": 1500.0, "unit_files_mb": 50.0, "time_ratio_vs_sklearn": 1.2}  # at 1M rows


# ---------------------------------------------------------------- data
def data_path(rows: int, features: int) -> str:
    return os.path.join(tempfile.gettempdir(), f"wce_bench_compare_{rows}x{features}.npz")


def make_data(rows: int, features: int) -> str:
    """The generated problem, saved once (``X`` float64, ``y`` 0/1 with 5% positives)."""
    import numpy as np
    from sklearn.datasets import make_classification

    path = data_path(rows, features)
    if not os.path.exists(path):
        X, y = make_classification(n_samples=rows, n_features=features, n_informative=min(8, features),
                                   n_redundant=min(4, max(features - 8, 0)), weights=[0.95], flip_y=0.01,
                                   random_state=0)
        tmp = path + ".tmp.npz"
        np.savez(tmp, X=X, y=y.astype(np.int64))
        os.replace(tmp, path)
    return path


# ---------------------------------------------------------------- memory
class PeakRSS:
    """Peak resident memory of this process from now on: ``VmHWM`` after resetting it
    (``/proc/self/clear_refs``, Linux), else the maximum of RSS sampled every 10 ms."""

    def __init__(self):
        import psutil

        self.process = psutil.Process()
        self.baseline = self.process.memory_info().rss
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self.kernel = True
        except OSError:
            self.kernel = False
        self.sampled = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.01):
            self.sampled = max(self.sampled, self.process.memory_info().rss)

    def stop(self) -> float:
        """Peak RSS in bytes."""
        self._stop.set()
        self._thread.join()
        if self.kernel:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return max(int(line.split()[1]) * 1024, self.sampled)
        return self.sampled


# ---------------------------------------------------------------- the two studies
def run_wce(X, y, folds: int, repeats: int, recalibrate: bool) -> dict:
    import wce

    with tempfile.TemporaryDirectory(prefix="wce-bench-") as tmp:
        result = wce.compare(X, y, methods=",".join(METHODS), folds=folds, repeats=repeats, seed=0,
                             out=os.path.join(tmp, "units"), recalibrate=recalibrate)
        result.to_report(os.path.join(tmp, "report"))
        files = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(tmp, "units")) for f in fs
                 if f.endswith(".json")]
        size = sum(os.path.getsize(f) for f in files)
        f1 = result.summary.query("metric == 'f1'").set_index("method")["mean"].to_dict()
    return {"unit_files": len(files), "unit_files_mb": size / 2**20, "f1": f1}


def _ece(y, p, n_bins: int = 10) -> float:
    import numpy as np

    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    gap = np.abs(np.bincount(bins, weights=y, minlength=n_bins) - np.bincount(bins, weights=p, minlength=n_bins))
    return float(gap.sum() / len(p))


def _scores(y, p, threshold: float) -> dict:
    import numpy as np
    from sklearn import metrics as M

    pred = (p >= threshold).astype(int)
    recall = M.recall_score(y, pred, zero_division=0)
    tnr = M.recall_score(1 - y, 1 - pred, zero_division=0)
    return {"precision": M.precision_score(y, pred, zero_division=0), "recall": recall,
            "f1": M.f1_score(y, pred, zero_division=0), "balanced_accuracy": (recall + tnr) / 2,
            "g_mean": float(np.sqrt(recall * tnr)), "mcc": M.matthews_corrcoef(y, pred),
            "pr_auc": M.average_precision_score(y, p), "roc_auc": M.roc_auc_score(y, p),
            "brier": M.brier_score_loss(y, p), "ece": _ece(y, p)}


def _mean_one(weights: dict, y) -> dict:
    """Class weights scaled to a mean row weight of 1 (wce's weighted mean Σw·l/Σw, times n)."""
    import numpy as np

    n = np.bincount(y, minlength=2)
    scale = len(y) / (n[0] * weights[0] + n[1] * weights[1])
    return {0: weights[0] * scale, 1: weights[1] * scale}


def sklearn_estimator(method: str, y, seed: int):
    """The scikit-learn / imbalanced-learn pipeline of one method for training labels ``y``."""
    import numpy as np
    from imblearn.over_sampling import SMOTE, RandomOverSampler
    from imblearn.pipeline import make_pipeline
    from imblearn.under_sampling import RandomUnderSampler
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedShuffleSplit, TunedThresholdClassifierCV
    from sklearn.preprocessing import StandardScaler

    n_neg, n_pos = np.bincount(y, minlength=2)
    r = n_neg / n_pos

    def lr(class_weight=None):
        return LogisticRegression(C=1.0, class_weight=class_weight, max_iter=500)

    if method in ("ce", "logit_adjusted"):
        return make_pipeline(StandardScaler(), lr())
    if method == "ce+threshold":
        inner = StratifiedShuffleSplit(n_splits=1, test_size=0.25, random_state=seed)
        return TunedThresholdClassifierCV(make_pipeline(StandardScaler(), lr()), scoring="f1", cv=inner)
    if method == "wce-balanced":
        return make_pipeline(StandardScaler(), lr("balanced"))
    if method == "wce-inverse_sqrt":
        return make_pipeline(StandardScaler(), lr(_mean_one({0: 1 / np.sqrt(n_neg), 1: 1 / np.sqrt(n_pos)}, y)))
    if method == "pos_weight":  # PyTorch's mean over N: the weights as they are
        return make_pipeline(StandardScaler(), lr({0: 1.0, 1: r}))
    if method == "class_balanced":
        beta = 0.9999
        w = {c: (1 - beta) / (1 - beta ** n) for c, n in ((0, n_neg), (1, n_pos))}
        return make_pipeline(StandardScaler(), lr(_mean_one(w, y)))
    if method == "cost_sensitive":  # cost matrix [[0, 1], [r, 0]]: CE weighted by (1 + 1, 1 + r)
        return make_pipeline(StandardScaler(), lr(_mean_one({0: 2.0, 1: 1.0 + r}, y)))
    if method == "ros":
        return make_pipeline(StandardScaler(), RandomOverSampler(random_state=seed), lr())
    if method == "smote":
        return make_pipeline(StandardScaler(), SMOTE(random_state=seed), lr())
    if method == "rus":
        return make_pipeline(StandardScaler(), RandomUnderSampler(random_state=seed), lr())
    if method == "wce-balanced+smote":
        return make_pipeline(StandardScaler(), SMOTE(sampling_strategy=0.5, random_state=seed), lr("balanced"))
    raise ValueError(method)


def run_sklearn(X, y, folds: int, repeats: int) -> dict:
    import numpy as np
    import pandas as pd
    from scipy.special import expit
    from sklearn.model_selection import RepeatedStratifiedKFold

    rows = []
    cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=0)
    for k, (train, test) in enumerate(cv.split(np.zeros(len(y)), y)):
        seed = k
        for method in METHODS:
            model = sklearn_estimator(method, y[train], seed).fit(X[train], y[train])
            threshold = getattr(model, "best_threshold_", 0.5)
            if method == "logit_adjusted":  # plain CE, intercept shifted by -tau log(n_pos/n_neg)
                n_neg, n_pos = np.bincount(y[train], minlength=2)
                z = model.decision_function(X[test]) + np.log(n_neg / n_pos)
                p = expit(z)
            elif hasattr(model, "estimator_"):  # TunedThresholdClassifierCV
                p = model.estimator_.predict_proba(X[test])[:, 1]
            else:
                p = model.predict_proba(X[test])[:, 1]
            rows.append({"method": method, "fold": k, **_scores(y[test], p, threshold)})
    summary = pd.DataFrame(rows).groupby("method").mean(numeric_only=True)
    return {"f1": summary["f1"].to_dict()}


def worker(tool: str, rows: int, features: int, folds: int, repeats: int) -> dict:
    import numpy as np

    # Every module either study uses is imported before the clock starts, for both alike.
    import imblearn.over_sampling  # noqa: F401
    import imblearn.pipeline  # noqa: F401
    import imblearn.under_sampling  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import pandas  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import sklearn.model_selection  # noqa: F401

    import wce.experiments.api  # noqa: F401
    import wce.reporting.compare  # noqa: F401

    data = np.load(data_path(rows, features))
    X, y = data["X"], data["y"]
    peak = PeakRSS()
    start = time.perf_counter()
    if tool == "sklearn":
        out = run_sklearn(X, y, folds, repeats)
    else:
        out = run_wce(X, y, folds, repeats, recalibrate=tool == "wce+recalibration")
    seconds = time.perf_counter() - start
    out.update(seconds=seconds, peak_rss_mb=peak.stop() / 2**20, baseline_rss_mb=peak.baseline / 2**20,
               data_mb=(X.nbytes + y.nbytes) / 2**20, peak_from="VmHWM" if peak.kernel else "psutil")
    return out


# ---------------------------------------------------------------- parent
def _environment(threads: int) -> dict:
    import imblearn
    import numpy
    import scipy
    import sklearn

    import wce

    from wce.reporting.environment import cpu_model

    cpu = cpu_model()
    return {"cpu_model": cpu, "cpu_count": os.cpu_count(), "threads": threads,
            "python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__,
            "sklearn": sklearn.__version__, "imblearn": imblearn.__version__, "wce": wce.__version__,
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}


def run_one(tool: str, rows: int, args) -> dict:
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(args.threads)
    command = [sys.executable, os.path.abspath(__file__), "--worker", tool, "--sizes", str(rows),
               "--features", str(args.features), "--folds", str(args.folds), "--repeats", str(args.repeats)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=args.timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} at {rows} rows failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


FIELDS = ["rows", "features", "folds", "repeats", "methods", "tool", "seconds", "peak_rss_mb", "baseline_rss_mb",
          "data_mb", "unit_files", "unit_files_mb", "time_ratio_vs_sklearn", "memory_ratio_vs_sklearn",
          "f1_max_abs_difference_vs_sklearn", "peak_from", "cpu_model", "cpu_count", "threads", "python", "numpy",
          "scipy", "sklearn", "imblearn", "wce", "load_avg_1m_at_start"]


def plot(rows: list, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tools = [t for t in TOOLS if any(r["tool"] == t for r in rows)]
    names = {"wce": "wce compare", "wce+recalibration": "wce compare + recalibration",
             "sklearn": "scikit-learn + imbalanced-learn script"}
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for i, tool in enumerate(tools):
        part = sorted((r for r in rows if r["tool"] == tool), key=lambda r: r["rows"])
        x = [r["rows"] for r in part]
        style = {"marker": "osD"[i], "ls": ("-", "--", ":")[i], "label": names[tool]}
        axes[0].plot(x, [r["seconds"] for r in part], **style)
        axes[1].plot(x, [r["peak_rss_mb"] for r in part], **style)
        if tool != "sklearn":
            axes[2].plot(x, [r["unit_files_mb"] for r in part], **style)
    axes[1].axhline(GOALS["peak_rss_mb"], color="grey", ls="--", lw=1, label="goal at 1M rows")
    axes[2].axhline(GOALS["unit_files_mb"], color="grey", ls="--", lw=1, label="goal at 1M rows")
    for ax, label in zip(axes, ("seconds (whole study)", "peak RSS (MiB, data included)",
                                "unit files kept to resume (MiB)")):
        ax.set(xscale="log", yscale="log", xlabel="rows (20 features)", ylabel=label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[2].legend(fontsize=8)
    r = rows[0]
    fig.suptitle(f"{len(METHODS)} methods, logistic regression, {r['folds']}-fold × {r['repeats']} CV; "
                 f"{r['cpu_model']}, {r['threads']} thread, shared machine (1-min load {r['load_avg_1m_at_start']})",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated row counts")
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads of each run")
    parser.add_argument("--recalibration", action="store_true", help="also time wce's default recalibration")
    parser.add_argument("--timeout", type=float, default=7200.0, help="seconds per run")
    parser.add_argument("--out", default=RESULTS, help="folder of compare.csv/.md/.png")
    parser.add_argument("--append", action="store_true",
                        help="keep the rows of other sizes already in OUT/compare.csv (a size run again "
                             "replaces its rows)")
    parser.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.worker:
        print(json.dumps(worker(args.worker, sizes[0], args.features, args.folds, args.repeats)))
        return 0
    env = _environment(args.threads)
    tools = ["wce", "sklearn"] + (["wce+recalibration"] if args.recalibration else [])
    rows = []
    for n in sizes:
        make_data(n, args.features)
        got = {}
        for tool in tools:
            got[tool] = run_one(tool, n, args)
            print(f"{n:>9} rows  {tool:<18} {got[tool]['seconds']:8.1f} s  peak {got[tool]['peak_rss_mb']:7.0f} MiB"
                  + (f"  units {got[tool]['unit_files_mb']:.2f} MiB" if "unit_files_mb" in got[tool] else ""),
                  flush=True)
        ref = got["sklearn"]
        for tool in tools:
            g = got[tool]
            diff = max(abs(g["f1"][m] - ref["f1"][m]) for m in METHODS)
            rows.append({"rows": n, "features": args.features, "folds": args.folds, "repeats": args.repeats,
                         "methods": len(METHODS), "tool": tool, "seconds": round(g["seconds"], 2),
                         "peak_rss_mb": round(g["peak_rss_mb"], 1), "baseline_rss_mb": round(g["baseline_rss_mb"], 1),
                         "data_mb": round(g["data_mb"], 1), "unit_files": g.get("unit_files", ""),
                         "unit_files_mb": round(g["unit_files_mb"], 3) if "unit_files_mb" in g else "",
                         "time_ratio_vs_sklearn": round(g["seconds"] / ref["seconds"], 3),
                         "memory_ratio_vs_sklearn": round(g["peak_rss_mb"] / ref["peak_rss_mb"], 3),
                         "f1_max_abs_difference_vs_sklearn": round(diff, 4), "peak_from": g["peak_from"], **env})
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "compare.csv")
    if args.append and os.path.exists(path):
        with open(path, newline="") as fh:
            kept = [r for r in csv.DictReader(fh) if int(r["rows"]) not in sizes]
        for r in kept:
            for key in ("rows", "unit_files"):
                r[key] = int(r[key]) if r[key] else ""
            for key in ("seconds", "peak_rss_mb", "unit_files_mb"):
                r[key] = float(r[key]) if r[key] else ""
        rows = sorted(kept + rows, key=lambda r: (r["rows"], TOOLS.index(r["tool"])))
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, os.path.join(args.out, "compare.png"))
    if os.path.abspath(args.out) == os.path.abspath(RESULTS):
        sys.path.insert(0, HERE)
        import tables

        print(f"wrote {tables.write('compare')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
