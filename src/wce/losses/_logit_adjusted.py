"""Logit-adjusted cross-entropy of Menon et al. (2021) (NumPy reference)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validation as V
from .._types import Reduction
from ._common import Terms
from ._cross_entropy import _weighted_cross_entropy_terms
from ._reduction import reduce_value

CALLER = "logit_adjusted_cross_entropy"


def log_prior(class_prior: Any, *, caller: str) -> np.ndarray:
    """log of a class prior given as probabilities or counts (normalised here)."""
    prior = V.as_float_array(class_prior, "class_prior", caller=caller)
    if prior.ndim != 1 or np.any(prior <= 0):
        raise ValueError(
            f"The 'class_prior' parameter of {caller} must be a 1-D array of positive class "
            "frequencies or counts (log of a zero prior is -inf). "
            f"Got {prior.tolist() if prior.ndim == 1 else prior.shape} instead. "
            "Declare a minimum count for absent classes, or drop them."
        )
    return np.log(prior / prior.sum())


def _scaled_log_prior(logits: Any, class_prior: Any, tau: float, caller: str):
    """(logits, tau * log prior shaped to broadcast over the class axis 1)."""
    tau = V.check_float(tau, "tau", caller=caller, low=0.0)
    z = V.as_float_array(logits, "logits", caller=caller, min_ndim=2)
    lp = log_prior(class_prior, caller=caller)
    if lp.shape[0] != z.shape[1]:
        raise ValueError(
            f"The 'class_prior' parameter of {caller} has {lp.shape[0]} entries but the logits "
            f"have {z.shape[1]} classes."
        )
    return z, tau * lp.reshape((1, -1) + (1,) * (z.ndim - 2))


def adjust_logits(logits: Any, class_prior: Any, *, tau: float = 1.0):
    """Post-hoc logit adjustment: ``logits - tau * log(prior)`` on the class axis (axis 1).

    Applied to a model trained with plain CE, its arg-max approximates the
    balanced-error Bayes classifier (Menon et al., ICLR 2021, eq. 10).

    Example:
      >>> import numpy as np
      >>> from wce.losses import adjust_logits
      >>> z = adjust_logits(np.array([[1.0, 0.0]]), [0.9, 0.1])
      >>> np.round(z, 4).tolist(), int(z.argmax(axis=1)[0])  # the rare class now wins
      ([[1.1054, 2.3026]], 1)
    """
    z, shift = _scaled_log_prior(logits, class_prior, tau, "adjust_logits")
    return z - shift


def _logit_adjusted_cross_entropy_terms(
    logits: Any,
    targets: Any,
    *,
    class_prior: Any,
    tau: float = 1.0,
    class_weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    caller: str = CALLER,
) -> Terms:
    z, shift = _scaled_log_prior(logits, class_prior, tau, caller)
    adjusted = z + shift
    # d(adjusted)/d(logits) is the identity, so the CE gradient carries over unchanged.
    return _weighted_cross_entropy_terms(
        adjusted, targets, class_weight=class_weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, sample_weight=sample_weight, caller=caller,
    )


def logit_adjusted_cross_entropy(
    logits: Any,
    targets: Any,
    *,
    class_prior: Any,
    tau: float = 1.0,
    class_weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    reduction: Reduction = "mean",
):
    r"""Logit-adjusted softmax cross-entropy.

    .. math::

        \ell_i = -\log \frac{e^{z_{i,y_i} + \tau \log \pi_{y_i}}}
                            {\sum_c e^{z_{ic} + \tau \log \pi_c}}

    with ``π`` the training class prior. Training with it and predicting with
    the raw logits targets the balanced error (Menon et al. 2021, eq. 11);
    ``tau = 1`` with counts as prior is the balanced softmax of Ren et al. (2020).
    Optional ``class_weight``, ``ignore_index`` and ``label_smoothing`` act as
    in :func:`weighted_cross_entropy`.

    Args:
      class_prior: ``(C,)`` positive class frequencies or counts.
      tau: temperature ``>= 0``; 0 gives plain CE.

    Example:
      >>> import numpy as np
      >>> from wce.losses import logit_adjusted_cross_entropy
      >>> round(logit_adjusted_cross_entropy(np.array([[1.0, 0.0]]), np.array([1]),
      ...                                    class_prior=[0.9, 0.1]), 4)
      3.2373

    References:
      Menon, Jayasumana, Rawat, Jain, Veit & Kumar, "Long-Tail Learning via Logit
      Adjustment", ICLR 2021.
    """
    reduction = V.check_reduction(reduction, caller=CALLER)
    terms = _logit_adjusted_cross_entropy_terms(
        logits, targets, class_prior=class_prior, tau=tau, class_weight=class_weight,
        ignore_index=ignore_index, label_smoothing=label_smoothing, sample_weight=sample_weight,
    )
    return reduce_value(terms, reduction)


logit_adjusted_cross_entropy.terms = _logit_adjusted_cross_entropy_terms
