"""scikit-learn integration: class weights computed inside ``fit``, searchable by cross-validation.

:class:`ClassWeightedClassifier` wraps any classifier that takes ``class_weight``
or ``sample_weight``. It computes the weights from the labels it is fitted on, so
inside ``GridSearchCV`` or ``cross_val_score`` they come from the training fold
only (TRAPS 16), and the weighting scheme becomes a hyper-parameter::

    GridSearchCV(ClassWeightedClassifier(LogisticRegression()),
                 {"scheme": ["balanced", "inverse_sqrt", "effective_number"]})

:func:`sample_weight` gives the per-sample weights of a scheme, for estimators
used directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _validation as V
from ._optional import require
from .weights import SCHEMES, ClassCounts, class_weights, resolve_class_weight

require("sklearn", purpose="wce.sklearn")

from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.utils.metaestimators import available_if  # noqa: E402
from sklearn.utils.multiclass import check_classification_targets  # noqa: E402
from sklearn.utils.validation import check_is_fitted, has_fit_parameter  # noqa: E402

METHODS = ("auto", "class_weight", "sample_weight")
CALLER = "ClassWeightedClassifier"


def _weights_by_class(y: Any, caller: str, **scheme_kwargs: Any) -> tuple[ClassCounts, np.ndarray]:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise ValueError(
            f"{caller} takes 1-D class labels y of shape (n_samples,). Got shape {y.shape}; "
            "multi-output and multi-label targets are not supported here."
        )
    counts = ClassCounts.from_labels(y)
    return counts, class_weights(counts, **scheme_kwargs)


def sample_weight(y: Any, *, scheme: str = "balanced", normalize: str = "none", **kwargs: Any) -> np.ndarray:
    """Per-sample weights ``w[y_i]`` of a class-weight scheme, for any ``fit(X, y, sample_weight=...)``.

    ``scheme``, ``normalize`` and the other keyword arguments (``beta``,
    ``manual``, ``cost_matrix``, ``zero_count``) are those of
    :func:`wce.weights.class_weights`. With the default ``scheme="balanced"``
    this equals ``sklearn.utils.class_weight.compute_sample_weight("balanced", y)``.

    Args:
      y: class labels, shape ``(n_samples,)`` (integers, strings or booleans).

    Returns:
      float64 array of shape ``(n_samples,)``.

    Example:
      >>> from wce.sklearn import sample_weight
      >>> sample_weight(["a", "a", "a", "b"]).tolist()
      [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 2.0]
    """
    counts, weights = _weights_by_class(y, "sample_weight", scheme=scheme, normalize=normalize, **kwargs)
    return sample_weight_from_dict(y, dict(zip(counts.classes, weights)))


def _final_step(estimator: Any) -> tuple[str, Any]:
    """(parameter prefix, estimator that receives the weights): a Pipeline's last step."""
    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        inner_prefix, inner = _final_step(last)
        return f"{name}__{inner_prefix}", inner
    return "", estimator


def _estimator_has(attr: str):
    def check(self) -> bool:
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


class ClassWeightedClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit ``estimator`` with class weights computed from the training labels.

    In ``fit(X, y)`` the weights ``w = class_weights(y, scheme=..., normalize=...,
    beta=..., manual=..., cost_matrix=...)`` (see :func:`wce.weights.class_weights`)
    are computed from ``y`` alone and handed to a clone of ``estimator``:

    - ``method="class_weight"``: as ``class_weight={class: w_c}`` (for
      LogisticRegression, SVC, RandomForestClassifier, ...);
    - ``method="sample_weight"``: as ``fit(..., sample_weight=w[y_i])``,
      multiplied by any ``sample_weight`` given to ``fit`` (for
      GradientBoostingClassifier, HistGradientBoostingClassifier, ...);
    - ``method="auto"``: ``class_weight`` when the estimator has that
      parameter, otherwise ``sample_weight``.

    A :class:`~sklearn.pipeline.Pipeline` receives the weights in its last step.
    Because the weights are computed inside ``fit``, cross-validation never
    sees the validation fold's labels (TRAPS 16), and every option here is an
    ordinary hyper-parameter for ``GridSearchCV``. The class counts are
    unweighted: a ``sample_weight`` given to ``fit`` multiplies the class
    weights but does not change them (scikit-learn >= 1.6 counts
    ``sample_weight`` in ``compute_class_weight``; the two agree when no
    ``sample_weight`` is given).

    Args:
      estimator: an unfitted scikit-learn classifier (or Pipeline ending in one).
      scheme, normalize, beta, manual, cost_matrix: passed to
        :func:`wce.weights.class_weights`. ``scheme=None`` (or ``"none"``) means
        no class weighting: a plain fit of ``estimator`` as given (only a
        ``sample_weight`` given to ``fit`` is passed on), so an unweighted fit
        can sit in the same grid, e.g. ``{"scheme": [None, "balanced"]}``.
      method: ``"auto"``, ``"class_weight"`` or ``"sample_weight"``.

    Attributes:
      estimator_: the fitted clone.
      class_weight_: ``{class: weight}`` used in the last ``fit``; ``None`` after
        a fit with ``scheme=None``.
      classes_: the class labels, as the fitted estimator reports them.

    Example:
      >>> import numpy as np
      >>> from sklearn.linear_model import LogisticRegression
      >>> from wce.sklearn import ClassWeightedClassifier
      >>> X = np.arange(8.0).reshape(-1, 1); y = np.array([0, 0, 0, 0, 0, 0, 1, 1])
      >>> clf = ClassWeightedClassifier(LogisticRegression(), scheme="balanced").fit(X, y)
      >>> clf.class_weight_
      {0: 0.6666666666666666, 1: 2.0}

    Reference: King & Zeng (2001), "Logistic regression in rare events data"
    (weighting a classifier by class); scikit-learn's ``class_weight``.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        scheme: str | None = "balanced",
        normalize: str = "none",
        beta: float = 0.999,
        manual: Any = None,
        cost_matrix: Any = None,
        method: str = "auto",
    ) -> None:
        self.estimator = estimator
        self.scheme = scheme
        self.normalize = normalize
        self.beta = beta
        self.manual = manual
        self.cost_matrix = cost_matrix
        self.method = method

    def _resolve_method(self) -> tuple[str, str]:
        V.check_one_of(self.method, "method", METHODS, caller=CALLER)
        prefix, final = _final_step(self.estimator)
        has_class_weight = "class_weight" in final.get_params(deep=False)
        has_sample_weight = has_fit_parameter(final, "sample_weight")
        method = self.method
        if method == "auto":
            if not (has_class_weight or has_sample_weight):
                raise TypeError(
                    f"{CALLER}: {type(final).__name__} has neither a 'class_weight' parameter nor a "
                    "'sample_weight' argument to fit, so class weights cannot be passed to it."
                )
            method = "class_weight" if has_class_weight else "sample_weight"
        elif method == "class_weight" and not has_class_weight:
            raise ValueError(
                f"{CALLER}: method='class_weight' but {type(final).__name__} has no 'class_weight' "
                "parameter. Use method='sample_weight' (or 'auto')."
            )
        elif method == "sample_weight" and not has_sample_weight:
            raise ValueError(
                f"{CALLER}: method='sample_weight' but {type(final).__name__}.fit takes no "
                "'sample_weight'. Use method='class_weight' (or 'auto')."
            )
        return method, prefix

    def fit(self, X: Any, y: Any, sample_weight: Any = None, **fit_params: Any) -> "ClassWeightedClassifier":
        """Compute the class weights from ``y`` and fit a clone of ``estimator``."""
        if y is None:
            raise ValueError(f"{CALLER} requires y to be passed, but the target y is None.")
        check_classification_targets(y)  # refuses continuous, NaN/inf and complex targets
        if self.scheme is None or (isinstance(self.scheme, str) and self.scheme.lower() == "none"):
            return self._fit_unweighted(X, y, sample_weight, fit_params)
        if not isinstance(self.scheme, str) or self.scheme not in SCHEMES:
            choices = ", ".join(repr(s) for s in SCHEMES)
            raise ValueError(
                f"The 'scheme' parameter of {CALLER} must be None, 'none' or one of {choices}. "
                f"Got {self.scheme!r} instead."
            )
        method, prefix = self._resolve_method()
        counts, weights = _weights_by_class(
            y, CALLER, scheme=self.scheme, normalize=self.normalize, beta=self.beta,
            manual=self.manual, cost_matrix=self.cost_matrix,
        )
        self.class_weight_ = dict(zip(counts.classes, (float(w) for w in weights)))
        estimator = clone(self.estimator)
        if method == "class_weight":
            estimator.set_params(**{f"{prefix}class_weight": self.class_weight_})
            if sample_weight is not None:
                fit_params[f"{prefix}sample_weight"] = sample_weight
        else:
            per_sample = sample_weight_from_dict(y, self.class_weight_)
            if sample_weight is not None:
                user = V.check_sample_weight(sample_weight, per_sample.shape, caller=f"{CALLER}.fit")
                per_sample = per_sample * user
            fit_params[f"{prefix}sample_weight"] = per_sample
        self.estimator_ = estimator.fit(X, y, **fit_params)
        return self

    def _fit_unweighted(self, X: Any, y: Any, sample_weight: Any, fit_params: dict
                        ) -> "ClassWeightedClassifier":
        """``scheme=None``: fit a clone of ``estimator`` as it is, without class weights."""
        V.check_one_of(self.method, "method", METHODS, caller=CALLER)
        _weights_by_class(y, CALLER)  # the same 1-D label check as a weighted fit
        prefix, final = _final_step(self.estimator)
        if sample_weight is not None:
            if not has_fit_parameter(final, "sample_weight"):
                raise ValueError(
                    f"{CALLER}: a sample_weight was given to fit but {type(final).__name__}.fit "
                    "takes no 'sample_weight'."
                )
            fit_params[f"{prefix}sample_weight"] = sample_weight
        self.class_weight_ = None
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        return self

    @property
    def classes_(self) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.classes_

    @property
    def n_features_in_(self) -> int:
        check_is_fitted(self, "estimator_")
        return self.estimator_.n_features_in_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.input_tags = inner.input_tags  # sparse, NaN, strings: what the wrapped estimator takes
        return tags

    @available_if(_estimator_has("predict"))
    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of the weighted model: shifted towards the up-weighted classes (TRAPS 15)."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.decision_function(X)


def sample_weight_from_dict(y: Any, class_weight: dict) -> np.ndarray:
    """``class_weight[y_i]`` for every sample; a label missing from the dict raises.

    The weights are checked by :func:`wce.weights.resolve_class_weight`: finite,
    non-negative and not all zero.

    Example:
      >>> from wce.sklearn import sample_weight_from_dict
      >>> sample_weight_from_dict(["a", "b", "a"], {"a": 1.0, "b": 3.0}).tolist()
      [1.0, 3.0, 1.0]
    """
    y = np.asarray(y).reshape(-1)
    uniq, inverse = np.unique(y, return_inverse=True)
    weights = resolve_class_weight(class_weight, classes=uniq, caller="sample_weight_from_dict")
    return weights[inverse.reshape(-1)]


__all__ = ["ClassWeightedClassifier", "sample_weight", "sample_weight_from_dict"]
