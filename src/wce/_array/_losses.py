"""Every loss family written once, against a NumPy-like namespace of array ops.

``wce.jax`` runs these with ``jax.numpy``, ``wce.keras`` with ``keras.ops``
(every Keras backend) and ``wce.torch`` with ``torch`` for every path that is
not one of its native or fused cross-entropy kernels; the tests compare all of
them with the NumPy reference in :mod:`wce.losses`, the readable oracle with
analytic gradients.

The adapter ``ops`` gives NumPy's names (``sum``, ``where``, ``log_softmax``,
...) plus ``dtype_name(x)``, ``cast(x, dtype_name)``, ``is_tracer(x)`` (True
when values cannot be looked at on the host: a JAX tracer, a symbolic Keras
tensor) and ``convert_to_numpy(x)``. Checks of the data reduce on the device
and bring a few scalars to the host in one transfer.

Layout: multiclass scores are *class-last* here, ``(..., C)``;
:func:`class_last` moves PyTorch's class axis 1 (scores and probability
targets alike). Every function returns :class:`Elements`, the per-element
``w·l``, weight and validity that :func:`reduce` turns into a number exactly as
:mod:`wce.losses._reduction` does.

Only static things (shapes, hyper-parameters) steer Python control flow, so
everything is ``jit``/``grad``/``vmap``-safe. Concrete hyper-parameters are
validated here by :mod:`wce._validation`; concrete data too (class indices in
range, probability rows summing to 1). Data that cannot be looked at (traced)
is not checked: a class index out of range then gives a NaN loss rather than a
silently wrong number. Constants enter as arrays of the computation's dtype, so
float64 stays float64 on every backend (a Python float beside a float64 tensor
is float32 on some Keras backends).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _validation as V
from ..losses._binary import binary_class_weights
from ..losses._common import EPS, check_from_logits
from ..losses._logit_adjusted import log_prior
from ..losses._long_tail import check_samples_per_class, ldam_margins
from ..weights._schemes import effective_number_weights


@dataclass
class Elements:
    """Per-element pieces of a loss, shaped like the targets without the class axis."""

    weighted_loss: Any  # w_i * l_i
    weight: Any  # w_i, the denominator of "mean"
    valid: Any  # 1.0 for counted elements, the denominator of "mean_per_sample"
    poison: Any = None  # NaN where a traced class index is invalid (0 elsewhere), or None

    def reduced(self, ops, value):
        """``value`` made NaN when any element is poisoned, whatever the reduction divided by."""
        return value if self.poison is None else value + ops.sum(self.poison)


def _const(ops, value, like):
    """A scalar of ``like``'s dtype: keeps float64 float64 where Python floats would not."""
    return ops.cast(value, ops.dtype_name(like))


def divide(ops, numerator, denominator):
    """``numerator / denominator``, and 0 with zero gradient where the denominator is 0 (TRAPS 7).

    The numerator need not be 0 there: with label smoothing it holds the other classes' terms
    while the denominator counts the true classes' weights only.
    """
    positive = denominator > 0
    zero, one = _const(ops, 0.0, numerator), _const(ops, 1.0, denominator)
    # The inner where keeps the unused branch finite, so its gradient is 0 rather than NaN.
    return ops.where(positive, numerator / ops.where(positive, denominator, one), zero)


def denominator(ops, el: Elements, reduction: str):
    """Σ w for ``"mean"``, the number of counted elements for ``"mean_per_sample"``."""
    return ops.sum(el.weight if reduction == "mean" else el.valid)


def reduce(ops, el: Elements, reduction: str):
    """Same meaning as :mod:`wce.losses._reduction`; a zero denominator gives 0 and zero gradient."""
    if reduction == "none":
        return el.weighted_loss
    numerator = ops.sum(el.weighted_loss)
    if reduction == "sum":
        return numerator
    return el.reduced(ops, divide(ops, numerator, denominator(ops, el, reduction)))


def numerator_denominator(ops, el: Elements, reduction: str):
    """``(Σ w·l, denominator)``: the two sums a global mean all-reduces separately (TRAPS 9)."""
    numerator = ops.sum(el.weighted_loss)
    if reduction in ("none", "sum"):
        return numerator, ops.ones((), dtype=ops.dtype_name(el.weighted_loss))
    return numerator, el.reduced(ops, denominator(ops, el, reduction))


def compute_dtype(ops, x) -> str:
    """float64 stays float64; everything else (float16, bfloat16, ints) is computed in float32 (TRAPS 11)."""
    return "float64" if ops.dtype_name(x) == "float64" else "float32"


def class_last(ops, scores, targets, *, caller: str, ignore_index=None, name: str = "logits"):
    """PyTorch's layout ``(N, C, d1, ...)`` to class-last: the scores, and probability targets too.

    The shapes are checked first, in the caller's layout, so messages show the
    shapes the user passed.
    """
    kind = V.multiclass_target_kind(tuple(scores.shape), tuple(targets.shape), caller=caller,
                                    name=name, ignore_index=ignore_index, class_axis=1)
    moved = ops.moveaxis(scores, 1, -1)
    return moved, (ops.moveaxis(targets, 1, -1) if kind == "probability" else targets)


def _shape(ops, x) -> tuple:
    """``x.shape``, with the unknown (None) dimensions of a graph tensor as scalar tensors."""
    shape = tuple(x.shape)
    return tuple(ops.shape(x)) if None in shape else shape


def _concrete(ops, *values) -> bool:
    return not any(ops.is_tracer(v) for v in values if v is not None)


def _as(ops, value, dtype):
    return None if value is None else ops.cast(ops.convert_to_tensor(value), dtype)


def _to_numpy(ops, x) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(x))


def _host(ops, value):
    """A hyper-parameter as the validators take it: tensors become NumPy, the rest stays."""
    if value is None or isinstance(value, (list, tuple, int, float, dict)):
        return value
    host = np.asarray(value) if isinstance(value, (np.ndarray, np.generic)) else _to_numpy(ops, value)
    return host.item() if host.ndim == 0 else host  # a 0-d array or tensor as a scalar


# ---------------------------------------------------------------------------
# numerics
# ---------------------------------------------------------------------------


def pow0(ops, u, e: float):
    """``u ** e`` for ``u >= 0`` with 0 where ``u == 0`` (as the reference's ``pow0``), gradient-safe."""
    if e == 0:
        return ops.ones_like(u)
    positive = u > 0
    return ops.where(positive, ops.power(ops.where(positive, u, ops.ones_like(u)), e),
                     ops.zeros_like(u))


def log1m_softmax(ops, z):
    """``log(1 - softmax(z))`` on the last axis, accurate when one class holds almost all the mass.

    Same method as the reference: for a class that is not the arg-max, the sum
    of the others includes the maximum term 1, so ``S - e_k >= 1``; for the
    arg-max, the others are summed directly, shifted by the second-largest logit.
    Every exponent is at most 0, so no branch overflows, and neither does its
    gradient (an ``exp`` of a large margin in an unused ``where`` branch would
    give ``inf * 0 = NaN``).
    """
    n_classes = z.shape[-1]
    if n_classes < 2:
        raise ValueError(f"log(1 - softmax) needs at least 2 classes. Got logits of shape {z.shape}.")
    top = ops.max(z, axis=-1, keepdims=True)
    is_max = ops.equal(ops.expand_dims(ops.argmax(z, axis=-1), -1), ops.arange(n_classes))
    e = ops.exp(z - top)
    total = ops.sum(e, axis=-1, keepdims=True)
    log_total = ops.log(total)  # log-sum-exp minus top: never add and subtract a large top
    rest = total - e  # >= 1 but for rounding
    # where, not maximum: at rest == 1 exactly (a tie for the top logit) maximum would split
    # the gradient between its two arguments.
    others = ops.log(ops.where(rest >= 1.0, rest, ops.ones_like(rest))) - log_total
    neg_inf = _const(ops, float("-inf"), z)
    second = ops.max(ops.where(is_max, neg_inf, z), axis=-1, keepdims=True)
    e2 = ops.where(is_max, ops.zeros_like(z), ops.exp(ops.where(is_max, second, z) - second))
    at_max = (second - top) + ops.log(ops.sum(e2, axis=-1, keepdims=True)) - log_total
    out = ops.where(is_max, at_max, others)
    return ops.where(out <= 0.0, out, ops.zeros_like(out))


# ---------------------------------------------------------------------------
# multiclass
# ---------------------------------------------------------------------------


@dataclass
class _Multiclass:
    a: Any  # (..., C): s_i * w_c * q'_ic, the weight each log-probability enters with
    base_weight: Any  # (...,): s_i * Σ_c w_c q_ic from the unsmoothed target
    valid: Any  # (...,) float
    sample_weight: Any  # (...,)
    target: Any  # (..., C) smoothed target q'
    poison: Any  # (...,) 0, or NaN where a traced class index is out of range


def _class_weight(ops, class_weight, n_classes: int, dtype, caller: str, name: str = "class_weight"):
    if class_weight is None:
        return ops.ones((n_classes,), dtype=dtype)
    if _concrete(ops, class_weight):
        V.check_class_weight(_host(ops, class_weight), n_classes, caller=caller, name=name)
    return _as(ops, class_weight, dtype)


def _host_stats(ops, *values) -> list[float] | None:
    """Scalars computed on the device, brought to the host in one transfer; None when traced.

    (Under ``jax.jit`` even operations on constants are traced, so the result decides.)
    """
    stacked = ops.stack([ops.cast(v, "float32") for v in values])
    if ops.is_tracer(stacked):
        return None
    return [float(v) for v in _to_numpy(ops, stacked)]


#: Unit roundoff of the half-precision dtypes targets may come in (rows round by up to this).
_HALF_EPS = {"float16": 2.0 ** -11, "bfloat16": 2.0 ** -8}


def _check_probabilities(ops, q, caller: str, given_dtype: str):
    """Probability targets: non-negative rows summing to 1, when their values can be seen."""
    sums = ops.sum(q, axis=-1)
    stats = _host_stats(ops, ops.min(q), ops.min(sums), ops.max(sums))
    if stats is not None:
        tolerance = max(V.ROW_SUM_TOLERANCE, 2 * _HALF_EPS.get(given_dtype, 0.0))
        V.check_probability_rows(*stats, caller=caller, tolerance=tolerance)


def _check_probability_inputs(ops, p, caller: str, *, multiclass: bool):
    """Scores given with ``from_logits=False`` must be probabilities."""
    if multiclass:
        sums = ops.sum(p, axis=-1)
        stats = _host_stats(ops, ops.min(p), ops.max(p), ops.min(sums), ops.max(sums))
        if stats is not None:
            V.check_probability_inputs(*stats[:2], caller=caller, row_sums=tuple(stats[2:]))
    else:
        stats = _host_stats(ops, ops.min(p), ops.max(p))
        if stats is not None:
            V.check_probability_inputs(*stats, caller=caller)


def _sample_weight(ops, sample_weight, shape: tuple, dtype, caller: str):
    """Per-element weights broadcast to ``shape``; finite and non-negative when they can be seen."""
    sw = _as(ops, sample_weight, dtype)
    try:
        sw = ops.broadcast_to(sw, shape)
    except Exception:  # each backend raises its own type for a shape that does not broadcast
        raise ValueError(
            f"The 'sample_weight' parameter of {caller} must broadcast to the per-element "
            f"shape {tuple(shape)}. Got shape {tuple(sw.shape)} instead."
        ) from None
    _check_sample_weight(ops, sw, caller)
    return sw


def _check_sample_weight(ops, sw, caller: str):
    """Finite and non-negative, when the values can be seen."""
    finite = ops.isfinite(sw)
    stats = _host_stats(ops, ops.min(ops.where(finite, sw, ops.zeros_like(sw))), ops.all(finite))
    if stats is not None:
        V.check_finite_nonnegative(stats[0], stats[1] > 0, "sample_weight", caller=caller)


def _check_indices(ops, idx, valid, n_classes: int, ignore_index, caller: str):
    """Refuse class indices out of range or not whole; traced ones poison the loss with NaN instead.

    Checked on the targets as given, before any cast could truncate 1.5 to 1 or wrap 2**32 + 1.
    """
    bad = ops.logical_or(ops.less(idx, 0), ops.greater_equal(idx, n_classes))
    if "float" in ops.dtype_name(idx):
        bad = ops.logical_or(bad, ops.not_equal(idx, ops.floor(idx)))
    if ignore_index is not None:
        bad = ops.logical_and(bad, valid > 0)
    if ops.is_tracer(bad):
        return bad
    if bool(_to_numpy(ops, ops.any(bad))):
        bad_np = _to_numpy(ops, bad)
        V.raise_bad_class_indices(_to_numpy(ops, idx)[bad_np], n_classes, caller=caller,
                                  ignore_index=ignore_index)
    return None


def _prepare_multiclass(
    ops, z, targets, *, caller, class_weight=None, ignore_index=None, label_smoothing=0.0,
    sample_weight=None,
) -> _Multiclass:
    dtype = ops.dtype_name(z)
    n_classes = z.shape[-1]
    label_smoothing = V.check_float(label_smoothing, "label_smoothing", caller=caller, low=0.0, high=1.0)
    ignore_index = V.check_ignore_index(ignore_index, caller=caller)
    cw = _class_weight(ops, class_weight, n_classes, dtype, caller)
    kind = V.multiclass_target_kind(tuple(z.shape), tuple(targets.shape), caller=caller,
                                    ignore_index=ignore_index, class_axis=-1)
    element_shape = _shape(ops, z)[:-1]
    bad = None
    if kind == "probability":
        q = ops.cast(targets, dtype)
        _check_probabilities(ops, q, caller, ops.dtype_name(targets))
        valid = ops.ones(element_shape, dtype=dtype)
    else:
        if ignore_index is None:
            valid = ops.ones(element_shape, dtype=dtype)
        else:
            valid = ops.cast(ops.not_equal(targets, ignore_index), dtype)
        bad = _check_indices(ops, targets, valid, n_classes, ignore_index, caller)
        idx = ops.cast(targets, "int32")
        if ignore_index is not None:
            idx = ops.where(valid > 0, idx, ops.zeros_like(idx))
        q = ops.cast(ops.equal(ops.expand_dims(idx, -1), ops.arange(n_classes)), dtype)
        q = q * ops.expand_dims(valid, -1)
    if sample_weight is None:
        sw = ops.ones(element_shape, dtype=dtype)
    else:
        sw = _sample_weight(ops, sample_weight, element_shape, dtype, caller)
    base_weight = sw * ops.sum(q * cw, axis=-1)
    if label_smoothing > 0:
        q = ops.expand_dims(valid, -1) * ((1.0 - label_smoothing) * q + label_smoothing / n_classes)
    a = ops.expand_dims(sw, -1) * cw * q
    poison = None if bad is None else ops.where(bad, _const(ops, float("nan"), z),
                                                ops.zeros(element_shape, dtype=dtype))
    return _Multiclass(a, base_weight, valid, sw, q, poison)


def _elements(ops, mc: _Multiclass, loss) -> Elements:
    if mc.poison is not None:
        loss = loss + mc.poison
    return Elements(loss, mc.base_weight, mc.valid, mc.poison)


def _log_probabilities(ops, z, from_logits: bool):
    if from_logits:
        return ops.log_softmax(z, axis=-1)
    return ops.log(ops.clip(z, _const(ops, EPS, z), _const(ops, 1.0 - EPS, z)))


def weighted_cross_entropy(
    ops, z, targets, *, class_weight=None, ignore_index=None, label_smoothing=0.0,
    sample_weight=None, from_logits=True, caller="weighted_cross_entropy",
) -> Elements:
    from_logits = check_from_logits(from_logits, caller=caller)
    mc = _prepare_multiclass(
        ops, z, targets, caller=caller, class_weight=class_weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, sample_weight=sample_weight,
    )
    if not from_logits:
        _check_probability_inputs(ops, z, caller, multiclass=True)
    return _elements(ops, mc, -ops.sum(mc.a * _log_probabilities(ops, z, from_logits), axis=-1))


def check_focal_alpha(alpha, *, caller: str) -> None:
    """A multiclass focal ``alpha`` is a per-class vector: a scalar is ambiguous (TRAPS 12)."""
    if alpha is not None and np.ndim(alpha) == 0:
        raise ValueError(
            f"The 'alpha' parameter of {caller} must be a per-class vector of shape (C,). "
            f"Got the scalar {alpha!r} instead: a scalar alpha is ambiguous with more than two "
            "classes (TRAPS 12). For a binary problem use binary_focal_loss(alpha=...)."
        )


def focal_loss(
    ops, z, targets, *, gamma=2.0, alpha=None, ignore_index=None, label_smoothing=0.0,
    sample_weight=None, caller="focal_loss",
) -> Elements:
    gamma = V.check_float(gamma, "gamma", caller=caller, low=0.0)
    if _concrete(ops, alpha):
        check_focal_alpha(_host(ops, alpha), caller=caller)
    mc = _prepare_multiclass(
        ops, z, targets, caller=caller, class_weight=alpha, ignore_index=ignore_index,
        label_smoothing=label_smoothing, sample_weight=sample_weight,
    )
    log_p = ops.log_softmax(z, axis=-1)
    modulating = pow0(ops, ops.exp(log1m_softmax(ops, z)), gamma)
    return _elements(ops, mc, -ops.sum(mc.a * modulating * log_p, axis=-1))


def class_balanced_weights(samples_per_class, beta, *, caller="class_balanced_loss") -> np.ndarray:
    """Cui et al.'s weights ``(1 - β) / (1 - β^n_c)``, normalised to sum to C as in the reference."""
    beta = V.check_float(beta, "beta", caller=caller, low=0.0, high=1.0, high_inclusive=False)
    counts = V.as_float_array(samples_per_class, "samples_per_class", caller=caller)
    weights = effective_number_weights(counts, beta, caller=caller)
    return weights * len(weights) / weights.sum()


def class_balanced_loss(
    ops, z, targets, *, samples_per_class, beta=0.9999, loss_type="softmax", gamma=2.0,
    ignore_index=None, sample_weight=None, caller="class_balanced_loss",
) -> Elements:
    V.check_one_of(loss_type, "loss_type", ("softmax", "focal"), caller=caller)
    weights = class_balanced_weights(samples_per_class, beta, caller=caller)
    if weights.shape[0] != z.shape[-1]:
        V.check_class_weight(weights, z.shape[-1], caller=caller, name="samples_per_class")
    if loss_type == "softmax":
        return weighted_cross_entropy(
            ops, z, targets, class_weight=weights, ignore_index=ignore_index,
            sample_weight=sample_weight, caller=caller,
        )
    return focal_loss(
        ops, z, targets, gamma=gamma, alpha=weights, ignore_index=ignore_index,
        sample_weight=sample_weight, caller=caller,
    )


def cost_sensitive_cross_entropy(
    ops, z, targets, *, cost_matrix, class_weight=None, ignore_index=None, sample_weight=None,
    caller="cost_sensitive_cross_entropy",
) -> Elements:
    n_classes = z.shape[-1]
    dtype = ops.dtype_name(z)
    if _concrete(ops, cost_matrix):
        V.check_cost_matrix(_host(ops, cost_matrix), n_classes, caller=caller)
    mc = _prepare_multiclass(
        ops, z, targets, caller=caller, class_weight=class_weight, ignore_index=ignore_index,
        sample_weight=sample_weight,
    )
    off_diagonal = _as(ops, cost_matrix, dtype) * _as(ops, 1.0 - np.eye(n_classes), dtype)
    # m[i, k] = s_i Σ_c q_ic M[c, k]: the weight of -log(1 - p_ik), a potential false positive.
    m = ops.expand_dims(mc.sample_weight, -1) * ops.matmul(mc.target, off_diagonal)
    log_p = ops.log_softmax(z, axis=-1)
    # Where m is 0 the term is left out, so that log(1 - p) = -inf (p = 1) gives no NaN.
    false_positive = ops.where(m > 0, m * log1m_softmax(ops, z), ops.zeros_like(m))
    loss = -ops.sum(mc.a * log_p, axis=-1) - ops.sum(false_positive, axis=-1)
    return _elements(ops, mc, loss)


def scaled_log_prior(class_prior, tau, n_classes: int, *, caller: str) -> np.ndarray:
    """``tau * log(prior)`` validated by the reference's helpers."""
    tau = V.check_float(tau, "tau", caller=caller, low=0.0)
    lp = log_prior(class_prior, caller=caller)
    if lp.shape[0] != n_classes:
        raise ValueError(
            f"The 'class_prior' parameter of {caller} has {lp.shape[0]} entries but the logits "
            f"have {n_classes} classes."
        )
    return tau * lp


def logit_adjusted_cross_entropy(
    ops, z, targets, *, class_prior, tau=1.0, class_weight=None, ignore_index=None,
    label_smoothing=0.0, sample_weight=None, caller="logit_adjusted_cross_entropy",
    log_prior_shift=None,
) -> Elements:
    """``log_prior_shift``: ``tau * log(prior)`` computed once (a module's buffer); else from the prior."""
    shift = (scaled_log_prior(class_prior, tau, z.shape[-1], caller=caller)
             if log_prior_shift is None else log_prior_shift)
    return weighted_cross_entropy(
        ops, z + _as(ops, shift, ops.dtype_name(z)), targets, class_weight=class_weight,
        ignore_index=ignore_index, label_smoothing=label_smoothing, sample_weight=sample_weight,
        caller=caller,
    )


def balanced_softmax_cross_entropy(
    ops, z, targets, *, samples_per_class, class_weight=None, ignore_index=None,
    label_smoothing=0.0, sample_weight=None, caller="balanced_softmax_cross_entropy",
) -> Elements:
    counts = check_samples_per_class(samples_per_class, z.shape[-1], caller=caller)
    # softmax(z + log n): logit-adjusted CE with tau = 1 and the counts as prior, as in the reference.
    return logit_adjusted_cross_entropy(
        ops, z, targets, class_prior=counts, tau=1.0, class_weight=class_weight,
        ignore_index=ignore_index, label_smoothing=label_smoothing, sample_weight=sample_weight,
        caller=caller,
    )


def ldam_loss(
    ops, z, targets, *, samples_per_class, max_margin=0.5, scale=30.0, class_weight=None,
    ignore_index=None, label_smoothing=0.0, sample_weight=None, caller="ldam_loss",
) -> Elements:
    scale = V.check_float(scale, "scale", caller=caller, low=0.0, low_inclusive=False)
    counts = check_samples_per_class(samples_per_class, z.shape[-1], caller=caller)
    margins = ldam_margins(counts, max_margin=max_margin, caller=caller)
    if tuple(targets.shape) != tuple(z.shape[:-1]):
        raise ValueError(
            f"Targets of {caller} must be class indices of shape {tuple(z.shape[:-1])}: the margin "
            f"is subtracted from the true class, which probability targets do not name. "
            f"Got shape {tuple(targets.shape)} instead."
        )
    true_class = ops.cast(ops.equal(ops.expand_dims(ops.cast(targets, "int32"), -1),
                                    ops.arange(z.shape[-1])), ops.dtype_name(z))
    shifted = scale * (z - _as(ops, margins, ops.dtype_name(z)) * true_class)
    return weighted_cross_entropy(
        ops, shifted, targets, class_weight=class_weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, sample_weight=sample_weight, caller=caller,
    )


def adjust_logits(ops, z, class_prior, *, tau=1.0, caller="adjust_logits"):
    """``z - tau * log(prior)`` on the class-last axis: the prediction-time adjustment (Menon et al.)."""
    shift = scaled_log_prior(class_prior, tau, z.shape[-1], caller=caller)
    return z - _as(ops, shift, ops.dtype_name(z))


# ---------------------------------------------------------------------------
# binary
# ---------------------------------------------------------------------------


def _binary_pair(ops, shape, dtype, *, class_weight, alpha, pos_weight, caller):
    """(w_neg, w_pos) from one of the three forms, validated by the reference when concrete."""
    if _concrete(ops, class_weight, alpha, pos_weight):
        # Validates the form and that it broadcasts to the targets (numpy views, no copy) ...
        binary_class_weights(class_weight=_host(ops, class_weight), alpha=_host(ops, alpha),
                             pos_weight=_host(ops, pos_weight), shape=shape, caller=caller)
    if alpha is not None:
        alpha = _as(ops, alpha, dtype)
        return 1.0 - alpha, alpha
    if pos_weight is not None:
        return ops.ones((), dtype=dtype), _as(ops, pos_weight, dtype)
    if class_weight is not None:
        cw = _as(ops, class_weight, dtype)
        return cw[..., 0], cw[..., 1]
    return ops.ones((), dtype=dtype), ops.ones((), dtype=dtype)


@dataclass
class _Binary:
    y: Any
    a: Any  # weight of -log p
    b: Any  # weight of -log(1 - p)
    weight: Any
    valid: Any


def _prepare_binary(
    ops, x, targets, *, caller, class_weight, alpha, pos_weight, sample_weight, ignore_index,
    label_smoothing,
) -> _Binary:
    if tuple(targets.shape) != tuple(x.shape):
        raise ValueError(
            f"The targets of {caller} must have the same shape as the logits {tuple(x.shape)}. "
            f"Got shape {tuple(targets.shape)} instead. For (N, 1) outputs, reshape targets to (N, 1)."
        )
    dtype = ops.dtype_name(x)
    eps = V.check_float(label_smoothing, "label_smoothing", caller=caller, low=0.0, high=1.0)
    y = ops.cast(targets, dtype)
    if ignore_index is None:
        valid = ops.ones_like(y)
    else:
        valid = ops.cast(ops.not_equal(y, _const(ops, float(ignore_index), y)), dtype)
        y = y * valid
    counted = valid > 0
    stats = _host_stats(ops, ops.min(ops.where(counted, y, ops.zeros_like(y))),
                        ops.max(ops.where(counted, y, ops.zeros_like(y))))
    if stats is not None:
        V.check_binary_targets(*stats, caller=caller)
    # an unknown (None) dimension of a graph tensor is checked as 1: it broadcasts with anything
    w_neg, w_pos = _binary_pair(ops, tuple(1 if d is None else d for d in x.shape), dtype,
                                class_weight=class_weight, alpha=alpha, pos_weight=pos_weight,
                                caller=caller)
    if sample_weight is None:
        sw = valid
    else:
        sw = valid * _sample_weight(ops, sample_weight, _shape(ops, x), dtype, caller)
    weight = sw * (w_pos * y + w_neg * (1.0 - y))
    ys = y * (1.0 - eps) + 0.5 * eps
    return _Binary(y, sw * w_pos * ys, sw * w_neg * (1.0 - ys), weight, valid)


def binary_cross_entropy(
    ops, x, targets, *, class_weight=None, alpha=None, pos_weight=None, sample_weight=None,
    ignore_index=None, label_smoothing=0.0, from_logits=True, caller="binary_cross_entropy",
) -> Elements:
    from_logits = check_from_logits(from_logits, caller=caller)
    bn = _prepare_binary(
        ops, x, targets, caller=caller, class_weight=class_weight, alpha=alpha,
        pos_weight=pos_weight, sample_weight=sample_weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing,
    )
    if from_logits:
        loss = bn.a * ops.softplus(-x) + bn.b * ops.softplus(x)
    else:
        _check_probability_inputs(ops, x, caller, multiclass=False)
        p = ops.clip(x, _const(ops, EPS, x), _const(ops, 1.0 - EPS, x))
        loss = -(bn.a * ops.log(p) + bn.b * ops.log1p(-p))
    return Elements(loss, bn.weight, bn.valid)


def binary_focal_loss(
    ops, x, targets, *, gamma=2.0, alpha=None, class_weight=None, pos_weight=None,
    sample_weight=None, ignore_index=None, caller="binary_focal_loss",
) -> Elements:
    gamma = V.check_float(gamma, "gamma", caller=caller, low=0.0)
    bn = _prepare_binary(
        ops, x, targets, caller=caller, class_weight=class_weight, alpha=alpha,
        pos_weight=pos_weight, sample_weight=sample_weight, ignore_index=ignore_index,
        label_smoothing=0.0,
    )
    y = bn.y
    ce = y * ops.softplus(-x) + (1.0 - y) * ops.softplus(x)
    # 1 - p_t without cancellation: sigmoid(-x) for positives, sigmoid(x) for negatives.
    one_minus_pt = y * ops.exp(-ops.softplus(x)) + (1.0 - y) * ops.exp(-ops.softplus(-x))
    return Elements((bn.a + bn.b) * ce * pow0(ops, one_minus_pt, gamma), bn.weight, bn.valid)


MULTICLASS = {
    f.__name__: f
    for f in (weighted_cross_entropy, focal_loss, class_balanced_loss,
              cost_sensitive_cross_entropy, logit_adjusted_cross_entropy,
              balanced_softmax_cross_entropy, ldam_loss)
}
BINARY = {f.__name__: f for f in (binary_cross_entropy, binary_focal_loss)}
