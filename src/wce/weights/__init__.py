"""Class weights computed right and cheaply: counts that stream and merge, and the schemes."""

from ._counts import ClassCounts
from ._schemes import (COUNT_SCHEMES, NORMALIZATIONS, SCHEMES, class_weight_dict, class_weights,
                       effective_number_weights, pos_weight, resolve_class_weight)

__all__ = [
    "COUNT_SCHEMES",
    "NORMALIZATIONS",
    "SCHEMES",
    "ClassCounts",
    "class_weight_dict",
    "class_weights",
    "effective_number_weights",
    "pos_weight",
    "resolve_class_weight",
]
