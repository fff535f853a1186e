"""What every counting engine hands back, and how it becomes a :class:`ClassCounts`.

The engines (:mod:`wce.weights.engines` for local files, :mod:`wce.weights.dask`,
:mod:`wce.weights.spark`) each count with their own machinery and return a
:class:`Partial`: a small table of ``(label, count[, pixels])`` rows and a few
totals. :func:`build_counts` applies the shared rules (null policy,
``ignore_index``, label types) once, so every engine gives the same ClassCounts.
The engines import this module; it imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ._counts import ClassCounts
from ._labels import is_missing
from ._readers import check_null

KINDS = ("auto", "multiclass", "multilabel", "mask")


@dataclass
class Partial:
    """What an engine hands back: label -> count (and, for masks, pixels of the
    images containing the label), with missing labels still included as
    ``None``/NaN values so that one place applies the null policy."""

    values: list = field(default_factory=list)
    counts: list = field(default_factory=list)
    pixels: list | None = None
    rows: int = 0  # rows seen, null rows included
    null_rows: int = 0  # list columns: rows whose list itself is null (plain columns: 0,
    # their missing labels are the null group in ``values``)

    def __add__(self, other: "Partial") -> "Partial":
        pixels = None if self.pixels is None and other.pixels is None else \
            list(self.pixels or []) + list(other.pixels or [])
        return Partial(self.values + other.values, self.counts + other.counts, pixels,
                       self.rows + other.rows, self.null_rows + other.null_rows)


def check_kind(kind: str, *, is_list: bool, where: str) -> str:
    """Resolve ``kind="auto"`` from the column layout and refuse layouts that do not fit."""
    if kind not in KINDS:
        raise ValueError(f"The 'kind' parameter must be one of {KINDS}. Got {kind!r} instead.")
    if kind == "auto":
        return "multilabel" if is_list else "multiclass"
    if is_list and kind == "multiclass":
        raise ValueError(
            f"{where} holds a list of labels per row; pass kind='multilabel' (labels of each row) "
            "or kind='mask' (pixels of each image)."
        )
    if not is_list and kind in ("multilabel", "mask"):
        raise ValueError(
            f"kind={kind!r} needs a list (array) of labels per row, but {where} holds one label "
            "per row. Use kind='multiclass'."
        )
    return kind


def build_counts(
    partial: Partial,
    *,
    kind: str,
    null: str,
    where: str,
    classes: Sequence | None = None,
    ignore_index: Any = None,
) -> ClassCounts:
    """Apply the null policy and ``ignore_index`` to an engine's result and build a ClassCounts.

    ``where`` names the data in error messages (e.g. ``"Column 'y' of the Spark DataFrame"``).
    """
    check_null(null)
    null_group = 0
    values, counts, pixels = [], [], []
    for i, (v, n) in enumerate(zip(partial.values, partial.counts)):
        n = int(n)
        if is_missing(v):
            null_group += n
            continue
        if ignore_index is not None and v == ignore_index:
            continue
        values.append(v)
        counts.append(n)
        if partial.pixels is not None:
            p = partial.pixels[i]
            pixels.append(0 if p is None or is_missing(p) else int(p))
    n_null = partial.null_rows + null_group
    if n_null and null == "error":
        raise ValueError(
            f"{where} has {n_null} missing label(s). Drop them first, or pass "
            "null='skip' to leave them out of the counts."
        )
    out = ClassCounts(tuple(classes) if classes is not None else (), kind=kind,
                      declared=classes is not None, ignore_index=ignore_index)
    if kind == "mask" and out.pixels_in_present is None:
        out.pixels_in_present = np.zeros(out.n_classes, dtype=np.int64)
    out._add(values, counts, pixels if kind == "mask" else None)
    # a missing label of a plain column is a missing row; inside a list it is one element
    out.n_rows = int(partial.rows - partial.null_rows - (null_group if kind == "multiclass" else 0))
    return out


# --------------------------------------------------------------------- arrow
def is_arrow_list(typ) -> bool:
    import pyarrow as pa

    return pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ)


def check_arrow_label_type(typ, where: str) -> None:
    """Labels must be integers, strings, booleans or floats holding integers (or lists of them)."""
    import pyarrow as pa

    while is_arrow_list(typ):
        typ = typ.value_type
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    if not (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_string(typ)
            or pa.types.is_large_string(typ) or pa.types.is_boolean(typ) or pa.types.is_null(typ)):
        raise TypeError(
            f"{where} has type {typ}; class labels must be integers, strings or booleans "
            "(or lists of them for multi-label rows and masks)."
        )


def arrow_partial(column, *, kind: str, ignore_index: Any = None) -> Partial:
    """Count one pyarrow array (a batch, a partition): the per-chunk step of every engine
    that works on Arrow data (the local mask reader, Dask list columns)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    rows = len(column)
    if not is_arrow_list(column.type):
        vc = pc.value_counts(column)  # nulls (and NaN) come back as their own group
        return Partial(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), rows=rows)
    null_rows = column.null_count
    # flatten nested lists, keeping for every element the row it came from
    parents = pc.list_parent_indices(column)
    flat = pc.list_flatten(column)
    while is_arrow_list(flat.type):
        parents = pc.take(parents, pc.list_parent_indices(flat))
        flat = pc.list_flatten(flat)
    if pa.types.is_dictionary(flat.type):
        flat = flat.dictionary_decode()
    if kind != "mask":
        vc = pc.value_counts(flat)
        return Partial(vc.field("values").to_pylist(), vc.field("counts").to_pylist(),
                       rows=rows, null_rows=null_rows)
    missing = pc.is_null(flat, nan_is_null=True)
    n_missing = pc.sum(missing).as_py() or 0
    keep = pc.invert(missing)
    if ignore_index is not None:
        keep = pc.and_(keep, pc.not_equal(flat, pa.scalar(ignore_index, flat.type)))
    parents, flat = pc.filter(parents, keep), pc.filter(flat, keep)
    # pixels of each row that are counted (not missing, not ignored)
    row_pixels = np.bincount(np.asarray(parents, dtype=np.int64), minlength=rows)
    per_row = pa.table({"row": parents, "label": flat}).group_by(["row", "label"]).aggregate(
        [("row", "count")])
    per_row = per_row.append_column(
        "row_pixels", pa.array(row_pixels[np.asarray(per_row["row"], dtype=np.int64)]))
    per_label = per_row.group_by("label").aggregate([("row_count", "sum"), ("row_pixels", "sum")])
    values = per_label["label"].to_pylist() + ([None] if n_missing else [])
    counts = per_label["row_count_sum"].to_pylist() + ([n_missing] if n_missing else [])
    pixels = per_label["row_pixels_sum"].to_pylist() + ([0] if n_missing else [])
    return Partial(values, counts, pixels, rows=rows, null_rows=null_rows)
