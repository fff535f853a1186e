"""Names of the string options, as ``Literal`` types, so editors and type checkers complete them.

Defined once here and imported where a signature needs them. This module imports nothing
from wce; the tests check that each ``Literal`` lists exactly the values the runtime checks
accept (``wce._validation.REDUCTIONS``, ``wce.weights.SCHEMES``, ...).
"""

from __future__ import annotations

import sys
from typing import Any, Literal, Sequence, TypedDict

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover - Python 3.10
    try:
        from typing_extensions import Unpack
    except ImportError:  # only type checkers read it (annotations are never evaluated at run time)
        Unpack = Any  # type: ignore[assignment]

#: ``reduction=`` of every loss. ``"mean"`` is the framework's mean: the weighted mean
#: ``Σ w·l / Σ w`` for multiclass losses (PyTorch's ``CrossEntropyLoss``), the mean over
#: the elements for binary losses (``BCEWithLogitsLoss``); ``"weighted_mean"`` and
#: ``"mean_per_sample"`` name one of the two explicitly.
Reduction = Literal["none", "sum", "mean", "weighted_mean", "mean_per_sample"]
#: ``loss_type=`` of the class-balanced loss.
LossType = Literal["softmax", "focal"]
#: ``scheme=`` of :func:`wce.weights.class_weights`.
Scheme = Literal[
    "balanced",
    "inverse",
    "inverse_sqrt",
    "effective_number",
    "median_frequency",
    "manual",
    "cost_matrix",
]
#: ``normalize=`` of :func:`wce.weights.class_weights`.
Normalization = Literal["none", "sum_to_one", "sum_to_k", "mean_one"]
#: ``zero_count=`` of :func:`wce.weights.class_weights`.
ZeroCountPolicy = Literal["error", "zero", "max"]
#: ``median_definition=`` of :func:`wce.weights.class_weights`.
MedianDefinition = Literal["auto", "image", "global"]


class ClassWeightOptions(TypedDict, total=False):
    """The keyword options of :func:`wce.weights.class_weights`, for ``**kwargs`` that pass them on."""

    scheme: Scheme
    normalize: Normalization
    classes: Sequence | None
    beta: float
    manual: Any
    cost_matrix: Any
    median_definition: MedianDefinition
    zero_count: ZeroCountPolicy


__all__ = [
    "ClassWeightOptions",
    "LossType",
    "MedianDefinition",
    "Normalization",
    "Reduction",
    "Scheme",
    "Unpack",
    "ZeroCountPolicy",
]
