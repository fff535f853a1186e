"""Parameter checks and their messages: the only place they live.

Every public entry point (NumPy reference, framework backends, CLI) validates
through these helpers, so a given mistake always produces the same message, in
scikit-learn's style: the parameter, the function, what was expected, what was
got, and where useful the fix.
"""

from __future__ import annotations

import numbers
from typing import Any, get_args

import numpy as np

from ._types import Reduction

REDUCTIONS = get_args(Reduction)  # the Literal type's values: one list for checks and editors


def _got(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_reduction(reduction: Any, *, caller: str, binary: bool = False) -> str:
    """The internal reduction for a public ``reduction=`` value, or a clear error.

    Internally ``"mean"`` is the weighted mean ``Σ w·l / Σ w`` and
    ``"mean_per_sample"`` divides by the number of non-ignored elements. The
    public ``"mean"`` follows the frameworks: PyTorch's ``CrossEntropyLoss``
    divides by the total weight, its ``BCEWithLogitsLoss`` (and torchvision's
    ``sigmoid_focal_loss``, and every Keras loss) by the number of elements;
    so ``"mean"`` of a binary loss (``binary=True``) is ``"mean_per_sample"``.
    ``"weighted_mean"`` asks for ``Σ w·l / Σ w`` whatever the loss.
    """
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(
            f"The 'reduction' parameter of {caller} must be one of "
            f"{', '.join(repr(r) for r in REDUCTIONS)}. Got {_got(reduction)} instead. "
            "'mean' is the framework's mean (the total weight divides multiclass losses, as in "
            "PyTorch's CrossEntropyLoss; the number of elements divides binary ones, as in "
            "BCEWithLogitsLoss); 'weighted_mean' always divides by the total weight, "
            "'mean_per_sample' by the number of non-ignored elements."
        )
    if reduction == "weighted_mean":
        return "mean"
    if reduction == "mean" and binary:
        return "mean_per_sample"
    return reduction


def check_float(
    value: Any,
    name: str,
    *,
    caller: str,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    hint: str = "",
) -> float:
    """A real, finite scalar inside an interval."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"The '{name}' parameter of {caller} must be a float. Got {_got(value)} instead."
        )
    value = float(value)
    ok = np.isfinite(value)
    if ok and low is not None:
        ok = value >= low if low_inclusive else value > low
    if ok and high is not None:
        ok = value <= high if high_inclusive else value < high
    if not ok:
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        shown = int(value) if np.isfinite(value) and value == int(value) else value
        raise ValueError(
            f"The '{name}' parameter of {caller} must be a float in the range "
            f"{left}{lo}, {hi}{right}. Got {shown} instead." + (f" {hint}" if hint else "")
        )
    return value


def check_alpha(alpha: Any, *, caller: str) -> float:
    """alpha of the ``alpha*y*log p + (1-alpha)*(1-y)*log(1-p)`` form (TRAPS 1 and 12)."""
    return check_float(
        alpha,
        "alpha",
        caller=caller,
        low=0.0,
        high=1.0,
        hint=(
            "alpha weights the positive class by alpha and the negative class by 1 - alpha, "
            "so alpha > 1 gives the negative class a negative weight and the loss rewards "
            "confident wrong answers. To up-weight positives by a ratio such as n_neg/n_pos, "
            "use pos_weight=<ratio> instead (e.g. pos_weight=9)."
        ),
    )


def as_float_array(x: Any, name: str, *, caller: str, min_ndim: int = 0) -> np.ndarray:
    """A finite floating-point array (float64 unless already floating)."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"The '{name}' parameter of {caller} must be array-like. {exc}") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(
            f"The '{name}' parameter of {caller} must be a numeric array. "
            f"Got dtype {arr.dtype} instead."
        )
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.ndim < min_ndim:
        raise ValueError(
            f"The '{name}' parameter of {caller} must have at least {min_ndim} dimension(s). "
            f"Got shape {arr.shape} instead."
        )
    if arr.size == 0:
        raise ValueError(
            f"The '{name}' parameter of {caller} is empty (shape {arr.shape}). "
            "Pass at least one sample."
        )
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"The '{name}' parameter of {caller} contains {bad} NaN or infinite value(s). "
            "Remove or impute them before computing the loss."
        )
    return arr


def check_class_weight(
    class_weight: Any, n_classes: int, *, caller: str, name: str = "class_weight"
) -> np.ndarray | None:
    """Per-class weights: 1-D, one per class, finite, non-negative, not all zero."""
    if class_weight is None:
        return None
    w = as_float_array(class_weight, name, caller=caller)
    if w.ndim != 1 or w.shape[0] != n_classes:
        raise ValueError(
            f"The '{name}' parameter of {caller} must be a 1-D array with one weight per "
            f"class ({n_classes}). Got shape {w.shape} instead."
        )
    if np.any(w < 0):
        raise ValueError(
            f"The '{name}' parameter of {caller} must be non-negative. "
            f"Got {w.tolist()} instead. A negative weight makes the loss reward wrong answers."
        )
    if not np.any(w > 0):
        raise ValueError(
            f"The '{name}' parameter of {caller} must not be all zero: every sample would "
            "get weight 0 and the loss would be undefined."
        )
    return w


def class_weight_from_mapping(
    mapping: Any, classes: Any = None, *, caller: str, name: str = "class_weight"
) -> list:
    """The values of a ``{class: weight}`` dict in the order of ``classes``.

    Every class needs an entry (Keras' ``fit(class_weight=...)`` would silently
    give a missing class weight 1); entries for classes not in ``classes`` are
    ignored, as a training fold may lack a class the dict names. Without
    ``classes`` the keys must be the class indices ``0..K-1``. The values are
    returned as given; :func:`check_class_weight` judges them.
    """
    if classes is None:
        keys = list(mapping)
        if not all(isinstance(k, numbers.Integral) and not isinstance(k, (bool, np.bool_))
                   for k in keys) or sorted(int(k) for k in keys) != list(range(len(keys))):
            raise ValueError(
                f"The '{name}' parameter of {caller} must be a dict with the class indices "
                f"0..K-1 as keys when the classes are not known. Got keys {keys[:10]} instead. "
                "Pass an array with one weight per class, or key the dict by class index."
            )
        return [mapping[k] for k in sorted(keys, key=int)]
    classes = list(classes)
    missing = [c for c in classes if c not in mapping]
    if missing:
        shown = [c.item() if isinstance(c, np.generic) else c for c in missing[:5]]
        raise ValueError(
            f"The '{name}' parameter of {caller} must have an entry for every class. Got no "
            f"entry for class(es) {shown} instead. Give each class a weight (1.0 for no change)."
        )
    return [mapping[c] for c in classes]


def check_sample_weight(sample_weight: Any, shape: tuple, *, caller: str) -> np.ndarray | None:
    """Per-element weights broadcastable to ``shape``, finite and non-negative."""
    if sample_weight is None:
        return None
    sw = as_float_array(sample_weight, "sample_weight", caller=caller)
    try:
        sw = np.broadcast_to(sw, shape)
    except ValueError:
        raise ValueError(
            f"The 'sample_weight' parameter of {caller} must broadcast to the per-element "
            f"shape {shape}. Got shape {sw.shape} instead."
        ) from None
    if np.any(sw < 0):
        raise ValueError(
            f"The 'sample_weight' parameter of {caller} must be non-negative."
        )
    return sw


def check_positive_int(value: Any, name: str, *, caller: str, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"The '{name}' parameter of {caller} must be an int. Got {_got(value)} instead."
        )
    if value < minimum:
        raise ValueError(
            f"The '{name}' parameter of {caller} must be an int >= {minimum}. Got {value} instead."
        )
    return int(value)


def check_ignore_index(value: Any, *, caller: str) -> int | None:
    """A class-index value to skip (None, or an int such as -100 or 255)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"The 'ignore_index' parameter of {caller} must be an int (a class-index value such "
            f"as -100 or 255) or None. Got {_got(value)} instead."
        )
    return int(value)


def check_one_of(value: Any, name: str, options: tuple, *, caller: str) -> Any:
    if value not in options:
        raise ValueError(
            f"The '{name}' parameter of {caller} must be one of "
            f"{', '.join(repr(o) for o in options)}. Got {_got(value)} instead."
        )
    return value


def check_exclusive(caller: str, **named: Any) -> None:
    given = [k for k, v in named.items() if v is not None]
    if len(given) > 1:
        raise ValueError(
            f"{caller} takes at most one of {', '.join(repr(k) for k in named)}; "
            f"got {', '.join(repr(k) for k in given)}. They are different parameterisations "
            "of the same class weighting; pick one."
        )


def check_cost_matrix(cost_matrix: Any, n_classes: int | None, *, caller: str) -> np.ndarray:
    c = as_float_array(cost_matrix, "cost_matrix", caller=caller)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(
            f"The 'cost_matrix' parameter of {caller} must be a square (K, K) matrix where "
            f"entry [i, j] is the cost of predicting j when the truth is i. Got shape {c.shape} instead."
        )
    if n_classes is not None and c.shape[0] != n_classes:
        raise ValueError(
            f"The 'cost_matrix' parameter of {caller} must be ({n_classes}, {n_classes}) to "
            f"match the number of classes. Got shape {c.shape} instead."
        )
    if np.any(c < 0):
        raise ValueError(f"The 'cost_matrix' parameter of {caller} must be non-negative.")
    off = c[~np.eye(c.shape[0], dtype=bool)]
    if not np.any(off > 0):
        raise ValueError(
            f"The 'cost_matrix' parameter of {caller} has no positive off-diagonal entry: "
            "no mistake costs anything, so no weighting can be derived."
        )
    return c


# ---------------------------------------------------------------------------
# targets: one shape rule and one message for every backend
# ---------------------------------------------------------------------------

#: Probability targets must sum to 1 over the class axis within this tolerance.
ROW_SUM_TOLERANCE = 1e-3


def multiclass_target_kind(
    scores_shape: tuple, target_shape: tuple, *, caller: str, name: str = "logits",
    ignore_index: Any = None, class_axis: int = 1,
) -> str:
    """``"index"`` or ``"probability"`` from the shapes, or a ValueError naming both shapes.

    ``class_axis`` is 1 for PyTorch's layout ``(N, C, d1, ...)`` and -1 for Keras'
    ``(N, ..., C)``. Index targets are the scores' shape without the class axis;
    probability targets have the scores' shape.
    """
    scores_shape, target_shape = tuple(scores_shape), tuple(target_shape)
    layout = "(N, C) or (N, C, d1, ...)" if class_axis == 1 else "(N, ..., C)"
    if len(scores_shape) < (2 if class_axis == 1 else 1):
        raise ValueError(
            f"The '{name}' parameter of {caller} must have shape {layout}. Got shape "
            f"{scores_shape} instead. For a single binary output use binary_cross_entropy."
        )
    axis = class_axis % len(scores_shape)
    expected = scores_shape[:axis] + scores_shape[axis + 1:]
    if target_shape == scores_shape:
        if ignore_index is not None:
            raise ValueError(
                f"The 'ignore_index' parameter of {caller} applies to class-index targets only; "
                "with probability targets, give ignored elements sample_weight=0 instead."
            )
        return "probability"
    if target_shape == expected:
        return "index"
    raise ValueError(
        f"Targets of {caller} must be class indices of shape {expected} or probabilities of "
        f"shape {scores_shape} (like '{name}'). Got shape {target_shape} instead."
    )


def raise_bad_class_indices(bad_values: Any, n_classes: int, *, caller: str,
                            ignore_index: Any = None) -> None:
    """The one message for class indices outside ``[0, C - 1]``."""
    shown = np.unique(np.asarray(bad_values))[:5].tolist()
    hint = "" if ignore_index is None else f" (ignore_index={ignore_index} is exempt)"
    raise ValueError(
        f"Targets of {caller} must be class indices in [0, {n_classes - 1}]{hint}. "
        f"Got {shown} instead."
    )


def check_probability_rows(low: float, row_sum_min: float, row_sum_max: float, *,
                           caller: str, tolerance: float = ROW_SUM_TOLERANCE) -> None:
    """Probability targets: non-negative, each row summing to 1 (within ``tolerance``).

    Rows that do not sum to 1 are refused rather than given a meaning: the weighted
    mean divides by ``Σ_c w_c q_c``, so a row summing to 3 and one summing to 0.5
    would give the same ``"mean"`` while ``"sum"`` differs threefold. The tolerance
    is ROW_SUM_TOLERANCE, or the targets' own rounding for half precision.
    """
    if not low >= 0:
        raise ValueError(
            f"Soft targets of {caller} must be non-negative probabilities. Got a minimum of "
            f"{low:g} instead."
        )
    if not (abs(row_sum_min - 1.0) <= tolerance and abs(row_sum_max - 1.0) <= tolerance):
        raise ValueError(
            f"Soft targets of {caller} must be probabilities that sum to 1 over the class axis "
            f"(within {tolerance:g}). Got row sums in [{row_sum_min:g}, {row_sum_max:g}] "
            "instead. Normalise them (targets / targets.sum(axis=class_axis, keepdims=True)); "
            "to leave an element out, give it sample_weight=0."
        )


def check_finite_nonnegative(low: float, finite: bool, name: str, *, caller: str) -> None:
    """A weight given as a tensor, checked from its minimum and whether all values are finite."""
    if not finite:
        raise ValueError(
            f"The '{name}' parameter of {caller} contains NaN or infinite values. "
            "Remove or impute them before computing the loss."
        )
    if low < 0:
        raise ValueError(f"The '{name}' parameter of {caller} must be non-negative. "
                         f"Got a minimum of {low:g} instead.")


def check_binary_targets(low: float, high: float, *, caller: str) -> None:
    """Binary targets (non-ignored ones) lie in [0, 1]: labels 0/1 or probabilities."""
    if not (low >= 0 and high <= 1):
        raise ValueError(
            f"The targets of {caller} must lie in [0, 1] (labels 0/1 or probabilities). "
            f"Got values in [{low:g}, {high:g}] instead."
        )


def check_probability_inputs(low: float, high: float, *, caller: str,
                             row_sums: tuple[float, float] | None = None) -> None:
    """Scores given with ``from_logits=False`` must be probabilities.

    ``row_sums`` = (smallest, largest) sum over the class axis, for multiclass scores.
    """
    in_range = low >= 0 and high <= 1
    if row_sums is None:
        if not in_range:
            raise ValueError(
                f"{caller} was given from_logits=False, but 'probs' lie outside [0, 1]. "
                "If these are raw scores, pass from_logits=True."
            )
        return
    if not (in_range and abs(row_sums[0] - 1.0) <= 1e-4 and abs(row_sums[1] - 1.0) <= 1e-4):
        raise ValueError(
            f"{caller} was given from_logits=False, but 'probs' are not probabilities "
            "(each row must lie in [0, 1] and sum to 1 over the class axis). "
            "If these are raw scores, pass from_logits=True."
        )
