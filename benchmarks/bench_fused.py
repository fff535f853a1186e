"""Fused weighted CE (wce.torch._fused) vs native F.cross_entropy(weight=...) on CPU.

Each (shape, implementation) runs in a fresh process: the peak-RSS growth of
one forward+backward above the inputs (VmHWM after resetting it through
/proc/self/clear_refs, minus VmRSS; extra memory as a multiple of the logits'
size), then the median (and 90th percentile) of 9 forward+backward timings.

"auto" is ``wce.torch.weighted_cross_entropy`` at its defaults; the CSV's
``path`` column says which kernel it ran ("fused" or "native", chosen by the
number of classes). "fused" is the fused kernel as "auto" runs it: the gradient buffer freed by the previous step is
reused, so steady-state steps skip the page faults of fresh memory. "fused, no
reuse" allocates a fresh buffer every call (``set_buffer_reuse(False)``), as
native does; "fused+hugepages" additionally sets ``USE_HUGE_PAGES`` (opt-in).
The first call of each process (the memory measurement) always starts with an
empty pool. Linux only. Writes benchmarks/results/fused.csv and fused.png.

    .venv/bin/python benchmarks/bench_fused.py [--plot-only]
"""

from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

SHAPES = [(1048576, 2), (65536, 10), (16384, 1000), (4096, 32000), (1024, 128256)]
IMPLEMENTATIONS = ["native", "auto", "fused", "fused, no reuse", "fused+hugepages, no reuse"]
REPEATS = 9
from wce.reporting.environment import cpu_model  # noqa: E402

RESULTS = Path(__file__).parent / "results"

CHILD = r"""
import json, sys, time
import torch, torch.nn.functional as F
import wce.torch as wt
import wce.torch._buffer_pool as fused
from wce.torch._dispatch import chosen_path
from wce.torch._fused import fused_weighted_cross_entropy
impl, N, C, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
fused.USE_HUGE_PAGES = "hugepages" in impl
fused.set_buffer_reuse("no reuse" not in impl)
torch.manual_seed(0)
x = torch.randn(N, C)
y = torch.randint(0, C, (N,))
w = torch.rand(C) + 0.5
def step(x=x, y=y):
    xx = x.detach().requires_grad_()
    if impl == "native":
        loss = F.cross_entropy(xx, y, weight=w)
    elif impl == "auto":
        loss = wt.weighted_cross_entropy(xx, y, class_weight=w)
    else:
        loss = fused_weighted_cross_entropy(xx, y, class_weight=w)
    loss.backward()
    return loss, xx.grad
def status(key):  # bytes, from /proc/self/status (Linux)
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
step(x[:8, :].contiguous(), y[:8] % C)  # warm up lazy initialisation outside the measurement
with open("/proc/self/clear_refs", "w") as fh:  # reset the peak (VmHWM) to the current RSS
    fh.write("5")
base = status("VmRSS")
loss, grad = step()
extra = status("VmHWM") - base
del loss, grad
times = []
for _ in range(repeats):
    t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"median_s": times[len(times) // 2], "p90_s": times[int(0.9 * (len(times) - 1))],
                  "extra_bytes": extra,
                  "path": {"native": "native", "auto": chosen_path(x.requires_grad_(), y,
                           class_weight=w)}.get(impl, "fused"),
                  "threads": torch.get_num_threads(), "torch": torch.__version__}))
"""




def run(impl: str, N: int, C: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, impl, str(N), str(C), str(REPEATS)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if "--plot-only" in sys.argv[1:]:  # redraw fused.png (and fused.md) from fused.csv
        with open(RESULTS / "fused.csv", newline="") as fh:
            rows = [{k: (float(v) if k in ("ratio_to_native", "extra_memory_x_logits") else
                         int(v) if k in ("N", "C") else v) for k, v in r.items()}
                    for r in csv.DictReader(fh)]
        plot(rows)
        from tables import write

        print(f"wrote {RESULTS / 'fused.png'}, {write('fused')}")
        return
    RESULTS.mkdir(exist_ok=True)
    rows = []
    for N, C in SHAPES:
        measured = {impl: run(impl, N, C) for impl in IMPLEMENTATIONS}
        logits_bytes = N * C * 4
        for impl, m in measured.items():
            rows.append({
                "N": N, "C": C, "implementation": impl, "path": m["path"],
                "median_ms": round(m["median_s"] * 1e3, 3),
                "p90_ms": round(m["p90_s"] * 1e3, 3),
                "ratio_to_native": round(m["median_s"] / measured["native"]["median_s"], 3),
                "extra_memory_x_logits": round(m["extra_bytes"] / logits_bytes, 3),
                "cpu": cpu_model(), "threads": m["threads"], "torch": m["torch"],
                "python": platform.python_version(),
            })
            print(f"{N:>6} x {C:<6} {impl:<16} ran {m['path']:<7} {rows[-1]['median_ms']:>9.1f} ms "
                  f"(p90 {rows[-1]['p90_ms']:.1f})  "
                  f"x{rows[-1]['ratio_to_native']:.2f} native  "
                  f"extra memory {rows[-1]['extra_memory_x_logits']:.2f}x logits", flush=True)
    path = RESULTS / "fused.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows)
    from tables import write  # benchmarks/tables.py: the Markdown table the docs include
    print(f"wrote {path}, {write('fused')}")


def plot(rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{N}x{C}" for N, C in SHAPES]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, key, title in [(axes[0], "ratio_to_native", "time / native (lower is better)"),
                           (axes[1], "extra_memory_x_logits", "extra memory / logits size")]:
        present = [impl for impl in IMPLEMENTATIONS if any(r["implementation"] == impl for r in rows)]
        width = 0.8 / len(present)
        for i, impl in enumerate(present):
            vals = [next(r[key] for r in rows if (r["N"], r["C"]) == s and r["implementation"] == impl)
                    for s in SHAPES]
            ax.bar([j + width * i for j in range(len(SHAPES))], vals, width=width, label=impl)
        if key == "ratio_to_native":
            ax.axhline(1.0, color="grey", lw=0.8)
            ax.axhline(0.5, color="grey", lw=0.8, ls=":")  # the target at C >= 32000: half native's time
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(SHAPES))], labels, rotation=15)
        ax.set_title(title)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(IMPLEMENTATIONS), fontsize=9)
    fig.suptitle(f"weighted CE fwd+bwd, float32, {rows[0]['threads']} threads, {rows[0]['cpu']}")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(RESULTS / "fused.png", dpi=110)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
