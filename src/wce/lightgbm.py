"""Weighted, focal and cost-sensitive objectives for LightGBM (>= 4.0), and a classifier.

Gradients come from the NumPy reference (:mod:`wce.losses`); the Hessians,
the start and the probabilities are explained on the documentation's
"XGBoost and LightGBM" page (``docs/gbdt.md``). What is
LightGBM-specific (TRAPS 14):

* **Start.** A custom objective starts every sample at margin 0 (p = 0.5,
  LightGBM#3312) unless the Dataset has an ``init_score``. Pass
  ``init_score=obj.init_score(y, w)`` (``(n,)`` or ``(n, K)``) to the training
  Dataset *and* to every validation Dataset. LightGBM does not store the
  init score in the model: ``Booster.predict(raw_score=True)`` returns the
  trees only, so add ``obj.base_margin(y, w)`` back (the classifier does).
  The built-in ``binary`` objective's ``boost_from_average`` starts from the
  *unweighted* prior log-odds even with ``scale_pos_weight``/``is_unbalance``.
* **Predictions.** With a custom objective ``predict`` returns raw scores;
  apply :meth:`predict_proba`.
* **Metric.** ``feval=obj.metric`` reports the objective's weighted loss on raw
  scores (which include the Dataset's init score), for early stopping; set
  ``"metric": "None"`` to drop the default metric.
* The multiclass Hessian factor defaults to ``K / (K - 1)``, LightGBM's
  ``multiclass`` objective.

Example:
  >>> import numpy as np, lightgbm as lgb
  >>> from wce.lightgbm import LGBMObjective
  >>> rng = np.random.default_rng(0)
  >>> X = rng.normal(size=(500, 4)); y = (X[:, 0] + rng.normal(size=500) > 1.5).astype(int)
  >>> obj = LGBMObjective.binary(pos_weight=float((y == 0).sum() / (y == 1).sum()))
  >>> data = lgb.Dataset(X, label=y, init_score=obj.init_score(y))
  >>> booster = lgb.train({"objective": obj, "verbose": -1}, data, 10)
  >>> margin = booster.predict(X, raw_score=True) + obj.base_margin(y)
  >>> obj.predict_proba(margin).shape
  (500,)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._optional import require
from .gbdt._classifier import WeightedGBDTClassifier
from .gbdt._library import check_version
from .gbdt._objective import Objective

lgb = require("lightgbm")
MIN_VERSION = (4, 0)
"""The oldest supported LightGBM, ``(major, minor)``; an older one raises ImportError."""
check_version(lgb, MIN_VERSION, what="wce.lightgbm")


class LGBMObjective(Objective):
    """A LightGBM custom objective (``params["objective"]``) with its metric (``feval=``).

    Build with :meth:`binary`, :meth:`focal_binary`, :meth:`multiclass`,
    :meth:`focal_multiclass` or :meth:`cost_sensitive`.

    Example:
      >>> import numpy as np, lightgbm as lgb
      >>> from wce.lightgbm import LGBMObjective
      >>> grad, hess = LGBMObjective.binary(pos_weight=9.0)(np.array([1, 0]), np.zeros(2))
      >>> grad.tolist(), hess.tolist()  # the positive's terms are 9 times the negative's
      ([-4.5, 0.5], [2.25, 0.25])
      >>> rng = np.random.default_rng(0)
      >>> X = rng.normal(size=(200, 3)); y = np.digitize(X[:, 0], [0.0, 1.2])  # 3 classes
      >>> obj = LGBMObjective.multiclass(class_weight=[1.0, 1.0, 4.0])
      >>> data = lgb.Dataset(X, label=y, init_score=obj.init_score(y))
      >>> booster = lgb.train({"objective": obj, "num_class": 3, "verbose": -1}, data, 5)
      >>> margin = booster.predict(X, raw_score=True) + obj.base_margin(y)
      >>> proba = obj.predict_proba(margin)
      >>> proba.shape, bool(np.allclose(proba.sum(axis=1), 1.0))
      ((200, 3), True)
    """

    library = "lightgbm"
    native_hessian_factor = staticmethod(lambda k: k / (k - 1.0))

    def __call__(self, preds: np.ndarray, train_data: Any, weight: Any = None, group: Any = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and Hessian, called either way LightGBM calls an objective.

        ``lightgbm.train`` calls ``obj(preds, dataset)``; ``lightgbm.LGBMClassifier(
        objective=obj)`` calls ``obj(y_true, y_pred, weight, group)`` (``group`` is
        unused): an array (not a ``Dataset``) in second place is taken as that form.
        """
        if not hasattr(train_data, "get_label"):
            return self._arrays_round(preds, train_data, weight)
        k = preds.shape[1] if self.multiclass and preds.ndim == 2 else None
        labels, weights = self._data(train_data, train_data.get_label, train_data.get_weight, k)
        return self._boosting_round(preds, labels, weights)

    def metric(self, preds: np.ndarray, data: Any) -> tuple[str, float, bool]:
        """``(name, weighted mean loss, False)`` on raw scores, for ``feval=``."""
        return self.metric_name, self.value(preds, data.get_label(), data.get_weight()), False

    def init_score(self, labels: Any, sample_weight: Any = None, *,
                   n_samples: int | None = None, n_classes: int | None = None) -> np.ndarray:
        """:meth:`base_margin` repeated per sample: ``(n,)`` or ``(n, K)`` for ``init_score=``."""
        base = self.base_margin(labels, sample_weight, n_classes=n_classes)
        return _repeat(base, np.size(labels) if n_samples is None else n_samples)


def _repeat(base: float | np.ndarray, n: int) -> np.ndarray:
    """A start margin for each of ``n`` samples: ``(n,)`` or ``(n, K)``, as ``init_score=`` takes."""
    base = np.asarray(base, dtype=np.float64)
    return np.tile(base, (n, 1)).reshape((n,) + base.shape)


class WeightedLGBMClassifier(WeightedGBDTClassifier):
    """scikit-learn classifier boosting a weighted loss with LightGBM.

    Same parameters as :class:`wce.xgboost.WeightedXGBClassifier`, and every
    other keyword of ``lightgbm.LGBMClassifier`` (``num_leaves``,
    ``min_child_samples``, ``subsample``, ``subsample_freq``,
    ``colsample_bytree``, ``reg_alpha``, ``boosting_type``...) or any LightGBM
    parameter: listed by ``get_params`` and passed to LightGBM, which resolves
    the scikit-learn names as aliases; ``importance_type`` (default
    ``"split"``) is for ``feature_importances_``. ``params`` (a dict) is applied
    last. The start (``init_margin_``) is added back to LightGBM's raw scores.

    Attributes:
      booster_: the fitted ``lightgbm.Booster``.
      feature_importances_: importances of ``importance_type``, shape ``(n_features,)``.
      best_iteration_: the number of rounds ``predict`` uses; best_score_: the
        early-stopping scores, as in ``LGBMClassifier``.
      classes_, n_features_in_: as in scikit-learn.

    Example:
      >>> import numpy as np
      >>> from wce.lightgbm import WeightedLGBMClassifier
      >>> rng = np.random.default_rng(0)
      >>> X = rng.normal(size=(300, 3)); y = np.where(X[:, 0] > 1, "rare", "common")
      >>> clf = WeightedLGBMClassifier(class_weight="balanced", n_estimators=5).fit(X, y)
      >>> clf.predict_proba(X).shape, clf.classes_.tolist()
      ((300, 2), ['common', 'rare'])
    """

    _objective_class = LGBMObjective
    _refused_keys = frozenset({"objective", "objective_type", "app", "application"})

    def _params(self, objective: LGBMObjective) -> dict:
        return self._booster_params(objective, {"objective": objective, "metric": "None",
                                                "verbose": -1}, threads="num_threads")

    def _init(self, n: int) -> np.ndarray:
        return _repeat(self.init_margin_, n)

    def _train(self, objective, X, y, sample_weight, evals):
        dtrain = lgb.Dataset(X, label=y, weight=sample_weight, init_score=self._init(len(y)))
        valid = [lgb.Dataset(Xv, label=yv, init_score=self._init(len(yv)), reference=dtrain)
                 for Xv, yv in evals]
        callbacks = []
        if valid and self.early_stopping_rounds:
            callbacks.append(lgb.early_stopping(self.early_stopping_rounds, verbose=False))
        # LightGBM drops the features no split can use (too few rows for min_child_samples, or
        # constant), then fails on a custom objective when none is left, where its built-in
        # objectives fit a constant. Keeping them changes no tree; with none usable the model
        # predicts its start, the loss's best constant, as LGBMClassifier predicts the prior.
        params = {"feature_pre_filter": False, **self._params(objective)}
        booster = lgb.train(params, dtrain, self.n_estimators, valid_sets=valid or None,
                            feval=objective.metric if valid else None, callbacks=callbacks)
        self.best_iteration_ = booster.best_iteration or booster.current_iteration()
        self.best_score_ = booster.best_score
        return booster

    @property
    def feature_importances_(self) -> np.ndarray:
        """Importances of ``importance_type`` (``"split"`` or ``"gain"``), as LightGBM gives them."""
        check_is_fitted(self, "booster_")
        kind = self._extra().get("importance_type", "split")
        return self.booster_.feature_importance(importance_type=kind)

    def _raw(self, X):
        raw = self.booster_.predict(X, raw_score=True, num_iteration=self.best_iteration_)
        return raw + np.asarray(self.init_margin_)


binary_objective = LGBMObjective.binary
"""The same as :meth:`LGBMObjective.binary`."""
focal_binary_objective = LGBMObjective.focal_binary
"""The same as :meth:`LGBMObjective.focal_binary`."""
multiclass_objective = LGBMObjective.multiclass
"""The same as :meth:`LGBMObjective.multiclass`."""
focal_multiclass_objective = LGBMObjective.focal_multiclass
"""The same as :meth:`LGBMObjective.focal_multiclass`."""
cost_sensitive_objective = LGBMObjective.cost_sensitive
"""The same as :meth:`LGBMObjective.cost_sensitive`."""

__all__ = [
    "MIN_VERSION",
    "LGBMObjective",
    "WeightedLGBMClassifier",
    "binary_objective",
    "cost_sensitive_objective",
    "focal_binary_objective",
    "focal_multiclass_objective",
    "multiclass_objective",
]
