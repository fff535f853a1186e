"""``wce.compare``: the Python side of `wce compare` (the command is a thin layer over it).

```python
import wce

result = wce.compare(X, y, methods="ce,ce+threshold,wce-balanced,smote", folds=5, repeats=2)
result.summary        # one row per (data set, method, metric): mean and 95% interval
result.folds          # one row per (data set, method, repeat, fold): every metric
result.headline       # the answer in plain language: should you weight the loss on this data?
result.verdict        # per data set: paired tests against ce+threshold and ce, the recommended method
result.recommendation # the recommended method, its parameters and code for each framework
result.to_report("my-report")   # report.md, results.csv, results.json and plots
```

The data is any of: arrays ``X, y``; a DataFrame with ``target=`` the label column;
a data set spec or file path (``"keel:yeast4"``, ``"data.csv"`` with ``target=``),
or a list of specs; or a dict ``{name: (X, y)}`` of several data sets. The model
is one of the names of `wce compare --model` or any scikit-learn classifier or
Pipeline: weighting methods reach it through ``sample_weight`` (a Pipeline's final
step as ``<step>__sample_weight``), resampling through imbalanced-learn before it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

import numpy as np

from .._optional import require
from .datasets import Dataset, DatasetError, from_frame
from .methods import Options
from .runner import Config, Plan, collect, execute, validate

CALLER = "wce.compare"


@dataclass
class CompareResult:
    """What :func:`compare` found.

    Attributes:
        folds: a DataFrame, one row per (dataset, method, repeat, fold) with every metric.
        summary: a DataFrame, one row per (dataset, method, metric): ``mean``, ``ci_low``,
            ``ci_high`` (corrected resampled t-interval) and ``n_folds``.
        verdict: per data set, every method against ``ce+threshold`` and ``ce`` on the same folds
            (corrected resampled t-test, Holm-adjusted), the recommended method and a paragraph
            saying why (see :func:`wce.experiments.verdict.build`).
        recommendation: the content of ``recommended.json``: the recommended method, its
            parameters from the data's class counts, and code lines for each framework.
        across: sentences comparing the methods across data sets (Wilcoxon tests, Holm-adjusted;
            with one data set, a note that these need several).
        datasets: one dict per data set: rows, features, positives, positive label, fingerprint.
        skipped: ``(method, reason)`` for the methods the model cannot run.
        report: everything the report shows, as one JSON-ready dict (``results.json``).
        units: the raw result of every (data set, method, fold).
        reused: how many of the units were found finished in ``out`` and not recomputed.

    Example:
        >>> import wce
        >>> from sklearn.datasets import make_classification
        >>> X, y = make_classification(n_samples=200, weights=[0.9], random_state=0)
        >>> result = wce.compare(X, y, methods="ce,ce+threshold", folds=3, repeats=1)
        >>> result
        CompareResult(datasets=[data], methods=[ce, ce+threshold], units=6)
        >>> result.folds.shape[0], list(result.summary.columns)  # 2 methods x 3 folds
        (6, ['dataset', 'method', 'family', 'metric', 'mean', 'ci_low', 'ci_high', 'n_folds'])
        >>> result.recommendation["method"]
        'ce+threshold'
    """

    folds: object
    summary: object
    verdict: dict
    recommendation: dict
    across: list
    datasets: list
    skipped: list = field(default_factory=list)
    report: dict = field(default_factory=dict, repr=False)
    units: list = field(default_factory=list, repr=False)
    reused: int = 0

    @property
    def headline(self) -> list:
        """The answer in plain language (one paragraph per data set, or one line for several)."""
        return list(self.verdict.get("headline", []))

    def to_report(self, path) -> str:
        """Write report.md, results.csv, results.json and the plots into folder ``path``;
        returns the path of report.md."""
        from ..reporting import compare as report
        from ..reporting.files import check_output_dir

        path = check_output_dir(os.fspath(path), option="path")
        return report.write(self.report, self.units, path)["report.md"]

    def __repr__(self) -> str:
        names = ", ".join(d["dataset"] for d in self.datasets)
        methods = ", ".join(m["name"] for m in self.report["methods"])
        return f"CompareResult(datasets=[{names}], methods=[{methods}], units={len(self.units)})"


def _array_dataset(X, y, name: str) -> Dataset:
    X = np.asarray(X)
    y = np.asarray(y)
    if y.ndim != 1:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        else:
            raise ValueError(f"{CALLER}: y must be one label per row (1-D); got shape {y.shape}.")
    if X.ndim != 2:
        raise ValueError(f"{CALLER}: X must be 2-D (rows × features); got shape {X.shape}.")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"{CALLER}: X has {X.shape[0]} rows but y has {y.shape[0]} labels.")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool) or np.iscomplexobj(X):
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{CALLER}: X must be numeric; encode text or categorical columns first.") from None
    if np.issubdtype(y.dtype, np.floating):
        fractional = y[y != np.round(y)]
        if fractional.size:
            raise ValueError(f"{CALLER}: y holds non-integer numbers (e.g. {fractional[0]:g}); class labels "
                             "must be whole numbers or text.")
        y = y.astype(np.int64)
    # float64 already: the caller's array itself (it is only read), not a copy of it
    return Dataset(name, np.asarray(X, dtype=np.float64), y, [f"x{i}" for i in range(X.shape[1])])


def _is_frame(obj) -> bool:
    return type(obj).__module__.startswith(("pandas", "polars")) and hasattr(obj, "columns")


def _to_pandas(frame):
    if type(frame).__module__.startswith("polars"):
        return frame.to_pandas()
    return frame


def _datasets(X, y, target) -> list:
    """The ``datasets`` of a :class:`Config`: spec strings and :class:`Dataset` objects."""
    if isinstance(X, (str, os.PathLike)):
        if y is not None:
            raise ValueError(f"{CALLER}: with a data set spec or path, pass the label column as target=, not y.")
        return [os.fspath(X)]
    if isinstance(X, (list, tuple)) and X and all(isinstance(x, (str, os.PathLike)) for x in X):
        if y is not None:
            raise ValueError(f"{CALLER}: with data set specs or paths, pass the label column as target=, not y.")
        return [os.fspath(x) for x in X]
    if isinstance(X, dict):
        if y is not None:
            raise ValueError(f"{CALLER}: with a dict of data sets, give each as name: (X, y); y= is not used.")
        out = []
        for name, value in X.items():
            if _is_frame(value):
                if target is None:
                    raise ValueError(f"{CALLER}: {name}: a DataFrame needs target= the label column.")
                out.append(from_frame(_to_pandas(value), target, str(name)))
            elif isinstance(value, (tuple, list)) and len(value) == 2:
                out.append(_array_dataset(value[0], value[1], str(name)))
            else:
                raise ValueError(f"{CALLER}: {name}: give a data set as (X, y) or a DataFrame.")
        if not out:
            raise ValueError(f"{CALLER}: no data set given.")
        return out
    if _is_frame(X):
        frame = _to_pandas(X)
        if y is not None:
            if target is not None:
                raise ValueError(f"{CALLER}: give either y= or target=, not both.")
            return [_array_dataset(_frame_features(frame), y, "data")]
        if target is None:
            raise ValueError(f"{CALLER}: a DataFrame needs target= the label column (or pass y=).")
        return [from_frame(frame, target, "data")]
    if y is None:
        raise ValueError(f"{CALLER}: give labels y= with the array X (or a DataFrame with target=).")
    return [_array_dataset(X, y, "data")]


def _frame_features(frame):
    pd = require("pandas")
    non_numeric = [str(c) for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
    if non_numeric:
        raise DatasetError(f"{CALLER}: non-numeric feature column(s) {non_numeric[:5]}; encode them first.")
    return frame.to_numpy(dtype=np.float64, na_value=np.nan)


def compare(X=None, y=None, *, target: str | None = None, methods="default", model="logreg",
            folds: int = 5, repeats: int = 2, seed: int = 0, jobs: int = 1, out=None,
            positive=None, C: float = 1.0, cost_fn: float | None = None, cost_fp: float = 1.0,
            gamma: float = 2.0, beta: float = 0.9999, tau: float = 1.0, smote_ratio: float = 0.5,
            metric: str = "f1", recalibrate: bool = True, progress: bool = False, engine: str = "local",
            scheduler=None, scheduler_timeout: float = 10.0) -> CompareResult:
    """Compare class weighting with plain CE + threshold moving and resampling by repeated
    stratified cross-validation, as `wce compare` does.

    Args:
        X: features (array or DataFrame), a data set spec or path (``"keel:yeast4"``,
            ``"data.csv"``), a list of them, or ``{name: (X, y)}``. Default ``keel:yeast4``.
        y: labels, with an array ``X``.
        target: the label column of a DataFrame or file.
        methods: comma-separated names or a list (``"default"``, ``"all"``; see `wce compare`).
        model: ``"logreg"`` (default), ``"mlp"``, ``"lightgbm"``, ``"xgboost"``, ``"torch-mlp"``,
            or a scikit-learn classifier or Pipeline (cloned for every fold).
        folds, repeats, seed: the repeated stratified k-fold.
        jobs: worker processes.
        out: a folder to keep finished units in (a later call with the same data and settings
            reuses them); None keeps nothing on disk. The report is written by
            :meth:`CompareResult.to_report`.
        positive: the positive label; default the minority class.
        metric: the metric the verdict and recommendation are about (default ``"f1"``).
        C, cost_fn, cost_fp, gamma, beta, tau, smote_ratio: as the options of `wce compare`.
        recalibrate: for weighted and resampled methods, also score the Brier score and ECE after
            Platt and isotonic recalibration fitted inside each training fold (one extra fit per
            unit; ``False`` is `wce compare --no-recalibrate`).
        progress: show a progress bar.
        engine: where the units run: ``"local"`` (this machine, ``jobs`` processes) or ``"dask"``
            (a Dask cluster, same results; needs ``wce[dask]``).
        scheduler: with ``engine="dask"``: a scheduler address (``"tcp://host:8786"``), a
            ``distributed.Client`` or a cluster object; None starts a ``LocalCluster`` of ``jobs``
            worker processes for the call.
        scheduler_timeout: seconds to wait for the scheduler at an address; an unreachable one
            raises ``ConnectionError``.

    Raises:
        ValueError: bad data, an unknown method, a model that cannot run the methods (an
            estimator whose fit takes no ``sample_weight`` names the weighting methods it
            cannot run), before any model trains.

    Example:
        >>> import wce
        >>> from sklearn.datasets import make_classification
        >>> X, y = make_classification(n_samples=200, weights=[0.9], random_state=0)
        >>> result = wce.compare(X, y, methods="ce,ce+threshold", folds=3, repeats=1)
        >>> sorted(result.folds["method"].unique()), len(result.folds)  # 3 folds each
        (['ce', 'ce+threshold'], 6)
        >>> f1 = result.summary.query("metric == 'f1'")
        >>> list(f1["method"]), list(f1.columns[-4:])
        (['ce', 'ce+threshold'], ['mean', 'ci_low', 'ci_high', 'n_folds'])
    """
    from ..reporting.console import console as make_console

    if X is None:
        from .datasets import DEFAULT_DATASET

        X = DEFAULT_DATASET
    options = Options(cost_fn=cost_fn, cost_fp=cost_fp, gamma=gamma, beta=beta, tau=tau, smote_ratio=smote_ratio,
                      recalibrate=bool(recalibrate))
    config = Config(datasets=_datasets(X, y, target), target=target, model=model, methods=methods,
                    folds=folds, repeats=repeats, seed=seed, jobs=jobs, out=None if out is None else os.fspath(out),
                    C=C, options=options, positive=positive, metric=metric, engine=engine,
                    scheduler=scheduler, scheduler_timeout=scheduler_timeout)
    console = make_console() if progress else None
    if out is not None:
        return run(config, progress=progress, console=console, command="wce.compare(...)")
    with tempfile.TemporaryDirectory(prefix="wce-compare-") as tmp:
        plan = validate(config)
        config.out = tmp
        result = run_plan(plan, progress=progress, console=console, command="wce.compare(...)")
        config.out = None
        return result


def run(config: Config, *, progress: bool = False, console=None, command: str = "") -> CompareResult:
    """Validate ``config`` (nothing is written before it passes), run the missing units, summarise.

    Example:
        >>> import tempfile
        >>> from wce.experiments.api import run
        >>> from wce.experiments.runner import Config
        >>> tmp = tempfile.TemporaryDirectory()
        >>> config = Config(datasets=["make_classification:n_samples=200,weights=0.9"],
        ...                 methods="ce,ce+threshold", folds=3, repeats=1, out=tmp.name)
        >>> run(config).reused
        0
        >>> run(config).reused  # the 6 finished units are read back from out
        6
        >>> tmp.cleanup()
    """
    return run_plan(validate(config), progress=progress, console=console, command=command)


def run_plan(plan: Plan, *, progress: bool = False, console=None, command: str = "") -> CompareResult:
    from .analysis import summarise
    from .runner import model_label
    from .verdict import attach

    results = execute(plan, progress=progress, console=console)
    units = collect(plan, results)
    summary = summarise(plan, units, command)
    attach(summary, plan, units, metric=plan.config.metric)
    # An estimator is named in the JSON files by its class (the object itself is not JSON).
    for rec in [summary["recommended"], *summary["recommended"].get("recommendations", []),
                *summary["dataset_verdict"].get("recommendations", [])]:
        if "model" in rec:
            rec["model"] = model_label(rec["model"])
    return CompareResult(folds=_folds_frame(plan, units), summary=_summary_frame(summary),
                         verdict=summary["dataset_verdict"], recommendation=summary["recommended"],
                         across=list(summary.get("verdict", [])), datasets=summary["datasets"],
                         skipped=[(m.name, r) for m, r in plan.skipped], report=summary, units=units,
                         reused=plan.reused)


def _folds_frame(plan: Plan, units: list):
    pd = require("pandas", purpose="the results of wce.compare")
    family = {m.name: m.family for m in plan.methods}
    rows = []
    for u in units:
        rows.append({"dataset": u["dataset"], "method": u["method"], "family": family.get(u["method"]),
                     "repeat": u["repeat"], "fold": u["fold"], "n_train": u["n_train"], "n_test": u["n_test"],
                     "threshold": u["threshold"], **u["metrics"]})
    return pd.DataFrame(rows)


def _summary_frame(summary: dict):
    pd = require("pandas", purpose="the results of wce.compare")
    return pd.DataFrame(summary["per_dataset"])


__all__ = ["CompareResult", "compare", "run"]
