"""Weighted cross-entropy losses for JAX, as pure functions in optax's style.

Every function has the name, arguments and meaning of its NumPy reference in
:mod:`wce.losses` (class axis 1, ``(N, C, d1, ..., dk)`` scores; class-index or
probability targets; the same four reductions) and is safe under ``jax.jit``,
``jax.grad`` and ``jax.vmap``: only shapes and hyper-parameters steer Python
control flow. Hyper-parameters (``class_weight``, ``alpha``, ``gamma``,
``label_smoothing``, ...) are validated whenever they are concrete, including
inside ``jit`` when they are closed over; a hyper-parameter passed as a traced
argument is used as given. The *values* of the data cannot be inspected under
``jit``; pass ``check=True`` (outside ``jit``) to have the NumPy reference
validate them too (class indices in range, probabilities in [0, 1], ...).

Computation is in float32 (float64 when the scores are float64 and x64 is
enabled); the result is returned in the dtype of the scores (TRAPS 11).

Example:
  >>> import jax, jax.numpy as jnp
  >>> from wce import jax as wjax
  >>> logits = jnp.array([[2.0, 0.5], [0.1, 1.0], [1.5, -1.0]])
  >>> targets = jnp.array([0, 1, 1])
  >>> loss = jax.jit(lambda z: wjax.weighted_cross_entropy(z, targets, class_weight=[1.0, 3.0]))
  >>> round(float(loss(logits)), 4)
  1.2802
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _array as A
from . import _validation as V
from . import losses as reference
from ._optional import require
from ._types import LossType, Reduction

jax = require("jax")
jnp = require("jax.numpy")


class _Ops:
    """``jax.numpy`` under the names of ``keras.ops`` used by :mod:`wce._array`."""

    log_softmax = staticmethod(jax.nn.log_softmax)
    logsumexp = staticmethod(jax.nn.logsumexp)
    softplus = staticmethod(jax.nn.softplus)
    convert_to_tensor = staticmethod(jnp.asarray)
    convert_to_numpy = staticmethod(np.asarray)

    @staticmethod
    def cast(x, dtype):
        return jnp.asarray(x).astype(dtype)

    @staticmethod
    def dtype_name(x) -> str:
        return jnp.asarray(x).dtype.name

    @staticmethod
    def is_tracer(x) -> bool:
        return isinstance(x, jax.core.Tracer)

    def __getattr__(self, name):
        return getattr(jnp, name)


OPS = _Ops()


def _check_with_reference(name: str, args: tuple, options: dict) -> None:
    """The ``check=True`` path: let the NumPy reference validate the concrete data."""
    if any(isinstance(a, jax.core.Tracer) for a in (*args, *options.values())):
        raise ValueError(
            f"{name}(check=True) validates the values of concrete arrays and cannot run inside "
            "jax.jit, grad or vmap. Call it once outside the transformation, or pass check=False."
        )
    getattr(reference, name).terms(*(np.asarray(a) for a in args), **options)


def _scores(x, name: str, caller: str):
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"The '{name}' parameter of {caller} must be a floating-point array. "
                        f"Got dtype {x.dtype} instead.")
    return x


def _elements(name: str, logits, targets, check: bool, options: dict) -> A.Elements:
    if check:
        _check_with_reference(name, (logits, targets), options)
    z = _scores(logits, "logits", name)
    z_compute = z.astype(A.compute_dtype(OPS, z))
    if name in A.BINARY:
        return A.BINARY[name](OPS, z_compute, jnp.asarray(targets), **options)
    # The class axis moves last, where the shared math expects it (probability targets' too);
    # 'none' keeps (N, d1, ...).
    moved, targets = A.class_last(OPS, z_compute, jnp.asarray(targets), caller=name,
                                  ignore_index=options.get("ignore_index"))
    return A.MULTICLASS[name](OPS, moved, targets, **options)


def _loss(name: str, logits, targets, reduction: str, check: bool, options: dict):
    reduction = V.check_reduction(reduction, caller=name, binary=name in A.BINARY)
    elements = _elements(name, logits, targets, check, options)
    return A.reduce(OPS, elements, reduction).astype(jnp.asarray(logits).dtype)


def numerator_denominator(loss, logits: Any, targets: Any, *, reduction: Reduction = "mean",
                          check: bool = False, **options: Any):
    """``(Σ w·l, denominator)`` of a :mod:`wce.jax` loss, for a global weighted mean (TRAPS 9).

    Averaging per-device or per-micro-batch means is not the mean of the whole
    batch. Sum the two parts across devices (``jax.lax.psum``) or micro-batches
    and divide once; a zero denominator means a loss of 0.

    Example:
      >>> import jax.numpy as jnp
      >>> from wce import jax as wjax
      >>> num, den = wjax.numerator_denominator(wjax.weighted_cross_entropy, jnp.zeros((2, 2)),
      ...                                       jnp.array([0, 1]), class_weight=[1.0, 3.0])
      >>> float(den)
      4.0
    """
    name = getattr(loss, "__name__", None)
    if name not in A.MULTICLASS and name not in A.BINARY or globals().get(name) is not loss:
        raise TypeError(f"numerator_denominator expects one of the wce.jax losses. Got {loss!r}.")
    reduction = V.check_reduction(reduction, caller=name, binary=name in A.BINARY)
    return A.numerator_denominator(OPS, _elements(name, logits, targets, check, options), reduction)


def weighted_cross_entropy(
    logits: Any,
    targets: Any,
    *,
    class_weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    from_logits: bool = True,
    reduction: Reduction = "mean",
    check: bool = False,
):
    r"""Weighted multiclass cross-entropy (JAX).

    .. math::

        \ell_i = -\,s_i \sum_c w_c\, q'_{ic} \log p_{ic},\qquad
        \text{weight}_i = s_i \sum_c w_c\, q_{ic}

    ``p = softmax(logits)`` over axis 1, ``q'`` the label-smoothed target;
    an element's weight comes from its unsmoothed target. See
    :func:`wce.losses.weighted_cross_entropy` for every option.

    Args:
      logits: ``(N, C)`` or ``(N, C, d1, ..., dk)``.
      targets: integer class indices ``(N, d1, ..., dk)`` or probabilities like ``logits``.
      reduction: ``"none"``, ``"sum"``, ``"mean"`` (Σ w·l / Σ w) or ``"mean_per_sample"``
        (Σ w·l / n).
      check: validate the data's values with the NumPy reference (outside ``jit`` only).

    Example:
      >>> import jax.numpy as jnp
      >>> from wce.jax import weighted_cross_entropy
      >>> z = jnp.array([[2.0, 0.5], [0.1, 1.0], [1.5, -1.0]])
      >>> round(float(weighted_cross_entropy(z, jnp.array([0, 1, 1]), class_weight=[1.0, 3.0])), 4)
      1.2802

    References:
      King & Zeng 2001; ``optax.losses.softmax_cross_entropy_with_integer_labels``.
    """
    return _loss("weighted_cross_entropy", logits, targets, reduction, check, dict(
        class_weight=class_weight, ignore_index=ignore_index, label_smoothing=label_smoothing,
        sample_weight=sample_weight, from_logits=from_logits))


def binary_cross_entropy(
    logits: Any,
    targets: Any,
    *,
    class_weight: Any = None,
    alpha: float | None = None,
    pos_weight: Any = None,
    sample_weight: Any = None,
    ignore_index: float | None = None,
    label_smoothing: float = 0.0,
    from_logits: bool = True,
    reduction: Reduction = "mean",
    check: bool = False,
):
    r"""Weighted binary cross-entropy (JAX), in the ``class_weight``, ``alpha`` or ``pos_weight`` form.

    .. math::

        \ell_i = -\,s_i\,[\,w_+\, y'_i \log p_i + w_-\,(1 - y'_i) \log(1 - p_i)\,]

    computed from logits with softplus. ``alpha`` must lie in [0, 1]
    (TRAPS 1); ``pos_weight=n_neg/n_pos`` is the form that balances. See
    :func:`wce.losses.binary_cross_entropy`.

    Args:
      logits: any shape ``S``; targets: same shape, values in [0, 1].

    Example:
      >>> import jax.numpy as jnp
      >>> from wce.jax import binary_cross_entropy
      >>> p = jnp.array([0.8, 0.2, 0.6, 0.9, 0.95]); y = jnp.array([1, 0, 1, 0, 1])
      >>> round(float(binary_cross_entropy(p, y, pos_weight=9, from_logits=False,
      ...                                  reduction="mean_per_sample")), 4)
      1.9186

    References:
      ``optax.losses.sigmoid_binary_cross_entropy``; TensorFlow
      ``weighted_cross_entropy_with_logits``.
    """
    return _loss("binary_cross_entropy", logits, targets, reduction, check, dict(
        class_weight=class_weight, alpha=alpha, pos_weight=pos_weight, sample_weight=sample_weight,
        ignore_index=ignore_index, label_smoothing=label_smoothing, from_logits=from_logits))


def focal_loss(
    logits: Any,
    targets: Any,
    *,
    gamma: float = 2.0,
    alpha: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    reduction: Reduction = "mean",
    check: bool = False,
):
    r"""Multiclass (softmax) focal loss (JAX).

    .. math::

        \ell_i = -\,s_i \sum_c \alpha_c\, q'_{ic}\,(1 - p_{ic})^{\gamma} \log p_{ic}

    ``alpha`` is a per-class vector (a scalar is refused, TRAPS 12); ``1 - p``
    is computed in log space so confident logits stay finite. See
    :func:`wce.losses.focal_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from wce.jax import focal_loss
      >>> round(float(focal_loss(jnp.array([[2.0, 0.0, -1.0]]), jnp.array([0]))), 5)
      0.00414

    References:
      Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017.
    """
    return _loss("focal_loss", logits, targets, reduction, check, dict(
        gamma=gamma, alpha=alpha, ignore_index=ignore_index, label_smoothing=label_smoothing,
        sample_weight=sample_weight))


def binary_focal_loss(
    logits: Any,
    targets: Any,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    class_weight: Any = None,
    pos_weight: Any = None,
    sample_weight: Any = None,
    ignore_index: float | None = None,
    reduction: Reduction = "mean",
    check: bool = False,
):
    r"""Binary (sigmoid) focal loss (JAX), torchvision's formula.

    .. math::

        \ell_i = s_i\,w_{t,i}\,(1 - p_{t,i})^{\gamma}\,\mathrm{BCE}(z_i, y_i)

    ``alpha`` in [0, 1] gives ``w_+ = alpha, w_- = 1 - alpha`` (TRAPS 12). See
    :func:`wce.losses.binary_focal_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from wce.jax import binary_focal_loss
      >>> round(float(binary_focal_loss(jnp.array([2.0, -1.0]), jnp.array([1, 1]), alpha=0.25)), 5)
      0.08796

    References:
      Lin et al., ICCV 2017; ``optax.losses.sigmoid_focal_loss``.
    """
    return _loss("binary_focal_loss", logits, targets, reduction, check, dict(
        gamma=gamma, alpha=alpha, class_weight=class_weight, pos_weight=pos_weight,
        sample_weight=sample_weight, ignore_index=ignore_index))


def class_balanced_loss(
    logits: Any,
    targets: Any,
    *,
    samples_per_class: Any,
    beta: float = 0.9999,
    loss_type: LossType = "softmax",
    gamma: float = 2.0,
    ignore_index: int | None = None,
    sample_weight: Any = None,
    reduction: Reduction = "mean",
    check: bool = False,
):
    r"""Class-balanced loss (JAX): weights ``(1 - β) / (1 - β^{n_c})`` normalised to sum to C.

    Then weighted CE (``loss_type="softmax"``) or focal loss (``"focal"``). See
    :func:`wce.losses.class_balanced_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from wce.jax import class_balanced_loss
      >>> round(float(class_balanced_loss(jnp.array([[1.0, 0.0]]), jnp.array([1]),
      ...                                 samples_per_class=[90, 10], beta=0.99)), 4)
      1.3133

    References:
      Cui et al., "Class-Balanced Loss Based on Effective Number of Samples", CVPR 2019.
    """
    return _loss("class_balanced_loss", logits, targets, reduction, check, dict(
        samples_per_class=samples_per_class, beta=beta, loss_type=loss_type, gamma=gamma,
        ignore_index=ignore_index, sample_weight=sample_weight))


def cost_sensitive_cross_entropy(
    logits: Any,
    targets: Any,
    *,
    cost_matrix: Any,
    class_weight: Any = None,
    ignore_index: int | None = None,
    sample_weight: Any = None,
    reduction: Reduction = "mean",
    check: bool = False,
):
    r"""Cost-sensitive ("real-world-weight") cross-entropy (JAX).

    .. math::

        \ell_i = s_i\Big[-w_{y_i} \log p_{i,y_i} - \sum_{k \ne y_i} M_{y_i k} \log(1 - p_{ik})\Big]

    See :func:`wce.losses.cost_sensitive_cross_entropy`.

    Example:
      >>> import jax.numpy as jnp
      >>> from wce.jax import cost_sensitive_cross_entropy
      >>> M = [[0, 1, 1], [5, 0, 1], [1, 1, 0]]
      >>> round(float(cost_sensitive_cross_entropy(jnp.array([[2.0, 0.5, -1.0]]), jnp.array([1]),
      ...                                          cost_matrix=M)), 4)
      9.4807

    References:
      Ho & Wookey, IEEE Access 2020.
    """
    return _loss("cost_sensitive_cross_entropy", logits, targets, reduction, check, dict(
        cost_matrix=cost_matrix, class_weight=class_weight, ignore_index=ignore_index,
        sample_weight=sample_weight))


def logit_adjusted_cross_entropy(
    logits: Any,
    targets: Any,
    *,
    class_prior: Any,
    tau: float = 1.0,
    class_weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    reduction: Reduction = "mean",
    check: bool = False,
):
    r"""Logit-adjusted cross-entropy (JAX): CE of ``logits + tau * log(prior)``.

    See :func:`wce.losses.logit_adjusted_cross_entropy`.

    Example:
      >>> import jax.numpy as jnp
      >>> from wce.jax import logit_adjusted_cross_entropy
      >>> round(float(logit_adjusted_cross_entropy(jnp.array([[1.0, 0.0]]), jnp.array([1]),
      ...                                          class_prior=[0.9, 0.1])), 4)
      3.2373

    References:
      Menon et al., "Long-Tail Learning via Logit Adjustment", ICLR 2021.
    """
    return _loss("logit_adjusted_cross_entropy", logits, targets, reduction, check, dict(
        class_prior=class_prior, tau=tau, class_weight=class_weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, sample_weight=sample_weight))


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
    check: bool = False,
):
    r"""Balanced softmax cross-entropy (JAX): CE of ``logits + log(samples_per_class)``.

    .. math::

        \ell_i = -\log \frac{n_{y_i}\, e^{z_{i,y_i}}}{\sum_c n_c\, e^{z_{ic}}}

    See :func:`wce.losses.balanced_softmax_cross_entropy`.

    Example:
      >>> import jax.numpy as jnp
      >>> from wce.jax import balanced_softmax_cross_entropy
      >>> round(float(balanced_softmax_cross_entropy(jnp.array([[1.0, 0.0]]), jnp.array([1]),
      ...                                            samples_per_class=[90, 10])), 4)
      3.2373

    References:
      Ren et al., "Balanced Meta-Softmax for Long-Tailed Visual Recognition", NeurIPS 2020.
    """
    return _loss("balanced_softmax_cross_entropy", logits, targets, reduction, check, dict(
        samples_per_class=samples_per_class, class_weight=class_weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, sample_weight=sample_weight))


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
    check: bool = False,
):
    r"""LDAM loss (JAX): weighted CE of ``scale * (logits - Δ_y e_y)`` with ``Δ_c ∝ n_c^{-1/4}``.

    Class-index targets only. See :func:`wce.losses.ldam_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from wce.jax import ldam_loss
      >>> round(float(ldam_loss(jnp.array([[0.2, 0.1]]), jnp.array([1]), samples_per_class=[100, 1])), 4)
      18.0

    References:
      Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware Margin Loss",
      NeurIPS 2019.
    """
    return _loss("ldam_loss", logits, targets, reduction, check, dict(
        samples_per_class=samples_per_class, max_margin=max_margin, scale=scale,
        class_weight=class_weight, ignore_index=ignore_index, label_smoothing=label_smoothing,
        sample_weight=sample_weight))


def adjust_logits(logits: Any, class_prior: Any, *, tau: float = 1.0):
    """Post-hoc logit adjustment ``logits - tau * log(prior)`` on axis 1 (Menon et al. 2021, eq. 10).

    Example:
      >>> import jax.numpy as jnp
      >>> from wce.jax import adjust_logits
      >>> adjust_logits(jnp.zeros((1, 2)), [0.5, 0.5], tau=0.0).tolist()
      [[0.0, 0.0]]
    """
    z = _scores(logits, "logits", "adjust_logits")
    if z.ndim < 2:
        raise ValueError(f"The 'logits' parameter of adjust_logits must have at least 2 dimensions "
                         f"(N, C, ...). Got shape {z.shape} instead.")
    return jnp.moveaxis(A.adjust_logits(OPS, jnp.moveaxis(z, 1, -1), class_prior, tau=tau), -1, 1)


__all__ = [
    "adjust_logits",
    "balanced_softmax_cross_entropy",
    "binary_cross_entropy",
    "binary_focal_loss",
    "class_balanced_loss",
    "cost_sensitive_cross_entropy",
    "focal_loss",
    "ldam_loss",
    "logit_adjusted_cross_entropy",
    "numerator_denominator",
    "weighted_cross_entropy",
]
