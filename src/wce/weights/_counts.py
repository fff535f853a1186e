"""ClassCounts: class counts that stream, merge and come from any source."""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from . import _readers
from ._labels import check_same_type, is_missing, normalise_label, scalar, to_numpy, value_counts

KINDS = ("multiclass", "multilabel", "mask")
_INT64_LIMIT = float(2 ** 63)


def _check_counts(values: Any, classes: tuple, name: str) -> np.ndarray:
    """Per-class counts as int64; anything but a non-negative whole number names its class."""
    arr = np.asarray(values)
    if arr.dtype == object or np.iscomplexobj(arr) or not (
            np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
        raise TypeError(
            f"The '{name}' parameter of ClassCounts must hold numbers of samples (non-negative "
            f"integers). Got dtype {arr.dtype} instead."
        )
    arr = arr.reshape(-1)
    if arr.size == 0 and classes:
        return np.zeros(len(classes), dtype=np.int64)
    if arr.shape != (len(classes),):
        raise ValueError(
            f"ClassCounts needs one count per class: the '{name}' parameter must have "
            f"{len(classes)} entries, one per class. Got {arr.size} instead."
        )
    if np.issubdtype(arr.dtype, np.floating):
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr)) | (np.abs(arr) >= _INT64_LIMIT)
    else:
        bad = arr < 0
    if np.any(bad):
        shown = ", ".join(f"{scalar(arr[i])!r} for class {classes[i]!r}"
                          for i in np.flatnonzero(bad)[:5])
        raise ValueError(
            f"The '{name}' parameter of ClassCounts must hold non-negative integer counts (numbers "
            f"of samples). Got {shown} instead. A negative, fractional or missing count has no "
            "meaning as a class size; fix the source of the counts."
        )
    return arr.astype(np.int64)


def _check_rows(n_rows: Any) -> int:
    value = scalar(n_rows)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            np.isfinite(value) and value >= 0 and float(value).is_integer()):
        raise ValueError(
            f"The 'n_rows' parameter of ClassCounts must be a non-negative integer (the rows "
            f"seen). Got {n_rows!r} instead."
        )
    return int(value)


@dataclass
class ClassCounts:
    """How many times each class was seen, in an explicit, stable class order.

    ``counts[i]`` is the number of elements (samples, pixels or positive
    labels) of ``classes[i]``. ``n_rows`` counts the rows seen (samples, images,
    multi-label rows). For segmentation masks, ``pixels_in_present[i]`` is the
    number of pixels of the images that contain class i at all (needed for
    Eigen & Fergus' median-frequency balancing).

    Class order: the declared ``classes`` if given (then an undeclared label is
    an error), otherwise sorted at creation; classes first seen later are
    appended in sorted order. ``merge`` keeps the left operand's order and
    appends the right's new classes, which makes it associative; it is
    commutative as a mapping from class to count.

    Example:
      >>> from wce.weights import ClassCounts
      >>> c = ClassCounts.from_labels(["cat", "dog", "dog", "cat", "dog"])
      >>> c.as_dict()
      {'cat': 2, 'dog': 3}
      >>> c.update(["bird"]).as_dict()
      {'cat': 2, 'dog': 3, 'bird': 1}
    """

    classes: tuple = ()
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    n_rows: int = 0
    kind: str = "multiclass"
    pixels_in_present: np.ndarray | None = None
    declared: bool = False
    ignore_index: Any = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"The 'kind' parameter of ClassCounts must be one of {KINDS}. Got {self.kind!r} instead."
            )
        self.classes = tuple(normalise_label(c) for c in self.classes)
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"The classes of ClassCounts must be unique. Got {list(self.classes)}.")
        self._check_types(self.classes)
        self.counts = _check_counts(self.counts, self.classes, "counts")
        self.n_rows = _check_rows(self.n_rows)
        if self.kind == "mask" and self.pixels_in_present is None:
            self.pixels_in_present = np.zeros(len(self.classes), dtype=np.int64)
        if self.pixels_in_present is not None:
            self.pixels_in_present = _check_counts(self.pixels_in_present, self.classes,
                                                   "pixels_in_present")
        self._index = {c: i for i, c in enumerate(self.classes)}

    # ------------------------------------------------------------------ basics
    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    @property
    def frequencies(self) -> np.ndarray:
        total = self.total
        return self.counts / total if total else np.zeros(len(self.counts))

    def positive_class(self, positive: Any = None) -> Any:
        """The positive class of a binary (or one-vs-rest) ``pos_weight``: ``positive`` if
        given (it must be one of the classes), otherwise the minority class. On a tie the
        class that sorts last among the smallest is positive (``1`` of ``0``/``1``, ``True``
        of booleans), whatever order the classes were seen in.

        Example:
          >>> ClassCounts.from_labels(["ok"] * 97 + ["fraud"] * 3).positive_class()
          'fraud'
        """
        if positive is not None:
            positive = normalise_label(positive)
            if positive not in self._index or (self.classes and type(positive) is not type(
                    self.classes[self._index[positive]])):
                raise ValueError(f"The positive class {positive!r} is not one of the classes "
                                 f"{list(self.classes)}.")
            return self.classes[self._index[positive]]
        if not self.classes:
            raise ValueError("There are no classes to choose a positive class from.")
        smallest = [c for c, n in zip(self.classes, self.counts) if n == self.counts.min()]
        try:
            return sorted(smallest)[-1]
        except TypeError:
            return smallest[-1]

    def as_dict(self) -> dict:
        return {c: int(n) for c, n in zip(self.classes, self.counts)}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClassCounts):
            return NotImplemented
        pa = None if self.pixels_in_present is None else dict(zip(self.classes, self.pixels_in_present.tolist()))
        pb = None if other.pixels_in_present is None else dict(zip(other.classes, other.pixels_in_present.tolist()))
        return (
            self.as_dict() == other.as_dict()
            and self.n_rows == other.n_rows
            and self.kind == other.kind
            and pa == pb
        )

    def __repr__(self) -> str:
        return f"ClassCounts({self.as_dict()}, n_rows={self.n_rows}, kind={self.kind!r})"

    def to_json(self) -> str:
        return json.dumps(
            {"classes": list(self.classes), "counts": self.counts.tolist(), "n_rows": self.n_rows,
             "kind": self.kind,
             "pixels_in_present": None if self.pixels_in_present is None else self.pixels_in_present.tolist(),
             "declared": self.declared, "ignore_index": scalar(self.ignore_index)}
        )

    @classmethod
    def from_json(cls, text: str) -> "ClassCounts":
        d = json.loads(text)
        # declared / ignore_index keep their meaning after a round trip (older JSON lacks them)
        return cls(tuple(d["classes"]), np.asarray(d["counts"]), d["n_rows"], d["kind"],
                   None if d["pixels_in_present"] is None else np.asarray(d["pixels_in_present"]),
                   declared=bool(d.get("declared", False)), ignore_index=d.get("ignore_index"))

    # ------------------------------------------------------------- internals
    def _check_types(self, labels: Iterable) -> None:
        check_same_type([*labels, *self.classes[:1]])

    def _grow(self, new: Sequence, *, sort: bool = True) -> None:
        if not new:
            return
        if self.declared:
            shown = list(new)[:5]
            raise ValueError(
                f"Labels {shown} are not among the declared classes {list(self.classes)}. "
                "Declare every class up front, or pass ignore_index for a void label."
            )
        self._check_types(new)
        try:
            new = sorted(new) if sort else list(new)
        except TypeError:
            new = list(new)
        self.classes = self.classes + tuple(new)
        self._index = {c: i for i, c in enumerate(self.classes)}
        pad = np.zeros(len(new), dtype=np.int64)
        self.counts = np.concatenate([self.counts, pad])
        if self.pixels_in_present is not None:
            self.pixels_in_present = np.concatenate([self.pixels_in_present, pad])

    def _add(self, values: Sequence, counts: Sequence, pixels: Sequence | None = None,
             *, sort: bool = True) -> None:
        values = [normalise_label(v) for v in values]
        if values and self.classes:  # True == 1 as a dict key: check types, not just membership
            self._check_types(values)
        self._grow([v for v in dict.fromkeys(values) if v not in self._index], sort=sort)
        idx = np.fromiter((self._index[v] for v in values), dtype=np.int64, count=len(values))
        np.add.at(self.counts, idx, np.asarray(counts, dtype=np.int64))
        if pixels is not None:
            np.add.at(self.pixels_in_present, idx, np.asarray(pixels, dtype=np.int64))

    # -------------------------------------------------------------- building
    @classmethod
    def from_labels(
        cls,
        labels: Any,
        *,
        classes: Sequence | None = None,
        kind: str = "auto",
        ignore_index: Any = None,
    ) -> "ClassCounts":
        """Count ``labels``: 1-D class labels (ints, strings, bools), k-hot
        multi-label rows ``(N, K)`` with ``kind="multilabel"``, or segmentation
        masks ``(N, H, W, ...)`` (``kind="mask"``, or ``"auto"`` for 3-D and more).

        ``classes`` declares the class order (and classes that may be absent).
        ``ignore_index`` is a label value that is not counted (e.g. 255 in masks).
        """
        arr = to_numpy(labels)
        if kind == "auto":
            if arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1):
                kind = "multiclass"
            elif arr.ndim >= 3:
                kind = "mask"
            else:
                raise ValueError(
                    f"Labels of shape {arr.shape} are ambiguous: pass kind='multilabel' for k-hot "
                    "rows (N, K) or kind='mask' for segmentation masks (N, H, W)."
                )
        if kind == "multilabel" and classes is None:
            classes = tuple(range(arr.shape[1])) if arr.ndim == 2 else None
        out = cls(
            tuple(classes) if classes is not None else (),
            kind=kind,
            declared=classes is not None,
            ignore_index=ignore_index,
        )
        return out.update(arr)

    def update(self, batch: Any) -> "ClassCounts":
        """Add a batch of labels (same layout as ``from_labels``); returns self."""
        arr = to_numpy(batch)
        if self.kind == "multilabel":
            self._update_multilabel(arr)
            return self
        if self.kind == "multiclass":
            arr = arr.reshape(-1) if arr.ndim == 2 and arr.shape[1] == 1 else arr
            if arr.ndim != 1:
                raise ValueError(
                    f"A multiclass ClassCounts takes 1-D labels; got shape {arr.shape}. "
                    "Use kind='mask' for segmentation masks or kind='multilabel' for k-hot rows."
                )
            rows = arr.shape[0]
            flat = arr
        else:
            if arr.ndim < 2:
                raise ValueError(f"Segmentation masks must be (N, H, W, ...); got shape {arr.shape}.")
            rows = arr.shape[0]
            flat = arr.reshape(rows, -1)
        if flat.dtype == object:
            values = flat.reshape(-1).tolist()
            if any(is_missing(v) for v in values):
                raise ValueError(
                    "Labels contain missing values (None/NaN). Drop or impute them before counting."
                )
            self._check_types(values)  # before sorting: mixed types would not sort
        elif np.issubdtype(flat.dtype, np.floating) and np.isnan(flat).any():
            raise ValueError("Labels contain NaN. Drop or impute them before counting.")
        if self.kind == "mask":
            for image in flat:
                values, counts = value_counts(image, self.ignore_index)
                self._add(values, counts, pixels=np.full(len(values), int(counts.sum())))
        else:
            values, counts = value_counts(flat, self.ignore_index)
            self._add(values, counts)
        self.n_rows += rows
        return self

    def _update_multilabel(self, arr: np.ndarray) -> None:
        if arr.ndim != 2:
            raise ValueError(f"Multi-label targets must be k-hot rows (N, K); got shape {arr.shape}.")
        if not self.classes:
            self._grow(list(range(arr.shape[1])))
        if arr.shape[1] != self.n_classes:
            raise ValueError(
                f"Multi-label rows have {arr.shape[1]} columns but {self.n_classes} classes were "
                "declared."
            )
        if not np.all((arr == 0) | (arr == 1)):
            raise ValueError("Multi-label targets must be k-hot: every entry 0 or 1.")
        self.counts = self.counts + arr.sum(axis=0).astype(np.int64)
        self.n_rows += arr.shape[0]

    def merge(self, other: "ClassCounts") -> "ClassCounts":
        """A new ClassCounts holding both (e.g. counts from two shards or workers)."""
        if not isinstance(other, ClassCounts):
            raise TypeError(f"merge takes a ClassCounts. Got {type(other).__name__}.")
        if self.kind != other.kind:
            raise ValueError(f"Cannot merge {self.kind} counts with {other.kind} counts.")
        out = ClassCounts(self.classes, self.counts.copy(), self.n_rows, self.kind,
                          None if self.pixels_in_present is None else self.pixels_in_present.copy(),
                          ignore_index=self.ignore_index)
        # the right operand's new classes keep its order (an ordered union), so that
        # (a + b) + c and a + (b + c) have the same classes in the same order
        out._add(list(other.classes), other.counts, other.pixels_in_present, sort=False)
        out.n_rows += other.n_rows
        out.declared = self.declared and other.declared and set(self.classes) == set(other.classes)
        return out

    __add__ = merge

    # ------------------------------------------------------------ readers
    @classmethod
    def _from_batches(cls, batches: Iterable, classes: Sequence | None,
                      ignore_index: Any) -> "ClassCounts":
        """Add up a reader's ``(labels, counts, rows, is_list)`` results."""
        out = cls(tuple(classes) if classes is not None else (), declared=classes is not None,
                  ignore_index=ignore_index)
        for values, counts, rows, is_list in batches:
            if is_list:
                out.kind = "multilabel"
            out._add(values, counts)
            out.n_rows += rows
        return out

    @classmethod
    def from_parquet(cls, path, target: str, *, classes: Sequence | None = None,
                     batch_size: int = 1 << 16, null: str = "error", ignore_index: Any = None,
                     progress: bool = False) -> "ClassCounts":
        """Count a Parquet column in record batches (bounded memory).

        Only column ``target`` is read, ``batch_size`` rows at a time, and only
        the counts are kept: integer labels are counted with ``np.bincount`` on the
        column's buffer, strings as dictionary indices. A list column gives
        multi-label counts (one list of labels per row). The classes come sorted.
        ``null="error"`` (default) refuses missing labels, ``"skip"`` leaves them
        out of the counts and of ``n_rows``. ``classes`` and ``ignore_index`` are
        as in :meth:`from_labels`; ``progress`` shows a progress bar.
        """
        result = _readers.parquet_counts(path, target, batch_size=batch_size, null=null,
                                         ignore_index=ignore_index, progress=progress)
        return cls._from_batches([result], classes, ignore_index)

    @classmethod
    def from_csv(cls, path, target: str, *, classes: Sequence | None = None,
                 block_size: int = 1 << 20, null: str = "error", ignore_index: Any = None,
                 delimiter: str = ",", progress: bool = False) -> "ClassCounts":
        """Count a CSV column in blocks of ``block_size`` bytes through pyarrow's streaming
        reader; the other options are those of :meth:`from_parquet`."""
        result = _readers.csv_counts(path, target, block_size=block_size, null=null,
                                     ignore_index=ignore_index, delimiter=delimiter,
                                     progress=progress)
        return cls._from_batches([result], classes, ignore_index)

    @classmethod
    def from_sql(cls, source: Any, *, target: str, table: str | None = None,
                 query: str | None = None, classes: Sequence | None = None,
                 null: str = "error", ignore_index: Any = None) -> "ClassCounts":
        """Count column ``target`` of a database table (or of a query's result) with
        ``SELECT target, count(*) ... GROUP BY target`` inside the database: only one
        row per class comes back, never the data.

        ``source`` is a URL (``duckdb:///path.db``, ``duckdb://`` for an in-memory
        DuckDB, ``sqlite:///path.db``, or any SQLAlchemy URL such as
        ``postgresql://...``) or an open connection (DuckDB, ``sqlite3``, or a
        SQLAlchemy engine or connection, which is left open). Pass either
        ``table`` (a name, ``schema.name``, or for DuckDB a Parquet/CSV path or
        glob such as ``"data/*.parquet"`` or a Hive-partitioned folder) or
        ``query`` (any ``SELECT``). Names are quoted as identifiers, never pasted
        into the SQL. ``null``, ``classes`` and ``ignore_index`` are as in
        :meth:`from_parquet`; an empty table is an error.
        """
        from . import _db

        result = _db.sql_counts(source, target=target, table=table, query=query, null=null,
                                ignore_index=ignore_index)
        return cls._from_batches([result], classes, ignore_index)

    @classmethod
    def from_dataframe(cls, df, target: str | Sequence[str], *, classes: Sequence | None = None,
                       null: str = "error", ignore_index: Any = None) -> "ClassCounts":
        """Count a pandas or polars column (``target`` a name), or k-hot columns (a list of names,
        which are then the classes unless ``classes`` is given)."""
        labels = _readers.dataframe_labels(df, target, null=null)
        if isinstance(target, str):
            return cls.from_labels(labels, classes=classes, kind="multiclass",
                                   ignore_index=ignore_index)
        columns = tuple(target) if classes is None else tuple(classes)
        return cls(columns, kind="multilabel", declared=True).update(labels)

    @classmethod
    def from_dataloader(cls, loader: Iterable, *, target: Any = None,
                        classes: Sequence | None = None, kind: str = "auto",
                        ignore_index: Any = None, progress: bool = True) -> "ClassCounts":
        """Count labels from any iterable of batches (a PyTorch DataLoader, a generator...).

        ``target`` picks the labels from each batch: an index (tuples), a key
        (dicts), or None for the last element of a tuple / a standard key of a
        dict / the batch itself. Tensors are moved to the CPU batch by batch.
        ``classes``, ``kind`` and ``ignore_index`` are as in :meth:`from_labels`.
        """
        counts: ClassCounts | None = None
        with closing(_readers.batch_labels(loader, target=target, progress=progress)) as batches:
            for labels in batches:
                if counts is None:
                    counts = cls.from_labels(labels, classes=classes, kind=kind,
                                             ignore_index=ignore_index)
                else:
                    counts.update(labels)
        if counts is None:
            raise ValueError("The data loader yielded no batches: there is nothing to count.")
        return counts
