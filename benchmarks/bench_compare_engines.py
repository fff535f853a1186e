"""The cost of running `wce compare` on Dask: the same comparison with `--jobs 2` and on a 2-worker
``LocalCluster``.

The same comparison (generated data sets of 20 features, the default methods, ``--model logreg``,
5 folds × 1 repeat; 4 data sets of 2,000 rows, short units, and 1 of 20,000 rows, longer units) runs the units of ``wce.experiments.runner.execute`` with

* ``local, jobs 1``: one process (the reference results);
* ``local, jobs 2``: the process pool of ``--jobs 2``;
* ``dask, cluster started by wce``: ``--engine dask --jobs 2``, the ``LocalCluster`` of 2 worker
  processes that wce starts and closes, start-up included;
* ``dask, running cluster``: the same units on a ``LocalCluster(n_workers=2,
  threads_per_worker=1)`` that is already running and has run a small comparison before
  (``scheduler=`` a client), so the time is the scheduling and transfer overhead alone; its
  start-up is reported beside it.

Validation and the report are the same for every engine and are not timed. Every run starts from
an empty output folder, the engines take turns in each round (the shared machine's changing load
falls on all alike), and the times are medians of ``--repeats`` rounds. Every run's per-fold
results are checked against the reference: they must be equal to 1e-12.

    .venv/bin/python benchmarks/bench_compare_engines.py             # the committed results
    .venv/bin/python benchmarks/bench_compare_engines.py --sizes 1x500 --repeats 1 --out /tmp/ce.csv  (quick)

Writes benchmarks/results/compare_engines.csv and compare_engines.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

# One BLAS thread in every process (set before NumPy starts): worker processes started later
# would otherwise sum in another order than this one and differ in the last bits.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from wce.reporting.environment import cpu_model  # noqa: E402

RESULTS = Path(__file__).parent / "results"
sys.path.insert(0, str(Path(__file__).parent))




def datasets(n: int, rows: int) -> list[str]:
    return [f"make_classification:n_samples={rows},n_features=20,n_informative=8,weights=0.9,seed={s}"
            for s in range(n)]


def run(specs: list[str], folds: int, **engine) -> tuple[float, list, int]:
    from wce.experiments.runner import Config, collect, execute, validate

    out = tempfile.mkdtemp(prefix="wce-bench-engines-")
    try:
        plan = validate(Config(datasets=specs, folds=folds, repeats=1, out=os.path.join(out, "R"), **engine))
        start = time.perf_counter()
        results = execute(plan, progress=False)
        seconds = time.perf_counter() - start
        return seconds, collect(plan, results), plan.n_units
    finally:
        shutil.rmtree(out, ignore_errors=True)


def max_difference(a: list, b: list, name: str = "") -> float:
    worst = 0.0
    for u, v in zip(a, b, strict=True):
        assert (u["dataset"], u["method"], u["fold"]) == (v["dataset"], v["method"], v["fold"])
        for k, x in u["metrics"].items():
            y = v["metrics"][k]
            if not (np.isnan(x) and np.isnan(y)):
                if abs(x - y) > 1e-12 and worst <= 1e-12:  # the first difference only
                    print(f"  {name}: {u['dataset']} {u['method']} fold {u['fold']} {k}: {x!r} vs {y!r}",
                          flush=True)
                worst = max(worst, abs(x - y))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["4x2000", "1x20000"],
                        help="comparisons to run, DATASETSxROWS each (default 4x2000 1x20000)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS / "compare_engines.csv"))
    args = parser.parse_args()

    import dask
    import distributed

    load = os.getloadavg()[0]
    started = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0")
    client = distributed.Client(cluster, set_as_default=False)
    startup = time.perf_counter() - started
    engines = {
        "local, jobs 1": {"jobs": 1},
        "local, jobs 2": {"jobs": 2},
        "dask, cluster started by wce": {"engine": "dask", "jobs": 2},
        "dask, running cluster": {"engine": "dask", "scheduler": client},
    }
    rows = []
    try:
        for engine in engines.values():  # warm-up, not timed: imports in the running cluster's workers
            run(datasets(1, 200), 3, **engine)
        for size in args.sizes:
            n, n_rows = (int(v) for v in size.lower().split("x"))
            specs = datasets(n, n_rows)
            times: dict[str, list[float]] = {name: [] for name in engines}
            reference, worst, units = None, 0.0, 0
            for round_ in range(args.repeats):
                for name, engine in engines.items():
                    seconds, result, units = run(specs, args.folds, **engine)
                    reference = result if reference is None else reference
                    worst = max(worst, max_difference(result, reference, name))
                    times[name].append(seconds)
                    print(f"{size}, round {round_ + 1}: {name}: {seconds:.2f} s", flush=True)
            assert worst <= 1e-12, f"the engines disagree by {worst}"
            base = statistics.median(times["local, jobs 2"])
            for name, engine in engines.items():
                med = statistics.median(times[name])
                rows.append({
                    "engine": name, "workers": engine.get("jobs", 2), "datasets": n, "rows": n_rows,
                    "units": units, "folds": args.folds, "repeats": args.repeats,
                    "median_s": round(med, 3), "min_s": round(min(times[name]), 3),
                    "max_s": round(max(times[name]), 3), "ms_per_unit": round(1000 * med / units, 1),
                    "ratio_to_jobs2": round(med / base, 3),
                    "startup_s": round(startup, 2) if name == "dask, running cluster" else "",
                    "max_abs_difference": f"{worst:.1e}",
                    "cpu": cpu_model(), "cpu_count": os.cpu_count(), "load_avg_1m_at_start": round(load, 2),
                    "python": platform.python_version(), "dask": dask.__version__,
                    "distributed": distributed.__version__,
                })
                print({k: rows[-1][k] for k in ("engine", "rows", "median_s", "ratio_to_jobs2")}, flush=True)
    finally:
        client.close()
        cluster.close()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    if out.resolve() == (RESULTS / "compare_engines.csv").resolve():
        from tables import write  # benchmarks/tables.py: the Markdown table the docs include

        print(f"wrote {out}, {write('compare_engines')}")


if __name__ == "__main__":
    main()
