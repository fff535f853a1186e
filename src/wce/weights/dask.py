"""Class counts of Dask collections, counted by Dask.

Plain label columns are counted with Dask's own ``value_counts`` (a
per-partition count and a tree reduction); list columns (multi-label rows,
segmentation masks) are counted per partition with pyarrow and summed with a
Dask ``groupby``. Only the small table of per-class counts reaches the client.

Example:
  >>> import dask.dataframe as dd, pandas as pd
  >>> from wce.weights.dask import class_counts
  >>> ddf = dd.from_pandas(pd.DataFrame({"y": [0, 1, 1, 2, 1]}), npartitions=2)
  >>> class_counts(ddf, target="y", scheduler="synchronous").as_dict()
  {0: 1, 1: 3, 2: 1}
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Sequence

import numpy as np

from .._optional import require
from ._counts import ClassCounts
from ._partials import Partial, arrow_partial, build_counts, check_arrow_label_type, check_kind
from ._readers import csv_columns

__all__ = ["class_counts", "count_file"]

_LIST_TYPES = (list, tuple, np.ndarray)


def _series_is_list(series) -> bool:
    """A list column? From the dtype when it says (pyarrow list), else from the first value."""
    import pandas as pd
    import pyarrow as pa

    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype):
        return pa.types.is_list(dtype.pyarrow_dtype) or pa.types.is_large_list(dtype.pyarrow_dtype)
    if dtype != object:
        return False
    with warnings.catch_warnings():  # a first partition shorter than 20 rows is fine
        warnings.simplefilter("ignore", UserWarning)
        head = series.head(20, npartitions=1, compute=True).dropna()
    return len(head) > 0 and isinstance(head.iloc[0], _LIST_TYPES)


def _partition_counts(part, kind: str, ignore_index: Any, where: str):
    """One partition of a list column -> a small frame of (label, count, pixels)."""
    import pandas as pd
    import pyarrow as pa

    arr = pa.array(part) if isinstance(part.dtype, pd.ArrowDtype) else \
        pa.Array.from_pandas(part.to_numpy(), from_pandas=True)
    check_arrow_label_type(arr.type, where)
    p = arrow_partial(arr, kind=kind, ignore_index=ignore_index)
    pixels = p.pixels if p.pixels is not None else [0] * len(p.values)
    return pd.DataFrame({"label": pd.Series(p.values, dtype=object),
                         "count": pd.Series(p.counts, dtype="int64"),
                         "pixels": pd.Series(pixels, dtype="int64")})


def _series_partial(series, *, kind: str, ignore_index: Any, where: str, scheduler) -> tuple:
    import dask
    import pandas as pd

    kind = check_kind(kind, is_list=_series_is_list(series), where=where)
    if kind == "multiclass":
        vc = series.value_counts(dropna=False)  # missing labels kept as a group: one pass
        (vc,) = dask.compute(vc, scheduler=scheduler)
        values = vc.index.tolist()
        return kind, Partial(values, vc.to_numpy().tolist(), rows=int(vc.sum()))
    meta = pd.DataFrame({"label": pd.Series([], dtype=object), "count": pd.Series([], dtype="int64"),
                         "pixels": pd.Series([], dtype="int64")})
    parts = series.map_partitions(_partition_counts, kind, ignore_index, where, meta=meta)
    per_class = parts.groupby("label", dropna=False, sort=False)[["count", "pixels"]].sum()
    per_class, rows, null_rows = dask.compute(per_class, series.size, series.isna().sum(),
                                              scheduler=scheduler)
    return kind, Partial(per_class.index.tolist(), per_class["count"].tolist(),
                         per_class["pixels"].tolist() if kind == "mask" else None,
                         rows=int(rows), null_rows=int(null_rows))


def _mask_block(block: np.ndarray, ignore_index: Any) -> ClassCounts:
    return ClassCounts.from_labels(block, kind="mask", ignore_index=ignore_index)


def _array_counts(x, *, kind: str, null: str, classes, ignore_index, scheduler) -> ClassCounts:
    import dask
    import dask.dataframe as dd

    where = f"The dask array of shape {x.shape}"
    if x.ndim == 2 and x.shape[1] == 1:
        x = x.reshape(-1)
    if x.ndim == 1:
        return class_counts(dd.from_dask_array(x, columns="labels"), null=null, kind=kind, classes=classes,
                            ignore_index=ignore_index, scheduler=scheduler)
    if kind == "auto":
        if x.ndim == 2:
            raise ValueError(
                f"Labels of shape {x.shape} are ambiguous: pass kind='multilabel' for k-hot rows "
                "(N, K) or kind='mask' for segmentation masks (N, H, W)."
            )
        kind = "mask"
    if kind == "multilabel":
        if x.ndim != 2:
            raise ValueError(f"Multi-label targets must be k-hot rows (N, K); got shape {x.shape}.")
        sums, not_k_hot = dask.compute(x.sum(axis=0), ((x != 0) & (x != 1)).any(),
                                       scheduler=scheduler)
        if not_k_hot:
            raise ValueError("Multi-label targets must be k-hot: every entry 0 or 1.")
        partial = Partial(list(range(x.shape[1])), sums.astype(np.int64).tolist(), rows=x.shape[0])
        return build_counts(partial, kind="multilabel", null=null, where=where,
                            classes=classes if classes is not None else range(x.shape[1]))
    if kind != "mask":
        raise ValueError(f"A {x.ndim}-D dask array holds masks or k-hot rows, not kind={kind!r}.")
    # whole images per block, so that every block can tell which images hold a class
    x = x.rechunk({axis: -1 for axis in range(1, x.ndim)})
    blocks = [dask.delayed(_mask_block)(b, ignore_index) for b in x.to_delayed().ravel()]
    merged = None
    for part in dask.compute(*blocks, scheduler=scheduler):
        merged = part if merged is None else merged.merge(part)
    partial = Partial(list(merged.classes), merged.counts.tolist(),
                      merged.pixels_in_present.tolist(), rows=merged.n_rows)
    return build_counts(partial, kind="mask", null=null, where=where, classes=classes,
                        ignore_index=ignore_index)


def class_counts(
    data: Any,
    target: str | None = None,
    *,
    null: str = "error",
    kind: str = "auto",
    classes: Sequence | None = None,
    ignore_index: Any = None,
    scheduler: str | None = None,
) -> ClassCounts:
    """Count classes in a Dask DataFrame column, a Dask Series or a Dask array.

    Args:
      data: ``dask.dataframe.DataFrame`` (with ``target``), ``Series``, or
        ``dask.array.Array``: 1-D labels, k-hot rows ``(N, K)`` with
        ``kind="multilabel"``, or masks ``(N, H, W, ...)``.
      target: the label column of a DataFrame.
      null: ``"error"`` (default) refuses missing labels (None/NaN/NA);
        ``"skip"`` leaves them out of the counts and of ``n_rows``.
      kind: ``"auto"``, ``"multiclass"``, ``"multilabel"`` (a list of labels
        per row, or k-hot array rows) or ``"mask"`` (a list/array of an
        image's pixels per row; fills ``pixels_in_present``).
      classes, ignore_index: as in :meth:`ClassCounts.from_labels`.
      scheduler: passed to ``dask.compute`` (``"threads"``, ``"synchronous"``,
        ``"processes"``, or a distributed ``Client``'s default when None).

    Returns:
      The :class:`ClassCounts` that ``ClassCounts.from_parquet`` gives for the
      same data.
    """
    dd = require("dask.dataframe", purpose="counting with Dask")
    import dask.array as da

    if isinstance(data, da.Array):
        return _array_counts(data, kind=kind, null=null, classes=classes,
                             ignore_index=ignore_index, scheduler=scheduler)
    if isinstance(data, dd.DataFrame):
        if target is None:
            raise ValueError("Pass target=<column> to name the label column of the Dask DataFrame.")
        if target not in data.columns:
            raise ValueError(
                f"Column {target!r} is not in the Dask DataFrame. Columns: "
                f"{', '.join(map(str, data.columns))}."
            )
        series = data[target]
    elif isinstance(data, dd.Series):
        series = data
    else:
        raise TypeError(
            "wce.weights.dask.class_counts takes a Dask DataFrame, Series or Array. "
            f"Got {type(data).__name__}."
        )
    where = f"Column {series.name!r} of the Dask DataFrame"
    kind, partial = _series_partial(series, kind=kind, ignore_index=ignore_index, where=where,
                                    scheduler=scheduler)
    return build_counts(partial, kind=kind, null=null, where=where, classes=classes,
                        ignore_index=ignore_index)


def count_file(path, target: str, *, scheduler: str | None = None, **kwargs) -> ClassCounts:
    """Read ``target`` from a Parquet file/directory or a CSV file with Dask and count it."""
    dd = require("dask.dataframe", purpose="counting with Dask")
    path = os.fspath(path)
    if path.endswith((".parquet", ".pq")) or os.path.isdir(path):
        import pyarrow.dataset as ds

        names = ds.dataset(path, format="parquet").schema.names
        reader = dd.read_parquet
    else:
        names = csv_columns(path)
        reader = dd.read_csv
    if target not in names:
        raise ValueError(f"Column {target!r} is not in {path!r}. Columns: {', '.join(names)}.")
    if reader is dd.read_parquet:
        # one partition per row group: more parallel and a lower peak than Dask's default of
        # merging row groups up to ~256 MiB per partition
        series = reader(path, columns=[target], dtype_backend="pyarrow", split_row_groups=True)[target]
    else:
        series = reader(path, usecols=[target], dtype_backend="pyarrow")[target]
    kind, partial = _series_partial(series, kind=kwargs.pop("kind", "auto"),
                                    ignore_index=kwargs.get("ignore_index"),
                                    where=f"Column {target!r} of {path!r}", scheduler=scheduler)
    return build_counts(partial, kind=kind, where=f"Column {target!r} of {path!r}", **kwargs)
