"""Class counts of Dask collections, counted by Dask.

Plain label columns are counted per partition (``value_counts``, which also
checks that the partition has the label column and notes its label types) and
summed with a Dask ``groupby`` (a tree reduction); files read by
:func:`count_file` share one schema and use Dask's own ``value_counts``. List
columns (multi-label rows, segmentation masks) are counted per partition with
pyarrow and summed the same way. Only the small table of per-class counts
reaches the client. :func:`with_sample_weight` adds the per-row class weight as
a column.

Example:
  >>> import dask.dataframe as dd, pandas as pd
  >>> from wce.weights.dask import class_counts
  >>> ddf = dd.from_pandas(pd.DataFrame({"y": [0, 1, 1, 2, 1]}), npartitions=2)
  >>> class_counts(ddf, target="y", scheduler="synchronous").as_dict()
  {0: 1, 1: 3, 2: 1}
"""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Any, Iterator, Sequence

import numpy as np

from .._optional import require
from ._counts import ClassCounts
from ._labels import is_missing, label_type
from ._partials import Partial, arrow_partial, build_counts, check_arrow_label_type, check_kind
from ._readers import csv_columns

__all__ = ["class_counts", "count_file", "with_sample_weight"]

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
        try:
            head = series.head(20, npartitions=1, compute=True).dropna()
        except KeyError:  # the first partition lacks the column: the count names it
            return False
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


def _is_address(scheduler: Any) -> bool:
    return isinstance(scheduler, str) and "://" in scheduler


@contextlib.contextmanager
def _scheduler(scheduler: Any, timeout: float | None) -> Iterator[Any]:
    """``scheduler`` as ``dask.compute`` takes it; a scheduler address becomes a ``Client``
    (connected within ``timeout`` seconds, closed afterwards)."""
    if not _is_address(scheduler):
        yield scheduler
        return
    distributed = require("distributed", purpose="connecting to a Dask scheduler")
    try:
        options = {} if timeout is None else {"timeout": timeout}
        client = distributed.Client(scheduler, set_as_default=False, **options)
    except (OSError, TimeoutError) as exc:
        after = f" within {timeout} s" if timeout is not None else ""
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConnectionError(
            f"Cannot reach the Dask scheduler at {scheduler!r}{after} ({reason}). Start the "
            "scheduler, or check the address and the 'timeout' parameter."
        ) from None
    try:
        yield client
    finally:
        client.close()


def _label_kind(value: Any) -> str:
    try:
        return label_type(value)
    except TypeError:  # judged (with its own message) when the counts are built
        return "other"


def _checked_partition(part, target: str | None, where: str, partition_info: dict | None):
    """The label column of one partition; a partition without it is a one-line error."""
    number = (partition_info or {}).get("number", "?")
    if target is None:
        return part, number
    if target not in part.columns:
        raise ValueError(
            f"{where}: partition {number} has no column {target!r} (its columns: "
            f"{', '.join(map(str, part.columns))}). Every partition needs the label column."
        )
    return part[target], number


def _partition_value_counts(part, target: str | None, where: str, partition_info=None):
    """One partition of a plain label column -> (label, count, label type, partition)."""
    import pandas as pd

    labels, number = _checked_partition(part, target, where, partition_info)
    vc = labels.value_counts(dropna=False)  # missing labels kept as a group
    vc = vc[vc > 0]  # a categorical column lists its unobserved categories with count 0
    values = vc.index.to_numpy(dtype=object)
    return pd.DataFrame({
        "label": pd.Series(values, dtype=object),
        "count": pd.Series(vc.to_numpy(), dtype="int64"),
        "type": pd.Series(["" if is_missing(v) else _label_kind(v) for v in values], dtype=object),
        "partition": pd.Series([number if isinstance(number, int) else -1] * len(values),
                               dtype="int64"),
    })


def _plain_partial(frame, target: str | None, *, where: str, scheduler) -> Partial:
    """Per-partition counts summed by a Dask groupby; label types mixed across (or
    within) partitions are refused here, naming the partitions."""
    import dask
    import pandas as pd

    meta = pd.DataFrame({"label": pd.Series([], dtype=object), "count": pd.Series([], dtype="int64"),
                         "type": pd.Series([], dtype=object), "partition": pd.Series([], dtype="int64")})
    parts = frame.map_partitions(_partition_value_counts, target, where, meta=meta)
    per_class = parts.groupby("label", dropna=False, sort=False).agg(
        {"count": "sum", "type": "first", "partition": "min"})
    (per_class,) = dask.compute(per_class, scheduler=scheduler)
    types = per_class[per_class["type"].isin(["bool", "int", "str"])]
    if types["type"].nunique() > 1:
        first = types.groupby("type")["partition"].min()
        shown = ", ".join(f"{t} labels first in partition {p}" for t, p in first.items())
        raise TypeError(
            f"Class labels mix types ({', '.join(first.index)}): {where} has {shown}. "
            "Convert the column to one type first, e.g. ddf[column].astype(str)."
        )
    return Partial(per_class.index.tolist(), per_class["count"].tolist(),
                   rows=int(per_class["count"].sum()))


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
    scheduler: Any = None,
    timeout: float | None = None,
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
        ``"processes"``, a distributed ``Client``, or a distributed ``Client``'s
        default when None), or the address of a Dask scheduler
        (``"tcp://host:8786"``), connected to for this count.
      timeout: seconds to wait for the scheduler at an address (Dask's
        ``distributed.comm.timeouts.connect`` when None); an unreachable one is
        a ``ConnectionError``.

    Returns:
      The :class:`ClassCounts` that ``ClassCounts.from_parquet`` gives for the
      same data.

    Example:
      >>> import dask.array as da, dask.dataframe as dd, numpy as np, pandas as pd
      >>> from wce.weights.dask import class_counts
      >>> ddf = dd.from_pandas(pd.DataFrame({"y": ["cat", "dog", "dog", None, "dog"]}),
      ...                      npartitions=2)
      >>> counts = class_counts(ddf, target="y", null="skip", scheduler="synchronous")
      >>> counts.as_dict(), counts.n_rows
      ({'cat': 1, 'dog': 3}, 4)
      >>> labels = da.from_array(np.array([0, 2, 2, 1, 2, 2]), chunks=3)
      >>> class_counts(labels, scheduler="synchronous").as_dict()
      {0: 1, 1: 1, 2: 4}
    """
    require("dask.dataframe", purpose="counting with Dask")
    with _scheduler(scheduler, timeout) as scheduler:
        return _class_counts(data, target, null=null, kind=kind, classes=classes,
                             ignore_index=ignore_index, scheduler=scheduler)


def _class_counts(data, target, *, null, kind, classes, ignore_index, scheduler) -> ClassCounts:
    import dask.array as da
    import dask.dataframe as dd

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
        series, frame = data[target], data
    elif isinstance(data, dd.Series):
        series, frame, target = data, data, None
    else:
        raise TypeError(
            "wce.weights.dask.class_counts takes a Dask DataFrame, Series or Array. "
            f"Got {type(data).__name__}."
        )
    where = f"Column {series.name!r} of the Dask DataFrame"
    if check_kind(kind, is_list=_series_is_list(series), where=where) == "multiclass":
        kind, partial = "multiclass", _plain_partial(frame, target, where=where, scheduler=scheduler)
    else:
        kind, partial = _series_partial(series, kind=kind, ignore_index=ignore_index, where=where,
                                        scheduler=scheduler)
    return build_counts(partial, kind=kind, null=null, where=where, classes=classes,
                        ignore_index=ignore_index)


def count_file(path, target: str, *, scheduler: Any = None, timeout: float | None = None,
               **kwargs) -> ClassCounts:
    """Read ``target`` from a Parquet file/directory or a CSV file with Dask and count it
    (``scheduler`` and ``timeout`` as in :func:`class_counts`).

    Example:
      >>> import os, tempfile, pandas as pd
      >>> from wce.weights.dask import count_file
      >>> tmp = tempfile.TemporaryDirectory()
      >>> path = os.path.join(tmp.name, "train.parquet")
      >>> pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4], "y": ["a", "b", None, "a"]}).to_parquet(path)
      >>> counts = count_file(path, "y", null="skip", scheduler="synchronous")
      >>> counts.as_dict(), counts.n_rows
      ({'a': 2, 'b': 1}, 3)
      >>> tmp.cleanup()
    """
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
    with _scheduler(scheduler, timeout) as scheduler:
        kind, partial = _series_partial(series, kind=kwargs.pop("kind", "auto"),
                                        ignore_index=kwargs.get("ignore_index"),
                                        where=f"Column {target!r} of {path!r}", scheduler=scheduler)
    kwargs.setdefault("null", "error")  # as class_counts and the local readers
    return build_counts(partial, kind=kind, where=f"Column {target!r} of {path!r}", **kwargs)


def _assign_weight(part, label: str, col: str, mapping: dict, where: str, partition_info=None):
    labels, _ = _checked_partition(part, label, where, partition_info)
    return part.assign(**{col: labels.map(mapping).astype("float64")})


def with_sample_weight(
    ddf: Any,
    label: str,
    *,
    scheme: str = "balanced",
    col: str = "weight",
    null: str = "error",
    classes: Sequence | None = None,
    scheduler: Any = None,
    timeout: float | None = None,
    **scheme_options: Any,
):
    """``ddf`` with a column ``col`` holding each row's class weight.

    One counting pass (:func:`class_counts`), :func:`wce.weights.class_weights`
    on the client, then a lazy per-partition lookup: every row of class ``c``
    gets ``class_weights(counts, scheme=scheme, **scheme_options)[c]``, the same
    number the local weights give. Pass the column as ``weight=`` to
    ``xgboost.dask.DaskDMatrix`` or ``sample_weight=`` to ``lightgbm``'s Dask
    estimators.

    Args:
      ddf: a ``dask.dataframe.DataFrame``.
      label: the label column (one label per row: integers, strings or booleans).
      scheme: a :func:`wce.weights.class_weights` scheme; ``scheme_options``
        (``normalize``, ``beta``, ``manual``, ``cost_matrix``, ``zero_count``...)
        go to it as well.
      col: the name of the new column (it must not exist yet).
      null: ``"error"`` (default) refuses missing labels; ``"skip"`` leaves them
        out of the counts, and their rows get a NaN weight.
      classes: the classes in order; absent ones need ``zero_count=``, and a
        label outside them is an error.
      scheduler, timeout: for the counting pass, as in :func:`class_counts`.

    Returns:
      A new Dask DataFrame (``ddf`` is left as it is); nothing is computed
      beyond the counts until it is used.

    Example:
      >>> import dask.dataframe as dd, pandas as pd
      >>> ddf = dd.from_pandas(pd.DataFrame({"y": [0, 0, 0, 1]}), npartitions=2)
      >>> with_sample_weight(ddf, "y", scheduler="synchronous")["weight"].compute(
      ...     scheduler="synchronous").round(3).tolist()
      [0.667, 0.667, 0.667, 2.0]
    """
    dd = require("dask.dataframe", purpose="weighting with Dask")
    import pandas as pd

    from ._schemes import class_weight_dict

    if not isinstance(ddf, dd.DataFrame):
        raise TypeError(
            f"wce.weights.dask.with_sample_weight takes a Dask DataFrame. Got {type(ddf).__name__}."
        )
    if label not in ddf.columns:
        raise ValueError(
            f"Column {label!r} is not in the Dask DataFrame. "
            f"Columns: {', '.join(map(str, ddf.columns))}."
        )
    if col in ddf.columns:
        raise ValueError(
            f"Column {col!r} is already in the Dask DataFrame; pass col=<another name> for the weights."
        )
    where = f"Column {label!r} of the Dask DataFrame"
    if _series_is_list(ddf[label]):
        raise ValueError(
            f"{where} holds a list of labels per row; per-row class weights need one label per row."
        )
    counts = class_counts(ddf, label, null=null, kind="multiclass", classes=classes,
                          scheduler=scheduler, timeout=timeout)
    if counts.total == 0:
        raise ValueError(f"{where} has no labelled rows (empty DataFrame): there is nothing to weight.")
    mapping = class_weight_dict(counts, scheme=scheme, **scheme_options)
    meta = ddf._meta.assign(**{col: pd.Series([], dtype="float64")})
    return ddf.map_partitions(_assign_weight, label, col, mapping, where, meta=meta)
