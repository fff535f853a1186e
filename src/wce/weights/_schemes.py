"""Class-weight schemes and normalisations, and the one resolver of a class weight."""

from __future__ import annotations

from typing import Any, Mapping, Sequence, get_args

import numpy as np

from .. import _validation as V
from .._types import (ClassWeightOptions, MedianDefinition, Normalization, Scheme, Unpack,
                      ZeroCountPolicy)
from ._counts import ClassCounts
from ._labels import to_numpy

# The runtime lists are the Literal types' values: one list, for checks and for editors.
SCHEMES = get_args(Scheme)
"""The ``scheme=`` names of :func:`class_weights`: ``"balanced"``, ``"inverse"``,
``"inverse_sqrt"``, ``"effective_number"``, ``"median_frequency"``, ``"manual"``,
``"cost_matrix"``."""
NORMALIZATIONS = get_args(Normalization)
"""The ``normalize=`` names of :func:`class_weights`: ``"none"``, ``"sum_to_one"``,
``"sum_to_k"``, ``"mean_one"``."""
ZERO_COUNT_POLICIES = get_args(ZeroCountPolicy)
#: The schemes computed from class counts, which a class weight may name.
COUNT_SCHEMES = ("balanced", "inverse", "inverse_sqrt", "effective_number", "median_frequency")
"""The schemes computed from class counts alone, which a ``class_weight=`` argument may name."""
CALLER = "class_weights"


def effective_number_weights(counts: np.ndarray, beta: float, *, caller: str = CALLER) -> np.ndarray:
    """``(1 - beta) / (1 - beta ** n_c)`` (Cui et al. 2019); refuses zero counts (TRAPS 4).

    Example:
      >>> import numpy as np
      >>> from wce.weights import effective_number_weights
      >>> np.round(effective_number_weights(np.array([100, 10]), 0.99), 4).tolist()
      [0.0158, 0.1046]
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or np.any(counts < 0):
        raise ValueError(f"Class counts for {caller} must be a 1-D array of non-negative numbers.")
    if np.any(counts == 0):
        raise ValueError(
            f"{caller}: class(es) at position(s) {np.nonzero(counts == 0)[0].tolist()} have zero "
            "samples, so their effective number is 0 and the weight (1 - beta)/(1 - beta**0) is "
            "a division by zero. Pass zero_count='zero' or 'max' to class_weights, or drop the class."
        )
    if beta == 0:
        return np.ones_like(counts)
    # -expm1(n log beta) = 1 - beta**n, accurate for beta close to 1.
    return (1.0 - beta) / -np.expm1(counts * np.log(beta))


def _as_counts(counts_or_labels: Any, classes: Sequence | None) -> ClassCounts:
    if isinstance(counts_or_labels, Mapping):  # {class: count}
        counts_or_labels = _from_mapping(counts_or_labels)
    if isinstance(counts_or_labels, ClassCounts):
        # ClassCounts checks its counts when built; they may have been edited since
        ClassCounts(counts_or_labels.classes, counts_or_labels.counts)
        if classes is not None:
            extra = [c for c in counts_or_labels.classes if c not in classes]
            if extra:
                raise ValueError(
                    f"{CALLER}: the counts hold classes {extra} that are not in 'classes'."
                )
            # merge keeps the left operand's class order: declared classes first.
            return ClassCounts(tuple(classes), kind=counts_or_labels.kind).merge(counts_or_labels)
        return counts_or_labels
    labels = to_numpy(counts_or_labels)  # refuses mixed-type lists NumPy would coerce
    if labels.size == 0:
        raise ValueError(f"{CALLER} was given no labels (empty input): there is nothing to weight.")
    return ClassCounts.from_labels(labels, classes=classes)


def _from_mapping(mapping: Mapping) -> ClassCounts:
    values = np.asarray(list(mapping.values()))
    if values.size == 0 or not np.issubdtype(values.dtype, np.integer) or np.any(values < 0):
        raise ValueError(
            f"{CALLER}: a mapping must give a non-negative integer count per class, e.g. "
            f"{{0: 90, 1: 10}}. Got {dict(list(mapping.items())[:5])!r}."
        )
    return ClassCounts(tuple(mapping), values, int(values.sum()))


def _median_frequency(counts: ClassCounts, present: np.ndarray, definition: str) -> np.ndarray:
    if definition == "auto":
        definition = "image" if counts.kind == "mask" else "global"
    if definition == "image":
        if counts.pixels_in_present is None:
            raise ValueError(
                f"{CALLER}: median_definition='image' needs counts from segmentation masks "
                "(ClassCounts.from_labels(masks, kind='mask'))."
            )
        freq = counts.counts / np.maximum(counts.pixels_in_present, 1)
    else:
        freq = counts.frequencies
    weights = np.zeros(len(freq))
    weights[present] = np.median(freq[present]) / freq[present]
    return weights


def class_weights(
    counts_or_labels: Any,
    *,
    scheme: Scheme = "balanced",
    normalize: Normalization = "none",
    classes: Sequence | None = None,
    beta: float = 0.999,
    manual: Any = None,
    cost_matrix: Any = None,
    median_definition: MedianDefinition = "auto",
    zero_count: ZeroCountPolicy = "error",
) -> np.ndarray:
    r"""Per-class weights, in the class order of the counts (or of ``classes``).

    ``counts_or_labels`` is a :class:`ClassCounts`, a ``{class: count}`` mapping,
    or the labels themselves (anything :meth:`ClassCounts.from_labels` takes).

    Schemes, with ``n_c`` the count of class c, ``N = Σ n_c`` and ``K`` classes:

    ==================== ======================================================
    ``scheme=``          weight of class c
    ==================== ======================================================
    ``balanced``         ``N / (K n_c)``, identical to scikit-learn's
                         ``compute_class_weight('balanced')``; already has
                         sample-weighted mean 1, so ``sum`` and ``mean``
                         reductions keep their scale.
    ``inverse``          ``1 / n_c``
    ``inverse_sqrt``     ``1 / sqrt(n_c)``
    ``effective_number`` ``(1 - β) / (1 - β^{n_c})`` (Cui et al. 2019, who
                         normalise with ``sum_to_k``)
    ``median_frequency`` ``median(f) / f_c``; with masks (``kind="mask"``)
                         ``f_c`` = pixels of c / pixels of the images that
                         contain c (Eigen & Fergus 2015); otherwise the global
                         frequency ``n_c / N`` (``median_definition``)
    ``manual``           the given ``manual`` weights (array or dict by class)
    ``cost_matrix``      ``w_i = Σ_{j≠i} M[i, j]``, the total cost of
                         misclassifying class i. For two classes this gives
                         ``w_1 / w_0 = M[1,0] / M[0,1]``, Elkan's (2001)
                         optimal rescaling ratio.
    ==================== ======================================================

    Normalisations (TRAPS 3: the weighted *mean* ignores scale, the weighted
    *sum* and the learning rate do not):

    ================= ===================================================
    ``normalize=``    result
    ================= ===================================================
    ``none``          as computed
    ``sum_to_one``    ``Σ w_c = 1``
    ``sum_to_k``      ``Σ w_c = K`` (mean over classes 1)
    ``mean_one``      ``Σ_c n_c w_c / N = 1``: the average weight *per
                      sample* is 1, so a ``sum`` or ``mean_per_sample``
                      reduction keeps the unweighted loss scale.
    ================= ===================================================

    A class with zero count raises (TRAPS 4) unless ``zero_count`` is
    ``"zero"`` (weight 0) or ``"max"`` (the largest weight of the present
    classes, e.g. for a class expected at test time).

    Example:
      >>> from wce.weights import class_weights
      >>> class_weights([0, 0, 0, 1]).tolist()
      [0.6666666666666666, 2.0]
      >>> class_weights([0, 0, 0, 1], scheme="inverse", normalize="sum_to_one").tolist()
      [0.25, 0.75]
    """
    V.check_one_of(scheme, "scheme", SCHEMES, caller=CALLER)
    V.check_one_of(normalize, "normalize", NORMALIZATIONS, caller=CALLER)
    V.check_one_of(zero_count, "zero_count", ZERO_COUNT_POLICIES, caller=CALLER)
    V.check_one_of(median_definition, "median_definition", ("auto", "image", "global"), caller=CALLER)
    counts = _as_counts(counts_or_labels, classes)
    if counts.n_classes == 0 or counts.total == 0:
        raise ValueError(f"{CALLER} was given no labels (empty input): there is nothing to weight.")
    n = counts.counts.astype(np.float64)
    K = len(n)
    present = n > 0
    needs_counts = scheme not in ("manual", "cost_matrix")
    if needs_counts and not present.all() and zero_count == "error":
        absent = [c for c, p in zip(counts.classes, present) if not p]
        raise ValueError(
            f"{CALLER}: class(es) {absent} have zero count, so scheme {scheme!r} would divide by "
            "zero (TRAPS 4). Pass zero_count='zero' to give them weight 0, zero_count='max' to "
            "give them the largest weight, or leave them out of 'classes'."
        )

    with np.errstate(divide="ignore"):
        if scheme == "balanced":
            w = np.where(present, n.sum() / (K * n), 0.0)
        elif scheme == "inverse":
            w = np.where(present, 1.0 / n, 0.0)
        elif scheme == "inverse_sqrt":
            w = np.where(present, 1.0 / np.sqrt(n), 0.0)
        elif scheme == "effective_number":
            beta = V.check_float(beta, "beta", caller=CALLER, low=0.0, high=1.0, high_inclusive=False)
            w = np.zeros(K)
            w[present] = effective_number_weights(n[present], beta)
        elif scheme == "median_frequency":
            w = _median_frequency(counts, present, median_definition)
        elif scheme == "manual":
            w = _manual(manual, counts)
        else:
            if cost_matrix is None:
                raise ValueError(f"{CALLER}: scheme='cost_matrix' needs the cost_matrix parameter.")
            M = V.check_cost_matrix(cost_matrix, K, caller=CALLER)
            w = (M * (1.0 - np.eye(K))).sum(axis=1)
    if needs_counts and zero_count == "max" and not present.all():
        w = np.where(present, w, w[present].max())
    return _normalise(w, n, normalize)


def _manual(manual: Any, counts: ClassCounts) -> np.ndarray:
    if manual is None:
        raise ValueError(f"{CALLER}: scheme='manual' needs the 'manual' parameter (weights).")
    return resolve_class_weight(manual, classes=counts.classes, counts=counts, caller=CALLER,
                                name="manual")


def _normalise(w: np.ndarray, n: np.ndarray, normalize: str) -> np.ndarray:
    if normalize == "none":
        return w
    if normalize == "mean_one":
        scale = (n * w).sum() / n.sum()
    elif normalize == "sum_to_one":
        scale = w.sum()
    else:
        scale = w.sum() / len(w)
    if scale <= 0:
        raise ValueError(f"{CALLER}: the weights are all zero on the data, so normalize={normalize!r} is undefined.")
    return w / scale


def class_weight_dict(counts_or_labels: Any, **kwargs: Unpack[ClassWeightOptions]) -> dict:
    """:func:`class_weights` as ``{class: weight}``, for ``class_weight=`` in scikit-learn or Keras.

    Example:
      >>> from wce.weights import class_weight_dict
      >>> class_weight_dict(["a", "a", "a", "b"])
      {'a': 0.6666666666666666, 'b': 2.0}
    """
    counts = _as_counts(counts_or_labels, kwargs.get("classes"))
    weights = class_weights(counts, **{k: v for k, v in kwargs.items() if k != "classes"})
    return {c: float(w) for c, w in zip(counts.classes, weights)}


def pos_weight(labels_or_counts: Any, *, positive: Any = 1) -> float | np.ndarray:
    """``n_neg / n_pos``: the ``pos_weight`` that balances a binary problem.

    Binary labels give a float; k-hot multi-label rows ``(N, L)`` (or their
    ClassCounts) give one ratio per label. A class with no positives raises.

    Example:
      >>> from wce.weights import pos_weight
      >>> pos_weight([0, 0, 0, 0, 1])
      4.0
    """
    if isinstance(labels_or_counts, Mapping):  # {label: count}
        labels_or_counts = _from_mapping(labels_or_counts)
    if isinstance(labels_or_counts, ClassCounts):
        counts = labels_or_counts
    else:
        arr = to_numpy(labels_or_counts)
        if arr.size == 0:
            raise ValueError("pos_weight was given no labels (empty input).")
        kind = "multilabel" if arr.ndim == 2 and arr.shape[1] > 1 else "multiclass"
        counts = ClassCounts.from_labels(arr, kind=kind)
    if counts.kind == "multilabel":
        n_pos = counts.counts.astype(np.float64)
        if np.any(n_pos == 0):
            raise ValueError(
                f"pos_weight: label(s) {np.nonzero(n_pos == 0)[0].tolist()} have no positive "
                "example, so n_neg / n_pos divides by zero."
            )
        return (counts.n_rows - n_pos) / n_pos
    d = counts.as_dict()
    if len(d) > 2:
        raise ValueError(
            f"pos_weight is for binary labels; got {len(d)} classes {list(d)[:5]}. Use "
            "class_weights for multiclass problems."
        )
    if positive not in d or d[positive] == 0:
        raise ValueError(
            f"pos_weight: no positive example (label {positive!r}) among classes {list(d)}; "
            "pass positive=<label> if the positive class has another name."
        )
    n_pos = d[positive]
    return float((counts.total - n_pos) / n_pos)


def resolve_class_weight(
    class_weight: Any,
    *,
    classes: Sequence | None = None,
    n_classes: int | None = None,
    y: Any = None,
    counts: Any = None,
    caller: str = "resolve_class_weight",
    name: str = "class_weight",
    **scheme_options: Any,
) -> np.ndarray | None:
    r"""A class weight given as a dict, an array or a scheme name, as one weight per class.

    ``class_weight`` may be:

    * ``None``: returned as ``None`` (no weighting);
    * a ``{class: weight}`` dict: ordered by ``classes``; every class needs an
      entry, entries for other classes are ignored. Without ``classes`` its
      keys must be the class indices ``0..K-1`` (``n_classes`` of them when given);
    * a list or array with one weight per class, in the order of ``classes``
      (or of the class indices ``0..n_classes-1``);
    * a scheme of :func:`class_weights` computed from class counts
      (:data:`COUNT_SCHEMES`: ``"balanced"``, ``"inverse"``, ...), from the
      labels ``y`` or the ``counts`` (a :class:`ClassCounts`, a
      ``{class: count}`` dict, or an array of counts in the order of
      ``classes``). ``scheme_options`` (``beta``, ``normalize``,
      ``zero_count``, ``median_definition``) go to :func:`class_weights`.

    The result is finite, non-negative and not all zero. ``caller`` and
    ``name`` name the function and the parameter in error messages, which
    follow scikit-learn's form: ``The 'class_weight' parameter of caller must
    be ... Got ... instead.``

    Args:
      class_weight: the weights, as above.
      classes: the class labels, in the order of the result.
      n_classes: the number of classes K (class indices ``0..K-1``) when
        ``classes`` is not given.
      y: the training labels, for a scheme.
      counts: the class counts, for a scheme (instead of ``y``).
      caller, name: how messages name the function and the parameter.

    Returns:
      A float64 array of shape ``(K,)``, or ``None``.

    Example:
      >>> from wce.weights import resolve_class_weight
      >>> resolve_class_weight({"cat": 1.0, "dog": 3.0}, classes=["dog", "cat"]).tolist()
      [3.0, 1.0]
      >>> resolve_class_weight("balanced", y=["cat", "cat", "cat", "dog"]).tolist()
      [0.6666666666666666, 2.0]
      >>> resolve_class_weight([1, 4], n_classes=2).tolist()
      [1.0, 4.0]
    """
    if class_weight is None:
        return None
    if n_classes is not None:
        n_classes = V.check_positive_int(n_classes, "n_classes", caller=caller)
        if classes is None:
            classes = range(n_classes)
        elif len(classes) != n_classes:
            raise ValueError(
                f"{caller} was given {len(classes)} classes and n_classes={n_classes}; pass one "
                "of them, or make them agree."
            )
    if isinstance(class_weight, str):
        return _scheme_weights(class_weight, classes, y, counts, caller, name, scheme_options)
    if scheme_options:
        raise TypeError(
            f"{caller} got the scheme option(s) {sorted(scheme_options)} with explicit class "
            f"weights; they apply only when '{name}' names a scheme such as 'balanced'."
        )
    if isinstance(class_weight, Mapping):
        class_weight = V.class_weight_from_mapping(class_weight, classes, caller=caller, name=name)
    if classes is not None:
        k = len(classes)
    elif np.ndim(class_weight) == 1 and np.shape(class_weight)[0] > 0:
        k = np.shape(class_weight)[0]
    else:
        raise ValueError(
            f"The '{name}' parameter of {caller} must be a 1-D array with one weight per class. "
            f"Got shape {np.shape(class_weight)} instead."
        )
    return V.check_class_weight(class_weight, k, caller=caller, name=name).astype(np.float64)


def _scheme_weights(scheme: str, classes: Sequence | None, y: Any, counts: Any, caller: str,
                    name: str, options: dict) -> np.ndarray:
    if scheme not in COUNT_SCHEMES:
        raise ValueError(
            f"The '{name}' parameter of {caller} must be None, a dict {{class: weight}}, an array "
            f"with one weight per class or one of {', '.join(repr(s) for s in COUNT_SCHEMES)}. "
            f"Got {scheme!r} instead."
        )
    if (y is None) == (counts is None):
        raise ValueError(
            f"The '{name}' parameter of {caller} is the scheme {scheme!r}, which is computed from "
            f"the class counts, and {'none were' if y is None else 'both y and counts were'} "
            "given. Compute the weights first with "
            f"wce.weights.class_weights(y, scheme={scheme!r}), or pass either y or counts."
        )
    if counts is not None and not isinstance(counts, (ClassCounts, Mapping)):
        # an array of counts in the order of ``classes`` (or of the class indices)
        counts = np.asarray(counts)
        labels = tuple(range(counts.size)) if classes is None else tuple(classes)
        if counts.shape != (len(labels),):
            raise ValueError(
                f"The 'counts' parameter of {caller} must hold one count per class "
                f"({len(labels)}). Got shape {counts.shape} instead."
            )
        return class_weights(ClassCounts(labels, counts), scheme=scheme, **options)
    source = y if counts is None else counts
    return class_weights(source, scheme=scheme, classes=None if classes is None else list(classes),
                         **options)
