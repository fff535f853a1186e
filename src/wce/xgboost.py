"""Weighted, focal and cost-sensitive objectives for XGBoost (>= 3.1), and a classifier.

Gradients come from the NumPy reference (:mod:`wce.losses`); the Hessians,
the start and the probabilities are explained on the documentation's
"XGBoost and LightGBM" page (``docs/gbdt.md``). What is
XGBoost-specific (TRAPS 14):

* **Start.** With a custom objective XGBoost uses ``base_score`` *as a raw
  margin* (default 0.5, i.e. p = 0.62, not 0.5). Set
  ``params["base_score"] = obj.base_margin(y, w)``: a float for binary, a
  ``(K,)`` list for multiclass (vector intercepts need XGBoost 3.1). It is
  stored in the model, so ``Booster.predict`` needs no extra offset.
* **Predictions.** With a custom binary objective ``Booster.predict`` returns
  the raw margin; with ``num_class`` and a custom objective XGBoost 3.2 switches
  to ``multi:softmax`` and ``predict`` returns *class indices* (xgboost#11373).
  Always predict with ``output_margin=True`` and apply :meth:`predict_proba`.
* **Metric.** ``custom_metric=obj.metric`` gets raw margins (``xgb.train``
  passes margins when the objective is callable) and reports the same
  weighted loss as the objective, for early stopping. Add
  ``"disable_default_eval_metric": True`` to the parameters.

Example:
  >>> import numpy as np, xgboost as xgb
  >>> from wce.xgboost import XGBObjective
  >>> rng = np.random.default_rng(0)
  >>> X = rng.normal(size=(500, 4)); y = (X[:, 0] + rng.normal(size=500) > 1.5).astype(int)
  >>> obj = XGBObjective.binary(pos_weight=float((y == 0).sum() / (y == 1).sum()))
  >>> params = {"base_score": obj.base_margin(y), "disable_default_eval_metric": True}
  >>> booster = xgb.train(params, xgb.DMatrix(X, label=y), 10, obj=obj)
  >>> proba = obj.predict_proba(booster.predict(xgb.DMatrix(X), output_margin=True))
  >>> proba.shape
  (500,)
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._optional import require
from .gbdt._classifier import WeightedGBDTClassifier
from .gbdt._library import check_version
from .gbdt._objective import Objective

xgb = require("xgboost")
MIN_VERSION = (3, 1)
"""The oldest supported XGBoost, ``(major, minor)``; an older one raises ImportError."""
check_version(xgb, MIN_VERSION, what="wce.xgboost")


class XGBObjective(Objective):
    """An XGBoost custom objective (``obj=``) with its matching metric (``custom_metric=``).

    Build with :meth:`binary`, :meth:`focal_binary`, :meth:`multiclass`,
    :meth:`focal_multiclass` or :meth:`cost_sensitive`. The multiclass
    Hessian factor defaults to 2, XGBoost's ``multi:softprob``.

    Example:
      >>> import numpy as np, xgboost as xgb
      >>> from wce.xgboost import XGBObjective
      >>> grad, hess = XGBObjective.binary(pos_weight=9.0)(np.array([1, 0]), np.zeros(2))
      >>> grad.tolist(), hess.tolist()  # the positive's terms are 9 times the negative's
      ([-4.5, 0.5], [2.25, 0.25])
      >>> rng = np.random.default_rng(0)
      >>> X = rng.normal(size=(200, 3)); y = np.digitize(X[:, 0], [0.0, 1.2])  # 3 classes
      >>> obj = XGBObjective.focal_multiclass(gamma=2.0, alpha=[1.0, 1.0, 4.0])
      >>> params = {"num_class": 3, "base_score": obj.base_margin(y),
      ...           "disable_default_eval_metric": True}
      >>> booster = xgb.train(params, xgb.DMatrix(X, label=y), 5, obj=obj)
      >>> proba = obj.predict_proba(booster.predict(xgb.DMatrix(X), output_margin=True))
      >>> proba.shape, bool(np.allclose(proba.sum(axis=1), 1.0))
      ((200, 3), True)
    """

    library = "xgboost"
    native_hessian_factor = staticmethod(lambda k: 2.0)

    def _dmatrix_data(self, dmatrix: Any, n_classes: int | None):
        return self._data(dmatrix, dmatrix.get_label, dmatrix.get_weight, n_classes)

    def __call__(self, predt: np.ndarray, dtrain: Any, sample_weight: Any = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and Hessian, called either way XGBoost calls an objective.

        ``xgboost.train(..., obj=obj)`` calls ``obj(margins, dmatrix)``;
        ``xgboost.XGBClassifier(objective=obj)`` calls ``obj(y_true, margins)`` or
        ``obj(y_true, margins, sample_weight=w)``: an array (not a ``DMatrix``) in
        second place is taken as that form.
        """
        if not hasattr(dtrain, "get_label"):
            return self._arrays_round(predt, dtrain, sample_weight)
        k = predt.shape[1] if self.multiclass and predt.ndim == 2 else None
        labels, weights = self._dmatrix_data(dtrain, k)
        return self._boosting_round(predt, labels, weights)

    def metric(self, predt: np.ndarray, dmatrix: Any) -> tuple[str, float]:
        """``(name, weighted mean loss)`` on raw margins, for ``custom_metric=``."""
        w = dmatrix.get_weight()
        return self.metric_name, self.value(predt, dmatrix.get_label(), w if w.size else None)


class WeightedXGBClassifier(WeightedGBDTClassifier):
    """scikit-learn classifier boosting a weighted loss with XGBoost.

    ``loss`` is ``"cross_entropy"``, ``"focal"`` (``gamma``; class weights act
    as alpha) or ``"cost_sensitive"`` (``cost_matrix``). ``class_weight`` is
    ``None``, a :func:`wce.weights.class_weights` scheme name such as
    ``"balanced"``, a dict by label or an array in the order of ``classes_``.
    Every other keyword of ``xgboost.XGBClassifier`` is accepted
    (``subsample``, ``colsample_bytree``, ``min_child_weight``, ``reg_lambda``,
    ``tree_method``, ``device``...), listed by ``get_params`` and passed to
    XGBoost as a booster parameter; ``missing``, ``feature_types``,
    ``feature_weights`` and ``enable_categorical`` go to the ``DMatrix``,
    ``callbacks`` to ``xgboost.train`` and ``importance_type`` to
    ``feature_importances_``. ``gamma`` is the focal parameter here: XGBoost's
    split penalty is ``min_split_loss``. ``params`` (a dict) is applied last.
    The model starts from the weighted prior (``base_score``) and
    ``predict_proba`` applies the link itself, whatever XGBoost's ``predict``
    would return.

    Attributes:
      booster_: the fitted ``xgboost.Booster`` (also ``get_booster()``).
      feature_importances_: normalised importances of ``importance_type``
        (``"gain"`` by default), shape ``(n_features,)``.
      best_iteration, best_score: the early-stopping result (only after early stopping).
      best_iteration_: the last round used by ``predict`` (0-based).
      classes_, n_features_in_: as in scikit-learn.

    Example:
      >>> import numpy as np
      >>> from wce.xgboost import WeightedXGBClassifier
      >>> rng = np.random.default_rng(0)
      >>> X = rng.normal(size=(300, 3)); y = np.where(X[:, 0] > 1, "rare", "common")
      >>> clf = WeightedXGBClassifier(class_weight="balanced", n_estimators=5).fit(X, y)
      >>> clf.predict_proba(X).shape, clf.classes_.tolist()
      ((300, 2), ['common', 'rare'])
    """

    _objective_class = XGBObjective
    _dmatrix_keys = frozenset({"missing", "feature_types", "feature_weights", "enable_categorical"})
    _wrapper_keys = frozenset({"importance_type", "callbacks"}) | _dmatrix_keys

    def _dmatrix(self, X, **kwargs):
        extra = self._extra()
        return xgb.DMatrix(X, **{k: extra[k] for k in self._dmatrix_keys if k in extra}, **kwargs)

    def _params(self, objective: XGBObjective) -> dict:
        base = self.init_margin_
        return self._booster_params(objective, {
            "tree_method": "hist",
            "base_score": base.tolist() if isinstance(base, np.ndarray) else base,
            "disable_default_eval_metric": True,
        }, threads="nthread")

    def _train(self, objective, X, y, sample_weight, evals):
        dtrain = self._dmatrix(X, label=y, weight=sample_weight)
        watch = [(self._dmatrix(Xv, label=yv), f"validation_{i}") for i, (Xv, yv) in enumerate(evals)]
        params = self._params(objective)
        if callable(params.get("eval_metric")):
            raise ValueError(
                f"{type(self).__name__}: eval_metric must name XGBoost metrics (a string or a "
                "list of strings); the objective's own weighted loss is already reported on "
                "eval_set for early stopping."
            )
        callbacks = self._extra().get("callbacks")
        booster = xgb.train(
            params, dtrain, self.n_estimators, obj=objective, evals=watch,
            custom_metric=objective.metric if watch else None,
            early_stopping_rounds=self.early_stopping_rounds if watch else None,
            verbose_eval=False, callbacks=[copy.deepcopy(c) for c in callbacks or []] or None,
        )
        self.best_iteration_ = getattr(booster, "best_iteration", self.n_estimators - 1)
        return booster

    def _raw(self, X):
        return self.booster_.predict(self._dmatrix(X), output_margin=True,
                                     iteration_range=(0, self.best_iteration_ + 1))

    def get_booster(self) -> Any:
        """The fitted ``xgboost.Booster``."""
        check_is_fitted(self, "booster_")
        return self.booster_

    @property
    def feature_importances_(self) -> np.ndarray:
        """Importances of ``importance_type`` (default ``"gain"``), normalised to sum to 1."""
        booster = self.get_booster()
        kind = self._extra().get("importance_type") or (
            "weight" if self._extra().get("booster") == "gblinear" else "gain")
        score = booster.get_score(importance_type=kind)
        names = booster.feature_names or [f"f{i}" for i in range(self.n_features_in_)]
        values = np.array([score.get(name, 0.0) for name in names], dtype=np.float32)
        total = values.sum()
        return values / total if total > 0 else values

    @property
    def best_iteration(self) -> int:
        """The best round of early stopping (0-based), as ``XGBClassifier.best_iteration``."""
        return self.get_booster().best_iteration

    @property
    def best_score(self) -> float:
        """The best metric value of early stopping, as ``XGBClassifier.best_score``."""
        return self.get_booster().best_score


binary_objective = XGBObjective.binary
"""The same as :meth:`XGBObjective.binary`."""
focal_binary_objective = XGBObjective.focal_binary
"""The same as :meth:`XGBObjective.focal_binary`."""
multiclass_objective = XGBObjective.multiclass
"""The same as :meth:`XGBObjective.multiclass`."""
focal_multiclass_objective = XGBObjective.focal_multiclass
"""The same as :meth:`XGBObjective.focal_multiclass`."""
cost_sensitive_objective = XGBObjective.cost_sensitive
"""The same as :meth:`XGBObjective.cost_sensitive`."""

__all__ = [
    "MIN_VERSION",
    "WeightedXGBClassifier",
    "XGBObjective",
    "binary_objective",
    "cost_sensitive_objective",
    "focal_binary_objective",
    "focal_multiclass_objective",
    "multiclass_objective",
]
