"""Long-tail losses: LDAM (Cao et al. 2019) and balanced softmax (Ren et al. 2020) (NumPy reference)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validation as V
from .._types import Reduction
from ._common import Terms
from ._cross_entropy import _weighted_cross_entropy_terms
from ._logit_adjusted import _logit_adjusted_cross_entropy_terms
from ._reduction import reduce_value

LDAM_CALLER = "ldam_loss"
BALANCED_SOFTMAX_CALLER = "balanced_softmax_cross_entropy"


def check_samples_per_class(samples_per_class: Any, n_classes: int | None, *,
                            caller: str) -> np.ndarray:
    """Training counts ``n_c``: 1-D, one per class (if ``n_classes`` is given), all positive (TRAPS 4)."""
    counts = V.as_float_array(samples_per_class, "samples_per_class", caller=caller)
    if counts.ndim != 1 or (n_classes is not None and counts.shape[0] != n_classes):
        per_class = "" if n_classes is None else f" ({n_classes})"
        raise ValueError(
            f"The 'samples_per_class' parameter of {caller} must be a 1-D array with one count "
            f"per class{per_class}. Got shape {counts.shape} instead."
        )
    if np.any(counts <= 0):
        raise ValueError(
            f"The 'samples_per_class' parameter of {caller} must hold positive counts. "
            f"Class(es) at position(s) {np.nonzero(counts <= 0)[0].tolist()} have "
            f"{counts[counts <= 0].tolist()} (TRAPS 4: a zero count gives an infinite margin or "
            "log 0). Declare a minimum count of 1 for classes absent from training, or drop them."
        )
    return counts.astype(np.float64)


def ldam_margins(samples_per_class: Any, *, max_margin: float = 0.5,
                 caller: str = "ldam_margins") -> np.ndarray:
    r"""LDAM margins ``Δ_c ∝ n_c^{-1/4}``, scaled so that ``max_c Δ_c = max_margin``.

    Example:
      >>> from wce.losses import ldam_margins
      >>> ldam_margins([10000, 1], max_margin=0.5).tolist()
      [0.05, 0.5]
    """
    max_margin = V.check_float(max_margin, "max_margin", caller=caller, low=0.0)
    counts = check_samples_per_class(samples_per_class, None, caller=caller)
    margins = counts ** -0.25
    return margins * (max_margin / margins.max())


def _ldam_loss_terms(
    logits: Any,
    targets: Any,
    *,
    samples_per_class: Any,
    max_margin: float = 0.5,
    scale: float = 30.0,
    class_weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    caller: str = LDAM_CALLER,
) -> Terms:
    scale = V.check_float(scale, "scale", caller=caller, low=0.0, low_inclusive=False)
    z = V.as_float_array(logits, "logits", caller=caller, min_ndim=2).astype(np.float64)
    C = z.shape[1]
    counts = check_samples_per_class(samples_per_class, C, caller=caller)
    margins = ldam_margins(counts, max_margin=max_margin, caller=caller)
    t = np.asarray(targets)
    if t.ndim != z.ndim - 1:
        raise ValueError(
            f"Targets of {caller} must be class indices of shape {(z.shape[0],) + z.shape[2:]}: "
            f"the margin is subtracted from the true class, which probability targets do not "
            f"name. Got shape {t.shape} instead."
        )
    # One-hot of the true class on axis 1; ignored or out-of-range indices match no class
    # (prepare_multiclass reports the out-of-range ones).
    classes = np.arange(C).reshape((1, C) + (1,) * (z.ndim - 2))
    true_class = np.expand_dims(t, 1) == classes
    shifted = scale * (z - margins.reshape(classes.shape) * true_class)
    terms = _weighted_cross_entropy_terms(
        shifted, targets, class_weight=class_weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, sample_weight=sample_weight, caller=caller,
    )
    # d(shifted)/d(logits) = scale * identity.
    terms.grad = scale * terms.grad
    return terms


def ldam_loss(
    logits: Any,
    targets: Any,
    *,
    samples_per_class: Any,
    max_margin: float = 0.5,
    scale: float = 30.0,
    class_weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    reduction: Reduction = "mean",
):
    r"""Label-distribution-aware margin (LDAM) loss.

    .. math::

        \Delta_c = m_{\max} \frac{n_c^{-1/4}}{\max_k n_k^{-1/4}},\qquad
        \ell_i = \mathrm{CE}_w\big(s\,(z_i - \Delta_{y_i} e_{y_i}),\; y_i\big)

    The true-class logit is lowered by a margin that grows for rarer classes,
    then all logits are multiplied by ``s`` and the (optionally class-weighted)
    cross-entropy of :func:`weighted_cross_entropy` is taken, with the same
    reductions. Cao et al. use it with a cosine (normalised) last layer, so
    that logits lie in ``[-1, 1]`` before scaling. For deferred re-weighting
    (LDAM-DRW) pass ``class_weight=None`` first and class-balanced weights
    later in training. A class with zero samples is refused (TRAPS 4).

    Args:
      logits: ``(N, C)`` or ``(N, C, d1, ..., dk)``.
      targets: class indices ``(N, d1, ..., dk)`` (probability targets are
        refused: the margin needs a true class).
      samples_per_class: ``(C,)`` positive training counts ``n_c``.
      max_margin: largest margin ``m_max >= 0`` (0.5 in the paper).
      scale: ``s > 0`` (30 in the paper).
      class_weight, ignore_index, label_smoothing, sample_weight, reduction:
        as in :func:`weighted_cross_entropy`.

    Example:
      >>> import numpy as np
      >>> from wce.losses import ldam_loss
      >>> round(ldam_loss(np.array([[0.2, 0.1]]), np.array([1]), samples_per_class=[100, 1]), 4)
      18.0

    References:
      Cao, Wei, Gaidon, Arechiga & Ma, "Learning Imbalanced Datasets with
      Label-Distribution-Aware Margin Loss", NeurIPS 2019.
    """
    reduction = V.check_reduction(reduction, caller=LDAM_CALLER)
    terms = _ldam_loss_terms(
        logits, targets, samples_per_class=samples_per_class, max_margin=max_margin, scale=scale,
        class_weight=class_weight, ignore_index=ignore_index, label_smoothing=label_smoothing,
        sample_weight=sample_weight,
    )
    return reduce_value(terms, reduction)


ldam_loss.terms = _ldam_loss_terms


def _balanced_softmax_cross_entropy_terms(
    logits: Any,
    targets: Any,
    *,
    samples_per_class: Any,
    class_weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    caller: str = BALANCED_SOFTMAX_CALLER,
) -> Terms:
    z = V.as_float_array(logits, "logits", caller=caller, min_ndim=2)
    counts = check_samples_per_class(samples_per_class, z.shape[1], caller=caller)
    # softmax(z + log n) = softmax(z + log(n / N)): balanced softmax is logit-adjusted CE, tau = 1.
    return _logit_adjusted_cross_entropy_terms(
        z, targets, class_prior=counts, tau=1.0, class_weight=class_weight,
        ignore_index=ignore_index, label_smoothing=label_smoothing, sample_weight=sample_weight,
        caller=caller,
    )


def balanced_softmax_cross_entropy(
    logits: Any,
    targets: Any,
    *,
    samples_per_class: Any,
    class_weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    reduction: Reduction = "mean",
):
    r"""Balanced softmax cross-entropy.

    .. math::

        \ell_i = -\log \frac{n_{y_i}\, e^{z_{i,y_i}}}{\sum_c n_c\, e^{z_{ic}}}

    i.e. softmax cross-entropy on ``z + log n``. It is exactly
    :func:`logit_adjusted_cross_entropy` with ``tau = 1`` and the counts as
    prior (the normalisation of the prior cancels in the softmax), and is
    computed that way. Predict with the raw logits ``z``.

    Args:
      samples_per_class: ``(C,)`` positive training counts ``n_c`` (TRAPS 4).
      class_weight, ignore_index, label_smoothing, sample_weight, reduction:
        as in :func:`weighted_cross_entropy`.

    Example:
      >>> import numpy as np
      >>> from wce.losses import balanced_softmax_cross_entropy
      >>> round(balanced_softmax_cross_entropy(np.array([[1.0, 0.0]]), np.array([1]),
      ...                                      samples_per_class=[90, 10]), 4)
      3.2373

    References:
      Ren, Yu, Sheng, Ma, Zhao, Yi & Li, "Balanced Meta-Softmax for Long-Tailed
      Visual Recognition", NeurIPS 2020.
    """
    reduction = V.check_reduction(reduction, caller=BALANCED_SOFTMAX_CALLER)
    terms = _balanced_softmax_cross_entropy_terms(
        logits, targets, samples_per_class=samples_per_class, class_weight=class_weight,
        ignore_index=ignore_index, label_smoothing=label_smoothing, sample_weight=sample_weight,
    )
    return reduce_value(terms, reduction)


balanced_softmax_cross_entropy.terms = _balanced_softmax_cross_entropy_terms
