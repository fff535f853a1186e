"""Reading labels from files, data frames and batch iterables with bounded memory.

Files are read one record batch at a time through pyarrow and counted with
``pyarrow.compute.value_counts``; only the target column is ever read, and at
most one batch of it is in memory. The readers hand back plain labels and
per-batch ``(labels, counts)``; :class:`~wce.weights.ClassCounts` (its
``from_parquet``, ``from_csv``, ``from_dataframe`` and ``from_dataloader``)
adds them up, so this module does not know ClassCounts.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ._labels import is_missing, to_numpy

NULL_POLICIES = ("error", "skip")

#: What a file reader yields per record batch: labels, their counts, rows read, list column?
BatchCounts = tuple[list, np.ndarray, int, bool]


@contextmanager
def _progress(description: str, total: float | None, enabled: bool):
    """A rich progress bar (or a no-op) yielding ``advance(n)``."""
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def check_null(null: str) -> None:
    if null not in NULL_POLICIES:
        raise ValueError(f"The 'null' parameter must be one of {NULL_POLICIES}. Got {null!r} instead.")


def check_path(path) -> str:
    """The path as a str (messages then show the path, not PosixPath(...)); it must exist."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path!r}.")
    return path


def _drop_missing(column, null: str, where: str):
    import pyarrow.compute as pc

    if not column.null_count:
        return column
    if null == "error":
        raise ValueError(
            f"{where} has {column.null_count} missing label(s). Drop them first, or pass "
            "null='skip' to leave them out of the counts."
        )
    return pc.drop_null(column)


def open_parquet(path: str, target: str):
    """A ``pyarrow.parquet.ParquetFile`` holding column ``target``, read without pre-buffering."""
    import pyarrow.parquet as pq

    # pre_buffer=False: pyarrow's default pre-buffers the column chunks of all row groups,
    # which makes the peak memory grow with the file (about its compressed size)
    pf = pq.ParquetFile(path, pre_buffer=False)
    if target not in pf.schema_arrow.names:
        raise ValueError(
            f"Column {target!r} is not in {path!r}. Columns: {', '.join(pf.schema_arrow.names)}."
        )
    return pf


def csv_columns(path: str, delimiter: str = ",") -> list[str]:
    """The column names on the first line of a CSV file."""
    with open(path, newline="") as fh:
        header = next(iter(fh), "").rstrip("\r\n").split(delimiter)
    return [h.strip().strip('"') for h in header]


def arrow_value_counts(column, *, null: str, where: str, ignore_index: Any = None) -> BatchCounts:
    """``(labels, counts, rows, is_list)`` of one pyarrow array: a record batch's label column.

    A list column holds the labels of one multi-label row per row. Missing labels
    raise (``null="error"``) or are dropped (``"skip"``); ``ignore_index`` is not counted.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    column = _drop_missing(column, null, where)  # a missing row is not counted as a row
    rows = len(column)
    is_list = pa.types.is_list(column.type) or pa.types.is_large_list(column.type)
    if is_list:  # the labels of each multi-label row; a missing one inside a list: same policy
        column = _drop_missing(pc.list_flatten(column), null, where)
    if pa.types.is_floating(column.type):
        column = pc.cast(column, pa.int64())  # raises on non-integral floats
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    vc = pc.value_counts(column)
    values = vc.field("values").to_pylist()
    counts = np.asarray(vc.field("counts"))
    if ignore_index is not None:
        keep = np.array([v != ignore_index for v in values], dtype=bool)
        values = [v for v, k in zip(values, keep) if k]
        counts = counts[keep]
    return values, counts, rows, is_list


def parquet_batches(path, target: str, *, batch_size: int = 1 << 16, null: str = "error",
                    ignore_index: Any = None, progress: bool = False) -> Iterator[BatchCounts]:
    """The counts of column ``target`` of a Parquet file, one record batch at a time."""
    check_null(null)
    path = check_path(path)
    pf = open_parquet(path, target)
    where = f"Column {target!r} of {path!r}"
    with _progress(f"counting {os.path.basename(path)}", pf.metadata.num_rows, progress) as advance:
        for batch in pf.iter_batches(batch_size=batch_size, columns=[target]):
            yield arrow_value_counts(batch.column(0), null=null, where=where,
                                     ignore_index=ignore_index)
            advance(batch.num_rows)


def csv_batches(path, target: str, *, block_size: int = 16 << 20, null: str = "error",
                ignore_index: Any = None, delimiter: str = ",",
                progress: bool = False) -> Iterator[BatchCounts]:
    """The counts of column ``target`` of a CSV file, one block at a time (pyarrow's streaming reader)."""
    import pyarrow.csv as pacsv

    check_null(null)
    path = check_path(path)
    names = csv_columns(path, delimiter)
    if target not in names:
        raise ValueError(f"Column {target!r} is not in {path!r}. Columns: {', '.join(names)}.")
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=block_size),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(include_columns=[target], strings_can_be_null=True),
    )
    where = f"Column {target!r} of {path!r}"
    with _progress(f"counting {os.path.basename(path)}", os.path.getsize(path), progress) as advance:
        for batch in reader:
            yield arrow_value_counts(batch.column(0), null=null, where=where,
                                     ignore_index=ignore_index)
            advance(batch.nbytes)  # approximate: bytes in memory, not on disk


def dataframe_labels(df, target: str | Sequence[str], *, null: str = "error") -> np.ndarray:
    """Column ``target`` of a pandas or polars frame as 1-D labels (missing ones refused or
    dropped), or the k-hot columns ``target`` (a list of names) as an ``(N, K)`` block."""
    check_null(null)
    columns = [target] if isinstance(target, str) else list(target)
    names = list(df.columns)
    missing = [c for c in columns if c not in names]
    if missing:
        raise ValueError(f"Column(s) {missing} not in the data frame. Columns: {names}.")
    if not isinstance(target, str):
        return np.column_stack([to_numpy(df[c]) for c in columns])
    values = to_numpy(df[target])
    if values.dtype == object or np.issubdtype(values.dtype, np.floating):
        isnull = np.array([is_missing(v) for v in values], dtype=bool)
        if isnull.any():
            if null == "error":
                raise ValueError(
                    f"Column {target!r} has {int(isnull.sum())} missing label(s). Drop them "
                    "first, or pass null='skip'."
                )
            values = values[~isnull]
    return values


def _pick_target(batch: Any, target: Any) -> Any:
    if target is not None:
        return batch[target]
    if isinstance(batch, dict):
        for key in ("labels", "label", "targets", "target", "y"):
            if key in batch:
                return batch[key]
        raise ValueError(
            f"Batches are dicts with keys {list(batch)}; pass target=<key> to say which holds labels."
        )
    if isinstance(batch, (tuple, list)):
        return batch[-1]
    return batch


def batch_labels(batches: Iterable, *, target: Any = None,
                 progress: bool = True) -> Iterator[np.ndarray]:
    """The labels of each batch of an iterable (a PyTorch DataLoader, a generator...).

    ``target`` picks the labels from each batch: an index (tuples), a key
    (dicts), or None for the last element of a tuple / a standard key of a dict
    / the batch itself. Tensors are moved to the CPU batch by batch.
    """
    try:
        total = len(batches)  # type: ignore[arg-type]
    except TypeError:
        total = None
    with _progress("counting batches", total, progress) as advance:
        for batch in batches:
            yield to_numpy(_pick_target(batch, target))
            advance(1)
