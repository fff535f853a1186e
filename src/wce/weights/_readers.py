"""Reading labels from files, data frames and batch iterables with bounded memory.

Files are read one record batch at a time through pyarrow and counted by a
:class:`Tally` (``np.bincount`` on the buffer of integer labels and on the
indices of dictionary-encoded strings, ``pyarrow.compute.value_counts``
otherwise); only the target column is ever read, and at most one batch of it is
in memory. The readers hand back plain labels and their ``counts``;
:class:`~wce.weights.ClassCounts` (its ``from_parquet``, ``from_csv``,
``from_dataframe`` and ``from_dataloader``) adds them up, so this module does
not know ClassCounts.
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


#: Integer labels whose range (max - min + 1) is at most this are counted with
#: ``np.bincount`` into one dense array; wider ranges fall back to ``np.unique``.
DENSE_RANGE = 1 << 20


def _missing_error(where: str, n: int) -> ValueError:
    return ValueError(
        f"{where} has {n} missing label(s). Drop them first, or pass "
        "null='skip' to leave them out of the counts."
    )


def _is_label_type(typ) -> bool:
    import pyarrow as pa

    return (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_string(typ)
            or pa.types.is_large_string(typ) or pa.types.is_boolean(typ) or pa.types.is_null(typ)
            or (pa.types.is_dictionary(typ) and _is_label_type(typ.value_type)))


def _is_list_type(typ) -> bool:
    import pyarrow as pa

    return pa.types.is_list(typ) or pa.types.is_large_list(typ)


class Tally:
    """Running class counts of one label column, fed one Arrow array (a record batch's
    column) at a time; only the counts are kept, never the labels.

    * integers: ``np.bincount`` on the column's buffer into one dense array
      (negative labels shift the range); a range wider than :data:`DENSE_RANGE`
      is counted with ``np.unique`` instead;
    * dictionary columns (strings read with ``read_dictionary``): ``np.bincount``
      on the indices, then the counts are keyed by the dictionary's values;
    * strings: ``pyarrow.compute.value_counts``; booleans: the number of ``True``;
    * floats must hold integers (``1.0``), NaN is a missing label;
    * a list column holds the labels of one multi-label row per row.

    Missing labels raise (``null="error"``, naming ``where``) or are left out of
    the counts and of the rows (``"skip"``).
    """

    def __init__(self, where: str, *, null: str = "error"):
        check_null(null)
        self.where = where
        self.null = null
        self.rows = 0
        self.is_list: bool | None = None
        self.lo = 0  # dense integer counts: bins[i] is the count of label lo + i
        self.bins: np.ndarray | None = None
        self.other: dict = {}  # every other label -> count

    # ----------------------------------------------------------- feeding
    def add(self, column, bounds: tuple[int, int] | None = None) -> None:
        """Count one pyarrow Array or ChunkedArray. ``bounds``: the smallest and largest
        integer label if known (Parquet statistics), a hint that saves a pass over the data."""
        import pyarrow as pa

        if isinstance(column, pa.ChunkedArray):
            for chunk in column.chunks:
                self.add(chunk, bounds)
            return
        is_list = _is_list_type(column.type)
        if self.is_list is None:
            self.is_list = is_list
        column = self._drop_missing(column)  # a missing row is not counted as a row
        self.rows += len(column)
        if is_list:  # the labels of each multi-label row; a missing one inside a list: same policy
            column = self._drop_missing(column.flatten())
            bounds = None
        self._add_flat(column, bounds)

    def _drop_missing(self, column):
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_floating(column.type):
            missing = column.null_count + (pc.sum(pc.is_nan(column)).as_py() or 0)
        else:
            missing = column.null_count
        if not missing:
            return column
        if self.null == "error":
            raise _missing_error(self.where, missing)
        if pa.types.is_null(column.type):
            return column.slice(0, 0)
        return pc.filter(column, pc.invert(pc.is_null(column, nan_is_null=True)))

    def _add_flat(self, column, bounds: tuple[int, int] | None = None) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        typ = column.type
        if len(column) == 0:
            return
        if pa.types.is_dictionary(typ):
            indices = np.asarray(column.indices)
            if len(column.dictionary) <= max(DENSE_RANGE, len(indices)):
                n = np.bincount(indices, minlength=len(column.dictionary))
                keep = np.flatnonzero(n)
                self._add_other(self._labels(column.dictionary.take(pa.array(keep))), n[keep])
            else:
                self._add_flat(column.dictionary_decode())
        elif pa.types.is_integer(typ):
            self._add_ints(np.asarray(column), bounds)
        elif pa.types.is_floating(typ):
            self._add_ints(self._floats_to_ints(column))
        elif pa.types.is_boolean(typ):
            n_true = pc.sum(column).as_py() or 0
            self._add_other([True, False], [n_true, len(column) - n_true])
        elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
            vc = pc.value_counts(column)
            self._add_other(vc.field("values").to_pylist(), np.asarray(vc.field("counts")))
        else:
            raise TypeError(
                f"{self.where} has type {typ}; class labels must be integers, strings or "
                "booleans (or lists of them for multi-label rows)."
            )

    def _labels(self, values) -> list:
        """Plain labels of an Arrow array of dictionary values (its type is checked too)."""
        import pyarrow as pa

        if pa.types.is_floating(values.type):
            return self._floats_to_ints(values).tolist()
        if not _is_label_type(values.type) or pa.types.is_dictionary(values.type):
            raise TypeError(
                f"{self.where} has dictionary values of type {values.type}; class labels must "
                "be integers, strings or booleans."
            )
        return values.to_pylist()

    def _floats_to_ints(self, column) -> np.ndarray:
        """Integral floats as int64; a fractional or infinite label is an error naming it."""
        arr = np.asarray(column, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            bad = (arr != np.floor(arr)) | ~np.isfinite(arr) | (np.abs(arr) >= 2.0 ** 63)
        if bad.any():
            first = float(arr[np.flatnonzero(bad)[0]])
            raise ValueError(
                f"{self.where} holds the label {first!r} ({int(bad.sum())} non-integer value(s)); "
                "class labels must be integers, strings or booleans. Labels such as 0.5 look "
                "like probabilities or scores, not classes."
            )
        return arr.astype(np.int64)

    def _add_ints(self, x: np.ndarray, bounds: tuple[int, int] | None = None) -> None:
        if x.size == 0:
            return
        n = None
        if bounds is not None and 0 <= bounds[1] - bounds[0] < DENSE_RANGE and bounds[1] < 1 << 63:
            lo = bounds[0]
            try:  # statistics are a hint: a label below lo makes bincount refuse (then: min/max)
                n = np.bincount(x.astype(np.int64) - lo if lo or x.dtype.itemsize < 8
                                or x.dtype == np.uint64 else x, minlength=bounds[1] - lo + 1)
            except ValueError:
                n = None
            if n is not None:
                hi = lo + len(n) - 1
        if n is None:
            lo, hi = int(x.min()), int(x.max())
            if hi - lo >= DENSE_RANGE or hi >= 1 << 63:  # wide, or beyond int64 (uint64)
                values, counts = np.unique(x, return_counts=True)
                self._add_other(values.tolist(), counts)
                return
            if x.dtype == np.uint64 or x.dtype.itemsize < 8 or lo != 0:
                x = x.astype(np.int64) - lo if lo else x.astype(np.int64)
            n = np.bincount(x, minlength=hi - lo + 1)
        if self.bins is None:
            self.lo, self.bins = lo, n
            return
        new_lo, new_hi = min(self.lo, lo), max(self.lo + len(self.bins) - 1, hi)
        if new_hi - new_lo >= DENSE_RANGE:  # the union is too wide: keep this batch aside
            keep = np.flatnonzero(n)
            self._add_other((keep + lo).tolist(), n[keep])
            return
        if new_lo != self.lo or new_hi != self.lo + len(self.bins) - 1:
            grown = np.zeros(new_hi - new_lo + 1, dtype=np.int64)
            grown[self.lo - new_lo:self.lo - new_lo + len(self.bins)] = self.bins
            self.lo, self.bins = new_lo, grown
        self.bins[lo - self.lo:lo - self.lo + len(n)] += n

    def _add_other(self, values: Sequence, counts: Sequence) -> None:
        other = self.other
        for v, n in zip(values, np.asarray(counts).tolist()):
            if n:
                other[v] = other.get(v, 0) + n

    # ------------------------------------------------------------ result
    def result(self, ignore_index: Any = None) -> BatchCounts:
        """``(labels, counts, rows, is_list)``: every label seen (sorted where the labels
        sort), its count, the rows counted and whether the column was a list column."""
        merged = dict(self.other)
        if self.bins is not None:
            keep = np.flatnonzero(self.bins)
            for v, n in zip((keep + self.lo).tolist(), self.bins[keep].tolist()):
                merged[v] = merged.get(v, 0) + n
        values, counts = sorted_counts(merged, ignore_index)
        return values, counts, self.rows, bool(self.is_list)


def arrow_value_counts(column, *, null: str, where: str, ignore_index: Any = None) -> BatchCounts:
    """``(labels, counts, rows, is_list)`` of one pyarrow array (e.g. a record batch's label
    column): a :class:`Tally` of that array alone."""
    tally = Tally(where, null=null)
    tally.add(column)
    return tally.result(ignore_index)


def check_file(path, kind: str) -> str:
    """The path as a str; it must be an existing file (not a folder)."""
    path = check_path(path)
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"{path!r} is a folder, not a {kind} file. Pass one file, or count every Parquet "
            "file under the folder with engine='duckdb', 'dask' or 'spark' "
            "(wce.weights.engines.count_file)."
        )
    return path


def open_parquet(path: str, target: str, *, read_dictionary: bool = False):
    """A ``pyarrow.parquet.ParquetFile`` holding column ``target``, read without pre-buffering
    (and string columns, with ``read_dictionary``, as dictionary arrays)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # pre_buffer=False: pyarrow's default pre-buffers the column chunks of all row groups,
    # which makes the peak memory grow with the file (about its compressed size)
    try:
        pf = pq.ParquetFile(path, pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path!r} is not a readable Parquet file: {first}") from exc
    if target not in pf.schema_arrow.names:
        raise ValueError(
            f"Column {target!r} is not in {path!r}. Columns: {', '.join(pf.schema_arrow.names)}."
        )
    typ = pf.schema_arrow.field(target).type
    if read_dictionary and (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
        # strings come back as dictionary arrays: counted as indices, one hash per distinct label
        pf = pq.ParquetFile(path, pre_buffer=False, read_dictionary=[target])
    return pf


def csv_columns(path: str, delimiter: str = ",") -> list[str]:
    """The column names on the first line of a CSV file (a UTF-8 byte-order mark, as Excel
    writes, is not part of the first name)."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        header = next(iter(fh), "").rstrip("\r\n").split(delimiter)
    return [h.strip().strip('"') for h in header]


def parquet_counts(path, target: str, *, batch_size: int = 1 << 16, null: str = "error",
                   ignore_index: Any = None, progress: bool = False) -> BatchCounts:
    """The counts of column ``target`` of a Parquet file, read ``batch_size`` rows at a time
    (at most one record batch of the column in memory)."""
    check_null(null)
    path = check_file(path, "Parquet")
    pf = open_parquet(path, target, read_dictionary=True)
    tally = Tally(f"Column {target!r} of {path!r}", null=null)
    with _progress(f"counting {os.path.basename(path)}", pf.metadata.num_rows, progress) as advance:
        for group in range(pf.metadata.num_row_groups):
            bounds = _int_bounds(pf, target, group)
            for batch in pf.iter_batches(batch_size=batch_size, columns=[target],
                                         row_groups=[group]):
                tally.add(batch.column(0), bounds)
                advance(batch.num_rows)
    return tally.result(ignore_index)


def _int_bounds(pf, target: str, group: int) -> tuple[int, int] | None:
    """The smallest and largest value of integer column ``target`` in row group ``group``,
    from the Parquet statistics, or None."""
    import pyarrow as pa

    if not pa.types.is_integer(pf.schema_arrow.field(target).type):
        return None
    meta = pf.metadata.row_group(group)
    for i in range(meta.num_columns):
        column = meta.column(i)
        if column.path_in_schema == target:
            stats = column.statistics
            if stats is not None and stats.has_min_max and isinstance(stats.min, int) \
                    and isinstance(stats.max, int):
                return stats.min, stats.max
            return None
    return None


def csv_counts(path, target: str, *, block_size: int = 1 << 20, null: str = "error",
               ignore_index: Any = None, delimiter: str = ",",
               progress: bool = False) -> BatchCounts:
    """The counts of column ``target`` of a CSV file, one block at a time (pyarrow's streaming reader)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    check_null(null)
    path = check_file(path, "CSV")
    names = csv_columns(path, delimiter)
    if target not in names:
        raise ValueError(f"Column {target!r} is not in {path!r}. Columns: {', '.join(names)}.")
    where = f"Column {target!r} of {path!r}"
    tally = Tally(where, null=null)
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=block_size),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(include_columns=[target], strings_can_be_null=True),
        )
        with _progress(f"counting {os.path.basename(path)}", os.path.getsize(path),
                       progress) as advance:
            for batch in reader:
                tally.add(batch.column(0))
                advance(batch.nbytes)  # approximate: bytes in memory, not on disk
    except pa.ArrowInvalid as exc:  # e.g. a later block that does not parse as the first did
        raise ValueError(f"{where} could not be read: {str(exc).strip().splitlines()[0]}") from exc
    return tally.result(ignore_index)


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


def sorted_counts(merged: dict, ignore_index: Any = None) -> tuple[list, np.ndarray]:
    """``{label: count}`` as sorted labels (insertion order if they do not sort) and counts."""
    if ignore_index is not None:
        merged = {v: n for v, n in merged.items() if v != ignore_index}
    try:
        values = sorted(merged)
    except TypeError:
        values = list(merged)
    return values, np.array([merged[v] for v in values], dtype=np.int64)
