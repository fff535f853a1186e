"""Class counts of Spark DataFrames, counted by Spark.

The label column is aggregated with ``groupBy(label).count()`` on the
executors (list columns are ``explode``-d first, nested lists ``flatten``-ed);
only one row per class comes back to the driver. For masks a second
aggregation over ``array_distinct`` of each row adds the row's pixel count to
every class present in it: Eigen & Fergus' ``pixels_in_present``.

Example:
  >>> # needs Java; not run by the doctests (a Spark start is slow)
  >>> from pyspark.sql import SparkSession                          # doctest: +SKIP
  >>> spark = SparkSession.builder.master("local[2]").getOrCreate()  # doctest: +SKIP
  >>> df = spark.createDataFrame([(0,), (1,), (1,)], ["y"])          # doctest: +SKIP
  >>> class_counts(df, target="y").as_dict()                         # doctest: +SKIP
  {0: 1, 1: 2}
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from .._optional import require
from ._counts import ClassCounts
from ._partials import Partial, build_counts, check_kind

__all__ = ["class_counts", "count_file", "local_session", "with_sample_weight"]


def local_session(master: str = "local[*]", **conf: str):
    """The active SparkSession, or a new one on ``master`` (shuffle partitions kept small:
    the counts table is tiny, and Spark's default of 200 partitions costs seconds).

    Example:
      >>> from wce.weights.spark import local_session  # Spark needs Java
      >>> spark = local_session("local[2]")                   # doctest: +SKIP
      >>> spark.conf.get("spark.sql.shuffle.partitions")      # doctest: +SKIP
      '8'
      >>> local_session() is spark  # the active session again  # doctest: +SKIP
      True
    """
    sql = require("pyspark.sql", purpose="counting with Spark")
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = sql.SparkSession.builder.master(master).appName("wce")
    settings = {"spark.sql.shuffle.partitions": "8", "spark.ui.enabled": "false",
                "spark.ui.showConsoleProgress": "false", **conf}
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _check_session(session: Any, what: str) -> None:
    """Refuse a stopped SparkSession at once, with one line (instead of Py4J's traceback)."""
    try:
        stopped = session.sparkContext._jsc is None
    except Exception:  # Spark Connect sessions have no SparkContext: nothing to check here
        return
    if stopped:
        raise RuntimeError(
            f"The SparkSession of {what} is stopped: start a new one "
            "(SparkSession.builder.getOrCreate() or wce.weights.spark.local_session()) and "
            "recreate the DataFrame from it."
        )


def _check_frame(df: Any, target: str, caller: str, what: str = "the Spark DataFrame") -> None:
    from pyspark.sql import DataFrame

    if not isinstance(df, DataFrame):
        raise TypeError(f"wce.weights.spark.{caller} takes a Spark DataFrame. Got {type(df).__name__}.")
    _check_session(df.sparkSession, what)
    if target not in df.columns:
        raise ValueError(f"Column {target!r} is not in {what}. Columns: {', '.join(df.columns)}.")


def _check_type(dtype, where: str) -> tuple[bool, Any]:
    """(is a list column, element type) after looking through nested arrays."""
    from pyspark.sql import types as T

    is_list, depth = False, 0
    while isinstance(dtype, T.ArrayType):
        is_list, depth, dtype = True, depth + 1, dtype.elementType
    if not isinstance(dtype, (T.IntegralType, T.FractionalType, T.StringType, T.BooleanType,
                              T.NullType)):
        raise TypeError(
            f"{where} has type {dtype.simpleString()}; class labels must be integers, strings or "
            "booleans (or arrays of them for multi-label rows and masks)."
        )
    return is_list, depth


def class_counts(
    df: Any,
    target: str,
    *,
    null: str = "error",
    kind: str = "auto",
    classes: Sequence | None = None,
    ignore_index: Any = None,
    where: str | None = None,
) -> ClassCounts:
    """Count the classes of column ``target`` of a Spark DataFrame.

    Args:
      df: a ``pyspark.sql.DataFrame``.
      target: the label column: scalar labels, or an array column (multi-label
        rows; with ``kind="mask"`` the pixels of one image, nested arrays allowed).
      null: ``"error"`` (default) refuses missing labels (null, or NaN in a
        float column); ``"skip"`` leaves them out of the counts and of ``n_rows``.
      kind: ``"auto"``, ``"multiclass"``, ``"multilabel"`` or ``"mask"``.
      classes, ignore_index: as in :meth:`ClassCounts.from_labels`.

    Returns:
      The :class:`ClassCounts` that ``ClassCounts.from_parquet`` gives for the
      same data.

    Example:
      >>> from wce.weights.spark import class_counts, local_session  # Spark needs Java
      >>> spark = local_session("local[2]")                                      # doctest: +SKIP
      >>> df = spark.createDataFrame([("cat",), ("dog",), (None,), ("dog",)], ["y"])  # doctest: +SKIP
      >>> counts = class_counts(df, "y", null="skip")                            # doctest: +SKIP
      >>> counts.as_dict(), counts.n_rows                                        # doctest: +SKIP
      ({'cat': 1, 'dog': 2}, 3)
      >>> df = spark.createDataFrame([(["a"],), (["a", "b"],), ([],), (["b"],)], ["tags"])  # doctest: +SKIP
      >>> class_counts(df, "tags", kind="multilabel").as_dict()                 # doctest: +SKIP
      {'a': 2, 'b': 2}
    """
    require("pyspark", purpose="counting with Spark")
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    _check_frame(df, target, "class_counts")
    where = where or f"Column {target!r} of the Spark DataFrame"
    is_list, depth = _check_type(df.schema[target].dataType, where)
    kind = check_kind(kind, is_list=is_list, where=where)
    column = F.col(target)
    for _ in range(depth - 1):
        column = F.flatten(column)
    base = df.select(column.alias("v"))
    if not is_list:
        rows = base.groupBy("v").count().collect()  # the null (and NaN) groups included
        return build_counts(Partial([r["v"] for r in rows], [r["count"] for r in rows],
                                    rows=sum(r["count"] for r in rows)),
                            kind=kind, null=null, where=where, classes=classes, ignore_index=ignore_index)
    totals = base.agg(F.count(F.lit(1)).alias("rows"), F.count("v").alias("listed")).first()
    per_class = base.select(F.explode("v").alias("label")).groupBy("label").count()
    pixels = None
    if kind == "mask":
        element = base.schema["v"].dataType.elementType

        def counted(x):
            keep = x.isNotNull()
            if isinstance(element, T.FractionalType):
                keep = keep & ~F.isnan(x)
            return keep if ignore_index is None else keep & (x != F.lit(ignore_index))

        clean = F.filter("v", counted)
        present = (base.select(F.explode(F.array_distinct(clean)).alias("label"),
                               F.size(clean).alias("n"))
                   .groupBy("label").agg(F.sum("n").alias("pixels")))
        per_class = per_class.join(present, on="label", how="left")
    result = per_class.collect()
    if kind == "mask":
        pixels = [r["pixels"] for r in result]
    partial = Partial([r["label"] for r in result], [r["count"] for r in result], pixels,
                      rows=totals["rows"], null_rows=totals["rows"] - totals["listed"])
    return build_counts(partial, kind=kind, null=null, where=where, classes=classes,
                        ignore_index=ignore_index)


def count_file(path, target: str, *, spark: Any = None, **kwargs) -> ClassCounts:
    """Read a Parquet file/directory or a CSV file (header, inferred types) with Spark and count
    ``target``; uses ``spark``, else the active session, else a new ``local[*]`` one.

    Example:
      >>> import os, tempfile, pyarrow as pa, pyarrow.parquet as pq
      >>> from wce.weights.spark import count_file  # Spark needs Java
      >>> tmp = tempfile.TemporaryDirectory()
      >>> path = os.path.join(tmp.name, "train.parquet")
      >>> pq.write_table(pa.table({"x": [0.1, 0.2, 0.3, 0.4], "y": ["a", "b", None, "a"]}), path)
      >>> counts = count_file(path, "y", null="skip")  # doctest: +SKIP
      >>> counts.as_dict(), counts.n_rows              # doctest: +SKIP
      ({'a': 2, 'b': 1}, 3)
      >>> tmp.cleanup()
    """
    session = spark if spark is not None else local_session()
    _check_session(session, "spark=")
    path = os.fspath(path)
    if path.endswith((".parquet", ".pq")) or os.path.isdir(path):
        df = session.read.parquet(path)
    else:
        df = session.read.csv(path, header=True, inferSchema=True)
    if target not in df.columns:
        raise ValueError(f"Column {target!r} is not in {path!r}. Columns: {', '.join(df.columns)}.")
    return class_counts(df.select(target), target, where=f"Column {target!r} of {path!r}", **kwargs)


def with_sample_weight(
    df: Any,
    label: str,
    *,
    scheme: str = "balanced",
    col: str = "weight",
    null: str = "error",
    classes: Sequence | None = None,
    **scheme_options: Any,
):
    """``df`` with a column ``col`` holding each row's class weight, for ``weightCol=``.

    One counting pass (:func:`class_counts`: ``groupBy(label).count()`` on the
    executors), :func:`wce.weights.class_weights` on the driver, then a
    ``create_map`` lookup added as a column: no Python UDF, the weights are
    computed by the JVM when the DataFrame is used. Every row of class ``c`` gets
    ``class_weights(counts, scheme=scheme, **scheme_options)[c]``, the same
    number the local weights give.

    Args:
      df: a ``pyspark.sql.DataFrame``.
      label: the label column (one label per row: integers, strings or booleans).
      scheme: a :func:`wce.weights.class_weights` scheme; ``scheme_options``
        (``normalize``, ``beta``, ``manual``, ``cost_matrix``, ``zero_count``...)
        go to it as well.
      col: the name of the new column (it must not exist yet).
      null: ``"error"`` (default) refuses missing labels; ``"skip"`` leaves
        them out of the counts, and their rows get a null weight (drop them
        before training: MLlib refuses null labels anyway).
      classes: the classes in order; absent ones need ``zero_count=``, and a
        label outside them is an error.

    Returns:
      A new DataFrame (``df`` is left as it is).

    Example:
      >>> # needs Java and a SparkSession `spark`
      >>> df = spark.createDataFrame([(0,), (0,), (0,), (1,)], ["y"])   # doctest: +SKIP
      >>> with_sample_weight(df, "y").select("weight").distinct().collect()   # doctest: +SKIP
      [Row(weight=0.6666666666666666), Row(weight=2.0)]
    """
    require("pyspark", purpose="weighting with Spark")
    from pyspark.sql import functions as F

    from ._schemes import class_weight_dict

    _check_frame(df, label, "with_sample_weight")
    where = f"Column {label!r} of the Spark DataFrame"
    if col in df.columns:
        raise ValueError(
            f"Column {col!r} is already in the Spark DataFrame; pass col=<another name> for the weights."
        )
    dtype = df.schema[label].dataType
    if _check_type(dtype, where)[0]:
        raise ValueError(
            f"{where} holds a list of labels per row; per-row class weights need one label per row."
        )
    counts = class_counts(df, label, null=null, kind="multiclass", classes=classes, where=where)
    if counts.total == 0:
        raise ValueError(f"{where} has no labelled rows (empty DataFrame): there is nothing to weight.")
    pairs = []
    for c, w in class_weight_dict(counts, scheme=scheme, **scheme_options).items():
        pairs += [F.lit(c).cast(dtype), F.lit(w)]
    return df.withColumn(col, F.create_map(*pairs)[F.col(label)])
