"""Every loss written once over an array namespace; the backends are adapters around it.

See :mod:`wce._array._losses`. ``wce.jax``, ``wce.keras`` and ``wce.torch``
(outside its native and fused cross-entropy kernels) call these functions with
their own ``ops`` adapter; the NumPy reference in :mod:`wce.losses` is the
oracle they are all tested against.
"""

from ._losses import (BINARY, MULTICLASS, Elements, adjust_logits, check_focal_alpha,
                      class_balanced_weights, class_last, compute_dtype, denominator, divide,
                      numerator_denominator, reduce, scaled_log_prior)

__all__ = ["BINARY", "MULTICLASS", "Elements", "adjust_logits", "check_focal_alpha",
           "class_balanced_weights", "class_last", "compute_dtype", "denominator", "divide",
           "numerator_denominator", "reduce", "scaled_log_prior"]
