"""wce's boosting objectives on a Dask cluster: the start margin from distributed labels.

The objectives themselves need nothing Dask-specific: ``xgboost.dask.train(client,
params, dtrain, obj=XGBObjective...)`` and ``lightgbm.DaskLGBMClassifier(objective=
LGBMObjective...)`` hand every worker its own rows, the objective computes their
gradients there, and the libraries add up the histograms. What needs all the labels
is the starting margin (TRAPS 14), and it depends only on each class's total weight:

* :func:`base_margin` computes those totals with one pass over a Dask array or
  Series (per block, summed on the client: K numbers per block travel) and returns
  ``objective.base_margin`` of the whole data, for XGBoost's ``base_score``;
* :func:`init_score` repeats it per row, chunked like the labels, for LightGBM's
  ``init_score=`` (LightGBM's ``predict`` never adds it back: add
  :func:`base_margin` to the raw scores).

Example:
  >>> import dask.array as da, numpy as np
  >>> from wce.gbdt.dask import base_margin
  >>> from wce.xgboost import XGBObjective                     # doctest: +SKIP
  >>> obj = XGBObjective.binary(pos_weight=4.0)               # doctest: +SKIP
  >>> y = da.from_array(np.array([0, 0, 0, 0, 1]), chunks=2)
  >>> base_margin(obj, y, scheduler="synchronous")            # doctest: +SKIP
  0.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._optional import require

__all__ = ["base_margin", "init_score"]


def _blocks(collection: Any, what: str) -> list:
    """The delayed blocks of a 1-D Dask array, a Series or a one-column DataFrame."""
    import dask.array as da
    import dask.dataframe as dd

    if isinstance(collection, da.Array):
        if collection.ndim == 2 and collection.shape[1] == 1:
            collection = collection.reshape(-1)
        if collection.ndim != 1:
            raise ValueError(f"The {what} must be a 1-D Dask array; got shape {collection.shape}.")
        return list(collection.to_delayed().ravel())
    if isinstance(collection, (dd.Series, dd.DataFrame)):
        return list(collection.to_delayed())
    raise TypeError(
        f"wce.gbdt.dask takes the {what} as a Dask array or Series. Got {type(collection).__name__}."
    )


def _block_totals(objective: Any, labels: Any, weights: Any, n_classes: int | None,
                  number: int) -> np.ndarray:
    y = np.asarray(labels).reshape(-1)
    w = None if weights is None else np.asarray(weights).reshape(-1)
    if y.size == 0:
        return np.zeros(0)
    if w is not None and w.shape != y.shape:
        raise ValueError(
            f"Block {number} has {y.size} labels but {w.size} sample weights: give the weights "
            "the labels' chunks (partitions)."
        )
    try:
        y, w = objective.check_data(y, w, n_classes=n_classes)
    except ValueError as exc:
        raise ValueError(f"Block {number} of the labels: {exc}") from None
    return np.bincount(y, weights=w)


def class_totals(objective: Any, labels: Any, sample_weight: Any = None, *,
                 n_classes: int | None = None, scheduler: Any = None) -> np.ndarray:
    """Total sample weight of each class (its count without weights), from Dask collections."""
    import dask

    blocks = _blocks(labels, "labels")
    weights = [None] * len(blocks) if sample_weight is None else _blocks(sample_weight, "sample weights")
    if len(weights) != len(blocks):
        raise ValueError(
            f"The labels have {len(blocks)} blocks (partitions) and the sample weights "
            f"{len(weights)}: give both the same chunks."
        )
    if not objective.multiclass:
        k = 2
    else:
        k = n_classes if n_classes is not None else objective._declared_classes()
    parts = dask.compute(*[dask.delayed(_block_totals)(objective, y, w, k, i)
                           for i, (y, w) in enumerate(zip(blocks, weights))], scheduler=scheduler)
    width = max([len(p) for p in parts] + [k or 0, 2])
    totals = np.zeros(width)
    for p in parts:
        totals[:len(p)] += p
    if not totals.any():
        raise ValueError(
            f"{objective.caller} was given no labels (or only zero weights) in the Dask collection."
        )
    return totals


def base_margin(objective: Any, labels: Any, sample_weight: Any = None, *,
                n_classes: int | None = None, scheduler: Any = None,
                timeout: float | None = None) -> float | np.ndarray:
    """``objective.base_margin`` of labels (and sample weights) held in Dask collections.

    Equal to ``objective.base_margin(labels.compute(), sample_weight.compute())``
    with one pass and no labels on the client: the start depends only on the
    per-class total weights.

    Args:
      objective: a :class:`wce.xgboost.XGBObjective` or :class:`wce.lightgbm.LGBMObjective`.
      labels: a 1-D Dask array or a Dask Series of class indices.
      sample_weight: optional, chunked (partitioned) like ``labels``.
      n_classes: the number of classes when some may be absent.
      scheduler, timeout: as in :func:`wce.weights.dask.class_counts`: passed to
        ``dask.compute`` (a ``Client`` or its default when None), or a scheduler
        address reached within ``timeout`` seconds.

    Example:
      >>> import dask.array as da, numpy as np
      >>> from wce.gbdt.dask import base_margin
      >>> from wce.lightgbm import LGBMObjective
      >>> y = np.array([0, 0, 0, 1, 1, 2])
      >>> obj = LGBMObjective.multiclass()
      >>> start = base_margin(obj, da.from_array(y, chunks=3), scheduler="synchronous")
      >>> np.round(start, 4).tolist()
      [0.5014, 0.0959, -0.5973]
      >>> bool(np.allclose(start, obj.base_margin(y)))  # as if the labels were local
      True
    """
    require("dask", purpose="boosting with Dask")
    from ..weights.dask import _scheduler

    with _scheduler(scheduler, timeout) as scheduler:
        totals = class_totals(objective, labels, sample_weight, n_classes=n_classes,
                              scheduler=scheduler)
    k = len(totals) if objective.multiclass else 2
    # the summed loss of a constant margin depends only on the class totals: one row per class
    return objective.base_margin(np.arange(k), totals[:k], n_classes=k if objective.multiclass else None)


def _repeat_block(block: np.ndarray, base: np.ndarray) -> np.ndarray:
    n = np.asarray(block).reshape(-1).shape[0]
    return np.broadcast_to(base, (n,) + base.shape).copy()


def init_score(objective: Any, labels: Any, sample_weight: Any = None, *,
               n_classes: int | None = None, scheduler: Any = None, timeout: float | None = None,
               base: Any = None) -> Any:
    """:func:`base_margin` repeated per row, chunked like ``labels``, for LightGBM's Dask
    estimators' ``init_score=``: a Dask array ``(n,)`` or ``(n, K)`` (``labels`` a Dask
    array) or a Series / DataFrame (``labels`` a Series). Pass ``base=`` to reuse a start
    already computed.

    Example:
      >>> import dask.dataframe as dd, pandas as pd
      >>> from wce.gbdt.dask import init_score
      >>> from wce.lightgbm import LGBMObjective
      >>> labels = dd.from_pandas(pd.Series([0, 0, 0, 1, 1, 2]), npartitions=2)
      >>> scores = init_score(LGBMObjective.multiclass(), labels, scheduler="synchronous")
      >>> scores.compute().round(4).iloc[0].tolist(), scores.npartitions  # one row per label
      ([0.5014, 0.0959, -0.5973], 2)
    """
    import dask.array as da
    import dask.dataframe as dd
    import pandas as pd

    if base is None:
        base = base_margin(objective, labels, sample_weight, n_classes=n_classes,
                           scheduler=scheduler, timeout=timeout)
    base = np.asarray(base, dtype=np.float64)
    if isinstance(labels, da.Array):
        labels = labels.reshape(-1) if labels.ndim == 2 and labels.shape[1] == 1 else labels
        if base.ndim == 0:
            return labels.map_blocks(_repeat_block, base, dtype=np.float64)
        return labels.map_blocks(_repeat_block, base, dtype=np.float64, new_axis=1,
                                 chunks=(labels.chunks[0], (base.shape[0],)))
    if not isinstance(labels, dd.Series):
        _blocks(labels, "labels")  # the one-line TypeError
    if base.ndim == 0:
        return labels.map_partitions(lambda p: pd.Series(float(base), index=p.index),
                                     meta=pd.Series([], dtype="float64"))
    columns = [f"class_{j}" for j in range(base.shape[0])]
    return labels.map_partitions(
        lambda p: pd.DataFrame(np.broadcast_to(base, (len(p), base.shape[0])).copy(),
                               index=p.index, columns=columns),
        meta=pd.DataFrame({c: pd.Series([], dtype="float64") for c in columns}))
