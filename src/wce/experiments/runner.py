"""The runner behind `wce compare`: validate, run every (data set, method, fold) unit, aggregate.

Resumable: each unit's result is written atomically when it finishes (a temp
file in the same directory, then ``os.replace``) under
``OUT/units/<settings hash>/<data set>/<method>/r<repeat>-f<fold>.json``. A
run started again with the same settings loads those files and computes only
the missing units; each computed unit is also appended to ``computed.log``
beside them. Changing the model, folds, repeats, seed or method options
changes the hash, so stale results are never reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field

from .. import _validation as V
from ..reporting.files import read_json, write_json_atomic
from .datasets import DEFAULT_DATASET, load_dataset
from .methods import DEFAULT_METHODS, Options, parse_methods
from .models import check_model, unsupported_reason
from .protocol import Problem, make_problem, run_unit, splits

CALLER = "wce compare"
# Part of the settings hash: bump when a change to the code changes what a unit computes,
# so results of an older version are not mixed with new ones.
RESULTS_VERSION = 2


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
    out: str = "wce-report"
    C: float = 1.0
    options: Options = field(default_factory=Options)

    def settings_key(self) -> str:
        """Hash of everything that changes a unit's result (not the list of data sets or methods)."""
        text = json.dumps({"model": self.model, "folds": self.folds, "repeats": self.repeats,
                           "seed": self.seed, "C": self.C, "options": asdict(self.options),
                           "target": self.target, "version": RESULTS_VERSION}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class Plan:
    """A validated run: problems, methods, splits and the units still to compute."""

    config: Config
    problems: list
    methods: list
    skipped: list  # (method, reason) pairs not supported by the model
    splits: dict  # dataset name -> [(repeat, fold, train, test)]

    @property
    def unit_dir(self) -> str:
        return os.path.join(self.config.out, "units", self.config.settings_key())

    def unit_path(self, dataset: str, method: str, repeat: int, fold: int) -> str:
        return os.path.join(self.unit_dir, safe_name(dataset), safe_name(method), f"r{repeat}-f{fold}.json")

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
    """Check everything (data, methods, model, numbers) before anything is written; ValueError says why."""
    config.folds = V.check_positive_int(config.folds, "folds", caller=CALLER, minimum=2)
    config.repeats = V.check_positive_int(config.repeats, "repeats", caller=CALLER)
    config.jobs = V.check_positive_int(config.jobs, "jobs", caller=CALLER)
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
    check_model(config.model)
    methods = parse_methods(config.methods)
    skipped = [(m, unsupported_reason(config.model, m)) for m in methods]
    skipped = [(m, r) for m, r in skipped if r]
    methods = [m for m in methods if not unsupported_reason(config.model, m)]
    if not methods:
        raise ValueError(f"None of the methods runs with --model {config.model}: {skipped[0][1]}.")
    if not config.datasets:
        raise ValueError("No data set given.")
    problems, seen = [], {}
    for spec in config.datasets:
        problem = make_problem(load_dataset(spec, target=config.target), folds=config.folds)
        if seen.get(problem.name) == spec:
            continue  # the same data set given twice
        if problem.name in seen:  # e.g. two files called data.csv in different folders
            k = 2
            while f"{problem.name}#{k}" in seen:
                k += 1
            problem.name = f"{problem.name}#{k}"
        seen[problem.name] = spec
        problems.append(problem)
    split_map = {p.name: splits(p.y, folds=config.folds, repeats=config.repeats, seed=config.seed)
                 for p in problems}
    return Plan(config, problems, methods, skipped, split_map)


# Problems for worker processes (inherited through fork, not pickled per unit).
_WORKER_PROBLEMS: dict = {}


def _work(args):
    name, method, repeat, fold, train, test, config = args
    problem = _WORKER_PROBLEMS[name]
    return run_unit(problem, method, config.model, repeat, fold, train, test,
                    options=config.options, seed=config.seed, C=config.C)


def execute(plan: Plan, *, progress: bool = True, console=None) -> dict:
    """Run the missing units, writing each as it finishes; return ``{path: result}`` of all units."""
    config = plan.config
    results, pending = {}, []
    for problem, method, repeat, fold, train, test in plan.units():
        path = plan.unit_path(problem.name, method.name, repeat, fold)
        done = read_json(path) if os.path.exists(path) else None
        if done is not None:
            results[path] = done
        else:
            pending.append((path, (problem.name, method, repeat, fold, train, test, config)))
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
        if config.jobs == 1 or len(pending) <= 1:
            for path, args in pending:
                finish(path, _work(args))
                bar.advance(task)
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=config.jobs, mp_context=ctx) as pool:
                futures = {pool.submit(_work, args): path for path, args in pending}
                for future in as_completed(futures):
                    finish(futures[future], future.result())
                    bar.advance(task)
    return results


def collect(plan: Plan, results: dict) -> list:
    """Unit results in a stable order (data set, method, repeat, fold)."""
    out = []
    for problem, method, repeat, fold, _, _ in plan.units():
        out.append(results[plan.unit_path(problem.name, method.name, repeat, fold)])
    return out


__all__ = ["Config", "Plan", "Problem", "collect", "execute", "validate"]
