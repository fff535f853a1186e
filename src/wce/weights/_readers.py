"""Counting from files, data frames and batch iterables with bounded memory.

Files are read one record batch at a time through pyarrow and counted with
``pyarrow.compute.value_counts``; only the target column is ever read, and at
most one batch of it is in memory.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterable, Sequence

import numpy as np

from ._counts import ClassCounts, _to_numpy

NULL_POLICIES = ("error", "skip")


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


def _count_arrow_column(counts: ClassCounts, column, null: str, where: str) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if column.null_count:
        if null == "error":
            raise ValueError(
                f"{where} has {column.null_count} missing label(s). Drop them first, or pass "
                "null='skip' to leave them out of the counts."
            )
        column = pc.drop_null(column)
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        rows = len(column)
        if counts.kind == "multiclass":
            counts.kind = "multilabel"
        column = pc.list_flatten(column)
        if column.null_count:  # a missing label inside a row's list: same policy
            if null == "error":
                raise ValueError(
                    f"{where} has {column.null_count} missing label(s). Drop them first, or pass "
                    "null='skip' to leave them out of the counts."
                )
            column = pc.drop_null(column)
    else:
        rows = len(column)
    if pa.types.is_floating(column.type):
        column = pc.cast(column, pa.int64())  # raises on non-integral floats
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    vc = pc.value_counts(column)
    values = vc.field("values").to_pylist()
    if counts.ignore_index is not None:
        keep = [v != counts.ignore_index for v in values]
        values = [v for v, k in zip(values, keep) if k]
        n = np.asarray(vc.field("counts"))[np.asarray(keep, dtype=bool)]
    else:
        n = np.asarray(vc.field("counts"))
    counts._add(values, n)
    counts.n_rows += rows


def _new_counts(classes: Sequence | None, ignore_index: Any) -> ClassCounts:
    return ClassCounts(tuple(classes) if classes is not None else (), declared=classes is not None,
                       ignore_index=ignore_index)


def _check_null(null: str) -> None:
    if null not in NULL_POLICIES:
        raise ValueError(f"The 'null' parameter must be one of {NULL_POLICIES}. Got {null!r} instead.")


def _check_path(path) -> str:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path!r}.")
    return path


def count_parquet(
    path,
    target: str,
    *,
    classes: Sequence | None = None,
    batch_size: int = 1 << 16,
    null: str = "error",
    ignore_index: Any = None,
    progress: bool = False,
) -> ClassCounts:
    import pyarrow.parquet as pq

    _check_null(null)
    path = _check_path(path)  # a str, so that messages show the path, not PosixPath(...)
    # pre_buffer=False: pyarrow's default pre-buffers the column chunks of all row groups,
    # which makes the peak memory grow with the file (about its compressed size)
    pf = pq.ParquetFile(path, pre_buffer=False)
    if target not in pf.schema_arrow.names:
        raise ValueError(
            f"Column {target!r} is not in {path!r}. Columns: {', '.join(pf.schema_arrow.names)}."
        )
    counts = _new_counts(classes, ignore_index)
    with _progress(f"counting {os.path.basename(path)}", pf.metadata.num_rows, progress) as advance:
        for batch in pf.iter_batches(batch_size=batch_size, columns=[target]):
            _count_arrow_column(counts, batch.column(0), null, f"Column {target!r} of {path!r}")
            advance(batch.num_rows)
    return counts


def count_csv(
    path,
    target: str,
    *,
    classes: Sequence | None = None,
    block_size: int = 16 << 20,
    null: str = "error",
    ignore_index: Any = None,
    delimiter: str = ",",
    progress: bool = False,
) -> ClassCounts:
    import pyarrow.csv as pacsv

    _check_null(null)
    path = _check_path(path)
    with open(path, newline="") as fh:
        header = next(iter(fh), "").rstrip("\r\n").split(delimiter)
    names = [h.strip().strip('"') for h in header]
    if target not in names:
        raise ValueError(f"Column {target!r} is not in {path!r}. Columns: {', '.join(names)}.")
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=block_size),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(include_columns=[target], strings_can_be_null=True),
    )
    counts = _new_counts(classes, ignore_index)
    with _progress(f"counting {os.path.basename(path)}", os.path.getsize(path), progress) as advance:
        for batch in reader:
            _count_arrow_column(counts, batch.column(0), null, f"Column {target!r} of {path!r}")
            advance(batch.nbytes)  # approximate: bytes in memory, not on disk
    return counts


def count_dataframe(
    df,
    target: str | Sequence[str],
    *,
    classes: Sequence | None = None,
    null: str = "error",
    ignore_index: Any = None,
) -> ClassCounts:
    _check_null(null)
    columns = [target] if isinstance(target, str) else list(target)
    names = list(df.columns)
    missing = [c for c in columns if c not in names]
    if missing:
        raise ValueError(f"Column(s) {missing} not in the data frame. Columns: {names}.")
    if isinstance(target, str):
        series = df[target]
        values = _to_numpy(series)
        if values.dtype == object or np.issubdtype(values.dtype, np.floating):
            isnull = np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in values])
            if isnull.any():
                if null == "error":
                    raise ValueError(
                        f"Column {target!r} has {int(isnull.sum())} missing label(s). Drop them "
                        "first, or pass null='skip'."
                    )
                values = values[~isnull]
        return ClassCounts.from_labels(values, classes=classes, kind="multiclass",
                                       ignore_index=ignore_index)
    block = np.column_stack([_to_numpy(df[c]) for c in columns])
    counts = ClassCounts(tuple(columns) if classes is None else tuple(classes),
                         kind="multilabel", declared=True)
    return counts.update(block)


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


def count_batches(
    batches: Iterable,
    *,
    target: Any = None,
    classes: Sequence | None = None,
    kind: str = "auto",
    ignore_index: Any = None,
    progress: bool = True,
) -> ClassCounts:
    """Count labels from an iterable of batches.

    ``target`` picks the labels from each batch: an index (tuples), a key
    (dicts), or None for the last element of a tuple / a standard key of a dict
    / the batch itself. Tensors are moved to the CPU batch by batch.
    """
    try:
        total = len(batches)  # type: ignore[arg-type]
    except TypeError:
        total = None
    counts: ClassCounts | None = None
    with _progress("counting batches", total, progress) as advance:
        for batch in batches:
            labels = _to_numpy(_pick_target(batch, target))
            if counts is None:
                counts = ClassCounts.from_labels(labels, classes=classes, kind=kind,
                                                 ignore_index=ignore_index)
            else:
                counts.update(labels)
            advance(1)
    if counts is None:
        raise ValueError("The data loader yielded no batches: there is nothing to count.")
    return counts
