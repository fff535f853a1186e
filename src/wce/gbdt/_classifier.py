"""The scikit-learn classifier shared by WeightedXGBClassifier and WeightedLGBMClassifier."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validation as V
from .._optional import require
from ..weights import resolve_class_weight
from ._objective import LOSS_NAMES, Objective

require("sklearn", purpose="the weighted gradient-boosting classifiers")
from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402
from sklearn.preprocessing import LabelEncoder  # noqa: E402
from sklearn.utils.multiclass import check_classification_targets  # noqa: E402
from sklearn.utils.validation import check_is_fitted, validate_data  # noqa: E402


class WeightedGBDTClassifier(ClassifierMixin, BaseEstimator):
    """Base of the weighted boosting classifiers; subclasses supply ``_train`` and ``_raw``.

    The class weights (a scheme name such as ``"balanced"``, a dict by label or
    an array in the order of ``classes_``) are resolved inside ``fit`` from the
    training labels only (TRAPS 16), with :func:`wce.weights.resolve_class_weight`.
    Two classes use a sigmoid margin (cross-entropy or focal loss), otherwise softmax margins;
    ``loss="cost_sensitive"`` always uses softmax margins.

    Any other keyword argument (``subsample=0.8``, ``colsample_bytree=0.5``,
    ``min_child_weight=3``...) is kept as a parameter of its own: ``get_params``
    lists it and ``set_params`` changes it, so ``clone`` and ``GridSearchCV`` handle
    it like the named ones, and ``fit`` passes it to the library (a ``None`` value
    leaves the library's default). ``params`` is applied last and wins.
    """

    _objective_class: type[Objective] = Objective
    #: keyword arguments the library's scikit-learn wrapper keeps out of the booster parameters
    _wrapper_keys: frozenset[str] = frozenset({"importance_type"})
    #: keyword arguments refused: what they set is decided by ``loss`` and ``class_weight``
    _refused_keys: frozenset[str] = frozenset({"objective"})

    def __init__(self, loss: str = "cross_entropy", *, class_weight: Any = None,
                 gamma: float = 2.0, cost_matrix: Any = None, n_estimators: int = 100,
                 learning_rate: float | None = None, max_depth: int | None = None,
                 n_jobs: int | None = None, random_state: int | None = 0,
                 early_stopping_rounds: int | None = None, params: dict | None = None,
                 **kwargs: Any):
        self.loss = loss
        self.class_weight = class_weight
        self.gamma = gamma
        self.cost_matrix = cost_matrix
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.early_stopping_rounds = early_stopping_rounds
        self.params = params
        self._kwargs = dict(kwargs)

    # -- parameters ---------------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict:
        """The named parameters and every extra keyword argument."""
        params = super().get_params(deep=deep)
        params.update(getattr(self, "_kwargs", {}))
        return params

    def set_params(self, **params: Any):
        """Set parameters; a name that is not a named parameter becomes a keyword argument,
        passed to the library in ``fit``."""
        if not params:
            return self
        names = set(self._get_param_names())
        if not hasattr(self, "_kwargs"):
            self._kwargs = {}
        for key in [k for k in params if k not in names and "__" not in k]:
            self._kwargs[key] = params.pop(key)
        return super().set_params(**params) if params else self

    def _extra(self) -> dict:
        """The keyword arguments given a value, after refusing the ones ``loss`` decides."""
        extra = {k: v for k, v in getattr(self, "_kwargs", {}).items() if v is not None}
        refused = sorted(set(extra) & self._refused_keys)
        if refused:
            raise ValueError(
                f"{type(self).__name__} sets the objective itself from 'loss' and "
                f"'class_weight'; remove {', '.join(repr(k) for k in refused)}. Choose "
                "loss='cross_entropy', 'focal' or 'cost_sensitive' instead."
            )
        return extra

    def _extra_booster_params(self) -> dict:
        """The keyword arguments that are booster parameters (not the wrapper's own)."""
        return {k: v for k, v in self._extra().items() if k not in self._wrapper_keys}

    def _make_objective(self, y: np.ndarray) -> Objective:
        k = len(self.classes_)
        # a dict is keyed by the original labels; a scheme counts the training labels only
        cw = resolve_class_weight(self.class_weight, classes=self.classes_,
                                  counts=np.bincount(y, minlength=k), caller=type(self).__name__)
        cls = self._objective_class
        if self.loss == "cost_sensitive":
            if self.cost_matrix is None:
                raise ValueError(f"{type(self).__name__}(loss='cost_sensitive') needs cost_matrix.")
            return cls.cost_sensitive(cost_matrix=self.cost_matrix, class_weight=cw)
        if self.loss == "focal":
            if k == 2:
                return cls.focal_binary(gamma=self.gamma, class_weight=cw)
            return cls.focal_multiclass(gamma=self.gamma, alpha=cw)
        V.check_one_of(self.loss, "loss", LOSS_NAMES, caller=type(self).__name__)
        return cls.binary(class_weight=cw) if k == 2 else cls.multiclass(class_weight=cw)

    def _booster_params(self, objective: Objective, params: dict, *, threads: str) -> dict:
        """``params`` (the library's fixed ones) plus the shared hyper-parameters and ``params``."""
        params = dict(params)
        if self.learning_rate is not None:  # None: the library's default, as its own wrapper
            params["learning_rate"] = self.learning_rate
        if self.max_depth is not None:
            params["max_depth"] = self.max_depth
        if self.n_jobs is not None:
            params[threads] = self.n_jobs
        if self.random_state is not None:
            params["seed"] = self.random_state
        if objective.multiclass:
            params["num_class"] = len(self.classes_)
        params.update(self._extra_booster_params())
        params.update(self.params or {})
        return params

    def fit(self, X: Any, y: Any, sample_weight: Any = None, eval_set: Any = None):
        """Fit on ``(X, y)``; ``eval_set=[(X_val, y_val), ...]`` with
        ``early_stopping_rounds`` stops on the objective's own weighted metric."""
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_all_finite="allow-nan")
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data; got 1 "
                f"class: {self.classes_.tolist()}."
            )
        y_enc = encoder.transform(y)
        self._extra()  # refuse a conflicting keyword argument before any work
        objective = self._make_objective(y_enc)
        k = len(self.classes_) if objective.multiclass else 2
        y_enc, sw = objective.check_data(y_enc, sample_weight, n_classes=k)
        evals = []
        for X_val, y_val in eval_set or []:
            X_val = validate_data(self, X_val, dtype=np.float64, reset=False,
                                  ensure_all_finite="allow-nan")
            evals.append((X_val, encoder.transform(np.asarray(y_val))))
        self.objective_ = objective
        self.init_margin_ = objective.base_margin(y_enc, sw, n_classes=k)
        self.booster_ = self._train(objective, X, y_enc, sw, evals)
        objective.clear_cache()  # holds the library's data object, which does not pickle
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw margins, start included: ``(n,)`` for two classes, else ``(n, K)``."""
        check_is_fitted(self, "booster_")
        X = validate_data(self, X, dtype=np.float64, reset=False, ensure_all_finite="allow-nan")
        return self._raw(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` in the order of ``classes_`` (sigmoid or softmax
        of :meth:`decision_function`)."""
        check_is_fitted(self, "booster_")
        proba = self.objective_.predict_proba(self.decision_function(X))
        if not self.objective_.multiclass:
            proba = np.column_stack([1.0 - proba, proba])
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row, as a label from ``classes_``."""
        check_is_fitted(self, "booster_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
