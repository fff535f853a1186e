"""Gradient-boosted trees with weighted losses: the core of :mod:`wce.xgboost` and
:mod:`wce.lightgbm`, and the public :mod:`wce.gbdt.dask`.

* :mod:`wce.gbdt.dask` (public): the start margin of those objectives from labels on a
  Dask cluster (``base_margin`` for XGBoost's ``base_score``, ``init_score`` for
  LightGBM); it imports Dask only when called.

The underscored modules are private:

* :mod:`wce.gbdt._objective`: :class:`Objective`, every gradient, Hessian, start margin
  and metric, from the NumPy reference (:mod:`wce.losses`);
* :mod:`wce.gbdt._fast`: the per-round fast path of weighted binary and softmax
  cross-entropy;
* :mod:`wce.gbdt._classifier`: the scikit-learn classifier both libraries share;
* :mod:`wce.gbdt._library`: the library version check.

The public modules :mod:`wce.xgboost` and :mod:`wce.lightgbm` are thin adapters: the
library's callback signatures, parameters and training call. Nothing is imported here,
so ``import wce.gbdt`` needs neither library nor scikit-learn.
"""
