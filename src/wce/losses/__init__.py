"""NumPy reference losses: the single source of truth every backend is tested against.

Each loss is one function with keyword-only options returning the reduced loss.
:func:`value_and_grad` and :func:`value_grad_hess` return the analytic
gradient (and, for binary losses, the diagonal Hessian) with respect to the
first argument, reduced the same way as the value.
"""

from __future__ import annotations

from typing import Any, Callable

from .. import _validation as V
from ._binary import binary_cross_entropy
from ._class_balanced import class_balanced_loss
from ._cost_sensitive import cost_sensitive_cross_entropy
from ._cross_entropy import weighted_cross_entropy
from ._focal import binary_focal_loss, focal_loss
from ._logit_adjusted import adjust_logits, logit_adjusted_cross_entropy
from ._long_tail import balanced_softmax_cross_entropy, ldam_loss, ldam_margins
from ._reduction import terms_numerator_denominator, reduce_derivative, reduce_value

LOSSES = {
    f.__name__: f
    for f in (
        weighted_cross_entropy,
        binary_cross_entropy,
        focal_loss,
        binary_focal_loss,
        class_balanced_loss,
        cost_sensitive_cross_entropy,
        logit_adjusted_cross_entropy,
        ldam_loss,
        balanced_softmax_cross_entropy,
    )
}


BINARY_LOSSES = ("binary_cross_entropy", "binary_focal_loss")


def _terms(loss: Callable, args: tuple, kwargs: dict):
    terms_fn = getattr(loss, "terms", None)
    if terms_fn is None:
        raise TypeError(
            f"value_and_grad expects one of the wce.losses functions "
            f"({', '.join(LOSSES)}). Got {loss!r} instead."
        )
    reduction = V.check_reduction(kwargs.pop("reduction", "mean"), caller=loss.__name__,
                                  binary=loss.__name__ in BINARY_LOSSES)
    return terms_fn(*args, **kwargs), reduction


def value_and_grad(loss: Callable, *args: Any, **kwargs: Any):
    """``(value, gradient w.r.t. the first argument)`` of a reference loss.

    Example:
      >>> import numpy as np
      >>> from wce.losses import value_and_grad, weighted_cross_entropy
      >>> value, grad = value_and_grad(weighted_cross_entropy, np.zeros((2, 3)), np.array([0, 2]))
      >>> grad.shape
      (2, 3)
    """
    terms, reduction = _terms(loss, args, kwargs)
    return reduce_value(terms, reduction), reduce_derivative(terms, reduction, terms.grad)


def value_grad_hess(loss: Callable, *args: Any, **kwargs: Any):
    """``(value, gradient, diagonal Hessian)`` of a binary reference loss (used by GBDT objectives).

    Example:
      >>> import numpy as np
      >>> from wce.losses import binary_cross_entropy, value_grad_hess
      >>> value, grad, hess = value_grad_hess(binary_cross_entropy, np.array([0.0, 2.0]),
      ...                                     np.array([1, 0]), reduction="none")
      >>> np.round(grad, 4).tolist(), np.round(hess, 4).tolist()
      ([-0.5, 0.8808], [0.25, 0.105])
    """
    terms, reduction = _terms(loss, args, kwargs)
    if terms.hess is None:
        raise TypeError(
            f"value_grad_hess is defined for the binary losses (binary_cross_entropy, "
            f"binary_focal_loss). Got {loss.__name__}."
        )
    hess = terms.hess() if callable(terms.hess) else terms.hess
    return (
        reduce_value(terms, reduction),
        reduce_derivative(terms, reduction, terms.grad),
        reduce_derivative(terms, reduction, hess),
    )


def numerator_denominator(loss: Callable, *args: Any, **kwargs: Any):
    """``(Σ w·l, denominator)`` of a reference loss: the two sums a global mean all-reduces.

    Example:
      >>> import numpy as np
      >>> from wce.losses import numerator_denominator, weighted_cross_entropy
      >>> num, den = numerator_denominator(weighted_cross_entropy, np.zeros((2, 3)),
      ...                                  np.array([0, 2]), class_weight=[1.0, 1.0, 3.0])
      >>> round(float(num), 4), round(float(den), 4), round(float(num / den), 4)  # mean = log 3
      (4.3944, 4.0, 1.0986)
    """
    terms, reduction = _terms(loss, args, kwargs)
    return terms_numerator_denominator(terms, reduction)


__all__ = [
    "LOSSES",
    "adjust_logits",
    "balanced_softmax_cross_entropy",
    "binary_cross_entropy",
    "binary_focal_loss",
    "class_balanced_loss",
    "cost_sensitive_cross_entropy",
    "focal_loss",
    "ldam_loss",
    "ldam_margins",
    "logit_adjusted_cross_entropy",
    "numerator_denominator",
    "value_and_grad",
    "value_grad_hess",
    "weighted_cross_entropy",
]
