"""Weighted cross-entropy for Keras 3: loss classes, ``class_weight`` dicts and per-element sample weights.

The loss classes run the same math as :mod:`wce.jax` (one implementation in
:mod:`wce._array`, written against ``keras.ops``) and are tested on the
torch, JAX and TensorFlow backends. They follow Keras' layout: scores are *class-last*
``(N, ..., C)``; multiclass targets are class indices ``(N, ...)`` (or
``(N, ..., 1)``) or one-hot/probabilities ``(N, ..., C)``; binary targets
have the shape of the scores.

Defaults follow Keras
---------------------
Like every Keras loss, the losses take probabilities by default
(``from_logits=False``: the output of a ``softmax``/``sigmoid`` layer) and
reduce with Keras' ``"sum_over_batch_size"``: ``Σ w·l / n``, the weighted
losses divided by the number of (non-ignored) elements, which is what
``keras.losses.CategoricalCrossentropy`` gives with ``sample_weight`` and what
``fit(class_weight=...)`` trains. The losses defined on logits (focal,
class-balanced, cost-sensitive, logit-adjusted, balanced softmax, LDAM) need
a linear last layer and ``from_logits=True``, said explicitly; without it they
refuse to build instead of training on the wrong quantity.

====================================== ============================ ==========================
``reduction=``                         value                        same as
====================================== ============================ ==========================
``"sum_over_batch_size"`` (default),   ``Σ w·l / n`` (n non-ignored) Keras' default
``"mean"``, ``"mean_per_sample"``
``"mean_with_sample_weight"``,         ``Σ w·l / Σ w``              Keras' ``"mean_with_sample_weight"``
``"weighted_mean"``
``"sum"``                              ``Σ w·l``                    ``"sum"``
``"none"``, ``None``                   ``w·l`` per element          ``"none"``
====================================== ============================ ==========================

As in Keras, the binary losses first average over the last axis:
``"none"`` gives one value per sample and ``"sum"`` adds those. Here ``w`` is
the product of the loss's class weighting and the ``sample_weight`` Keras
passes in (from ``fit(sample_weight=...)`` or
``fit(class_weight=...)``). Do not combine a weighted wce loss with
``fit(class_weight=...)``: both would weight.

``fit(class_weight=...)`` handles one output with ``(N,)``/``(N, 1)`` targets
only (TRAPS 13): :func:`sample_weights` builds the per-element weights for
segmentation masks, multi-output models and multi-label targets.

Example:
  >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")  # doctest: +ELLIPSIS
  '...'
  >>> import numpy as np
  >>> from wce.keras import WeightedCrossEntropy
  >>> loss = WeightedCrossEntropy(class_weight=[1.0, 3.0], from_logits=True,
  ...                             reduction="weighted_mean")
  >>> z = np.array([[2.0, 0.5], [0.1, 1.0], [1.5, -1.0]], dtype="float32")
  >>> round(float(loss(np.array([0, 1, 1]), z)), 4)
  1.2802
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _array as A
from . import _validation as V
from . import losses as reference
from . import weights as _weights
from ._optional import require

try:
    keras = require("keras")
except ImportError as exc:  # Keras defaults to TensorFlow, which may not be installed.
    cause = exc.__cause__
    if not (isinstance(cause, ModuleNotFoundError) and cause.name == "tensorflow"):
        raise
    raise ImportError(
        "Keras is installed but configured for the TensorFlow backend, which is not installed. "
        "Choose an installed backend before Keras is first imported, e.g. "
        "os.environ['KERAS_BACKEND'] = 'torch' (or 'jax'), or set \"backend\" in "
        "~/.keras/keras.json."
    ) from cause

__all__ = [
    "BalancedSoftmaxCrossEntropy",
    "BinaryCrossEntropy",
    "BinaryFocalLoss",
    "ClassBalancedLoss",
    "CostSensitiveCrossEntropy",
    "FocalLoss",
    "LDAMLoss",
    "LogitAdjustedCrossEntropy",
    "WeightedCrossEntropy",
    "adjust_logits",
    "class_weight_dict",
    "sample_weights",
]


def _symbolic(x) -> bool:
    """True for a value that cannot be looked at now: traced by ``jit`` or in a graph."""
    if isinstance(x, (np.ndarray, np.generic, int, float, list, tuple)):
        return False
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return isinstance(x, jax.core.Tracer)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.is_tensor(x) and not hasattr(x, "numpy")
    if backend == "torch":  # Keras traces shapes with tensors on the "meta" device
        return getattr(getattr(x, "device", None), "type", None) == "meta" or \
            keras.backend.is_keras_tensor(x)
    return keras.backend.is_keras_tensor(x)


class _Ops:
    """``keras.ops`` plus the helpers :mod:`wce._array` needs."""

    @staticmethod
    def dtype_name(x) -> str:
        return keras.backend.standardize_dtype(x.dtype)

    is_tracer = staticmethod(_symbolic)

    # keras.ops.maximum/minimum/matmul return float32 for float64 inputs on the torch backend
    # (Keras 3.15): the dtype-preserving equivalents below keep float64 at float64 precision.
    @staticmethod
    def maximum(a, b):
        return keras.ops.where(a >= b, a, b)

    @staticmethod
    def minimum(a, b):
        return keras.ops.where(a <= b, a, b)

    @staticmethod
    def matmul(a, b):
        return keras.ops.einsum("...i,ij->...j", a, b)

    def __getattr__(self, name):
        return getattr(keras.ops, name)


OPS = _Ops()

# Keras' reduction names, with Keras' meanings (Keras' "mean" divides by the number of elements).
KERAS_REDUCTIONS = {"sum_over_batch_size": "mean_per_sample", "mean": "mean_per_sample",
                    "mean_with_sample_weight": "weighted_mean", None: "none"}


def _plain(value: Any) -> Any:
    """JSON-friendly config values (lists and floats instead of arrays)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


class _Loss(keras.losses.Loss):
    """The shared machinery; a subclass names its loss and lists its options in ``__init__``."""

    _loss: str  # name of the function in wce.losses / wce._array
    _binary: bool = False

    _logits_only = False  # defined on logits only: from_logits=True must be said

    def __init__(self, reduction: Any, name: str | None, dtype: Any, **options: Any):
        caller = type(self).__name__
        if self._logits_only:
            from_logits = options.pop("from_logits")
            if from_logits is not True:
                raise ValueError(
                    f"{caller} is defined on logits (the scores before softmax or sigmoid), "
                    f"while Keras losses take probabilities by default. Got from_logits="
                    f"{from_logits!r}. Give the model a linear last layer (no activation) and "
                    f"pass {caller}(..., from_logits=True).")
        internal = KERAS_REDUCTIONS.get(reduction, reduction) if (
            reduction is None or isinstance(reduction, str)) else reduction
        self._reduction = V.check_reduction(internal, caller=caller)
        super().__init__(name=name or self._loss, reduction="none", dtype=dtype)
        self.reduction = reduction  # as given; the Keras base reduction is bypassed in __call__
        self.options = {k: _plain(v) for k, v in options.items()}
        self._validate_now()

    def _validate_now(self) -> None:
        """Run the NumPy reference on a one-element input so bad options fail at construction."""
        o = self.options
        if self._binary:
            shapes = [np.shape(o.get("pos_weight")) if o.get("pos_weight") is not None else ()]
            if o.get("class_weight") is not None:
                shapes.append(np.shape(o["class_weight"])[:-1])
            shape = np.broadcast_shapes(*shapes) or (1,)
            inputs, targets = np.full(shape, 0.5), np.zeros(shape)
        else:
            sized = [o.get(k) for k in ("class_weight", "alpha", "samples_per_class", "cost_matrix",
                                        "class_prior") if np.ndim(o.get(k)) >= 1]
            n_classes = len(sized[0]) if sized else 2
            inputs, targets = np.full((1, n_classes), 1.0 / n_classes), np.zeros(1, dtype=int)
        getattr(reference, self._loss).terms(inputs, targets, **o)

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Replaces Keras' reduce-after-call: the wce reduction needs the weights inside the loss.
        with keras.name_scope(self.name):
            return self.call(y_true, y_pred, sample_weight)

    def call(self, y_true, y_pred, sample_weight=None):
        y_pred = keras.ops.convert_to_tensor(y_pred)
        y_pred = keras.ops.cast(y_pred, A.compute_dtype(OPS, y_pred))  # TRAPS 11
        y_true = _align_targets(keras.ops.convert_to_tensor(y_true), y_pred, self._binary)
        element_shape = tuple(y_pred.shape) if self._binary else tuple(y_pred.shape[:-1])
        if sample_weight is not None:
            sample_weight = _align_sample_weight(keras.ops.convert_to_tensor(sample_weight),
                                                 element_shape)
        family = A.BINARY if self._binary else A.MULTICLASS
        elements = family[self._loss](OPS, y_pred, y_true, sample_weight=sample_weight,
                                      **self.options)
        if self._binary and self._reduction in ("none", "sum"):
            # Keras' binary losses average over the last axis first: "none" gives one value per
            # sample ((N, L) -> (N,); a 1-D input gives its mean), "sum" sums those.
            values = A.reduce(OPS, elements, "none")
            width = keras.ops.cast(values.shape[-1] if len(values.shape) else 1, values.dtype)
            per_sample = OPS.sum(values, axis=-1) / width  # dtype-preserving (float64 stays)
            out = per_sample if self._reduction == "none" else keras.ops.sum(per_sample)
            return keras.ops.cast(out, self.dtype)
        return keras.ops.cast(A.reduce(OPS, elements, self._reduction), self.dtype)

    def get_config(self):
        config = {"name": self.name, "reduction": self.reduction, "dtype": self.dtype, **self.options}
        if self._logits_only:
            config["from_logits"] = True
        return config


def _align_targets(y_true, y_pred, binary: bool):
    """Keras' target conventions: (N, ..., 1) index targets and (N,) binary targets for (N, 1) scores."""
    t, p = tuple(y_true.shape), tuple(y_pred.shape)
    if binary:
        if len(t) == len(p) + 1 and t[-1] == 1:
            return keras.ops.squeeze(y_true, axis=-1)
        if len(p) == len(t) + 1 and p[-1] == 1:
            return keras.ops.expand_dims(y_true, -1)
        return y_true
    if len(t) == len(p) and t[-1] == 1 and p[-1] != 1:
        return keras.ops.squeeze(y_true, axis=-1)
    return y_true


def _align_sample_weight(sample_weight, element_shape: tuple):
    """Per-sample (N,) weights broadcast over the trailing element axes, as Keras does."""
    while len(sample_weight.shape) < len(element_shape):
        sample_weight = keras.ops.expand_dims(sample_weight, -1)
    if len(sample_weight.shape) == len(element_shape) + 1 and sample_weight.shape[-1] == 1:
        sample_weight = keras.ops.squeeze(sample_weight, axis=-1)
    return sample_weight


_register = keras.saving.register_keras_serializable(package="wce")


@_register
class WeightedCrossEntropy(_Loss):
    r"""Weighted multiclass cross-entropy; see :func:`wce.losses.weighted_cross_entropy`.

    .. math::

        \ell_i = -\,s_i \sum_c w_c\, q'_{ic} \log p_{ic},\qquad \text{weight}_i = s_i \sum_c w_c q_{ic}

    ``y_pred``: ``(N, ..., C)`` logits (or probabilities with ``from_logits=False``);
    ``y_true``: class indices ``(N, ...)`` / ``(N, ..., 1)`` or probabilities ``(N, ..., C)``.

    Example:
      >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")  # doctest: +ELLIPSIS
      '...'
      >>> import numpy as np, wce.keras
      >>> loss = wce.keras.WeightedCrossEntropy(from_logits=True, class_weight=[1.0, 3.0], reduction="mean_per_sample")
      >>> round(float(loss(np.array([0, 1]), np.array([[2.0, 0.5], [0.1, 1.0]], dtype="float32"))), 4)
      0.6124

    Reference: King & Zeng 2001; ``keras.losses.CategoricalCrossentropy``.
    """

    _loss = "weighted_cross_entropy"

    def __init__(self, *, class_weight=None, ignore_index=None, label_smoothing=0.0,
                 from_logits=False, reduction="sum_over_batch_size", name=None,
                 dtype=None):
        super().__init__(reduction, name, dtype, class_weight=class_weight, ignore_index=ignore_index,
                         label_smoothing=label_smoothing, from_logits=from_logits)


@_register
class BinaryCrossEntropy(_Loss):
    r"""Weighted binary cross-entropy with ``class_weight=(w_neg, w_pos)``, ``alpha`` in [0, 1] or ``pos_weight``.

    .. math::

        \ell_i = -\,s_i\,[\,w_+\, y'_i \log p_i + w_-\,(1 - y'_i) \log(1 - p_i)\,]

    ``y_pred`` and ``y_true`` have the same shape (``(N,)`` targets for ``(N, 1)`` scores are
    accepted).

    ``alpha`` above 1 is refused (TRAPS 1): use ``pos_weight=n_neg/n_pos``. Per-label
    weights for multi-label ``(N, L)`` targets go on the last axis. See
    :func:`wce.losses.binary_cross_entropy`.

    Example:
      >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")  # doctest: +ELLIPSIS
      '...'
      >>> import numpy as np, wce.keras
      >>> loss = wce.keras.BinaryCrossEntropy(pos_weight=9.0, from_logits=False,
      ...                                     reduction="mean_per_sample")
      >>> y = np.array([1, 0, 1, 0, 1]); p = np.array([0.8, 0.2, 0.6, 0.9, 0.95], dtype="float32")
      >>> round(float(loss(y, p)), 4)
      1.9186

    Reference: ``tf.nn.weighted_cross_entropy_with_logits``; ``keras.losses.BinaryCrossentropy``.
    """

    _loss = "binary_cross_entropy"
    _binary = True

    def __init__(self, *, class_weight=None, alpha=None, pos_weight=None, ignore_index=None,
                 label_smoothing=0.0, from_logits=False, reduction="sum_over_batch_size", name=None,
                 dtype=None):
        super().__init__(reduction, name, dtype, class_weight=class_weight, alpha=alpha,
                         pos_weight=pos_weight, ignore_index=ignore_index,
                         label_smoothing=label_smoothing, from_logits=from_logits)


@_register
class FocalLoss(_Loss):
    r"""Multiclass (softmax) focal loss with a per-class ``alpha`` vector; see :func:`wce.losses.focal_loss`.

    .. math::

        \ell_i = -\,s_i \sum_c \alpha_c\, q'_{ic}\,(1 - p_{ic})^{\gamma} \log p_{ic}

    Example:
      >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")  # doctest: +ELLIPSIS
      '...'
      >>> import numpy as np, wce.keras
      >>> loss = wce.keras.FocalLoss(gamma=2.0, alpha=[0.25, 0.75], from_logits=True)
      >>> y = np.array([0, 1]); z = np.array([[2.0, 0.0], [0.0, 1.0]], dtype="float32")
      >>> round(float(loss(y, z)), 4)
      0.0087

    Reference: Lin et al., ICCV 2017.
    """

    _logits_only = True
    _loss = "focal_loss"

    def __init__(self, *, gamma=2.0, alpha=None, ignore_index=None, label_smoothing=0.0,
                 reduction="sum_over_batch_size", from_logits=False,
                 name=None, dtype=None):
        super().__init__(reduction, name, dtype, from_logits=from_logits,
                         gamma=gamma, alpha=alpha, ignore_index=ignore_index,
                         label_smoothing=label_smoothing)


@_register
class BinaryFocalLoss(_Loss):
    r"""Binary (sigmoid) focal loss, torchvision's formula; see :func:`wce.losses.binary_focal_loss`.

    .. math::

        \ell_i = s_i\,w_{t,i}\,(1 - p_{t,i})^{\gamma}\,\mathrm{BCE}(z_i, y_i)

    Unlike ``keras.losses.BinaryFocalCrossentropy``, ``alpha`` is applied whenever it is
    given (Keras ignores it unless ``apply_class_balancing=True``, TRAPS 12).

    Example:
      >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")  # doctest: +ELLIPSIS
      '...'
      >>> import numpy as np, wce.keras
      >>> loss = wce.keras.BinaryFocalLoss(gamma=2.0, alpha=0.25, from_logits=True)
      >>> y = np.array([1.0, 0.0, 1.0]); z = np.array([2.0, -1.0, 0.5], dtype="float32")
      >>> round(float(loss(y, z)), 4)
      0.0114

    Reference: Lin et al., ICCV 2017.
    """

    _logits_only = True
    _loss = "binary_focal_loss"
    _binary = True

    def __init__(self, *, gamma=2.0, alpha=None, class_weight=None, pos_weight=None,
                 ignore_index=None, reduction="sum_over_batch_size", from_logits=False,
                 name=None, dtype=None):
        super().__init__(reduction, name, dtype, from_logits=from_logits,
                         gamma=gamma, alpha=alpha, class_weight=class_weight,
                         pos_weight=pos_weight, ignore_index=ignore_index)


@_register
class ClassBalancedLoss(_Loss):
    """Class-balanced loss of Cui et al. (CVPR 2019); see :func:`wce.losses.class_balanced_loss`.

    Example:
      >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")  # doctest: +ELLIPSIS
      '...'
      >>> import numpy as np, wce.keras
      >>> loss = wce.keras.ClassBalancedLoss(samples_per_class=[90, 10], beta=0.99,
      ...                                    from_logits=True)
      >>> y = np.array([0, 1]); z = np.array([[2.0, 0.0], [0.0, 1.0]], dtype="float32")
      >>> round(float(loss(y, z)), 4)
      0.2875
    """

    _logits_only = True
    _loss = "class_balanced_loss"

    def __init__(self, *, samples_per_class, beta=0.9999, loss_type="softmax", gamma=2.0,
                 ignore_index=None, reduction="sum_over_batch_size", from_logits=False,
                 name=None, dtype=None):
        super().__init__(reduction, name, dtype, from_logits=from_logits,
                         samples_per_class=samples_per_class, beta=beta,
                         loss_type=loss_type, gamma=gamma, ignore_index=ignore_index)


@_register
class CostSensitiveCrossEntropy(_Loss):
    """Cost-sensitive cross-entropy from a cost matrix (Ho & Wookey 2020); see
    :func:`wce.losses.cost_sensitive_cross_entropy`.

    Example:
      >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")  # doctest: +ELLIPSIS
      '...'
      >>> import numpy as np, wce.keras
      >>> loss = wce.keras.CostSensitiveCrossEntropy(cost_matrix=[[0.0, 1.0], [5.0, 0.0]],
      ...                                            from_logits=True)
      >>> y = np.array([0, 1]); z = np.array([[2.0, 0.0], [0.0, 1.0]], dtype="float32")
      >>> round(float(loss(y, z)), 4)
      1.0667
    """

    _logits_only = True
    _loss = "cost_sensitive_cross_entropy"

    def __init__(self, *, cost_matrix, class_weight=None, ignore_index=None,
                 reduction="sum_over_batch_size", from_logits=False, name=None, dtype=None):
        super().__init__(reduction, name, dtype, from_logits=from_logits,
                         cost_matrix=cost_matrix, class_weight=class_weight,
                         ignore_index=ignore_index)


@_register
class LogitAdjustedCrossEntropy(_Loss):
    """Logit-adjusted cross-entropy (Menon et al., ICLR 2021); see
    :func:`wce.losses.logit_adjusted_cross_entropy`.

    Example:
      >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")  # doctest: +ELLIPSIS
      '...'
      >>> import numpy as np, wce.keras
      >>> loss = wce.keras.LogitAdjustedCrossEntropy(class_prior=[0.9, 0.1], from_logits=True)
      >>> y = np.array([0, 1]); z = np.array([[2.0, 0.0], [0.0, 1.0]], dtype="float32")
      >>> round(float(loss(y, z)), 4)
      0.738
    """

    _logits_only = True
    _loss = "logit_adjusted_cross_entropy"

    def __init__(self, *, class_prior, tau=1.0, class_weight=None, ignore_index=None,
                 label_smoothing=0.0, reduction="sum_over_batch_size", from_logits=False,
                 name=None, dtype=None):
        super().__init__(reduction, name, dtype, from_logits=from_logits,
                         class_prior=class_prior, tau=tau,
                         class_weight=class_weight, ignore_index=ignore_index,
                         label_smoothing=label_smoothing)


@_register
class BalancedSoftmaxCrossEntropy(_Loss):
    """Balanced softmax (Ren et al., NeurIPS 2020): CE of ``logits + log n_c``; see
    :func:`wce.losses.balanced_softmax_cross_entropy`.

    Example:
      >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")  # doctest: +ELLIPSIS
      '...'
      >>> import numpy as np, wce.keras
      >>> loss = wce.keras.BalancedSoftmaxCrossEntropy(samples_per_class=[90, 10],
      ...                                              from_logits=True)
      >>> y = np.array([0, 1]); z = np.array([[2.0, 0.0], [0.0, 1.0]], dtype="float32")
      >>> round(float(loss(y, z)), 4)
      0.738
    """

    _logits_only = True
    _loss = "balanced_softmax_cross_entropy"

    def __init__(self, *, samples_per_class, class_weight=None, ignore_index=None,
                 label_smoothing=0.0, reduction="sum_over_batch_size", from_logits=False,
                 name=None, dtype=None):
        super().__init__(reduction, name, dtype, from_logits=from_logits,
                         samples_per_class=samples_per_class,
                         class_weight=class_weight, ignore_index=ignore_index,
                         label_smoothing=label_smoothing)


@_register
class LDAMLoss(_Loss):
    """LDAM loss (Cao et al., NeurIPS 2019), class-index targets only; see :func:`wce.losses.ldam_loss`.

    Example:
      >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")  # doctest: +ELLIPSIS
      '...'
      >>> import numpy as np, wce.keras
      >>> loss = wce.keras.LDAMLoss(samples_per_class=[90, 10], scale=1.0, from_logits=True)
      >>> y = np.array([0, 1]); z = np.array([[2.0, 0.0], [0.0, 1.0]], dtype="float32")
      >>> round(float(loss(y, z)), 4)
      0.3201
    """

    _logits_only = True
    _loss = "ldam_loss"

    def __init__(self, *, samples_per_class, max_margin=0.5, scale=30.0, class_weight=None,
                 ignore_index=None, label_smoothing=0.0, reduction="sum_over_batch_size",
                 from_logits=False, name=None, dtype=None):
        super().__init__(reduction, name, dtype, from_logits=from_logits,
                         samples_per_class=samples_per_class,
                         max_margin=max_margin, scale=scale, class_weight=class_weight,
                         ignore_index=ignore_index, label_smoothing=label_smoothing)


# ---------------------------------------------------------------------------
# class_weight for fit(), and the per-element weights fit() cannot build
# ---------------------------------------------------------------------------


def adjust_logits(logits: Any, class_prior: Any, *, tau: float = 1.0):
    """Post-hoc logit adjustment ``logits - tau * log(prior)`` on the last (class) axis.

    Predict with these from a model trained with plain cross-entropy (Menon et al.,
    ICLR 2021, eq. 10); :class:`LogitAdjustedCrossEntropy` is the loss-side form.

    Example:
      >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")  # doctest: +ELLIPSIS
      '...'
      >>> import numpy as np
      >>> from wce.keras import adjust_logits
      >>> [round(float(v), 4) for v in adjust_logits(np.zeros((1, 2), "float32"), [0.8, 0.2])[0]]
      [0.2231, 1.6094]
    """
    z = keras.ops.convert_to_tensor(logits)
    return A.adjust_logits(OPS, z, class_prior, tau=tau)


def class_weight_dict(y: Any, scheme: str = "balanced", **kwargs: Any) -> dict:
    """``{class index: weight}`` for ``model.fit(class_weight=...)``.

    ``y`` are integer labels of shape ``(N,)`` or ``(N, 1)``, or one-hot rows
    ``(N, C)``. Anything else (N-d masks, k-hot multi-label rows, several
    outputs) is refused, because ``fit(class_weight=...)`` would fail or
    silently arg-max it (TRAPS 13): use :func:`sample_weights` instead.
    ``scheme`` and the other options are those of :func:`wce.weights.class_weights`
    (``"balanced"`` equals scikit-learn's ``compute_class_weight('balanced')``).

    Example:
      >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")  # doctest: +ELLIPSIS
      '...'
      >>> from wce.keras import class_weight_dict
      >>> class_weight_dict([0, 0, 0, 1])
      {0: 0.6666666666666666, 1: 2.0}
    """
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] > 1:
        if not np.all((labels == 0) | (labels == 1)) or not np.all(labels.sum(axis=1) == 1):
            raise ValueError(
                "class_weight_dict was given 2-D targets whose rows are not one-hot "
                f"(shape {labels.shape}). Keras' fit(class_weight=...) would arg-max these rows "
                "and weight each sample by one label only (TRAPS 13). For multi-label targets use "
                "wce.keras.sample_weights(y, class_weight, kind='multilabel') with "
                "fit(sample_weight=...)."
            )
        labels = labels.argmax(axis=1)
    elif labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    elif labels.ndim != 1:
        raise ValueError(
            f"class_weight_dict expects labels of shape (N,) or (N, 1). Got shape {labels.shape}. "
            "Keras' fit(class_weight=...) cannot weight N-d targets such as segmentation masks "
            "(TRAPS 13): use wce.keras.sample_weights(y, class_weight) with fit(sample_weight=...)."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.issubdtype(labels.dtype, np.number) or np.any(labels != np.round(labels)):
            raise TypeError(
                "class_weight_dict needs integer class indices: Keras looks weights up by "
                f"int(label). Got dtype {labels.dtype}. Encode the labels first "
                "(e.g. sklearn.preprocessing.LabelEncoder)."
            )
        labels = labels.astype(np.int64)
    weights = _weights.class_weight_dict(labels, scheme=scheme, **kwargs)
    return {int(c): w for c, w in weights.items()}


def _class_weight_array(class_weight: Any, caller: str, kind: str) -> np.ndarray:
    if kind == "multilabel":  # (w_neg, w_pos) pairs, (2,) or (L, 2): not one weight per class
        w = V.as_float_array(class_weight, "class_weight", caller=caller)
        if np.any(w < 0):
            raise ValueError(f"The 'class_weight' parameter of {caller} must be non-negative.")
        return w
    return _weights.resolve_class_weight(class_weight, caller=caller)


def sample_weights(y: Any, class_weight: Any, *, kind: str = "index") -> Any:
    """Per-element weights from targets, for ``fit(sample_weight=...)`` where ``class_weight`` fails.

    * ``kind="index"``: ``y`` holds class indices of any shape, e.g. ``(N, H, W)``
      segmentation masks; the result has the same shape, ``class_weight[y]``.
    * ``kind="onehot"``: ``y`` is ``(..., C)`` one-hot or probabilities; the
      result is ``Σ_c class_weight[c] * y[..., c]``, shape ``(...)``.
    * ``kind="multilabel"``: ``y`` is ``(N, L)`` k-hot; ``class_weight`` holds
      ``(w_neg, w_pos)`` pairs, shape ``(2,)`` or ``(L, 2)``; the result is
      ``(N, L)``: ``y * w_pos + (1 - y) * w_neg``. Use it with a per-element
      loss such as :class:`BinaryCrossEntropy` (Keras' ``BinaryCrossentropy``
      averages over the labels before weighting).

    For a multi-output model pass lists or dicts of targets and of class
    weights (``kind`` may be a matching list/dict); the result has the same
    structure, as ``fit(sample_weight=...)`` expects. ``class_weight`` may be
    an array or a ``{class index: weight}`` dict (e.g. from :func:`class_weight_dict`).
    Passed to a Keras loss with ``"sum_over_batch_size"`` (or a wce loss with
    ``reduction="mean_per_sample"``) the result is the weighted loss divided by
    the number of elements (TRAPS 13).

    Example:
      >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")  # doctest: +ELLIPSIS
      '...'
      >>> import numpy as np
      >>> from wce.keras import sample_weights
      >>> sample_weights(np.array([[[0, 1], [1, 1]]]), {0: 1.0, 1: 4.0}).tolist()
      [[[1.0, 4.0], [4.0, 4.0]]]
    """
    caller = "sample_weights"
    if isinstance(y, dict):
        return {k: sample_weights(y[k], class_weight[k], kind=kind[k] if isinstance(kind, dict) else kind)
                for k in y}
    if isinstance(y, (list, tuple)):
        if not isinstance(class_weight, (list, tuple)) or len(class_weight) != len(y):
            raise ValueError(f"{caller}: with {len(y)} outputs, give a list of {len(y)} class weights.")
        kinds = kind if isinstance(kind, (list, tuple)) else [kind] * len(y)
        return [sample_weights(t, w, kind=k) for t, w, k in zip(y, class_weight, kinds)]
    V.check_one_of(kind, "kind", ("index", "onehot", "multilabel"), caller=caller)
    w = _class_weight_array(class_weight, caller, kind)
    targets = np.asarray(y)
    if kind == "onehot":
        if targets.shape[-1] != w.shape[0]:
            raise ValueError(f"{caller}: one-hot targets have {targets.shape[-1]} classes but "
                             f"class_weight has {w.shape[0]}.")
        return (targets.astype(np.float64) @ w).astype(np.float32)
    if kind == "multilabel":
        if w.shape[-1] != 2:
            raise ValueError(f"{caller}: with kind='multilabel', class_weight holds (w_neg, w_pos) "
                             f"pairs of shape (2,) or (L, 2). Got shape {w.shape}.")
        if np.any((targets != 0) & (targets != 1)):
            raise ValueError(f"{caller}: multi-label targets must be 0/1.")
        return (targets * w[..., 1] + (1 - targets) * w[..., 0]).astype(np.float32)
    if not np.all(targets == np.round(targets)) or targets.size and (
            targets.min() < 0 or targets.max() >= len(w)):
        raise ValueError(f"{caller}: class-index targets must be integers in [0, {len(w) - 1}]. "
                         "For one-hot or multi-label rows pass kind='onehot' or 'multilabel'.")
    return w[targets.astype(np.int64)].astype(np.float32)
