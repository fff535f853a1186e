"""Gradient-boosted trees with weighted losses: the private core of :mod:`wce.xgboost` and
:mod:`wce.lightgbm`.

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
