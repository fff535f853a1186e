"""Class weights computed right and cheaply: counts that stream and merge, and the schemes."""

from ._counts import ClassCounts
from ._schemes import (NORMALIZATIONS, SCHEMES, class_weight_dict, class_weights,
                       effective_number_weights, pos_weight)

__all__ = [
    "NORMALIZATIONS",
    "SCHEMES",
    "ClassCounts",
    "class_weight_dict",
    "class_weights",
    "effective_number_weights",
    "pos_weight",
]
