"""Multiclass weighted cross-entropy (NumPy reference)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validation as V
from .._types import Reduction
from ._common import EPS, Terms, check_from_logits, log_softmax, prepare_multiclass
from ._reduction import reduce_value

CALLER = "weighted_cross_entropy"


def _weighted_cross_entropy_terms(
    inputs: Any,
    targets: Any,
    *,
    class_weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    from_logits: bool = True,
    caller: str = CALLER,
) -> Terms:
    from_logits = check_from_logits(from_logits, caller=caller)
    mc = prepare_multiclass(
        inputs,
        targets,
        caller=caller,
        class_weight=class_weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        sample_weight=sample_weight,
        from_logits=from_logits,
    )
    # a[i, c] = s_i * w_c * q'_ic: the weight each log-probability enters with.
    a = mc.sample_weight[:, None] * mc.class_weight[None, :] * mc.target
    if from_logits:
        logp = log_softmax(mc.z)
        weighted_loss = -np.sum(a * logp, axis=-1)
        grad = a.sum(-1, keepdims=True) * np.exp(logp) - a
    else:
        clipped = np.clip(mc.z, EPS, 1.0 - EPS)
        weighted_loss = -np.sum(a * np.log(clipped), axis=-1)
        inside = (mc.z >= EPS) & (mc.z <= 1.0 - EPS)
        grad = np.where(inside, -a / clipped, 0.0)
    return Terms(weighted_loss, mc.base_weight, mc.valid, mc.restore(grad), mc.out_shape)


def weighted_cross_entropy(
    logits: Any,
    targets: Any,
    *,
    class_weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    from_logits: bool = True,
    reduction: Reduction = "mean",
):
    r"""Weighted multiclass cross-entropy.

    .. math::

        \ell_i = -\,s_i \sum_c w_c\, q'_{ic} \log p_{ic},\qquad
        \text{weight}_i = s_i \sum_c w_c\, q_{ic}

    with ``p = softmax(logits)`` over the class axis (or the given
    probabilities, clipped to ``[1e-7, 1 - 1e-7]``), ``w = class_weight``,
    ``s = sample_weight``, ``q`` the one-hot (class-index targets) or given
    (probability targets) target distribution, and
    ``q' = (1 - ε) q + ε / C`` its label-smoothed version. Label smoothing
    changes the loss, never the element's weight: an element's weight is that
    of its true class (for index targets ``w[y_i]``, as in PyTorch), so a
    one-hot probability target gives exactly the same result as the
    corresponding class index under every reduction (TRAPS 6 and 8).

    Args:
      logits: ``(N, C)`` or ``(N, C, d1, ..., dk)`` scores (or probabilities
        with ``from_logits=False``).
      targets: class indices of shape ``(N, d1, ..., dk)`` (integers) or
        probabilities of the same shape as ``logits``.
      class_weight: ``(C,)`` non-negative weights, default all ones.
      ignore_index: class-index value whose elements are skipped (weight 0,
        not counted by ``mean_per_sample``).
      label_smoothing: ε in ``[0, 1]``.
      sample_weight: per-element weights broadcastable to ``(N, d1, ..., dk)``.
      from_logits: whether ``logits`` are raw scores (default) or probabilities.
      reduction: ``"none"``, ``"sum"``, ``"mean"`` (Σ w·l / Σ w) or
        ``"mean_per_sample"`` (Σ w·l / n); see :mod:`wce.losses._reduction`.
        All targets ignored gives 0 (TRAPS 7).

    Returns:
      A float, or an array of shape ``(N, d1, ..., dk)`` for ``"none"``.

    Example:
      >>> import numpy as np
      >>> from wce.losses import weighted_cross_entropy
      >>> logits = np.array([[2.0, 0.5], [0.1, 1.0], [1.5, -1.0]])
      >>> round(weighted_cross_entropy(logits, np.array([0, 1, 1]), class_weight=[1.0, 3.0]), 4)
      1.2802

    References:
      King & Zeng, "Logistic Regression in Rare Events Data", Political Analysis 2001;
      PyTorch ``torch.nn.functional.cross_entropy``.
    """
    reduction = V.check_reduction(reduction, caller=CALLER)
    terms = _weighted_cross_entropy_terms(
        logits,
        targets,
        class_weight=class_weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        sample_weight=sample_weight,
        from_logits=from_logits,
    )
    return reduce_value(terms, reduction)


weighted_cross_entropy.terms = _weighted_cross_entropy_terms
