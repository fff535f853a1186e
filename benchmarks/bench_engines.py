"""Counting class labels in a large file: wce's local reader vs DuckDB, Dask, Spark, pyarrow, pandas.

A skewed integer label column (20 classes, Zipf-like) is generated in chunks
with pyarrow into /tmp (not committed; 1M-row row groups), then counted by

* ``local``   ``wce.weights.engines.count_file(engine="local")``: pyarrow record
  batches of 2**16 rows, ``np.bincount`` on each batch's buffer (bounded memory);
  ``local_batch_1m``: the same with ``batch_size=2**20``;
* ``arrow_bincount``  the bare loop ``ParquetFile.iter_batches`` + ``np.bincount``
  (no checks, no nulls, no negative labels): the floor the reader is measured against;
* ``duckdb``  ``ClassCounts.from_sql("duckdb://", table=PATH)``: DuckDB's
  ``SELECT label, count(*) FROM read_parquet(PATH) GROUP BY label``;
* ``dask``    ``count_file(engine="dask")`` on Dask's threaded scheduler;
* ``spark``   ``count_file(engine="spark")`` on a ``local[N]`` SparkSession
  (session start-up reported separately);
* ``pyarrow_value_counts``  the whole column read, then ``pyarrow.compute.value_counts``;
* ``pandas_value_counts``   ``pandas.read_parquet(...)[col].value_counts()``.

The same labels as CSV (smaller: ``--csv-rows``) are counted by ``csv_local``
(``ClassCounts.from_csv``), ``csv_duckdb`` (``read_csv``) and
``csv_pyarrow_value_counts`` (``pyarrow.csv.read_csv`` + ``value_counts``); as
string labels (``"class_00"``...; ``--string-rows``) in Parquet by ``str_local``
(dictionary-encoded read, ``np.bincount`` on the indices), ``str_duckdb``,
``str_pyarrow_value_counts`` and ``str_pandas_value_counts``.

Each method runs in a fresh subprocess so that its peak RSS (``VmHWM``) is
its own, once per round for ``--repeats`` rounds (the methods take turns, so that
the shared machine's changing load falls on all of them alike; Spark, slow to
start, runs its repeats in one process); the Spark JVM's RSS is sampled with psutil (children of the driver),
and pyarrow's memory pool reports its own high-water mark. Every method's
counts are checked against the local reader's. Times are medians of
``--repeats`` runs on a shared machine: read ratios, not absolutes.

Run:  python benchmarks/bench_engines.py            (10M and 100M rows, CSV at 10M)
      python benchmarks/bench_engines.py --rows 1000000 --csv-rows 1000000 --repeats 1 \
          --methods local duckdb pyarrow_value_counts csv_local --out /tmp/engines   (quick)
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
PARQUET_METHODS = ("local", "local_batch_1m", "arrow_bincount", "duckdb", "dask", "spark",
                   "pyarrow_value_counts", "pandas_value_counts")
CSV_METHODS = ("csv_local", "csv_duckdb", "csv_pyarrow_value_counts")
STRING_METHODS = ("str_local", "str_duckdb", "str_pyarrow_value_counts", "str_pandas_value_counts")
METHODS = PARQUET_METHODS + CSV_METHODS + STRING_METHODS
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


def make_string_file(rows: int) -> str:
    """The same labels as :func:`make_file` as strings ``class_00``... in Parquet."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = f"/tmp/wce_bench_string_labels_{rows}.parquet"
    if os.path.exists(path) and pq.ParquetFile(path).metadata.num_rows == rows:
        return path
    names = np.array([f"class_{i:02d}" for i in range(N_CLASSES)])
    source = pq.ParquetFile(make_file(rows))
    schema = pa.schema([(TARGET, pa.string())])
    tmp = path + ".tmp"
    with pq.ParquetWriter(tmp, schema) as writer:
        for batch in source.iter_batches(batch_size=CHUNK):
            labels = names[np.asarray(batch.column(0))]
            writer.write_table(pa.table({TARGET: labels}, schema=schema))
    os.replace(tmp, path)
    return path


def make_csv(rows: int) -> str:
    """The same labels as :func:`make_file` as a one-column CSV file, written batch by batch."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = f"/tmp/wce_bench_labels_{rows}.csv"
    if os.path.exists(path) and os.path.getsize(path) > rows:
        return path
    source = pq.ParquetFile(make_file(rows))
    tmp = path + ".tmp"
    with pacsv.CSVWriter(tmp, source.schema_arrow) as writer:
        for batch in source.iter_batches(batch_size=CHUNK):
            writer.write_batch(batch)
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
    if method.startswith("str_"):  # the same counters, on the file of string labels
        return _counter(method[len("str_"):], threads)
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
    if method == "arrow_bincount":
        import numpy as np
        import pyarrow.parquet as pq

        def run(path):
            total = np.zeros(N_CLASSES, dtype=np.int64)
            pf = pq.ParquetFile(path, pre_buffer=False)
            for batch in pf.iter_batches(batch_size=1 << 16, columns=[TARGET]):
                total += np.bincount(np.asarray(batch.column(0)), minlength=N_CLASSES)
            return {i: int(n) for i, n in enumerate(total) if n}
        return run
    if method in ("duckdb", "csv_duckdb"):
        from wce.weights import ClassCounts

        return lambda path: ClassCounts.from_sql("duckdb://", table=path, target=TARGET).as_dict()
    if method == "csv_local":
        from wce.weights import ClassCounts

        return lambda path: ClassCounts.from_csv(path, TARGET).as_dict()
    if method == "csv_pyarrow_value_counts":
        import pyarrow.compute as pc
        import pyarrow.csv as pacsv

        def run(path):
            vc = pc.value_counts(pacsv.read_csv(path)[TARGET])
            return dict(zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()))
        return run
    if method == "pyarrow_value_counts":
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        def run(path):
            vc = pc.value_counts(pq.read_table(path, columns=[TARGET])[TARGET])
            return dict(zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()))
        return run
    if method == "pandas_value_counts":
        import pandas as pd

        return lambda path: {k if isinstance(k, str) else int(k): int(v) for k, v in
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
    import pyarrow as pa

    return {"method": method, "times": times, "startup_s": startup,
            "arrow_pool_peak_mb": pa.default_memory_pool().max_memory() / 2**20,
            "baseline_rss_mb": baseline / 2**20,
            "peak_rss_mb": _peak_rss_mb(),
            "jvm_peak_rss_mb": jvm.peak / 2**20 if jvm.peak else None,
            "counts": {str(k): v for k, v in sorted(counts.items())}}


# ---------------------------------------------------------------- parent
def _environment() -> dict:
    import dask
    import duckdb
    import numpy
    import pandas
    import pyarrow
    import pyspark

    from wce.reporting.environment import cpu_model

    cpu = cpu_model()
    return {"cpu_model": cpu, "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "pyarrow": pyarrow.__version__, "dask": dask.__version__, "pyspark": pyspark.__version__,
            "pandas": pandas.__version__, "numpy": numpy.__version__, "duckdb": duckdb.__version__,
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}


def run_case(rows: int, fmt: str, methods, repeats: int, threads: int, timeout: float) -> list[dict]:
    """Time ``methods`` on ``rows`` labels stored as ``fmt`` ("parquet" or "csv")."""
    import pyarrow.parquet as pq

    t = time.perf_counter()
    maker = {"parquet": make_file, "csv": make_csv, "strings": make_string_file}[fmt]
    path, warmup = maker(rows), maker(10_000)
    print(f"{rows:,} rows, {fmt}: {path} ({os.path.getsize(path) / 2**20:.1f} MiB on disk, "
          f"ready in {time.perf_counter() - t:.1f}s)", flush=True)
    # the label column in memory: int64, or strings of 8 characters and their int32 offsets
    per_row = 12 if fmt == "strings" else 8
    in_memory_mb = rows * per_row / 2**20
    meta = pq.ParquetFile(make_file(rows)).metadata
    group_mb = max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) * per_row / 2**20
    local_name = {"parquet": "local", "csv": "csv_local", "strings": "str_local"}[fmt]
    # Rounds: every method once per round, in turn, so that a change in the shared machine's
    # load falls on all of them alike; Spark (tens of seconds to start) runs its repeats in one
    # process, in the first round.
    calls: dict[str, list[dict]] = {m: [] for m in methods}
    for round_ in range(repeats):
        for method in methods:
            if method == "spark" and round_:
                continue
            n_repeats = repeats if method == "spark" else 1
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", method, "--path", path,
                   "--repeats", str(n_repeats), "--threads", str(threads), "--warmup", warmup]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"  {method}: timed out after {timeout}s", flush=True)
                continue
            if proc.returncode != 0:
                print(f"  {method}: failed\n{proc.stderr[-2000:]}", flush=True)
                continue
            calls[method].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    out = []
    reference = calls.get(local_name, [{}])[0].get("counts") if calls.get(local_name) else None
    for method in methods:
        got = calls[method]
        if not got:
            continue
        times = [t for res in got for t in res["times"]]
        med = statistics.median(times)
        peak = max(got, key=lambda res: res["peak_rss_mb"] - res["baseline_rss_mb"])
        jvm = [res["jvm_peak_rss_mb"] for res in got if res["jvm_peak_rss_mb"]]
        row = {"rows": rows, "file": fmt, "method": method, "repeats": len(times), "threads": threads,
               "seconds_median": round(med, 4), "seconds_min": round(min(times), 4),
               "rows_per_s": round(rows / med),
               "startup_s": round(statistics.median(res["startup_s"] for res in got), 2),
               "baseline_rss_mb": round(peak["baseline_rss_mb"], 1),
               "peak_rss_mb": round(peak["peak_rss_mb"], 1),
               "peak_minus_baseline_mb": round(peak["peak_rss_mb"] - peak["baseline_rss_mb"], 1),
               "arrow_pool_peak_mb": round(max(res["arrow_pool_peak_mb"] for res in got), 1),
               "jvm_peak_rss_mb": round(max(jvm), 1) if jvm else None,
               "column_in_memory_mb": round(in_memory_mb, 1),
               "row_group_mb": round(group_mb, 1) if fmt != "csv" else None,
               "file_mb": round(os.path.getsize(path) / 2**20, 1),
               "counts_match_local": reference is not None
               and all(res["counts"] == reference for res in got)}
        out.append(row)
        print(f"  {method:26s} {med:8.3f}s  {row['rows_per_s'] / 1e6:8.1f} M rows/s  "
              f"peak RSS {row['peak_rss_mb']:7.1f} MiB (+{row['peak_minus_baseline_mb']:.1f}, "
              f"arrow pool {row['arrow_pool_peak_mb']:.1f})"
              + (f"  JVM {row['jvm_peak_rss_mb']:.0f} MiB" if row["jvm_peak_rss_mb"] else "")
              + f"  match={row['counts_match_local']}", flush=True)
    local = next((r for r in out if r["method"] == local_name), None)
    for r in out:
        r["time_ratio_vs_local"] = round(r["seconds_median"] / local["seconds_median"], 3) if local else None
    base = next((r for r in out if r["method"].endswith("pyarrow_value_counts")), None)
    if local and base:
        goal = " (goal for Parquet: at least 1.5x)" if fmt != "csv" else ""
        print(f"  {local_name}: {base['seconds_median'] / local['seconds_median']:.2f}x the speed of "
              f"{base['method']}{goal}", flush=True)
    return out


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys((r.get("file") or "parquet", r["rows"]) for r in rows))
    colors = plt.get_cmap("tab20").colors
    color = {m: colors[i % len(colors)] for i, m in enumerate(METHODS)}
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.6))
    ticks, seen, x = [], set(), 0.0
    for fmt, n in cases:
        here = [r for r in rows if (r.get("file") or "parquet") == fmt and r["rows"] == n]
        start = x
        for r in here:
            label = None if r["method"] in seen else r["method"]
            seen.add(r["method"])
            c = color.get(r["method"], "grey")
            axes[0].bar(x, r["rows_per_s"] / 1e6, 0.8, color=c, label=label)
            axes[1].bar(x, max(r["peak_minus_baseline_mb"], 0.1), 0.8, color=c)
            if r.get("jvm_peak_rss_mb"):
                axes[1].bar(x, r["jvm_peak_rss_mb"], 0.8, bottom=max(r["peak_minus_baseline_mb"], 0.1),
                            color="none", edgecolor=c, hatch="//")
            x += 1
        col = here[0]["column_in_memory_mb"] if here else None
        if col:
            axes[1].hlines(col, start - 0.4, x - 0.6, colors="k", linestyles="--")
        group = here[0].get("row_group_mb") if here else None
        if group and fmt != "csv":
            axes[1].hlines(group, start - 0.4, x - 0.6, colors="k", linestyles=":")
        what = {"strings": "parquet, string labels"}.get(fmt, fmt)
        ticks.append(((start + x - 1) / 2, f"{n / 1e6:g}M rows\n{what}"))
        x += 1.0
    titles = ("throughput (M rows/s, higher is better)",
              "peak RSS above the process after imports and warm-up (MiB, log);\n"
              "dashed: the label column in memory, dotted: one row group of it; hatched: Spark JVM")
    for ax, title in zip(axes, titles):
        ax.set_xticks([t for t, _ in ticks], [label for _, label in ticks], fontsize=8)
        ax.set_title(title, fontsize=9)
    axes[1].set_yscale("log")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=6, fontsize=8)
    env = rows[0]
    fig.suptitle(f"Counting a skewed label column (20 classes): {env['cpu_model']}, "
                 f"{env['threads']} threads, shared machine (1-min load {env['load_avg_1m_at_start']}), "
                 f"median of {env['repeats']}", fontsize=9)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
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
    parser.add_argument("--csv-rows", type=int, nargs="*", default=[10_000_000],
                        help="sizes of the CSV cases (none: no CSV case)")
    parser.add_argument("--string-rows", type=int, nargs="*", default=[10_000_000],
                        help="sizes of the string-label Parquet cases (none: no such case)")
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
    cases = (("parquet", args.rows, PARQUET_METHODS), ("strings", args.string_rows, STRING_METHODS),
             ("csv", args.csv_rows, CSV_METHODS))
    for fmt, sizes, names in cases:
        methods = [m for m in args.methods if m in names]
        for n in sizes if methods else ():
            rows.extend(run_case(n, fmt, methods, args.repeats, args.threads, args.timeout))
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
