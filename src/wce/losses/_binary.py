"""Binary weighted cross-entropy in its three textbook forms (NumPy reference)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validation as V
from .._types import Reduction
from ._common import EPS, Terms, check_from_logits
from ._reduction import reduce_value

CALLER = "binary_cross_entropy"


def binary_class_weights(
    *, class_weight: Any, alpha: Any, pos_weight: Any, shape: tuple, caller: str
) -> tuple[np.ndarray, np.ndarray]:
    """(w_neg, w_pos) broadcast to ``shape`` from exactly one of the three forms."""
    V.check_exclusive(caller, class_weight=class_weight, alpha=alpha, pos_weight=pos_weight)
    if alpha is not None:
        a = V.check_alpha(alpha, caller=caller)
        w_neg, w_pos = np.asarray(1.0 - a), np.asarray(a)
    elif pos_weight is not None:
        pw = V.as_float_array(pos_weight, "pos_weight", caller=caller)
        if np.any(pw < 0):
            raise ValueError(
                f"The 'pos_weight' parameter of {caller} must be non-negative "
                f"(n_neg / n_pos for balancing). Got {pw.tolist()} instead."
            )
        w_neg, w_pos = np.ones_like(pw), pw
    elif class_weight is not None:
        cw = V.as_float_array(class_weight, "class_weight", caller=caller)
        if cw.ndim == 0 or cw.shape[-1] != 2:
            raise ValueError(
                f"The 'class_weight' parameter of {caller} must have a last axis of length 2, "
                f"(w_neg, w_pos), indexed by the label. Got shape {cw.shape} instead."
            )
        if np.any(cw < 0) or not np.any(cw > 0):
            raise ValueError(
                f"The 'class_weight' parameter of {caller} must be non-negative and not all "
                f"zero. Got {cw.tolist()} instead."
            )
        w_neg, w_pos = cw[..., 0], cw[..., 1]
    else:
        w_neg, w_pos = np.asarray(1.0), np.asarray(1.0)
    try:
        return (
            np.broadcast_to(w_neg.astype(np.float64), shape),
            np.broadcast_to(w_pos.astype(np.float64), shape),
        )
    except ValueError:
        raise ValueError(
            f"The class weights of {caller} (shape {np.shape(w_pos)}) do not broadcast to the "
            f"targets' shape {shape}. Per-label weights go on the last axis."
        ) from None


def prepare_binary(
    inputs, targets, *, caller, class_weight, alpha, pos_weight, sample_weight,
    ignore_index, label_smoothing, from_logits,
):
    """Checked inputs ``x``, labels ``y`` (0 where ignored) and the per-element weights:
    ``a`` of the ``log p`` term, ``b`` of the ``log(1 - p)`` term and the element weight
    ``weight`` (from the unsmoothed label), with the mask ``valid``.

    It runs at every step of an optimiser (``wce compare``'s linear model) and every
    boosting round, so each array is built in as few passes as the formula allows."""
    name = "logits" if from_logits else "probs"
    x = V.as_float_array(inputs, name, caller=caller).astype(np.float64, copy=False)
    t = np.asarray(targets)
    if t.shape != x.shape:
        raise ValueError(
            f"The targets of {caller} must have the same shape as {name} {x.shape}. "
            f"Got shape {t.shape} instead. For (N, 1) outputs, reshape targets to (N, 1)."
        )
    y = V.as_float_array(t, "targets", caller=caller).astype(np.float64, copy=False)
    if ignore_index is None:
        valid = np.ones(y.shape, dtype=bool)
        V.check_binary_targets(float(y.min()), float(y.max()), caller=caller)
    else:
        valid = y != ignore_index
        if np.any(valid):
            V.check_binary_targets(float(y[valid].min()), float(y[valid].max()), caller=caller)
        y = np.where(valid, y, 0.0)
    if not from_logits:
        V.check_probability_inputs(float(x.min()), float(x.max()), caller=caller)
    w_neg, w_pos = binary_class_weights(
        class_weight=class_weight, alpha=alpha, pos_weight=pos_weight, shape=y.shape, caller=caller
    )
    sw = V.check_sample_weight(sample_weight, y.shape, caller=caller)
    if ignore_index is not None:
        sw = valid.astype(np.float64) if sw is None else np.where(valid, sw, 0.0)
    eps = V.check_float(label_smoothing, "label_smoothing", caller=caller, low=0.0, high=1.0)

    def term_weights(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights of the log p term, s w+ y, and of the log (1 - p) term, s w- (1 - y)."""
        a, b = w_pos * labels, w_neg * (1.0 - labels)
        if sw is not None:
            a *= sw
            b *= sw
        return a, b

    # Element weight from the unsmoothed label; smoothing changes the loss only.
    a, b = term_weights(y)
    weight = a + b  # s (w+ y + w- (1 - y))
    if eps:
        a, b = term_weights(y * (1.0 - eps) + 0.5 * eps)
    return x, y, a, b, weight, valid


def _binary_cross_entropy_terms(
    inputs: Any,
    targets: Any,
    *,
    class_weight: Any = None,
    alpha: Any = None,
    pos_weight: Any = None,
    sample_weight: Any = None,
    ignore_index: float | None = None,
    label_smoothing: float = 0.0,
    from_logits: bool = True,
    caller: str = CALLER,
) -> Terms:
    from_logits = check_from_logits(from_logits, caller=caller)
    x, _, a, b, weight, valid = prepare_binary(
        inputs, targets, caller=caller, class_weight=class_weight, alpha=alpha,
        pos_weight=pos_weight, sample_weight=sample_weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, from_logits=from_logits,
    )
    if from_logits:
        # softplus(±x) = max(±x, 0) + log1p(e) and sigmoid(x) from one e = exp(-|x|):
        # max(-x, 0) = max(x, 0) - x exactly, so this is a softplus(-x) + b softplus(x).
        e = np.abs(x)
        np.negative(e, out=e)
        np.exp(e, out=e)
        log1p_e = np.log1p(e)
        m = np.maximum(x, 0.0)
        weighted_loss = a * ((m - x) + log1p_e) + b * (m + log1p_e)
        r = 1.0 / (1.0 + e)
        p = np.where(x >= 0, r, e * r)  # sigmoid(x)
        s = a + b
        grad = s * p - a

        def hess() -> np.ndarray:
            return s * p * (1.0 - p)
    else:
        pc = np.clip(x, EPS, 1.0 - EPS)
        inside = (x >= EPS) & (x <= 1.0 - EPS)
        weighted_loss = -(a * np.log(pc) + b * np.log1p(-pc))
        grad = np.where(inside, -a / pc + b / (1.0 - pc), 0.0)

        def hess() -> np.ndarray:
            return np.where(inside, a / pc**2 + b / (1.0 - pc) ** 2, 0.0)
    return Terms(weighted_loss, weight, valid, grad, x.shape, hess)


def binary_cross_entropy(
    logits: Any,
    targets: Any,
    *,
    class_weight: Any = None,
    alpha: float | None = None,
    pos_weight: Any = None,
    sample_weight: Any = None,
    ignore_index: float | None = None,
    label_smoothing: float = 0.0,
    from_logits: bool = True,
    reduction: Reduction = "mean",
):
    r"""Weighted binary cross-entropy, in any of its three textbook forms.

    .. math::

        \ell_i = -\,s_i\,[\,w_+\, y'_i \log p_i + w_-\,(1 - y'_i) \log(1 - p_i)\,],\qquad
        \text{weight}_i = s_i\,[\,w_+ y_i + w_- (1 - y_i)\,]

    with ``p = sigmoid(logits)`` (computed with softplus, never ``log(p + eps)``)
    or the given probabilities clipped to ``[1e-7, 1 - 1e-7]``, and
    ``y' = y (1 - ε) + ε / 2`` (label smoothing). Give at most one of:

    * ``class_weight=(w_neg, w_pos)``, indexed by the label;
    * ``alpha=a`` with ``0 <= a <= 1``: ``(w_neg, w_pos) = (1 - a, a)``. An alpha
      outside [0, 1] is refused (TRAPS 1): use ``pos_weight``;
    * ``pos_weight=r``: ``(w_neg, w_pos) = (1, r)``, as in PyTorch's
      ``BCEWithLogitsLoss(pos_weight=r)`` and TensorFlow's
      ``weighted_cross_entropy_with_logits``; ``r = n_neg / n_pos`` balances.
      PyTorch's ``mean`` for that loss divides by N: it equals
      ``reduction="mean_per_sample"`` here (TRAPS 2).

    Weights may carry a leading shape broadcast against the targets (per-label
    weights for multi-label targets go on the last axis).

    Args:
      logits: any shape ``S`` (probabilities with ``from_logits=False``).
      targets: same shape ``S``, values in [0, 1].
      sample_weight: broadcastable to ``S`` (PyTorch's ``weight=``).
      ignore_index: target value whose elements are skipped (e.g. 255 in masks).
      reduction: see :mod:`wce.losses._reduction`.

    Example:
      >>> import numpy as np
      >>> from wce.losses import binary_cross_entropy
      >>> y = np.array([1, 0, 1, 0, 1]); p = np.array([0.8, 0.2, 0.6, 0.9, 0.95])
      >>> round(binary_cross_entropy(p, y, pos_weight=9, from_logits=False,
      ...                            reduction="mean_per_sample"), 4)
      1.9186

    References:
      King & Zeng 2001; PyTorch ``BCEWithLogitsLoss``; TensorFlow
      ``tf.nn.weighted_cross_entropy_with_logits``.
    """
    reduction = V.check_reduction(reduction, caller=CALLER, binary=True)
    terms = _binary_cross_entropy_terms(
        logits, targets, class_weight=class_weight, alpha=alpha, pos_weight=pos_weight,
        sample_weight=sample_weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, from_logits=from_logits,
    )
    return reduce_value(terms, reduction)


binary_cross_entropy.terms = _binary_cross_entropy_terms
