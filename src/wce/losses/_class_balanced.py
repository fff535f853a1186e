"""Class-balanced loss of Cui et al. (2019) (NumPy reference)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validation as V
from .._types import LossType, Reduction
from ..weights._schemes import effective_number_weights
from ._common import Terms
from ._cross_entropy import _weighted_cross_entropy_terms
from ._focal import _focal_loss_terms
from ._long_tail import check_samples_per_class
from ._reduction import reduce_value

CALLER = "class_balanced_loss"


def _class_balanced_loss_terms(
    logits: Any,
    targets: Any,
    *,
    samples_per_class: Any,
    beta: float = 0.9999,
    loss_type: LossType = "softmax",
    gamma: float = 2.0,
    ignore_index: int | None = None,
    sample_weight: Any = None,
    caller: str = CALLER,
) -> Terms:
    V.check_one_of(loss_type, "loss_type", ("softmax", "focal"), caller=caller)
    beta = V.check_float(beta, "beta", caller=caller, low=0.0, high=1.0, high_inclusive=False)
    z = V.as_float_array(logits, "logits", caller=caller, min_ndim=2)
    counts = check_samples_per_class(samples_per_class, z.shape[1], caller=caller)
    weights = effective_number_weights(counts, beta, caller=caller)
    weights = weights * len(weights) / weights.sum()  # Cui et al. normalise to sum to C
    if loss_type == "softmax":
        return _weighted_cross_entropy_terms(
            logits, targets, class_weight=weights, ignore_index=ignore_index,
            sample_weight=sample_weight, caller=caller,
        )
    return _focal_loss_terms(
        logits, targets, gamma=gamma, alpha=weights, ignore_index=ignore_index,
        sample_weight=sample_weight, caller=caller,
    )


def class_balanced_loss(
    logits: Any,
    targets: Any,
    *,
    samples_per_class: Any,
    beta: float = 0.9999,
    loss_type: LossType = "softmax",
    gamma: float = 2.0,
    ignore_index: int | None = None,
    sample_weight: Any = None,
    reduction: Reduction = "mean",
):
    r"""Class-balanced loss: weighting by the inverse effective number of samples.

    .. math::

        w_c = \frac{1 - \beta}{1 - \beta^{n_c}}, \quad
        w \leftarrow C\,w / \textstyle\sum_c w_c

    then :func:`weighted_cross_entropy` (``loss_type="softmax"``) or
    :func:`focal_loss` (``loss_type="focal"``, softmax form) with these weights.
    ``beta = 0`` gives plain CE; ``beta -> 1`` approaches inverse frequency.
    A class with zero samples is refused (TRAPS 4).

    Args:
      samples_per_class: ``(C,)`` training counts ``n_c``.
      beta: in ``[0, 1)``; Cui et al. use 0.9, 0.99, 0.999, 0.9999.
      loss_type: ``"softmax"`` or ``"focal"``; gamma is used by focal.

    Example:
      >>> import numpy as np
      >>> from wce.losses import class_balanced_loss
      >>> round(class_balanced_loss(np.array([[1.0, 0.0]]), np.array([1]),
      ...                           samples_per_class=[90, 10], beta=0.99), 4)
      1.3133

    References:
      Cui, Jia, Lin, Song & Belongie, "Class-Balanced Loss Based on Effective
      Number of Samples", CVPR 2019.
    """
    reduction = V.check_reduction(reduction, caller=CALLER)
    terms = _class_balanced_loss_terms(
        logits, targets, samples_per_class=samples_per_class, beta=beta,
        loss_type=loss_type, gamma=gamma, ignore_index=ignore_index,
        sample_weight=sample_weight,
    )
    return reduce_value(terms, reduction)


class_balanced_loss.terms = _class_balanced_loss_terms
