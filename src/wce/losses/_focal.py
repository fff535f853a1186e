"""Focal loss, multiclass (softmax) and binary (sigmoid) (NumPy reference)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validation as V
from .._types import Reduction
from ._binary import prepare_binary
from ._common import Terms, log1m_softmax, log_softmax, pow0, prepare_multiclass, softplus
from ._reduction import reduce_value

CALLER = "focal_loss"
BINARY_CALLER = "binary_focal_loss"


def _check_gamma(gamma: Any, caller: str) -> float:
    return V.check_float(gamma, "gamma", caller=caller, low=0.0)


def _focal_loss_terms(
    logits: Any,
    targets: Any,
    *,
    gamma: float = 2.0,
    alpha: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    caller: str = CALLER,
) -> Terms:
    gamma = _check_gamma(gamma, caller)
    if alpha is not None and np.ndim(alpha) == 0:
        raise ValueError(
            f"The 'alpha' parameter of {caller} must be a per-class vector of shape (C,). "
            f"Got the scalar {alpha!r} instead: a scalar alpha is ambiguous with more than two "
            "classes (TRAPS 12). For a binary problem use binary_focal_loss(alpha=...)."
        )
    mc = prepare_multiclass(
        logits, targets, caller=caller, class_weight=alpha, ignore_index=ignore_index,
        label_smoothing=label_smoothing, sample_weight=sample_weight,
    )
    a = mc.sample_weight[:, None] * mc.class_weight[None, :] * mc.target
    logp = log_softmax(mc.z)
    p = np.exp(logp)
    one_minus_p = np.exp(log1m_softmax(mc.z))
    modulating = pow0(one_minus_p, gamma)
    weighted_loss = -np.sum(a * modulating * logp, axis=-1)
    # g(p) = p * d/dp[-(1-p)^γ log p] = γ (1-p)^(γ-1) p log p - (1-p)^γ
    g = gamma * pow0(one_minus_p, gamma - 1.0) * p * logp - modulating if gamma > 0 else -modulating
    ag = a * g
    grad = ag - p * ag.sum(-1, keepdims=True)
    return Terms(weighted_loss, mc.base_weight, mc.valid, mc.restore(grad), mc.out_shape)


def focal_loss(
    logits: Any,
    targets: Any,
    *,
    gamma: float = 2.0,
    alpha: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    reduction: Reduction = "mean",
):
    r"""Multiclass (softmax) focal loss.

    .. math::

        \ell_i = -\,s_i \sum_c \alpha_c\, q'_{ic}\,(1 - p_{ic})^{\gamma} \log p_{ic},\qquad
        \text{weight}_i = s_i \sum_c \alpha_c\, q_{ic}

    ``gamma = 0`` gives :func:`weighted_cross_entropy` with
    ``class_weight=alpha``. ``alpha`` is a per-class vector; a scalar alpha is
    refused because it is ambiguous with more than two classes (TRAPS 12).
    ``1 - p`` is computed as ``exp(log(1 - softmax))`` so confident logits keep
    a finite, accurate loss.

    Args:
      logits: ``(N, C)`` or ``(N, C, d1, ..., dk)``.
      targets: class indices ``(N, d1, ..., dk)`` or probabilities like ``logits``.
      gamma: focusing parameter ``>= 0``.
      alpha: ``(C,)`` class weights (default ones).
      ignore_index, label_smoothing, sample_weight, reduction: as in
        :func:`weighted_cross_entropy`.

    Example:
      >>> import numpy as np
      >>> from wce.losses import focal_loss
      >>> round(focal_loss(np.array([[2.0, 0.0, -1.0]]), np.array([0]), gamma=2.0), 5)
      0.00414

    References:
      Lin, Goyal, Girshick, He & Dollár, "Focal Loss for Dense Object Detection", ICCV 2017.
    """
    reduction = V.check_reduction(reduction, caller=CALLER)
    terms = _focal_loss_terms(
        logits, targets, gamma=gamma, alpha=alpha, ignore_index=ignore_index,
        label_smoothing=label_smoothing, sample_weight=sample_weight,
    )
    return reduce_value(terms, reduction)


focal_loss.terms = _focal_loss_terms


def _binary_focal_loss_terms(
    logits: Any,
    targets: Any,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    class_weight: Any = None,
    pos_weight: Any = None,
    sample_weight: Any = None,
    ignore_index: float | None = None,
    caller: str = BINARY_CALLER,
) -> Terms:
    gamma = _check_gamma(gamma, caller)
    z, y, a, b, weight, valid = prepare_binary(
        logits, targets, caller=caller, class_weight=class_weight, alpha=alpha,
        pos_weight=pos_weight, sample_weight=sample_weight, ignore_index=ignore_index,
        label_smoothing=0.0, from_logits=True,
    )
    w_t = a + b  # s * (w_pos y + w_neg (1 - y)): torchvision's alpha_t
    ce = y * softplus(-z) + (1.0 - y) * softplus(z)
    sp = np.exp(-softplus(-z))  # sigmoid(z)
    sn = np.exp(-softplus(z))  # sigmoid(-z) = 1 - sigmoid(z), without cancellation
    u = y * sn + (1.0 - y) * sp  # 1 - p_t
    s = sp * sn  # dp/dz
    d = 2.0 * y - 1.0  # d p_t / dp
    dce = sp - y
    uγ, uγ1, uγ2 = pow0(u, gamma), pow0(u, gamma - 1.0), pow0(u, gamma - 2.0)
    weighted_loss = w_t * ce * uγ
    grad = w_t * (dce * uγ - gamma * ce * uγ1 * s * d)
    hess = w_t * (
        s * uγ
        - 2.0 * gamma * d * s * dce * uγ1
        + gamma * (gamma - 1.0) * d * d * ce * s * s * uγ2
        - gamma * d * ce * s * (sn - sp) * uγ1
    )
    return Terms(weighted_loss, weight, valid, grad, z.shape, hess)


def binary_focal_loss(
    logits: Any,
    targets: Any,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    class_weight: Any = None,
    pos_weight: Any = None,
    sample_weight: Any = None,
    ignore_index: float | None = None,
    reduction: Reduction = "mean",
):
    r"""Binary (sigmoid) focal loss, as in torchvision's ``sigmoid_focal_loss``.

    .. math::

        \ell_i = s_i\,w_{t,i}\,(1 - p_{t,i})^{\gamma}\,\mathrm{BCE}(z_i, y_i),\quad
        p_t = p y + (1 - p)(1 - y),\quad w_t = w_+ y + w_- (1 - y)

    ``alpha`` must lie in [0, 1] (``w_+ = alpha``, ``w_- = 1 - alpha``;
    torchvision's default is 0.25, ours is no weighting); ``alpha = 10`` would
    give negative losses and is refused (TRAPS 12). ``pos_weight`` or
    ``class_weight=(w_neg, w_pos)`` are accepted instead. The returned
    Hessian (:func:`value_grad_hess`) is exact and may be negative; GBDT
    objectives clip it (see :mod:`wce.xgboost`).

    Example:
      >>> import numpy as np
      >>> from wce.losses import binary_focal_loss
      >>> round(binary_focal_loss(np.array([2.0, -1.0]), np.array([1, 1]), alpha=0.25), 5)
      0.08796

    References:
      Lin et al., ICCV 2017; torchvision ``ops.sigmoid_focal_loss``.
    """
    reduction = V.check_reduction(reduction, caller=BINARY_CALLER, binary=True)
    terms = _binary_focal_loss_terms(
        logits, targets, gamma=gamma, alpha=alpha, class_weight=class_weight,
        pos_weight=pos_weight, sample_weight=sample_weight, ignore_index=ignore_index,
    )
    return reduce_value(terms, reduction)


binary_focal_loss.terms = _binary_focal_loss_terms
