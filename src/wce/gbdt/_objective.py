"""The objective core of :mod:`wce.xgboost` and :mod:`wce.lightgbm`: gradients, Hessians, start.

A boosting library asks a custom objective, at every round, for the gradient
and the diagonal Hessian of the *summed* loss ``Σ_i w_i l_i`` with respect to
the raw margins. Here they come from the NumPy reference
(:func:`wce.losses.value_grad_hess` for binary losses,
:func:`wce.losses.value_and_grad` for multiclass gradients) with
``reduction="sum"``; only the Hessians the reference does not give are
derived here:

* **binary cross-entropy**: the reference's exact ``w p (1 - p)``;
* **binary focal loss**: the exact Hessian can be negative for badly
  misclassified points (the loss is almost linear there, TRAPS 14). We use
  ``max(h_exact, w_t (1 - p_t)^γ p (1 - p))``: the exact value wherever it is
  larger than the cross-entropy curvature scaled by the focal factor, which is
  positive. It equals the exact Hessian for ``γ = 0``;
* **multiclass** (softmax cross-entropy, focal, cost-sensitive): the diagonal
  ``factor · r_i · p_ij (1 - p_ij)`` with ``r_i`` the row's weight:
  ``s_i w_{y_i}`` for cross-entropy (the exact diagonal times ``factor``),
  ``s_i α_{y_i} m(p_{i,y_i})`` with ``m(p) = (1 - p)^γ - γ (1 - p)^{γ-1} p log p``
  for focal (along the true class the focal gradient is ``m`` times the
  cross-entropy gradient; scaling the curvature by ``m`` alone, i.e.
  ``(1 - p)^γ``, lets Newton steps blow up on well-classified rows), and
  ``s_i (w_{y_i} + Σ_{k≠y_i} M_{y_i k})`` for cost-sensitive (every
  ``-log(1 - p_k)`` term counted with the curvature of log-sum-exp, exact on
  its own class). ``factor`` defaults to each library's own softmax objective:
  2 for XGBoost's ``multi:softprob``, ``K / (K - 1)`` for LightGBM's
  ``multiclass``, so the weighted softmax objective reproduces the built-in one.

Every Hessian is floored at ``1e-16`` times the element weight, as XGBoost's
``binary:logistic`` does, so a saturated sigmoid never yields a zero Hessian
on a sample that still has weight.

The start (TRAPS 14): a custom objective trains from whatever constant margin
the library starts from (XGBoost's ``base_score`` of 0.5 used as a margin,
LightGBM's 0). :meth:`Objective.base_margin` gives the constant that minimises
the weighted loss: the weighted prior log-odds ``log(Σ_pos w / Σ_neg w)`` for
binary cross-entropy, the centred weighted log-priors for softmax
cross-entropy, refined by BFGS on the K class totals for focal and
cost-sensitive losses (whose best constant is not the prior).

Speed: the library calls the objective every round on every row. Weighted
binary and softmax cross-entropy (class weights only, the common case) skip
the reference there: :mod:`wce.gbdt._fast` computes the same gradient and
Hessian (bitwise for binary, to a few ulps for softmax) in a few in-place
passes over cache-sized blocks of rows, on up to 4 threads, from per-row
weights prepared once per data set. The library callbacks (``__call__``)
return them in float32, the precision both libraries store and the rounding
they would apply to float64; :meth:`Objective.grad_hess` returns float64.
Every other loss or parameter goes through the reference.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Mapping

import numpy as np

from .. import _validation as V
from ..losses import (
    binary_cross_entropy,
    binary_focal_loss,
    cost_sensitive_cross_entropy,
    focal_loss,
    value_and_grad,
    value_grad_hess,
    weighted_cross_entropy,
)
from ..losses._binary import binary_class_weights
from ..losses._common import log_softmax, pow0, sigmoid
from ..weights import resolve_class_weight
from . import _fast

HESSIAN_FLOOR = 1e-16
LOSS_NAMES = ("cross_entropy", "focal", "cost_sensitive")
_REFERENCE = {
    (False, "cross_entropy"): binary_cross_entropy,
    (False, "focal"): binary_focal_loss,
    (True, "cross_entropy"): weighted_cross_entropy,
    (True, "focal"): focal_loss,
    (True, "cost_sensitive"): cost_sensitive_cross_entropy,
}
_METRIC_NAMES = {"cross_entropy": "weighted_logloss", "focal": "focal_loss",
                 "cost_sensitive": "cost_sensitive_loss"}
# Parameters the fast path (wce.gbdt._fast) covers, for cross-entropy on integer labels.
_FAST_PARAMS = {False: frozenset({"pos_weight", "class_weight", "alpha"}),
                True: frozenset({"class_weight"})}


#: The cache key of labels and weights handed over as arrays (the scikit-learn signatures).
_ARRAYS = "arrays"


def _same_array(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Same shape and values (None and empty are alike: no weights)."""
    a_none, b_none = a is None or a.size == 0, b is None or b.size == 0
    return a_none and b_none if a_none or b_none else bool(np.array_equal(a, b))


def _numerics_overridden(cls: type) -> bool:
    """True if a subclass replaces the gradient (then the fast path must not bypass it)."""
    return any(getattr(cls, name) is not getattr(Objective, name)
               for name in ("grad_hess", "_binary_grad_hess", "_multiclass_grad_hess"))


def softmax(margin: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(np.asarray(margin, dtype=np.float64)))


class Objective:
    """A weighted loss as a boosting objective: gradients, Hessians, start and metric.

    Library subclasses (:class:`wce.xgboost.XGBObjective`,
    :class:`wce.lightgbm.LGBMObjective`) add ``__call__`` and ``metric`` with the
    signatures their library expects; all the numerics live here. Build one
    with the class methods :meth:`binary`, :meth:`focal_binary`,
    :meth:`multiclass`, :meth:`focal_multiclass` or :meth:`cost_sensitive`.

    A per-class weight (``class_weight``, or the multiclass focal ``alpha``) is
    an array in class-index order or a ``{class index: weight}`` dict, resolved
    by :func:`wce.weights.resolve_class_weight`.

    Labels and sample weights are read from the library's data object once and
    cached (the object is held, not its ``id``), so each round costs only the
    loss computation on the margins.
    """

    library = "gbdt"
    #: multiclass Hessian factor of the library's own softmax objective, ``f(K)``
    native_hessian_factor: Callable[[int], float] = staticmethod(lambda k: 1.0)

    def __init__(self, loss: str, *, multiclass: bool, hessian_factor: float | None = None,
                 **params: Any) -> None:
        self.caller = f"wce.{self.library} objective"
        V.check_one_of(loss, "loss", LOSS_NAMES, caller=self.caller)
        if (multiclass, loss) not in _REFERENCE:
            raise ValueError(
                f"The '{loss}' loss of {self.caller} is multiclass only: use "
                f"{type(self).__name__}.cost_sensitive(cost_matrix=...) with softmax margins."
            )
        self.loss = loss
        self.multiclass = multiclass
        self.reference = _REFERENCE[(multiclass, loss)]
        self.params = {k: v for k, v in params.items() if v is not None}
        for key in ("class_weight", "alpha") if multiclass else ("class_weight",):
            if isinstance(self.params.get(key), (Mapping, str)):  # a per-class vector
                self.params[key] = resolve_class_weight(
                    self.params[key], n_classes=None if multiclass else 2, caller=self.caller,
                    name=key)
        if hessian_factor is not None:
            hessian_factor = V.check_float(hessian_factor, "hessian_factor", caller=self.caller,
                                           low=0.0, low_inclusive=False)
        self.hessian_factor = hessian_factor
        self.metric_name = _METRIC_NAMES[loss]
        self._cache: tuple | None = None
        self._fast_cache: tuple | None = None
        self._check_params()

    # -- constructors ---------------------------------------------------------------
    @classmethod
    def binary(cls, *, pos_weight: float | None = None, class_weight: Any = None,
               alpha: float | None = None) -> "Objective":
        """Weighted binary cross-entropy on a sigmoid margin.

        ``l = -[w_+ y log p + w_- (1 - y) log(1 - p)]`` with at most one of
        ``pos_weight=r`` (``w_+ = r, w_- = 1``: the built-in ``scale_pos_weight``),
        ``class_weight=(w_neg, w_pos)`` or ``alpha`` in [0, 1] (TRAPS 1).
        Gradient ``w (p - y)``, Hessian ``w p (1 - p)``.
        """
        return cls("cross_entropy", multiclass=False, pos_weight=pos_weight,
                   class_weight=class_weight, alpha=alpha)

    @classmethod
    def focal_binary(cls, *, gamma: float = 2.0, alpha: float | None = None,
                     pos_weight: float | None = None, class_weight: Any = None) -> "Objective":
        """Binary focal loss (torchvision's formula) on a sigmoid margin, with a positive Hessian.

        The exact Hessian of the focal loss is negative for badly misclassified
        points; the objective uses ``max(h_exact, w_t (1 - p_t)^γ p (1 - p))``,
        which equals the exact Hessian wherever that is larger and the binary
        cross-entropy Hessian for ``γ = 0``. ``alpha``, ``pos_weight`` and
        ``class_weight`` weight the classes as in :meth:`binary`.
        """
        return cls("focal", multiclass=False, gamma=gamma, alpha=alpha, pos_weight=pos_weight,
                   class_weight=class_weight)

    @classmethod
    def multiclass(cls, *, class_weight: Any = None,
                   hessian_factor: float | None = None) -> "Objective":
        """Weighted softmax cross-entropy: ``l_i = -w_{y_i} log softmax(z_i)_{y_i}``.

        Gradient ``w_{y_i} (p_i - onehot(y_i))``; Hessian diagonal
        ``factor · w_{y_i} p_ij (1 - p_ij)`` with the library's own factor by default.
        """
        return cls("cross_entropy", multiclass=True, class_weight=class_weight,
                   hessian_factor=hessian_factor)

    @classmethod
    def focal_multiclass(cls, *, gamma: float = 2.0, alpha: Any = None,
                         hessian_factor: float | None = None) -> "Objective":
        """Softmax focal loss with a per-class ``alpha`` vector (TRAPS 12), positive Hessian.

        Hessian diagonal ``factor · α_y m(p_y) p_j (1 - p_j)`` with
        ``m(p) = (1 - p)^γ - γ (1 - p)^{γ-1} p log p``: along the true class the
        focal gradient is ``m`` times the cross-entropy gradient.
        """
        return cls("focal", multiclass=True, gamma=gamma, alpha=alpha,
                   hessian_factor=hessian_factor)

    @classmethod
    def cost_sensitive(cls, *, cost_matrix: Any, class_weight: Any = None,
                       hessian_factor: float | None = None) -> "Objective":
        """Cost-sensitive cross-entropy from a ``(K, K)`` cost matrix, on softmax margins.

        Hessian diagonal ``factor · (w_y + Σ_{k≠y} M[y, k]) p_j (1 - p_j)``.
        """
        return cls("cost_sensitive", multiclass=True, cost_matrix=cost_matrix,
                   class_weight=class_weight, hessian_factor=hessian_factor)

    # -- parameters -----------------------------------------------------------------
    def _check_params(self) -> None:
        # Validate once, with the reference's own checks, on a one-element problem.
        if self.multiclass:
            k = self._declared_classes() or 2
            self.reference(np.zeros((1, k)), np.zeros(1, dtype=np.int64), **self.params)
        else:
            self.reference(np.zeros(1), np.zeros(1), **self.params)

    def _declared_classes(self) -> int | None:
        for key in ("class_weight", "alpha"):
            if key in self.params:
                return int(np.size(self.params[key]))
        if "cost_matrix" in self.params:
            return int(np.shape(self.params["cost_matrix"])[0])
        return None

    def _class_weight_vector(self, n_classes: int) -> np.ndarray:
        """Per-class weight of each label's loss term (``w`` or ``alpha``)."""
        if not self.multiclass:
            p = self.params
            w_neg, w_pos = binary_class_weights(
                class_weight=p.get("class_weight"), alpha=p.get("alpha"),
                pos_weight=p.get("pos_weight"), shape=(), caller=self.caller)
            return np.array([float(w_neg), float(w_pos)])
        w = self.params.get("alpha" if self.loss == "focal" else "class_weight")
        return np.ones(n_classes) if w is None else np.asarray(w, dtype=np.float64)

    def _check_margin(self, margin: np.ndarray) -> None:
        """Refuse a softmax margin with fewer than two columns (one per class)."""
        if self.multiclass and margin.ndim == 2 and margin.shape[1] < 2:
            raise ValueError(
                f"{self.caller} (multiclass) needs margins of shape (n, K) with K >= 2 columns, "
                f"one per class. Got shape {margin.shape}. For one margin per sample use the "
                f"binary objective, {type(self).__name__}.binary(...), instead."
            )

    def _factor(self, n_classes: int) -> float:
        if self.hessian_factor is not None:
            return self.hessian_factor
        return float(type(self).native_hessian_factor(n_classes))

    # -- data -----------------------------------------------------------------------
    def n_classes(self, labels: np.ndarray | None = None) -> int:
        """Number of classes: 2 for a binary objective; for a multiclass one the length of
        its class weights (or cost matrix), else ``max(labels) + 1``, at least 2."""
        if not self.multiclass:
            return 2
        k = self._declared_classes()
        if k is None:
            if labels is None:
                raise ValueError(f"{self.caller}: the number of classes is unknown.")
            k = int(np.max(labels)) + 1 if np.size(labels) else 1
        return max(k, 2)

    def check_data(self, labels: Any, sample_weight: Any = None, *,
                   n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Validated ``(labels, sample_weight)``: integer labels in [0, K), weights of length n."""
        y = np.asarray(labels)
        if y.ndim != 1:
            y = y.reshape(-1)
        if y.size == 0:
            raise ValueError(f"{self.caller} was given no labels. Pass at least one sample.")
        yf = V.as_float_array(y, "labels", caller=self.caller)
        k = n_classes if n_classes is not None else (self._declared_classes() or None)
        if not self.multiclass:
            k = 2
        bad = (yf != np.round(yf)) | (yf < 0) | ((yf >= k) if k is not None else False)
        if np.any(bad):
            shown = np.unique(yf[bad])[:5].tolist()
            upper = f"{k - 1}" if k is not None else "K - 1"
            raise ValueError(
                f"The labels of {self.caller} must be integer class indices in [0, {upper}]. "
                f"Got {shown} instead. Encode them first, e.g. with "
                "sklearn.preprocessing.LabelEncoder."
            )
        y = yf.astype(np.int64)
        sw = None if sample_weight is None else np.asarray(sample_weight)
        if sw is None or sw.size == 0:
            return y, None
        sw = V.as_float_array(sw, "sample_weight", caller=self.caller)
        if sw.shape != y.shape:
            raise ValueError(
                f"The 'sample_weight' parameter of {self.caller} must have one weight per "
                f"sample ({y.shape[0]}). Got shape {sw.shape} instead."
            )
        if np.any(sw < 0) or not np.any(sw > 0):
            raise ValueError(
                f"The 'sample_weight' parameter of {self.caller} must be non-negative and not "
                "all zero."
            )
        return y, sw.astype(np.float64)

    def _data(self, data: Any, labels: Callable[[], Any], weights: Callable[[], Any],
              n_classes: int | None) -> tuple[np.ndarray, np.ndarray | None]:
        """The checked labels and weights of the library's data object, cached with it.

        The library's current labels and weights are read every round and compared
        with the ones the cache was made from (an O(n) read, small next to the
        gradient), so ``set_label``/``set_weight`` on the same data object between
        two trainings with the same objective is never trained on stale data.
        """
        raw_y, raw_w = np.asarray(labels()), weights()
        raw_w = None if raw_w is None else np.asarray(raw_w)
        cache = self._cache
        if (cache is None or cache[0] is not data or not _same_array(cache[3], raw_y)
                or not _same_array(cache[4], raw_w)):
            y, sw = self.check_data(raw_y, raw_w, n_classes=n_classes)
            y_in = y if self.multiclass else y.astype(np.float64)
            cache = (data, y_in, sw, raw_y.copy(), None if raw_w is None else raw_w.copy())
            self._cache = cache
        return cache[1], cache[2]

    def __getstate__(self) -> dict:
        # The cache holds the library's data object (ctypes handles): never copy or pickle it.
        return {**self.__dict__, "_cache": None, "_fast_cache": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update({"_fast_cache": None, **state})

    def __deepcopy__(self, memo: dict) -> "Objective":
        clone = copy.copy(self)
        clone.__dict__.update(copy.deepcopy(self.__getstate__(), memo))
        return clone

    def clear_cache(self) -> None:
        """Drop the cached training labels, weights and data object."""
        self._cache = None
        self._fast_cache = None

    # -- numerics -------------------------------------------------------------------
    def grad_hess(self, margin: Any, labels: Any, sample_weight: Any = None, *,
                  checked: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and positive diagonal Hessian of ``Σ_i s_i l_i`` w.r.t. the margins.

        ``margin`` is ``(n,)`` (binary) or ``(n, K)`` (multiclass); the results are
        float64 arrays of the same shape (for softmax cross-entropy, transposed views
        of class-major arrays).
        """
        margin = np.asarray(margin)
        self._check_margin(margin)
        if not checked:
            k = margin.shape[1] if self.multiclass and margin.ndim == 2 else None
            labels, sample_weight = self.check_data(labels, sample_weight, n_classes=k)
            if not self.multiclass:
                labels = labels.astype(np.float64)
        # Arrays from the caller may be refilled between calls: no per-row cache for them.
        fast = self._fast_grad_hess(margin, labels, sample_weight, cache=False)
        if fast is not None:
            return fast
        return self._reference_grad_hess(margin, labels, sample_weight)

    def _reference_grad_hess(self, margin: np.ndarray, labels: np.ndarray,
                             sample_weight: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if not self.multiclass:
            return self._binary_grad_hess(margin, labels, sample_weight)
        return self._multiclass_grad_hess(margin, labels, sample_weight)

    def _arrays_round(self, labels: Any, margin: Any, sample_weight: Any
                      ) -> tuple[np.ndarray, np.ndarray]:
        """A boosting round called the scikit-learn way: ``(y_true, y_pred[, sample_weight])``.

        The libraries' scikit-learn classes hand over fresh label and weight arrays
        every round; they are checked once and cached by value, like a data object's.
        """
        margin = np.asarray(margin)
        self._check_margin(margin)
        k = margin.shape[1] if self.multiclass and margin.ndim == 2 else None
        weights = None if sample_weight is None else np.asarray(sample_weight)
        y, sw = self._data(_ARRAYS, lambda: labels, lambda: weights, k)
        return self._boosting_round(margin, y, sw)

    def _boosting_round(self, margin: Any, labels: np.ndarray, sample_weight: np.ndarray | None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and Hessian for the library, from the cached (checked) labels and weights.

        The fast path returns float32: both libraries store gradients in float32
        and cast what they get, so handing them the same float32 rounding of the
        float64 result trains identical trees with half the memory traffic.
        """
        margin = np.asarray(margin)
        self._check_margin(margin)
        if _numerics_overridden(type(self)):  # a subclass's own gradient is what trains
            return self.grad_hess(margin, labels, sample_weight, checked=True)
        fast = self._fast_grad_hess(margin, labels, sample_weight, dtype=np.float32)
        if fast is not None:
            return fast
        # The fast path already judged (and cached) these arrays: straight to the reference.
        return self._reference_grad_hess(margin, labels, sample_weight)

    def _fast_grad_hess(self, margin: np.ndarray, y: np.ndarray, sw: np.ndarray | None, *,
                        dtype: type = np.float64, cache: bool = True
                        ) -> tuple[np.ndarray, np.ndarray] | None:
        """The fast path (:mod:`wce.gbdt._fast`) where it applies, else None.

        It covers cross-entropy with class weights only (no other reference
        parameter), float32/float64 margins of the expected shape and labels in
        range; the result equals the general path's (bitwise for binary, to a
        few ulps for softmax). Its per-row arrays are prepared once for a given
        ``(labels, sample_weight)`` pair of arrays (the ones the data cache hands
        out every round) and the current class weights, and kept with them
        (``cache=False``: computed afresh, for arrays the caller owns).
        """
        if (self.loss != "cross_entropy" or not set(self.params) <= _FAST_PARAMS[self.multiclass]
                or margin.dtype not in (np.float32, np.float64) or y.ndim != 1):
            return None
        n = y.shape[0]
        if self.multiclass:
            if margin.ndim != 2 or margin.shape[0] != n or margin.shape[1] < 1:
                return None
            k = margin.shape[1]
        elif margin.shape != (n,):
            return None
        else:
            k = 2
        factor = self._factor(k) if self.multiclass else None
        # K floats, read every call: class weights edited in place or in params are seen.
        class_weight = self._class_weight_vector(k)
        signature = (k, factor, class_weight.shape, class_weight.tobytes())
        key = self._fast_cache if cache else None
        if key is None or key[0] is not y or key[1] is not sw or key[2] != signature:
            key = (y, sw, signature, self._fast_rows(y, sw, k, factor, class_weight))
            if cache:
                self._fast_cache = key
        rows = key[3]
        if rows is None:
            return None
        if self.multiclass:
            return _fast.softmax_cross_entropy(margin, *rows, dtype=dtype)
        return _fast.binary_cross_entropy(margin, *rows, dtype=dtype)

    def _fast_rows(self, y: np.ndarray, sw: np.ndarray | None, k: int,
                   factor: float | None, class_weight: np.ndarray) -> tuple | None:
        """Per-row arrays of the fast path, or None where the reference must judge the data."""
        if sw is not None and sw.shape != y.shape:
            return None
        if self.multiclass:
            if class_weight.shape != (k,) or not np.issubdtype(y.dtype, np.integer):
                return None
            if y.size and (y.min() < 0 or y.max() >= k):
                return None
            weight = self._element_weight(y, sw, class_weight)
            return y.astype(np.int64), weight, factor * weight, HESSIAN_FLOOR * weight
        if not np.all((y == 0) | (y == 1)):
            return None
        weight = self._element_weight(y, sw, class_weight)
        # ``weight * y`` is the reference's ``s w_+ y``: the weight on positives, 0 on negatives.
        return weight, weight * y, HESSIAN_FLOOR * weight

    def _element_weight(self, labels: np.ndarray, sample_weight: np.ndarray | None,
                        class_weight: np.ndarray) -> np.ndarray:
        w = class_weight[labels.astype(np.int64)]
        return w if sample_weight is None else w * sample_weight

    def _binary_grad_hess(self, margin, y, sw):
        _, grad, hess = value_grad_hess(self.reference, margin, y, sample_weight=sw,
                                        reduction="sum", **self.params)
        weight = self._element_weight(y, sw, self._class_weight_vector(2))
        if self.loss == "focal":
            p = sigmoid(np.asarray(margin, dtype=np.float64))
            one_minus_pt = np.where(y > 0.5, 1.0 - p, p)
            modulated = weight * pow0(one_minus_pt, self.params["gamma"]) * p * (1.0 - p)
            hess = np.maximum(hess, modulated)
        return grad, np.maximum(hess, HESSIAN_FLOOR * weight)

    def _multiclass_grad_hess(self, margin, y, sw):
        if margin.ndim != 2:
            raise ValueError(
                f"{self.caller} (multiclass) expects margins of shape (n, K). Got shape "
                f"{margin.shape}. Set the library's num_class parameter."
            )
        k = margin.shape[1]
        _, grad = value_and_grad(self.reference, margin, y, sample_weight=sw, reduction="sum",
                                 **self.params)
        row = self._element_weight(y, sw, self._class_weight_vector(k))
        if self.loss == "cross_entropy":
            # The reference gradient is r (p - onehot(y)): recover p from it instead of a
            # second softmax pass (rows of weight 0 have a zero Hessian either way).
            p = np.divide(grad, row[:, None], out=np.zeros_like(grad), where=row[:, None] > 0)
            p[np.arange(len(y)), y] += row > 0
        else:
            p = softmax(margin)
        if self.loss == "focal":
            # m(p_t) = (1 - p_t)^γ - γ (1 - p_t)^(γ-1) p_t log p_t: the focal gradient is
            # m(p_t) times the cross-entropy one along the true class, so m scales its curvature.
            gamma = self.params["gamma"]
            p_true = p[np.arange(len(y)), y]
            u = 1.0 - p_true
            with np.errstate(divide="ignore", invalid="ignore"):
                plogp = np.where(p_true > 0, p_true * np.log(np.maximum(p_true, 1e-300)), 0.0)
            row = row * (pow0(u, gamma) - gamma * pow0(u, gamma - 1.0) * plogp)
        elif self.loss == "cost_sensitive":
            cost = np.asarray(self.params["cost_matrix"], dtype=np.float64)
            off = (cost * (1.0 - np.eye(k))).sum(axis=1)
            row = row + (off[y] if sw is None else off[y] * sw)
        hess = 1.0 - p  # in place from here on: these are (n, K) arrays every round
        hess *= p
        hess *= (self._factor(k) * row)[:, None]
        return grad, np.maximum(hess, HESSIAN_FLOOR * row[:, None], out=hess)

    def value(self, margin: Any, labels: Any, sample_weight: Any = None) -> float:
        """The weighted mean loss ``Σ s_i l_i / Σ s_i w_{y_i}`` (the metric for early stopping)."""
        margin = np.asarray(margin)
        self._check_margin(margin)
        k = margin.shape[1] if self.multiclass and margin.ndim == 2 else None
        y, sw = self.check_data(labels, sample_weight, n_classes=k)
        y = y if self.multiclass else y.astype(np.float64)
        return float(self.reference(margin, y, sample_weight=sw, reduction="weighted_mean", **self.params))

    def predict_proba(self, margin: Any) -> np.ndarray:
        """Raw margins -> probabilities: sigmoid ``(n,)`` or softmax ``(n, K)``.

        Custom objectives make the libraries return raw margins (LightGBM#3312,
        xgboost#11373); this is the link the objective was trained with.
        """
        margin = np.asarray(margin, dtype=np.float64)
        return softmax(margin) if self.multiclass else sigmoid(margin)

    def base_margin(self, labels: Any, sample_weight: Any = None, *,
                    n_classes: int | None = None) -> float | np.ndarray:
        """The constant margin minimising the weighted loss on ``labels`` (TRAPS 14).

        Binary: a float, the weighted prior log-odds for cross-entropy.
        Multiclass: a ``(K,)`` vector (centred weighted log-priors for
        cross-entropy). Use it as XGBoost's ``base_score`` or LightGBM's
        ``init_score``. Classes with zero total weight get the log of 1e-12.

        Example:
          >>> import numpy as np
          >>> from wce.xgboost import XGBObjective
          >>> obj = XGBObjective.binary(pos_weight=4.0)
          >>> round(obj.base_margin(np.array([0, 0, 0, 0, 1])), 6)  # log(4·1 / 4)
          0.0
        """
        y, sw = self.check_data(labels, sample_weight, n_classes=n_classes)
        k = n_classes or self.n_classes(y)
        # The summed loss of a constant margin depends only on each class's total weight.
        totals = np.bincount(y, weights=sw, minlength=k)[:k]
        class_weight = self._class_weight_vector(k)
        weighted = np.maximum(totals * class_weight, 1e-12 * max(totals.max(), 1e-300))
        if not self.multiclass:
            start = float(np.log(weighted[1] / weighted[0]))
        else:
            log_prior = np.log(weighted)
            start = log_prior - log_prior.mean()
        if self.loss == "cross_entropy":
            return start  # the exact minimiser
        return self._minimise_constant(start, totals, k)

    def _minimise_constant(self, start, totals, k):
        # The summed loss of a constant margin over the K class totals: a K-variable problem.
        from scipy.optimize import minimize

        present = np.nonzero(totals > 0)[0]
        labels = present if self.multiclass else present.astype(np.float64)
        weights = totals[present]
        shape = np.shape(start)
        derivative = value_and_grad if self.multiclass else value_grad_hess

        def loss_and_grad(m):
            margins = np.broadcast_to(m.reshape(shape), (len(present),) + shape)
            out = derivative(self.reference, margins, labels, sample_weight=weights,
                             reduction="sum", **self.params)
            return out[0], out[1].sum(axis=0).reshape(-1)

        scale = max(weights.sum(), 1e-300)
        result = minimize(loss_and_grad, np.ravel(start), jac=True, method="BFGS",
                          options={"gtol": 1e-10 * scale, "maxiter": 500})
        m = result.x.reshape(shape)
        if self.multiclass:
            return m - m.mean()
        return float(m)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        kind = "multiclass" if self.multiclass else "binary"
        return f"{type(self).__name__}({self.loss!r}, {kind}{', ' if args else ''}{args})"
