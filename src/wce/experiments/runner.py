"""The runner behind `wce compare`: validate, run every (data set, method, fold) unit, aggregate.

Resumable: each unit's result is written atomically when it finishes (a temp
file in the same directory, then ``os.replace``) under
``OUT/units/<settings hash>/<data set>-<fingerprint>/<method>/r<repeat>-f<fold>.json``.
The fingerprint is a digest of the data actually used (features, labels, feature
names, positive label), so a file edited in place, or another file with the same
name, never reuses the results of the old data; two data sets whose names differ
only in characters a folder name cannot hold still get separate folders. A run
started again with the same settings loads those files and computes only the
missing units; each computed unit is also appended to ``computed.log`` beside
them. Changing the model, folds, repeats, seed or method options changes the
hash, so stale results are never reused; a unit file that cannot be read (an
older version, a damaged file) is computed again.

With ``jobs > 1`` the units run in worker processes that ignore Ctrl-C (the parent
handles it: it stops the workers at once and keeps the finished units) and exit
when the parent dies, even by SIGKILL. With ``engine="dask"`` the units run on a Dask cluster
(``wce.experiments.engines``); the results come back and are written here in the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sys
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import _validation as V
from ..reporting.files import check_output_dir, read_json, write_json_atomic
from .datasets import DEFAULT_DATASET, Dataset, fingerprint, load_dataset
from .methods import DEFAULT_METHODS, Options, parse_methods
from .models import check_model, unsupported_reason
from .protocol import Problem, make_problem, model_label, run_unit, splits

CALLER = "wce compare"
# Part of the settings hash: bump when a change to the code changes what a unit computes,
# so results of an older version are not mixed with new ones.
RESULTS_VERSION = 5


@dataclass
class Config:
    datasets: list = field(default_factory=lambda: [DEFAULT_DATASET])
    target: str | None = None
    model: str = "logreg"
    methods: list = field(default_factory=lambda: list(DEFAULT_METHODS))
    folds: int = 5
    repeats: int = 2
    seed: int = 0
    jobs: int = 1
    out: str | None = "wce-report"
    C: float = 1.0
    options: Options = field(default_factory=Options)
    positive: Any = None  # the positive label; None: the minority class of each data set
    metric: str = "f1"  # what the per-data-set verdict is about (wce.experiments.verdict); not in the key
    # Where the units run (wce.experiments.engines); not in the key: every engine gives the same results.
    engine: str = "local"
    scheduler: Any = None  # engine "dask": a scheduler address, a Client or a cluster; None: a LocalCluster
    scheduler_timeout: float = 10.0  # seconds to wait for the scheduler at an address

    def settings_key(self) -> str:
        """Hash of everything that changes a unit's result (not the list of data sets or methods:
        each data set's folder carries the fingerprint of its data)."""
        text = json.dumps({"model": model_key(self.model), "folds": self.folds, "repeats": self.repeats,
                           "seed": self.seed, "C": self.C, "options": asdict(self.options),
                           "version": RESULTS_VERSION}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def model_key(model) -> str:
    """A model's name, or for an estimator its class and parameters (what changes its results)."""
    if isinstance(model, str):
        return model
    params = model.get_params(deep=True) if hasattr(model, "get_params") else {}
    return f"{type(model).__module__}.{type(model).__qualname__}" + repr(sorted(
        (k, repr(v)) for k, v in params.items()))


@dataclass
class Plan:
    """A validated run: problems, methods, splits and the units still to compute."""

    config: Config
    problems: list
    methods: list
    skipped: list  # (method, reason) pairs not supported by the model
    splits: dict  # dataset name -> [(repeat, fold, train, test)]
    reused: int = 0  # units found finished on disk by the last execute()
    notes: list = field(default_factory=list)  # lines to show the user (e.g. a data set given twice)

    @property
    def unit_dir(self) -> str:
        return os.path.join(self.config.out, "units", self.config.settings_key())

    def unit_path(self, dataset: str, method: str, repeat: int, fold: int) -> str:
        return os.path.join(self.unit_dir, self.dataset_folder(dataset), safe_name(method),
                            f"r{repeat}-f{fold}.json")

    def dataset_folder(self, dataset: str) -> str:
        """``<name>-<fingerprint>``: unique per data, short enough for any file system."""
        problem = next(p for p in self.problems if p.name == dataset)
        return f"{safe_name(dataset)[:60]}-{problem.fingerprint[:16]}"

    def units(self):
        for problem in self.problems:
            for method in self.methods:
                for repeat, fold, train, test in self.splits[problem.name]:
                    yield problem, method, repeat, fold, train, test

    @property
    def n_units(self) -> int:
        return sum(len(self.splits[p.name]) for p in self.problems) * len(self.methods)


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+=-]", "_", text)


def validate(config: Config) -> Plan:
    """Check everything (output folder, data, methods, model, numbers) before anything is written or
    trained; ValueError says why."""
    if config.out is not None:
        check_output_dir(config.out)
        units = os.path.join(config.out, "units")
        if os.path.exists(units) and not os.path.isdir(units):
            raise ValueError(f"--out {config.out!r}: {units!r} is a file, where finished units are kept; "
                             "remove it or choose another --out.")
    from .verdict import check_metric

    check_metric(config.metric)
    config.folds = V.check_positive_int(config.folds, "folds", caller=CALLER, minimum=2)
    config.repeats = V.check_positive_int(config.repeats, "repeats", caller=CALLER)
    config.jobs = V.check_positive_int(config.jobs, "jobs", caller=CALLER)
    from .engines import check as check_engine

    check_engine(config.engine, config.scheduler, config.scheduler_timeout)
    V.check_float(config.C, "C", caller=CALLER, low=0.0, low_inclusive=False)
    o = config.options
    if o.cost_fn is not None:
        V.check_float(o.cost_fn, "cost_fn", caller=CALLER, low=0.0)
    V.check_float(o.cost_fp, "cost_fp", caller=CALLER, low=0.0)
    if o.cost_fp == 0 and o.cost_fn == 0:
        raise ValueError("--cost-fn and --cost-fp are both 0: no mistake costs anything.")
    V.check_float(o.gamma, "gamma", caller=CALLER, low=0.0)
    V.check_float(o.beta, "beta", caller=CALLER, low=0.0, high=1.0, high_inclusive=False)
    V.check_float(o.tau, "tau", caller=CALLER, low=0.0)
    V.check_float(o.smote_ratio, "smote_ratio", caller=CALLER, low=0.0, low_inclusive=False, high=1.0)
    methods = parse_methods(config.methods)
    if isinstance(config.model, str):
        check_model(config.model)
        reasons = {m.name: unsupported_reason(config.model, m) for m in methods}
    else:
        from .protocol import estimator_reasons

        reasons = estimator_reasons(config.model, methods)
    skipped = [(m, reasons[m.name]) for m in methods if reasons[m.name]]
    methods = [m for m in methods if not reasons[m.name]]
    if not methods:
        where = f"--model {config.model}" if isinstance(config.model, str) else model_label(config.model)
        raise ValueError(f"None of the methods runs with {where}: {skipped[0][1]}.")
    if not config.datasets:
        raise ValueError("No data set given.")
    problems, names, by_digest, by_spec = [], set(), {}, {}
    for spec in config.datasets:
        if isinstance(spec, str) and spec in by_spec:
            continue  # the very same argument twice: one data set
        data = spec if isinstance(spec, Dataset) else load_dataset(spec, target=config.target)
        label = spec if isinstance(spec, str) else data.name
        problem = make_problem(data, folds=config.folds, positive=config.positive)
        problem.spec = label
        same = fingerprint(problem.X, problem.y)  # the values only: renamed columns are the same data
        if same in by_digest:
            # Counting one data set twice would inflate the tests across data sets.
            raise ValueError(f"{by_digest[same]!s} and {label!s} are the same data "
                             "(identical features and labels); give each data set once.")
        if problem.name in names:  # e.g. two files called data.csv in different folders
            k = 2
            while f"{problem.name}#{k}" in names:
                k += 1
            problem.name = f"{problem.name}#{k}"
        names.add(problem.name)
        by_digest[same] = label
        if isinstance(spec, str):
            by_spec[spec] = problem
        problems.append(problem)
    split_map = {p.name: splits(p.y, folds=config.folds, repeats=config.repeats, seed=config.seed)
                 for p in problems}
    return Plan(config, problems, methods, skipped, split_map)


# Problems for worker processes (inherited through fork, not pickled per unit).
_WORKER_PROBLEMS: dict = {}


def _work(args, problem=None):
    """One unit; the problem comes with it (engine dask) or from ``_WORKER_PROBLEMS`` (local)."""
    name, method, repeat, fold, train, test, (model, options, seed, C) = args
    problem = _WORKER_PROBLEMS[name] if problem is None else problem
    return run_unit(problem, method, model, repeat, fold, train, test, options=options, seed=seed, C=C)


def _set_parent_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies (prctl PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return False


def _init_worker(parent: int) -> None:
    """Worker set-up: Ctrl-C is the parent's business; die with the parent, never outlive it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _set_parent_death_signal()
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch():  # the portable fallback (and a second guard): poll the parent's pid
        import time

        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="wce-parent-watch", daemon=True).start()


def _stop_pool(pool) -> None:
    """Stop the workers now (SIGTERM, then SIGKILL for any still there); Ctrl-C is ignored meanwhile."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        workers = list(getattr(pool, "_pool", []) or [])
        pool.terminate()
        for w in workers:
            w.join(timeout=2)
            if w.is_alive():
                w.kill()
                w.join(timeout=2)
        pool.join()
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _readable_unit(done, problem, method, repeat: int, fold: int):
    """A unit result read from disk, if it is complete and is the unit asked for (else None)."""
    if not isinstance(done, dict) or not isinstance(done.get("metrics"), dict):
        return None
    if done.get("method") != method.name or done.get("repeat") != repeat or done.get("fold") != fold:
        return None
    if not isinstance(done.get("curves"), dict) or not all(k in done for k in ("n_train", "n_test", "seconds")):
        return None
    done["dataset"] = problem.name  # the fingerprint matched: the same data, perhaps renamed
    return done


def execute(plan: Plan, *, progress: bool = True, console=None) -> dict:
    """Run the missing units, writing each as it finishes; return ``{path: result}`` of all units.

    ``plan.reused`` is set to the number of units found finished on disk."""
    config = plan.config
    settings = (config.model, config.options, config.seed, config.C)
    results, pending = {}, []
    for problem, method, repeat, fold, train, test in plan.units():
        path = plan.unit_path(problem.name, method.name, repeat, fold)
        done = _readable_unit(read_json(path), problem, method, repeat, fold) if os.path.isfile(path) else None
        if done is not None:
            results[path] = done
        else:
            pending.append((path, (problem.name, method, repeat, fold, train, test, settings)))
    plan.reused = len(results)
    os.makedirs(plan.unit_dir, exist_ok=True)
    log_path = os.path.join(plan.unit_dir, "computed.log")

    def finish(path, result):
        write_json_atomic(path, result)
        with open(log_path, "a") as log:
            log.write(f"{result['dataset']}\t{result['method']}\t{result['repeat']}\t{result['fold']}\t"
                      f"{result['seconds']:.3f}\n")
        results[path] = result

    _WORKER_PROBLEMS.clear()
    _WORKER_PROBLEMS.update({p.name: p for p in plan.problems})
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   console=console, disable=not progress, transient=False)
    with bar:
        task = bar.add_task(f"{len(pending)} to run, {len(results)} done before", total=plan.n_units,
                            completed=len(results))
        if config.engine == "dask" and pending:
            from .engines import run_dask

            def done(path, result):
                finish(path, result)
                bar.advance(task)

            run_dask(pending, {p.name: p for p in plan.problems}, _work, done, scheduler=config.scheduler,
                     workers=config.jobs, timeout=config.scheduler_timeout)
        elif config.jobs == 1 or len(pending) <= 1:
            for path, args in pending:
                finish(path, _work(args))
                bar.advance(task)
        else:
            import multiprocessing

            ctx = multiprocessing.get_context("fork")
            pool = ctx.Pool(processes=min(config.jobs, len(pending)), initializer=_init_worker,
                            initargs=(os.getpid(),))
            try:
                paths = [path for path, _ in pending]
                for i, result in pool.imap_unordered(_indexed_work, list(enumerate(a for _, a in pending))):
                    finish(paths[i], result)
                    bar.advance(task)
            except BaseException:
                _stop_pool(pool)  # Ctrl-C or a failed unit: no worker keeps computing
                raise
            pool.close()
            pool.join()
    return results


def _indexed_work(item):
    i, args = item
    return i, _work(args)


def collect(plan: Plan, results: dict) -> list:
    """Unit results in a stable order (data set, method, repeat, fold)."""
    out = []
    for problem, method, repeat, fold, _, _ in plan.units():
        out.append(results[plan.unit_path(problem.name, method.name, repeat, fold)])
    return out


__all__ = ["Config", "Plan", "Problem", "collect", "execute", "model_key", "model_label", "validate"]
