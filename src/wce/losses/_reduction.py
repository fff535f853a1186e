"""Reductions: the only place where per-element losses become a number.

Every loss produces, per element i, a weighted loss ``w_i * l_i`` and a weight
``w_i`` (0 for ignored elements). The options:

======================= =================================================
``"none"``              ``w_i * l_i`` per element (shape of the targets)
``"sum"``               ``Σ_i w_i l_i``
``"weighted_mean"``     ``Σ_i w_i l_i / Σ_i w_i``
``"mean_per_sample"``   ``Σ_i w_i l_i / n`` with n the number of non-ignored
                        elements
``"mean"`` (default)    the frameworks' mean: ``"weighted_mean"`` for
                        multiclass losses (PyTorch's ``CrossEntropyLoss``
                        with ``weight=``), ``"mean_per_sample"`` for the
                        binary losses (``BCEWithLogitsLoss`` with
                        ``pos_weight=``/``weight=``, torchvision's
                        ``sigmoid_focal_loss``, TensorFlow's
                        ``reduce_mean`` of ``weighted_cross_entropy_with_logits``)
======================= =================================================

:func:`wce._validation.check_reduction` turns the public names into the two
internal ones used below: ``"mean"`` (the weighted mean) and
``"mean_per_sample"``.

A zero denominator (all targets ignored, or all weights zero) gives a loss of 0
and a zero gradient, not NaN (TRAPS 7). Because the weights do not depend on
the logits, the gradient of each reduction is the per-element gradient divided
by the same denominator.

For data parallelism and gradient accumulation the global weighted mean is
``(Σ_ranks Σ w·l) / (Σ_ranks Σ w)``; backends obtain both sums from
:func:`terms_numerator_denominator` and all-reduce them separately (TRAPS 9).
"""

from __future__ import annotations

import numpy as np

from ._common import Terms


def denominator(terms: Terms, reduction: str) -> float:
    if reduction in ("none", "sum"):
        return 1.0
    if reduction == "mean":
        return float(np.sum(terms.weight))
    return float(np.count_nonzero(terms.valid))


def terms_numerator_denominator(terms: Terms, reduction: str) -> tuple[float, float]:
    return float(np.sum(terms.weighted_loss)), denominator(terms, reduction)


def reduce_value(terms: Terms, reduction: str) -> np.ndarray | float:
    if reduction == "none":
        return terms.weighted_loss.reshape(terms.out_shape)
    num, den = terms_numerator_denominator(terms, reduction)
    return num / den if den > 0 else 0.0


def reduce_derivative(terms: Terms, reduction: str, derivative: np.ndarray) -> np.ndarray:
    """Scale a per-element derivative (gradient or Hessian) like the value."""
    den = denominator(terms, reduction)
    if den > 0:
        return derivative / den
    return np.zeros_like(derivative)
