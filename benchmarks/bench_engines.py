"""Counting class labels in a large Parquet file: local streaming vs Dask vs Spark.

A skewed integer label column (20 classes, Zipf-like) is generated in chunks
with pyarrow into /tmp (not committed), then counted by

* ``local``   ``wce.weights.engines.count_file(engine="local")``: pyarrow record
  batches, ``pyarrow.compute.value_counts`` per batch (bounded memory), at the
  reader's default batch size (2**16 rows) and at ``batch_size=2**20``
  (``local_batch_1m``);
* ``dask``    ``count_file(engine="dask")`` on Dask's threaded scheduler;
* ``spark``   ``count_file(engine="spark")`` on a ``local[N]`` SparkSession
  (session start-up reported separately);
* ``pyarrow_value_counts``  the whole column read, then ``pyarrow.compute.value_counts``;
* ``pandas_value_counts``   ``pandas.read_parquet(...)[col].value_counts()``.

Each method runs in a fresh subprocess so that its peak RSS (``VmHWM``) is
its own; the Spark JVM's RSS is sampled with psutil (children of the driver).
Every method's counts are checked against the local reader's. Times are
medians of ``--repeats`` runs on a shared machine: read ratios, not absolutes.

Run:  python benchmarks/bench_engines.py            (10M and 100M rows)
      python benchmarks/bench_engines.py --rows 1000000 --repeats 1   (quick)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
METHODS = ("local", "local_batch_1m", "dask", "spark", "pyarrow_value_counts", "pandas_value_counts")
TARGET = "label"
N_CLASSES = 20
CHUNK = 1_000_000


# ------------------------------------------------------------------ data
def make_file(rows: int, seed: int = 0) -> str:
    """A Parquet file of ``rows`` int64 labels, written chunk by chunk (never all in memory)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = f"/tmp/wce_bench_labels_{rows}.parquet"
    if os.path.exists(path) and pq.ParquetFile(path).metadata.num_rows == rows:
        return path
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, N_CLASSES + 1) ** 1.5
    p /= p.sum()
    schema = pa.schema([(TARGET, pa.int64())])
    tmp = path + ".tmp"
    with pq.ParquetWriter(tmp, schema) as writer:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            writer.write_table(pa.table({TARGET: rng.choice(N_CLASSES, size=n, p=p)}, schema=schema))
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------- worker
class _ChildRSS(threading.Thread):
    """Samples the summed RSS of this process's children (the Spark JVM) every 50 ms."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = 0
        self.running = True

    def run(self):
        import psutil

        me = psutil.Process()
        while self.running:
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.05)


def _counter(method: str, threads: int):
    if method == "local":
        from wce.weights.engines import count_file

        return lambda path: count_file(path, TARGET, engine="local").as_dict()
    if method == "local_batch_1m":
        from wce.weights.engines import count_file

        return lambda path: count_file(path, TARGET, engine="local", batch_size=1 << 20).as_dict()
    if method == "dask":
        import dask

        from wce.weights.engines import count_file

        dask.config.set(scheduler="threads", num_workers=threads)
        return lambda path: count_file(path, TARGET, engine="dask").as_dict()
    if method == "spark":
        from wce.weights.engines import count_file
        from wce.weights.spark import local_session

        session = local_session(f"local[{threads}]", **{"spark.sql.shuffle.partitions": str(threads),
                                                        "spark.driver.memory": "2g"})
        return lambda path: count_file(path, TARGET, engine="spark", spark=session).as_dict()
    if method == "pyarrow_value_counts":
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        def run(path):
            vc = pc.value_counts(pq.read_table(path, columns=[TARGET])[TARGET])
            return dict(zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()))
        return run
    if method == "pandas_value_counts":
        import pandas as pd

        return lambda path: {int(k): int(v) for k, v in
                        pd.read_parquet(path, columns=[TARGET])[TARGET].value_counts().items()}
    raise ValueError(method)


def _peak_rss_mb() -> float:
    """This process's RSS high-water mark. VmHWM starts afresh at exec; ``ru_maxrss`` would
    carry the parent's peak over into the subprocess on Linux."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(method: str, path: str, repeats: int, threads: int, warmup: str) -> dict:
    import psutil

    jvm = _ChildRSS()
    jvm.start()
    t0 = time.perf_counter()
    run = _counter(method, threads)
    run(warmup)  # imports, lazy initialisation, Spark's first-query JIT: not part of counting
    startup = time.perf_counter() - t0
    baseline = psutil.Process().memory_info().rss
    times, counts = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        counts = run(path)
        times.append(time.perf_counter() - t)
    jvm.running = False
    jvm.join()
    return {"method": method, "times": times, "startup_s": startup,
            "baseline_rss_mb": baseline / 2**20,
            "peak_rss_mb": _peak_rss_mb(),
            "jvm_peak_rss_mb": jvm.peak / 2**20 if jvm.peak else None,
            "counts": {str(k): v for k, v in sorted(counts.items())}}


# ---------------------------------------------------------------- parent
def _environment() -> dict:
    import dask
    import numpy
    import pandas
    import pyarrow
    import pyspark

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu_model": cpu, "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "pyarrow": pyarrow.__version__, "dask": dask.__version__, "pyspark": pyspark.__version__,
            "pandas": pandas.__version__, "numpy": numpy.__version__,
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}


def run_case(rows: int, methods, repeats: int, threads: int, timeout: float) -> list[dict]:
    import pyarrow.parquet as pq

    t = time.perf_counter()
    path, warmup = make_file(rows), make_file(10_000)
    print(f"{rows:,} rows: {path} ({os.path.getsize(path) / 2**20:.1f} MiB on disk, "
          f"ready in {time.perf_counter() - t:.1f}s)", flush=True)
    in_memory_mb = pq.ParquetFile(path).metadata.num_rows * 8 / 2**20  # int64 column
    out, reference = [], None
    for method in methods:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", method, "--path", path,
               "--repeats", str(repeats), "--threads", str(threads), "--warmup", warmup]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"  {method}: timed out after {timeout}s", flush=True)
            continue
        if proc.returncode != 0:
            print(f"  {method}: failed\n{proc.stderr[-2000:]}", flush=True)
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        if method == "local":
            reference = res["counts"]
        med = statistics.median(res["times"])
        row = {"rows": rows, "method": method, "repeats": repeats, "threads": threads,
               "seconds_median": round(med, 4), "seconds_min": round(min(res["times"]), 4),
               "rows_per_s": round(rows / med), "startup_s": round(res["startup_s"], 2),
               "baseline_rss_mb": round(res["baseline_rss_mb"], 1),
               "peak_rss_mb": round(res["peak_rss_mb"], 1),
               "peak_minus_baseline_mb": round(res["peak_rss_mb"] - res["baseline_rss_mb"], 1),
               "jvm_peak_rss_mb": None if res["jvm_peak_rss_mb"] is None else round(res["jvm_peak_rss_mb"], 1),
               "column_in_memory_mb": round(in_memory_mb, 1),
               "file_mb": round(os.path.getsize(path) / 2**20, 1),
               "counts_match_local": reference is not None and res["counts"] == reference}
        out.append(row)
        print(f"  {method:22s} {med:8.3f}s  {row['rows_per_s'] / 1e6:8.1f} M rows/s  "
              f"peak RSS {row['peak_rss_mb']:7.1f} MiB (+{row['peak_minus_baseline_mb']:.1f})"
              + (f"  JVM {row['jvm_peak_rss_mb']:.0f} MiB" if row["jvm_peak_rss_mb"] else "")
              + f"  match={row['counts_match_local']}", flush=True)
    local = next((r for r in out if r["method"] == "local"), None)
    for r in out:
        r["time_ratio_vs_local"] = round(r["seconds_median"] / local["seconds_median"], 3) if local else None
    return out


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    sizes = sorted({r["rows"] for r in rows})
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
    width = 0.8 / len(METHODS)
    x = np.arange(len(sizes))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, method in enumerate(METHODS):
        got = {r["rows"]: r for r in rows if r["method"] == method}
        thr = [got[s]["rows_per_s"] / 1e6 if s in got else 0 for s in sizes]
        extra = [max(got[s]["peak_minus_baseline_mb"], 0.1) if s in got else 0 for s in sizes]
        jvm = [(got[s]["jvm_peak_rss_mb"] or 0) if s in got else 0 for s in sizes]
        axes[0].bar(x + i * width, thr, width, label=method, color=colors[i])
        axes[1].bar(x + i * width, extra, width, label=method, color=colors[i])
        if any(jvm):
            axes[1].bar(x + i * width, jvm, width, bottom=extra, color="none", edgecolor=colors[i],
                        hatch="//", label=f"{method}: JVM (child processes)")
    for k, s in enumerate(sizes):
        col = next(r["column_in_memory_mb"] for r in rows if r["rows"] == s)
        axes[1].hlines(col, k - width / 2, k + 0.8 - width / 2, colors="k", linestyles="--",
                       label="label column in memory (int64)" if k == 0 else None)
    titles = ("throughput (M rows/s, higher is better)",
              "peak RSS above the process after imports and warm-up (MiB, log)")
    for ax, title in zip(axes, titles):
        ax.set_xticks(x + 0.4 - width / 2, [f"{s / 1e6:g}M rows" for s in sizes])
        ax.set_title(title, fontsize=10)
    axes[1].set_yscale("log")
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    env = rows[0]
    fig.suptitle(f"Counting a skewed int64 label column in Parquet: {env['cpu_model']}, "
                 f"{env['threads']} threads, shared machine (1-min load {env['load_avg_1m_at_start']}), "
                 f"median of {env['repeats']}", fontsize=9)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)


def _number(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return None if text == "" else text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000_000, 100_000_000])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--out", default=os.path.join(RESULTS, "engines"))
    parser.add_argument("--replot", action="store_true", help="redraw the PNG from the CSV")
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.path, args.repeats, args.threads, args.warmup)))
        return
    if args.replot:
        with open(args.out + ".csv", newline="") as fh:
            rows = [{k: _number(v) for k, v in r.items()} for r in csv.DictReader(fh)]
        plot(rows, args.out + ".png")
        return
    env = _environment()
    rows = []
    for n in args.rows:
        rows.extend(run_case(n, args.methods, args.repeats, args.threads, args.timeout))
    for r in rows:
        r.update(env)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, args.out + ".png")
    print(f"wrote {args.out}.csv and {args.out}.png")
    if os.path.abspath(args.out + ".csv") == os.path.abspath(os.path.join(os.path.dirname(__file__), "results", "engines.csv")):
        from tables import write  # benchmarks/tables.py: the Markdown table the docs include
        print(f"wrote {write('engines')}")


if __name__ == "__main__":
    main()
