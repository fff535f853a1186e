"""Class labels as values: their types, missing values and counting one array of them.

The lowest module of :mod:`wce.weights`: the counts, the readers and the engines
all judge labels with these functions, so a mistake gets the same message
whichever way the labels came in.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np


def scalar(v: Any) -> Any:
    """numpy / pyarrow scalars -> plain Python values, so classes compare and serialise."""
    return v.item() if hasattr(v, "item") else v


def label_type(v: Any) -> str:
    """``"bool"``, ``"int"`` or ``"str"``; a TypeError for anything that is not a class label."""
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, np.integer)):
        return "int"
    if isinstance(v, str):
        return "str"
    if isinstance(v, (float, np.floating)):
        if float(v).is_integer():
            return "int"
        raise TypeError(
            f"Class labels must be integers, strings or booleans. Got the float {v!r}; "
            "labels such as 0.5 look like probabilities, not classes."
        )
    raise TypeError(f"Class labels must be integers, strings or booleans. Got {type(v).__name__} {v!r}.")


def normalise_label(v: Any) -> Any:
    """A plain Python label; integral floats (``1.0``, from a float column) become ints."""
    v = scalar(v)
    if isinstance(v, float):
        label_type(v)
        return int(v)
    return v


def check_same_type(labels: Sequence) -> None:
    """Refuse labels of mixed types (NumPy would silently turn ``["a", 1]`` into strings)."""
    kinds = {label_type(v) for v in labels}
    if len(kinds) > 1:
        raise TypeError(
            f"Class labels mix types ({', '.join(sorted(kinds))}). Convert them to one type "
            "first, e.g. labels.astype(str)."
        )


def is_missing(value: Any) -> bool:
    """None, NaN, pandas' NA or NaT: a missing label (not a class)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, np.floating):
        return bool(np.isnan(value))
    return type(value).__name__ in ("NAType", "NaTType")


def to_numpy(batch: Any) -> np.ndarray:
    """Labels from a list, a NumPy array, a tensor (any device) or a pandas/polars/pyarrow column."""
    if isinstance(batch, (list, tuple)) and batch and \
            not any(isinstance(v, (list, tuple, np.ndarray)) for v in batch):
        check_same_type([scalar(v) for v in batch if not is_missing(v)])
    if hasattr(batch, "detach"):  # torch tensor, without importing torch
        batch = batch.detach().cpu().numpy()
    elif hasattr(batch, "to_numpy"):  # pandas / polars / pyarrow
        batch = batch.to_numpy()
    arr = np.asarray(batch)
    if arr.size == 0 and arr.ndim <= 1:
        return arr.reshape(0)
    return arr


def value_counts(flat: np.ndarray, ignore_index: Any) -> tuple[list, np.ndarray]:
    """``(labels, counts)`` of an array, leaving out ``ignore_index``."""
    flat = flat.reshape(-1)
    if ignore_index is not None:
        flat = flat[flat != ignore_index]
    if flat.size == 0:
        return [], np.zeros(0, dtype=np.int64)
    if np.issubdtype(flat.dtype, np.integer) and flat.min() >= 0 and flat.max() < 1 << 20:
        counts = np.bincount(flat)
        values = np.nonzero(counts)[0]
        return values.tolist(), counts[values]
    values, counts = np.unique(flat, return_counts=True)
    return values.tolist(), counts
