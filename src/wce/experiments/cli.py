"""`wce compare` and `wce sweep`: the command-line side of the experiments.

Everything is validated (data sets, target, methods, model, numbers) before the
output directory is created, so a bad invocation leaves nothing half-written.
"""

from __future__ import annotations

import math
import os
import shlex
import sys

import numpy as np

from ..reporting.console import console as make_console
from .datasets import DEFAULT_DATASET
from .methods import COMPARE_METHODS, DEFAULT_METHODS, Options
from .verdict import METRIC_CHOICES
from .models import MODELS


def _common(p) -> None:
    p.add_argument("--target", help="label column of CSV/Parquet files")
    p.add_argument("--positive", metavar="LABEL",
                   help="the positive class (default: the minority class of each data set)")
    p.add_argument("--model", default="logreg", choices=MODELS, help="model (default logreg)")
    p.add_argument("--folds", type=int, default=5, help="stratified folds (default 5)")
    p.add_argument("--repeats", type=int, default=2, help="repeats of the k-fold (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the folds and models (default 0)")
    p.add_argument("--jobs", type=int, default=1,
                   help="worker processes (default 1); with --engine dask, the workers of the local cluster")
    p.add_argument("--engine", default="local", choices=("local", "dask"),
                   help="where the units run: local (this machine, --jobs processes) or dask (a Dask "
                        "cluster; needs wce[dask]) (default local)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="--engine dask: the scheduler's address, e.g. tcp://host:8786 (default: start a "
                        "local cluster of --jobs workers)")
    p.add_argument("--scheduler-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="--engine dask: seconds to wait for the scheduler at --scheduler (default 10)")
    p.add_argument("--C", type=float, default=1.0, dest="C",
                   help="inverse L2 strength of logreg: penalty ||w||²/(2 C n) (default 1)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")


def register(subparsers) -> None:
    c = subparsers.add_parser(
        "compare", help="compare weighting, threshold moving and resampling by cross-validation",
        description="Compare class weighting with plain CE + threshold moving and resampling "
                    f"on imbalanced data sets. Methods: {', '.join(COMPARE_METHODS)}, pos_weight:R.")
    c.add_argument("data", nargs="*", default=[DEFAULT_DATASET],
                   help=f"CSV/Parquet paths or data set specs (default {DEFAULT_DATASET}); "
                        "keel:all = the 100 KEEL imbalanced sets")
    _common(c)
    c.add_argument("--methods", default="default",
                   help="comma-separated methods, 'default' or 'all' (default: "
                        f"{','.join(DEFAULT_METHODS)})")
    c.add_argument("--cost-fn", type=float, default=None,
                   help="cost of a false negative for cost_sensitive (default n_neg/n_pos of the fold)")
    c.add_argument("--cost-fp", type=float, default=1.0, help="cost of a false positive (default 1)")
    c.add_argument("--gamma", type=float, default=2.0, help="focal gamma (default 2)")
    c.add_argument("--beta", type=float, default=0.9999, help="class_balanced beta (default 0.9999)")
    c.add_argument("--tau", type=float, default=1.0, help="logit_adjusted tau (default 1)")
    c.add_argument("--smote-ratio", type=float, default=0.5,
                   help="minority/majority ratio after SMOTE in wce-balanced+smote (default 0.5)")
    c.add_argument("--metric", default="f1", choices=METRIC_CHOICES,
                   help="the metric the verdict and recommendation are about (default f1: minority-class F1, "
                        "the metric ce+threshold tunes its threshold for)")
    c.add_argument("--no-recalibrate", dest="recalibrate", action="store_false",
                   help="skip the Platt/isotonic recalibration columns of weighted methods (one extra fit "
                        "per weighted unit)")
    c.add_argument("--out", default="wce-report", help="report folder (default wce-report)")
    c.set_defaults(func=compare_command)

    s = subparsers.add_parser(
        "sweep", help="cross-validated metrics as pos_weight grows from 1 to beyond n_neg/n_pos",
        description="Choose a positive-class weight by cross-validation rather than by folklore.")
    s.add_argument("data", nargs="?", default=DEFAULT_DATASET)
    _common(s)
    s.add_argument("--weights", help="comma-separated pos_weight values (default: 12 points, log-spaced "
                                     "from 1 to 4 × n_neg/n_pos, plus n_neg/n_pos)")
    s.add_argument("--out", default="wce-sweep", help="output folder (default wce-sweep)")
    s.set_defaults(func=sweep_command)


def _expand(specs: list) -> list:
    out = []
    for spec in specs:
        if spec in ("keel:all", "keel:*"):
            from .datasets import list_keel

            out += [f"keel:{n}" for n in list_keel()]
        else:
            out.append(spec)
    return out


def _config(args, methods, out):
    from .runner import Config

    options = Options(cost_fn=getattr(args, "cost_fn", None), cost_fp=getattr(args, "cost_fp", 1.0),
                      gamma=getattr(args, "gamma", 2.0), beta=getattr(args, "beta", 0.9999),
                      tau=getattr(args, "tau", 1.0), smote_ratio=getattr(args, "smote_ratio", 0.5),
                      recalibrate=getattr(args, "recalibrate", False))  # sweep: none
    data = args.data if isinstance(args.data, list) else [args.data]
    return Config(datasets=_expand(data), target=args.target, model=args.model, methods=methods,
                  folds=args.folds, repeats=args.repeats, seed=args.seed, jobs=args.jobs, out=out,
                  C=args.C, options=options, positive=getattr(args, "positive", None),
                  metric=getattr(args, "metric", "f1"), engine=getattr(args, "engine", "local"),
                  scheduler=getattr(args, "scheduler", None),
                  scheduler_timeout=getattr(args, "scheduler_timeout", 10.0))


def _describe_data(plan, console) -> None:
    """Which label is positive in each data set, one line each."""
    for p in plan.problems:
        rule = "chosen with --positive" if plan.config.positive is not None else "the minority class"
        console.print(f"{p.name}: positive class {p.positive!r} ({rule}), {p.n_pos} of {len(p.y)} rows",
                      soft_wrap=True, markup=False, highlight=False)


def _ignore_further_interrupts() -> None:
    """After Ctrl-C the command only reports and exits: a second Ctrl-C must not turn that into a
    traceback (the workers are already stopped)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _describe_reuse(plan, console) -> None:
    if plan.reused:
        console.print(f"reused {plan.reused} of {plan.n_units} finished units from "
                      f"{os.path.abspath(plan.unit_dir)}", soft_wrap=True, markup=False, highlight=False)


def _command_line() -> str:
    return "wce " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else "wce compare"


def compare_command(args) -> int:
    from ..reporting import compare as report
    from ..reporting import tables
    from .api import run_plan
    from .runner import validate

    plan = validate(_config(args, args.methods, args.out))  # raises before anything is written
    console = make_console()
    _describe_data(plan, console)
    for method, reason in plan.skipped:
        console.print(f"[yellow]skipped[/yellow] {reason}", soft_wrap=True)  # one line, grep-able
    try:
        result = run_plan(plan, progress=args.progress, console=console, command=_command_line())
    except KeyboardInterrupt:
        _ignore_further_interrupts()
        raise
    _describe_reuse(plan, console)
    summary, units = result.report, result.units
    if "dataset_verdict" not in summary:
        from .verdict import attach

        attach(summary, plan, units, metric=plan.config.metric)
    paths = report.write(summary, units, args.out)
    for line in summary["dataset_verdict"]["headline"]:  # the answer first
        console.print(line, soft_wrap=True, markup=False, highlight=False)
    header, cells, title = report.main_table(summary, compact=True)
    console.print(tables.rich_table(header, cells, title))
    for line in summary["verdict"]:
        console.print(f"• {line}")
    console.print(f"Report: {os.path.abspath(paths['report.md'])} (results.csv, results.json, plots beside it)",
                  soft_wrap=True)  # a path must stay copyable: never wrap it
    return 0


def sweep_command(args) -> int:
    from ..reporting import files, plots, tables
    from .analysis import per_dataset
    from .runner import collect, execute, validate

    if args.weights:
        try:
            weights = sorted({float(w) for w in args.weights.split(",") if w.strip()})
        except ValueError:
            raise ValueError(f"--weights must be comma-separated numbers; got {args.weights!r}.") from None
        if not weights or min(weights) <= 0 or not all(map(math.isfinite, weights)):
            raise ValueError(f"--weights must be positive numbers; got {args.weights!r}.")
    else:
        weights = None
    # Validate with one method first to learn the imbalance ratio of the data set.
    probe = validate(_config(args, ["ce"], args.out))
    problem = probe.problems[0]
    ratio = problem.imbalance_ratio
    if weights is None:
        # The grid only depends on the label counts of the whole set; each fold's model uses the
        # fixed weight it is given, so no test-fold information reaches a model.
        weights = sorted(set(np.round(np.geomspace(1.0, 4.0 * ratio, 12), 4).tolist()) | {round(ratio, 4)})
    names = [f"pos_weight:{w:g}" for w in weights]
    plan = validate(_config(args, names, args.out))
    console = make_console()
    _describe_data(plan, console)
    try:
        results = execute(plan, progress=args.progress, console=console)
    except KeyboardInterrupt:
        _ignore_further_interrupts()
        raise
    _describe_reuse(plan, console)
    units = collect(plan, results)
    summary = {(r["method"], r["metric"]): r for r in per_dataset(units, plan.methods)}
    rows = []
    for w, m in zip(weights, [m.name for m in plan.methods]):
        row = {"pos_weight": w}
        for metric in ("f1", "pr_auc", "mcc", "brier", "ece", "brier_corrected"):
            r = summary[(m, metric)]
            row[metric], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = r["mean"], r["ci_low"], r["ci_high"]
        rows.append(row)
    best = max(rows, key=lambda r: r["f1"])
    files.write_csv_atomic(os.path.join(args.out, "sweep.csv"), rows, list(rows[0]))
    files.write_json_atomic(os.path.join(args.out, "sweep.json"),
                      {"dataset": problem.name, "imbalance_ratio": ratio, "model": args.model,
                       "folds": args.folds, "repeats": args.repeats, "seed": args.seed,
                       "best_f1_pos_weight": best["pos_weight"], "rows": rows})
    plots.sweep(rows, os.path.join(args.out, "sweep.png"), ratio)
    header = ["pos_weight", "F1", "PR-AUC", "MCC", "Brier", "ECE", "Brier corr."]
    cells = [[f"{r['pos_weight']:g}" + (" (n_neg/n_pos)" if abs(r["pos_weight"] - ratio) < 1e-3 else "")]
             + [f"{r[k]:.3f}" for k in ("f1", "pr_auc", "mcc", "brier", "ece", "brier_corrected")] for r in rows]
    console.print(tables.rich_table(header, cells, f"{problem.name}: pos_weight sweep, {args.model}, "
                                                   f"{args.folds}-fold × {args.repeats}"))
    console.print(f"Best mean F1 at pos_weight = {best['pos_weight']:g} (n_neg/n_pos = {ratio:.3g}). "
                  f"Outputs: {os.path.abspath(args.out)}/sweep.csv, sweep.json, sweep.png", soft_wrap=True)
    return 0
