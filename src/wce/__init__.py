"""wce: weighted cross-entropy for imbalanced classification, done right in every framework.

``wce.compare`` (cross-validated comparison of weighting, threshold moving and resampling;
see :mod:`wce.experiments.api`) imports scikit-learn when it is first used.

``import wce`` imports NumPy only; framework backends (``wce.torch``, ``wce.jax``,
``wce.keras``, ``wce.xgboost``, ``wce.lightgbm``) import their framework when
they are imported themselves.
"""

from . import losses, weights
from .losses import (adjust_logits, binary_cross_entropy, binary_focal_loss, class_balanced_loss,
                     cost_sensitive_cross_entropy, focal_loss, logit_adjusted_cross_entropy,
                     value_and_grad, weighted_cross_entropy)
from .weights import ClassCounts, class_weight_dict, class_weights, pos_weight

__version__ = "0.1.0"


def __getattr__(name: str):
    # wce.compare / wce.CompareResult load scikit-learn and pandas: only when asked for.
    if name in ("compare", "CompareResult"):
        from .experiments import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "ClassCounts",
    "CompareResult",
    "adjust_logits",
    "binary_cross_entropy",
    "binary_focal_loss",
    "class_balanced_loss",
    "class_weight_dict",
    "class_weights",
    "compare",
    "cost_sensitive_cross_entropy",
    "focal_loss",
    "logit_adjusted_cross_entropy",
    "losses",
    "pos_weight",
    "value_and_grad",
    "weighted_cross_entropy",
    "weights",
]
