"""Class counts at scale: one entry point over the local, Dask and Spark engines.

Every engine does the heavy part (reading, exploding list columns, counting)
itself and hands back a small table of ``(label, count[, pixels])`` rows plus a
few totals; :func:`build_counts` turns that table into the same
:class:`~wce.weights.ClassCounts` the local readers build, with the same rules:

* missing labels (null, None, NaN, ``pd.NA``) are refused by default
  (``null="error"``) or left out of the counts and of ``n_rows``
  (``null="skip"``), exactly like ``ClassCounts.from_parquet``;
* ``ignore_index`` is not counted (a void label such as 255 in masks);
* a list column holds one row's labels: the labels of a multi-label row
  (``kind="multilabel"``, the default for lists) or the pixels of one image's
  mask (``kind="mask"``; nested lists are flattened). For masks
  ``pixels_in_present[c]`` is Eigen & Fergus' denominator: the pixels of the
  images that contain class ``c`` (trap 5);
* labels of mixed types, or labels that are not integers, strings or booleans,
  raise a ``TypeError``.

Example:
  >>> import pyarrow as pa, pyarrow.parquet as pq, tempfile, os
  >>> path = os.path.join(tempfile.mkdtemp(), "labels.parquet")
  >>> pq.write_table(pa.table({"y": [0, 1, 1, 2, 1]}), path)
  >>> count_file(path, "y").as_dict()
  {0: 1, 1: 3, 2: 1}
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from ._counts import ClassCounts
from ._labels import is_missing
from ._partials import (KINDS, Partial, arrow_partial, build_counts, check_arrow_label_type,
                        check_kind, is_arrow_list)
from ._readers import check_null, check_path, open_parquet

ENGINES = ("local", "duckdb", "dask", "spark")
__all__ = ["ENGINES", "KINDS", "Partial", "arrow_partial", "build_counts", "check_arrow_label_type",
           "check_kind", "count_file", "is_missing"]


def _local_mask_counts(path: str, target: str, *, null: str, classes, ignore_index,
                       batch_size: int = 1 << 16) -> ClassCounts:
    where = f"Column {target!r} of {path!r}"
    if not path.endswith((".parquet", ".pq")):
        raise ValueError(f"{path!r}: mask columns (a list of pixels per row) need a Parquet file.")
    pf = open_parquet(path, target)
    typ = pf.schema_arrow.field(target).type
    check_kind("mask", is_list=is_arrow_list(typ), where=where)
    check_arrow_label_type(typ, where)
    total = Partial(pixels=[])
    for batch in pf.iter_batches(batch_size=batch_size, columns=[target]):
        total = total + arrow_partial(batch.column(0), kind="mask", ignore_index=ignore_index)
    return build_counts(total, kind="mask", null=null, where=where, classes=classes,
                        ignore_index=ignore_index)


# ---------------------------------------------------------------- entry point
def count_file(
    path,
    target: str | None,
    *,
    engine: str = "local",
    null: str = "error",
    kind: str = "auto",
    classes: Sequence | None = None,
    ignore_index: Any = None,
    progress: bool = False,
    batch_size: int | None = None,
    scheduler: str | None = None,
    spark: Any = None,
) -> ClassCounts:
    """Count the classes of one column of a Parquet or CSV file with the chosen engine.

    Args:
      path: a ``.parquet``/``.pq`` file (or directory of Parquet files for Dask
        and Spark) or a CSV file.
      target: the label column.
      engine: ``"local"`` (pyarrow streaming, one record batch in memory, integer
        labels counted with ``np.bincount`` on the column buffer),
        ``"duckdb"`` (``SELECT target, count(*) ... GROUP BY`` in an in-memory
        DuckDB reading the file, or every Parquet file under a folder; plain
        label columns only), ``"dask"`` (``dask.dataframe``, ``scheduler`` as in
        ``dask.compute``) or
        ``"spark"`` (the active SparkSession, or ``spark``, or a new
        ``local[*]`` session).
      null: ``"error"`` (default) refuses missing labels; ``"skip"`` leaves them out.
      kind: ``"auto"`` (list columns are multi-label rows), ``"multiclass"``,
        ``"multilabel"`` or ``"mask"`` (a list column holds an image's pixels).
      classes, ignore_index: as in :meth:`ClassCounts.from_labels`.
      batch_size: rows per record batch of the local Parquet reader (its
        default when None); smaller batches lower the peak memory.
      scheduler: Dask's scheduler (``dask.compute``); spark: a SparkSession.

    Returns:
      The same :class:`ClassCounts` whichever engine counted (classes sorted).
    """
    if engine not in ENGINES:
        raise ValueError(f"The 'engine' parameter must be one of {ENGINES}. Got {engine!r} instead.")
    if target is None:
        raise ValueError(f"{path}: pass target=<column> (--target COLUMN) to name the label column.")
    check_null(null)
    path = check_path(path)
    is_parquet = path.endswith((".parquet", ".pq")) or os.path.isdir(path)
    if engine == "local":
        options = {} if batch_size is None else {"batch_size": batch_size}
        if kind == "mask":
            return _local_mask_counts(path, target, null=null, classes=classes,
                                      ignore_index=ignore_index, **options)
        if is_parquet:
            counts = ClassCounts.from_parquet(path, target, null=null, classes=classes,
                                              ignore_index=ignore_index, progress=progress, **options)
        else:
            counts = ClassCounts.from_csv(path, target, null=null, classes=classes,
                                          ignore_index=ignore_index, progress=progress)
        check_kind(kind, is_list=counts.kind == "multilabel", where=f"Column {target!r} of {path!r}")
        return counts
    if engine == "duckdb":
        if kind not in ("auto", "multiclass"):
            raise ValueError(f"engine='duckdb' counts one label per row; kind={kind!r} needs "
                             "engine='local', 'dask' or 'spark'.")
        return ClassCounts.from_sql("duckdb://", table=path, target=target, null=null,
                                    classes=classes, ignore_index=ignore_index)
    if engine == "dask":
        from . import dask as dask_engine

        return dask_engine.count_file(path, target, null=null, kind=kind, classes=classes,
                                      ignore_index=ignore_index, scheduler=scheduler)
    from . import spark as spark_engine

    return spark_engine.count_file(path, target, null=null, kind=kind, classes=classes,
                                   ignore_index=ignore_index, spark=spark)

