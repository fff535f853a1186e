"""The reference losses written once against a NumPy-like namespace of array ops.

``wce.jax`` runs these with ``jax.numpy`` and ``wce.keras`` with ``keras.ops``
(which follows NumPy's names), so the two backends share one implementation of
the math in :mod:`wce.losses`; their tests compare it with that NumPy reference.

Layout: multiclass scores are *class-last* here, ``(..., C)``; the JAX
functions move PyTorch's class axis 1 to the end before calling in, Keras
already uses class-last. Every function returns :class:`Elements`, the
per-element ``w·l``, weight and validity that :func:`reduce` turns into a
number exactly as :mod:`wce.losses._reduction` does.

Only static things (shapes, hyper-parameters) steer Python control flow, so
everything is ``jit``/``grad``/``vmap``-safe. Hyper-parameters are validated
by the core (:mod:`wce._validation` and the reference's helpers) when they are
concrete; a traced hyper-parameter (a JAX tracer passed through ``jit``) is
used as given. Values of the data (class indices in range, probabilities in
[0, 1]) are checked by the backends' ``check`` path, which runs the NumPy
reference itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _validation as V
from .losses._binary import binary_class_weights
from .losses._common import EPS, check_from_logits
from .losses._logit_adjusted import log_prior
from .losses._long_tail import check_samples_per_class, ldam_margins
from .weights._schemes import effective_number_weights


@dataclass
class Elements:
    """Per-element pieces of a loss, shaped like the targets without the class axis."""

    weighted_loss: Any  # w_i * l_i
    weight: Any  # w_i, the denominator of "mean"
    valid: Any  # 1.0 for counted elements, the denominator of "mean_per_sample"


def reduce(ops, el: Elements, reduction: str):
    """Same meaning as :mod:`wce.losses._reduction`; a zero denominator gives 0 and zero gradient."""
    if reduction == "none":
        return el.weighted_loss
    numerator = ops.sum(el.weighted_loss)
    if reduction == "sum":
        return numerator
    denominator = ops.sum(el.weight if reduction == "mean" else el.valid)
    positive = denominator > 0
    # The inner where keeps the unused branch finite, so its gradient is 0 rather than NaN.
    return ops.where(positive, numerator / ops.where(positive, denominator, 1.0), 0.0)


def numerator_denominator(ops, el: Elements, reduction: str):
    """``(Σ w·l, denominator)``: the two sums a global mean all-reduces separately (TRAPS 9)."""
    if reduction in ("none", "sum"):
        return ops.sum(el.weighted_loss), ops.ones((), dtype=ops.dtype_name(el.weighted_loss))
    return ops.sum(el.weighted_loss), ops.sum(el.weight if reduction == "mean" else el.valid)


def compute_dtype(ops, x) -> str:
    """float64 stays float64; everything else (float16, bfloat16, ints) is computed in float32 (TRAPS 11)."""
    return "float64" if ops.dtype_name(x) == "float64" else "float32"


def _concrete(ops, *values) -> bool:
    return not any(ops.is_tracer(v) for v in values if v is not None)


def _as(ops, value, dtype):
    return None if value is None else ops.cast(ops.convert_to_tensor(value), dtype)


# ---------------------------------------------------------------------------
# numerics
# ---------------------------------------------------------------------------


def pow0(ops, u, e: float):
    """``u ** e`` for ``u >= 0`` with 0 where ``u == 0`` (as the reference's ``pow0``), gradient-safe."""
    if e == 0:
        return ops.ones_like(u)
    positive = u > 0
    return ops.where(positive, ops.power(ops.where(positive, u, 1.0), e), 0.0)


def log1m_softmax(ops, z):
    """``log(1 - softmax(z))`` on the last axis, accurate when one class holds almost all the mass.

    Same method as the reference: for a class that is not the arg-max, the sum
    of the others includes the maximum term 1, so ``S - e_k >= 1``; for the
    arg-max, the others are summed directly, shifted by the second-largest logit.
    """
    n_classes = z.shape[-1]
    if n_classes < 2:
        raise ValueError(f"log(1 - softmax) needs at least 2 classes. Got logits of shape {z.shape}.")
    lse = ops.logsumexp(z, axis=-1, keepdims=True)
    top = ops.max(z, axis=-1, keepdims=True)
    is_max = ops.equal(ops.expand_dims(ops.argmax(z, axis=-1), -1), ops.arange(n_classes))
    e = ops.exp(z - top)
    others = top + ops.log(ops.maximum(ops.sum(e, axis=-1, keepdims=True) - e, 1.0)) - lse
    second = ops.max(ops.where(is_max, float("-inf"), z), axis=-1, keepdims=True)
    e2 = ops.where(is_max, 0.0, ops.exp(ops.where(is_max, second, z) - second))
    at_max = second + ops.log(ops.sum(e2, axis=-1, keepdims=True)) - lse
    return ops.minimum(ops.where(is_max, at_max, others), 0.0)


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


def _class_weight(ops, class_weight, n_classes: int, dtype, caller: str, name: str = "class_weight"):
    if class_weight is None:
        return ops.ones((n_classes,), dtype=dtype)
    if _concrete(ops, class_weight):
        class_weight = V.check_class_weight(np.asarray(class_weight), n_classes, caller=caller, name=name)
    return _as(ops, class_weight, dtype)


def check_multiclass_shapes(z_shape: tuple, t_shape: tuple, *, caller: str, ignore_index) -> bool:
    """Static shape checks (class-last layout); returns whether the targets are probabilities."""
    if len(z_shape) < 1 or z_shape[-1] is None:
        raise ValueError(f"The logits of {caller} need a class axis. Got shape {z_shape} instead.")
    if tuple(t_shape) == tuple(z_shape):
        if ignore_index is not None:
            raise ValueError(
                f"The 'ignore_index' parameter of {caller} applies to class-index targets only; "
                "with probability targets, give ignored elements sample_weight=0 instead."
            )
        return True
    if tuple(t_shape) != tuple(z_shape[:-1]):
        raise ValueError(
            f"Targets of {caller} must be class indices of shape {tuple(z_shape[:-1])} or "
            f"probabilities of shape {tuple(z_shape)} (class axis last here). "
            f"Got shape {tuple(t_shape)} instead."
        )
    return False


def _prepare_multiclass(
    ops, z, targets, *, caller, class_weight=None, ignore_index=None, label_smoothing=0.0,
    sample_weight=None,
) -> _Multiclass:
    dtype = ops.dtype_name(z)
    n_classes = z.shape[-1]
    label_smoothing = V.check_float(label_smoothing, "label_smoothing", caller=caller, low=0.0, high=1.0)
    ignore_index = V.check_ignore_index(ignore_index, caller=caller)
    cw = _class_weight(ops, class_weight, n_classes, dtype, caller)
    probability = check_multiclass_shapes(tuple(z.shape), tuple(targets.shape), caller=caller,
                                          ignore_index=ignore_index)
    element_shape = tuple(z.shape[:-1])
    if probability:
        q = ops.cast(targets, dtype)
        valid = ops.ones(element_shape, dtype=dtype)
    else:
        idx = ops.cast(targets, "int32")
        if ignore_index is None:
            valid = ops.ones(element_shape, dtype=dtype)
        else:
            valid = ops.cast(ops.not_equal(idx, ignore_index), dtype)
            idx = ops.where(valid > 0, idx, 0)
        q = ops.cast(ops.equal(ops.expand_dims(idx, -1), ops.arange(n_classes)), dtype)
        q = q * ops.expand_dims(valid, -1)
    if sample_weight is None:
        sw = ops.ones(element_shape, dtype=dtype)
    else:
        sw = ops.broadcast_to(_as(ops, sample_weight, dtype), element_shape)
    base_weight = sw * ops.sum(q * cw, axis=-1)
    if label_smoothing > 0:
        q = ops.expand_dims(valid, -1) * ((1.0 - label_smoothing) * q + label_smoothing / n_classes)
    a = ops.expand_dims(sw, -1) * cw * q
    return _Multiclass(a, base_weight, valid, sw, q)


def weighted_cross_entropy(
    ops, z, targets, *, class_weight=None, ignore_index=None, label_smoothing=0.0,
    sample_weight=None, from_logits=True, caller="weighted_cross_entropy",
) -> Elements:
    from_logits = check_from_logits(from_logits, caller=caller)
    mc = _prepare_multiclass(
        ops, z, targets, caller=caller, class_weight=class_weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, sample_weight=sample_weight,
    )
    log_p = ops.log_softmax(z, axis=-1) if from_logits else ops.log(ops.clip(z, EPS, 1.0 - EPS))
    return Elements(-ops.sum(mc.a * log_p, axis=-1), mc.base_weight, mc.valid)


def focal_loss(
    ops, z, targets, *, gamma=2.0, alpha=None, ignore_index=None, label_smoothing=0.0,
    sample_weight=None, caller="focal_loss",
) -> Elements:
    gamma = V.check_float(gamma, "gamma", caller=caller, low=0.0)
    if alpha is not None and _concrete(ops, alpha) and np.ndim(alpha) == 0:
        raise ValueError(
            f"The 'alpha' parameter of {caller} must be a per-class vector of shape (C,). "
            f"Got the scalar {alpha!r} instead: a scalar alpha is ambiguous with more than two "
            "classes (TRAPS 12). For a binary problem use binary_focal_loss(alpha=...)."
        )
    mc = _prepare_multiclass(
        ops, z, targets, caller=caller, class_weight=alpha, ignore_index=ignore_index,
        label_smoothing=label_smoothing, sample_weight=sample_weight,
    )
    log_p = ops.log_softmax(z, axis=-1)
    modulating = pow0(ops, ops.exp(log1m_softmax(ops, z)), gamma)
    return Elements(-ops.sum(mc.a * modulating * log_p, axis=-1), mc.base_weight, mc.valid)


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
    mc = _prepare_multiclass(
        ops, z, targets, caller=caller, class_weight=class_weight, ignore_index=ignore_index,
        sample_weight=sample_weight,
    )
    n_classes = z.shape[-1]
    dtype = ops.dtype_name(z)
    if _concrete(ops, cost_matrix):
        cost_matrix = V.check_cost_matrix(np.asarray(cost_matrix), n_classes, caller=caller)
    off_diagonal = _as(ops, cost_matrix, dtype) * _as(ops, 1.0 - np.eye(n_classes), dtype)
    # m[i, k] = s_i Σ_c q_ic M[c, k]: the weight of -log(1 - p_ik), a potential false positive.
    m = ops.expand_dims(mc.sample_weight, -1) * ops.matmul(mc.target, off_diagonal)
    log_p = ops.log_softmax(z, axis=-1)
    loss = -ops.sum(mc.a * log_p, axis=-1) - ops.sum(m * log1m_softmax(ops, z), axis=-1)
    return Elements(loss, mc.base_weight, mc.valid)


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
) -> Elements:
    shift = scaled_log_prior(class_prior, tau, z.shape[-1], caller=caller)
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


# ---------------------------------------------------------------------------
# binary
# ---------------------------------------------------------------------------


def _binary_pair(ops, shape, dtype, *, class_weight, alpha, pos_weight, caller):
    """(w_neg, w_pos) from one of the three forms, validated by the reference when concrete."""
    if _concrete(ops, class_weight, alpha, pos_weight):
        # Validates the form and that it broadcasts to the targets (numpy views, no copy) ...
        binary_class_weights(class_weight=class_weight, alpha=alpha, pos_weight=pos_weight,
                             shape=shape, caller=caller)
        if alpha is not None:
            alpha = float(alpha)
    if alpha is not None:
        return 1.0 - alpha, alpha
    if pos_weight is not None:
        return 1.0, _as(ops, pos_weight, dtype)
    if class_weight is not None:
        cw = _as(ops, class_weight, dtype)
        return cw[..., 0], cw[..., 1]
    return 1.0, 1.0


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
        valid = ops.cast(ops.not_equal(y, float(ignore_index)), dtype)
        y = y * valid
    w_neg, w_pos = _binary_pair(ops, tuple(x.shape), dtype, class_weight=class_weight,
                                alpha=alpha, pos_weight=pos_weight, caller=caller)
    sw = valid if sample_weight is None else valid * _as(ops, sample_weight, dtype)
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
        p = ops.clip(x, EPS, 1.0 - EPS)
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
