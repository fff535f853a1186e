"""Cost-sensitive cross-entropy from a misclassification-cost matrix (NumPy reference)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validation as V
from .._types import Reduction
from ._common import Terms, log1m_softmax, log_softmax, prepare_multiclass
from ._reduction import reduce_value

CALLER = "cost_sensitive_cross_entropy"


def _cost_sensitive_cross_entropy_terms(
    logits: Any,
    targets: Any,
    *,
    cost_matrix: Any,
    class_weight: Any = None,
    ignore_index: int | None = None,
    sample_weight: Any = None,
    caller: str = CALLER,
) -> Terms:
    mc = prepare_multiclass(
        logits, targets, caller=caller, class_weight=class_weight,
        ignore_index=ignore_index, sample_weight=sample_weight,
    )
    C = mc.z.shape[1]
    cost = V.check_cost_matrix(cost_matrix, C, caller=caller)
    off = cost * (1.0 - np.eye(C))
    logp = log_softmax(mc.z)
    log1mp = log1m_softmax(mc.z)
    s = mc.sample_weight[:, None]
    a = s * mc.class_weight[None, :] * mc.target  # weight of -log p_c (false-negative term)
    m = s * (mc.target @ off)  # weight of -log(1 - p_k) (false-positive terms)
    with np.errstate(invalid="ignore"):
        fp = np.where(m > 0, -m * log1mp, 0.0)
    weighted_loss = -np.sum(a * logp, axis=-1) + np.sum(fp, axis=-1)
    p = np.exp(logp)
    grad_ce = a.sum(-1, keepdims=True) * p - a
    # d/dz_j Σ_k m_k (-log(1 - p_k)) = m_j p_j - Σ_{k≠j} m_k p_j p_k / (1 - p_k);
    # each p_j p_k / (1 - p_k) <= 1 for k != j, computed in log space to stay finite.
    log_ratio = logp - log1mp  # log(p_k / (1 - p_k))
    pair = np.exp(np.minimum(logp[:, :, None] + log_ratio[:, None, :], 0.0))
    idx = np.arange(C)
    pair[:, idx, idx] = 0.0
    grad_fp = m * p - np.einsum("mjk,mk->mj", pair, m)
    grad = grad_ce + grad_fp
    return Terms(weighted_loss, mc.base_weight, mc.valid, mc.restore(grad), mc.out_shape)


def cost_sensitive_cross_entropy(
    logits: Any,
    targets: Any,
    *,
    cost_matrix: Any,
    class_weight: Any = None,
    ignore_index: int | None = None,
    sample_weight: Any = None,
    reduction: Reduction = "mean",
):
    r"""Cost-sensitive cross-entropy ("real-world-weight" cross-entropy).

    With ``M[i, j]`` the cost of predicting class ``j`` when the truth is ``i``:

    .. math::

        \ell_i = s_i\Big[-w_{y_i} \log p_{i,y_i}
                 \;-\; \sum_{k \ne y_i} M_{y_i k} \log(1 - p_{ik})\Big],\qquad
        \text{weight}_i = s_i\,w_{y_i}

    The first term is the usual (weighted) CE, the cost of a false negative;
    the second charges every wrong class ``k`` by its cost, the probability mass
    put on it being a potential false positive of cost ``M[y, k]``. With
    probability targets the bracket is averaged over ``q``. The diagonal of
    ``M`` is ignored. For two classes and ``M = [[0, 1], [1, 0]]`` the cost term is
    ``-log(1 - p_other) = -log p_y``, so the loss is twice plain CE.

    Args:
      cost_matrix: ``(C, C)`` non-negative costs with at least one positive
        off-diagonal entry.
      class_weight: ``(C,)`` false-negative weights (default ones).

    Example:
      >>> import numpy as np
      >>> from wce.losses import cost_sensitive_cross_entropy
      >>> M = np.array([[0, 1, 1], [5, 0, 1], [1, 1, 0]])
      >>> round(cost_sensitive_cross_entropy(np.array([[2.0, 0.5, -1.0]]), np.array([1]),
      ...                                    cost_matrix=M), 4)
      9.4807

    References:
      Ho & Wookey, "The Real-World-Weight Cross-Entropy Loss Function: Modeling the
      Costs of Mislabeling", IEEE Access 2020; Elkan, "The Foundations of
      Cost-Sensitive Learning", IJCAI 2001.
    """
    reduction = V.check_reduction(reduction, caller=CALLER)
    terms = _cost_sensitive_cross_entropy_terms(
        logits, targets, cost_matrix=cost_matrix, class_weight=class_weight,
        ignore_index=ignore_index, sample_weight=sample_weight,
    )
    return reduce_value(terms, reduction)


cost_sensitive_cross_entropy.terms = _cost_sensitive_cross_entropy_terms
