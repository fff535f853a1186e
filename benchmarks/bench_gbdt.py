"""Training time of wce's custom GBDT objectives vs the equivalent built-in objectives.

On a generated data set (default 1M rows, 50 features), for XGBoost and LightGBM:

* binary: ``binary_objective(pos_weight=r)`` vs the built-in logistic objective
  with ``scale_pos_weight=r``;
* 10-class: ``multiclass_objective(class_weight=w)`` vs the built-in softmax
  objective with per-sample weights ``w[y]``.

Both start from the same margin (``base_score`` / ``init_score``), use the same
parameters and threads, and train on the same prepared data (XGBoost
``QuantileDMatrix``, LightGBM ``Dataset``, built once outside the timing).
Built-in and custom runs alternate; each is repeated and the median reported.
The median time of one gradient/Hessian evaluation of the custom objective is
reported too (the Python cost added to every round). The machine is shared
with other jobs: expect noise of tens of percent, compare ratios, not seconds.

    .venv/bin/python benchmarks/bench_gbdt.py                  # 1M rows, 20 rounds, 3 repeats
    .venv/bin/python benchmarks/bench_gbdt.py --rows 100000    # quick look

The committed results come from (the 10-class task at 1M rows was too slow for the
shared machine):

    .venv/bin/python benchmarks/bench_gbdt.py --rows 100000 --rounds 20 --repeats 5
    .venv/bin/python benchmarks/bench_gbdt.py --rows 1000000 --rounds 20 --repeats 3 --tasks 2 --append

Writes benchmarks/results/gbdt.csv and gbdt.png.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

# Spin-waiting OpenMP threads collapse on a shared, oversubscribed machine; both the built-in
# and the custom runs use the same setting.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from wce.reporting.environment import cpu_model  # noqa: E402

RESULTS = Path(__file__).parent / "results"




def make_data(rows: int, features: int, classes: int, seed: int = 0):
    """Imbalanced labels from a noisy linear score: 10% positives, or a geometric class prior."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features), dtype=np.float32)
    coef = rng.standard_normal((features, max(classes, 2))).astype(np.float32) / np.sqrt(features)
    score = X @ coef + rng.standard_normal((rows, max(classes, 2)), dtype=np.float32)
    if classes == 2:
        s = score[:, 0]
        y = (s > np.quantile(s, 0.9)).astype(np.int64)
    else:
        score += np.log(0.6 ** np.arange(classes, dtype=np.float32))  # rarer classes at the end
        y = np.argmax(score, axis=1).astype(np.int64)
    return X, y


def median_time(fn, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def bench_xgboost(X, y, classes, rounds, threads, repeats):
    import xgboost as xgb

    from wce.weights import class_weights
    from wce.xgboost import XGBObjective

    common = {"tree_method": "hist", "max_depth": 6, "learning_rate": 0.1, "nthread": threads,
              "max_bin": 256, "seed": 0}
    if classes == 2:
        pw = float((y == 0).sum() / (y == 1).sum())
        obj = XGBObjective.binary(pos_weight=pw)
        base = obj.base_margin(y)
        d_native = d_custom = xgb.QuantileDMatrix(X, label=y, nthread=threads)
        native = {**common, "objective": "binary:logistic", "scale_pos_weight": pw,
                  "base_score": float(1.0 / (1.0 + np.exp(-base)))}
        custom = {**common, "base_score": base, "disable_default_eval_metric": True}
    else:
        cw = class_weights(y, scheme="balanced")
        obj = XGBObjective.multiclass(class_weight=cw)
        base = obj.base_margin(y).tolist()
        d_custom = xgb.QuantileDMatrix(X, label=y, nthread=threads)
        d_native = xgb.QuantileDMatrix(X, label=y, weight=cw[y], nthread=threads)
        native = {**common, "objective": "multi:softprob", "num_class": classes, "base_score": base}
        custom = {**common, "num_class": classes, "base_score": base,
                  "disable_default_eval_metric": True}
    runs = {
        "builtin": lambda: xgb.train(native, d_native, rounds),
        "custom": lambda: xgb.train(custom, d_custom, rounds, obj=obj),
    }
    margin = np.zeros((len(y), classes), np.float32) if classes > 2 else np.zeros(len(y), np.float32)
    return runs, lambda: obj(margin, d_custom), xgb.__version__


def bench_lightgbm(X, y, classes, rounds, threads, repeats):
    import lightgbm as lgb

    from wce.lightgbm import LGBMObjective
    from wce.weights import class_weights

    common = {"learning_rate": 0.1, "num_leaves": 63, "num_threads": threads, "verbose": -1,
              "max_bin": 255, "seed": 0, "boost_from_average": False}
    if classes == 2:
        pw = float((y == 0).sum() / (y == 1).sum())
        obj = LGBMObjective.binary(pos_weight=pw)
        d_native = d_custom = lgb.Dataset(X, label=y, init_score=obj.init_score(y),
                                          free_raw_data=False).construct()
        native = {**common, "objective": "binary", "scale_pos_weight": pw}
        custom = {**common, "objective": obj, "metric": "None"}
    else:
        cw = class_weights(y, scheme="balanced")
        obj = LGBMObjective.multiclass(class_weight=cw)
        init = obj.init_score(y)
        d_custom = lgb.Dataset(X, label=y, init_score=init, free_raw_data=False).construct()
        d_native = lgb.Dataset(X, label=y, weight=cw[y], init_score=init,
                               free_raw_data=False).construct()
        native = {**common, "objective": "multiclass", "num_class": classes}
        custom = {**common, "objective": obj, "num_class": classes, "metric": "None"}
    runs = {
        "builtin": lambda: lgb.train(native, d_native, rounds),
        "custom": lambda: lgb.train(custom, d_custom, rounds),
    }
    margin = np.zeros((len(y), classes)) if classes > 2 else np.zeros(len(y))
    return runs, lambda: obj(margin, d_custom), lgb.__version__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--libraries", default="xgboost,lightgbm")
    parser.add_argument("--tasks", default="2,10", help="numbers of classes, e.g. 2,10")
    parser.add_argument("--append", action="store_true",
                        help="add to the rows already in --out (e.g. another row count)")
    parser.add_argument("--out", default=str(RESULTS / "gbdt.csv"))
    parser.add_argument("--plot-only", action="store_true", help="redraw the PNG from --out")
    args = parser.parse_args()
    if args.plot_only:
        with Path(args.out).open(newline="") as fh:
            plot(list(csv.DictReader(fh)), Path(args.out).with_suffix(".png"))
        return

    rows = []
    for classes in (int(c) for c in args.tasks.split(",")):
        X, y = make_data(args.rows, args.features, classes)
        for library in args.libraries.split(","):
            bench = bench_xgboost if library == "xgboost" else bench_lightgbm
            runs, objective_call, version = bench(X, y, classes, args.rounds, args.threads,
                                                  args.repeats)
            grad_s, _ = median_time(objective_call, args.repeats)
            times: dict[str, list[float]] = {"builtin": [], "custom": []}
            for _ in range(args.repeats):  # alternate so that drift hits both alike
                for name, run in runs.items():
                    times[name].append(median_time(run, 1)[0])
            base = statistics.median(times["builtin"])
            for name, ts in times.items():
                med = statistics.median(ts)
                rows.append({
                    "library": library, "task": "binary" if classes == 2 else f"{classes}-class",
                    "implementation": name, "rows": args.rows, "features": args.features,
                    "rounds": args.rounds, "repeats": args.repeats,
                    "median_s": round(med, 3), "min_s": round(min(ts), 3),
                    "max_s": round(max(ts), 3), "ratio_to_builtin": round(med / base, 3),
                    "objective_call_s": round(grad_s, 4) if name == "custom" else "",
                    "cpu": cpu_model(), "threads": args.threads,
                    "cpu_count": os.cpu_count(), "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
                    "library_version": version,
                    "numpy": np.__version__, "python": platform.python_version(),
                })
                print({k: rows[-1][k] for k in ("library", "task", "implementation", "median_s",
                                                 "ratio_to_builtin", "objective_call_s")},
                      flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.append and out.exists():
        with out.open(newline="") as fh:
            kept = [r for r in csv.DictReader(fh) if int(r["rows"]) != args.rows]
        rows = kept + rows
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, out.with_suffix(".png"))
    if out.resolve() == (RESULTS / "gbdt.csv").resolve():
        from tables import write  # benchmarks/tables.py: the Markdown table the docs include
        print(f"wrote {out}, {write('gbdt')}")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for r in rows:
        for key in ("median_s", "min_s", "max_s", "ratio_to_builtin"):
            r[key] = float(r[key])
    groups = sorted({(r["library"], r["task"], int(r["rows"])) for r in rows})
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(groups)), 4.5))
    width = 0.38
    for offset, impl, color in ((-width / 2, "builtin", "#888888"), (width / 2, "custom", "#1f77b4")):
        values = [next(r for r in rows if (r["library"], r["task"], int(r["rows"])) == g
                       and r["implementation"] == impl) for g in groups]
        xs = np.arange(len(groups)) + offset
        ax.bar(xs, [v["median_s"] for v in values], width, label=impl, color=color,
               yerr=[[v["median_s"] - v["min_s"] for v in values],
                     [v["max_s"] - v["median_s"] for v in values]], capsize=3)
        if impl == "custom":
            for x, v in zip(xs, values):
                ax.annotate(f"{v['ratio_to_builtin']:.2f}x", (x, v["max_s"]), ha="center",
                            va="bottom", fontsize=9)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(groups)),
                  [f"{lib}\n{task}\n{n:,} rows" for lib, task, n in groups], fontsize=8)
    r0 = rows[0]
    ax.set_ylabel("training time, s (median, min-max)")
    ax.set_title(f"wce custom objective vs built-in: {r0['features']} features, "
                 f"{r0['rounds']} rounds, {r0['threads']} threads, ratio = custom / built-in\n"
                 f"{r0['cpu']} (shared machine: noisy)", fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
