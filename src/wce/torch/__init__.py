"""PyTorch backend: the reference losses as autograd-ready functions and ``nn.Module`` classes.

Every function computes exactly the formula of its NumPy reference in
:mod:`wce.losses` (same arguments, same meaning of every reduction), on
tensors, differentiably. Layout follows PyTorch: logits ``(N, C)`` or
``(N, C, d1, ..., dk)``, class-index targets ``(N, d1, ..., dk)``,
probability targets shaped like the logits.

Reductions (see :mod:`wce.losses._reduction`): ``"none"``, ``"sum"``,
``"mean"`` (Σ w·l / Σ w), ``"mean_per_sample"`` (Σ w·l / n non-ignored) and,
for data parallelism and gradient accumulation, ``"global"``::

    loss = world_size * (Σ_local w·l) / D,   D = Σ_ranks Σ w   (all-reduced)

DistributedDataParallel averages gradients over ranks, so the factor
``world_size`` makes the averaged gradient exactly the gradient of the global
weighted mean ``Σ_all w·l / Σ_all w``, and the loss averaged over ranks equals
that global mean (TRAPS 9). Outside ``torch.distributed`` world_size is 1 and
``"global"`` equals ``"mean"``. For gradient accumulation pass
``denominator=criterion.total_weight(all_micro_batch_targets)`` (already
all-reduced) to every micro-batch call.

Differences from PyTorch's native losses, all deliberate and tested:

* ``mean`` is Σ w·l / Σ w for every target type; PyTorch divides by N for
  probability targets (TRAPS 6). All elements ignored gives 0 with zero
  gradient, not NaN (TRAPS 7). ``ignore_index`` defaults to None, not -100.
* ``BCEWithLogitsLoss(weight=..., pos_weight=...)`` is
  ``binary_cross_entropy(sample_weight=..., pos_weight=..., reduction="mean_per_sample")``
  (TRAPS 2).
* float16 / bfloat16 inputs are computed in float32 and the result is
  returned in the input dtype (TRAPS 11).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _array as A
from .. import _validation as V
from .._optional import require

torch = require("torch")
from torch import nn  # noqa: E402  (after the optional-import guard)

from . import _buffer_pool  # noqa: E402
from ._chunked import chunked_weighted_cross_entropy  # noqa: E402
from ._dispatch import (IMPLEMENTATIONS, all_reduce_sum, check_class_weight,  # noqa: E402
                        check_reduction, compute_input, loss as _loss)
from ._dispatch import numerator_denominator as _numerator_denominator  # noqa: E402
from ._ops import TorchOps  # noqa: E402

__all__ = [
    "BinaryCrossEntropyLoss",
    "BinaryFocalLoss",
    "ClassBalancedLoss",
    "CostSensitiveCrossEntropyLoss",
    "FocalLoss",
    "LogitAdjustedCrossEntropyLoss",
    "WeightedCrossEntropyLoss",
    "adjust_logits",
    "balanced_softmax_cross_entropy",
    "binary_cross_entropy",
    "binary_focal_loss",
    "chunked_weighted_cross_entropy",
    "class_balanced_loss",
    "cost_sensitive_cross_entropy",
    "empty_cache",
    "focal_loss",
    "ldam_loss",
    "logit_adjusted_cross_entropy",
    "numerator_denominator",
    "set_buffer_reuse",
    "weighted_cross_entropy",
]


def empty_cache() -> None:
    """Free the gradient buffers the fused CPU kernel keeps for reuse between steps.

    Example:
      >>> import torch, wce.torch as wt
      >>> x = torch.zeros(2, 3, requires_grad=True)
      >>> wt.weighted_cross_entropy(x, torch.tensor([0, 2])).backward()
      >>> wt.empty_cache()  # e.g. after training, before a memory-hungry evaluation
    """
    _buffer_pool.empty_cache()


def set_buffer_reuse(enabled: bool) -> None:
    """Let the fused CPU kernel reuse freed gradient buffers between steps (default on).

    Example:
      >>> import torch, wce.torch as wt
      >>> wt.set_buffer_reuse(False)  # every step gets a fresh gradient buffer
      >>> x = torch.zeros(2, 3, requires_grad=True)
      >>> wt.weighted_cross_entropy(x, torch.tensor([0, 2])).backward()
      >>> x.grad.shape
      torch.Size([2, 3])
      >>> wt.set_buffer_reuse(True)  # back to the default
    """
    _buffer_pool.set_buffer_reuse(enabled)


# ---------------------------------------------------------------------------
# functions: each is its shared definition (wce._array) or a native/fused kernel
# ---------------------------------------------------------------------------


def weighted_cross_entropy(logits, targets, *, class_weight=None, ignore_index=None,
                           label_smoothing=0.0, sample_weight=None, from_logits=True,
                           reduction="mean", denominator=None, implementation="auto"):
    r"""Weighted multiclass cross-entropy on tensors; :func:`wce.losses.weighted_cross_entropy`.

    .. math::

        \ell_i = -\,s_i \sum_c w_c\, q'_{ic} \log p_{ic},\qquad
        \text{weight}_i = s_i \sum_c w_c\, q_{ic},\qquad q' = (1-ε) q + ε / C

    For class-index targets and ``reduction="mean"`` this is
    ``F.cross_entropy(logits, targets, weight=class_weight, ...)`` (label
    smoothing included, TRAPS 8), which it calls for speed. For probability
    targets ``"mean"`` divides by Σ w, not by N as PyTorch does (TRAPS 6); use
    ``"mean_per_sample"`` for PyTorch's number. All targets ignored gives 0.

    Args:
      logits: ``(N, C)`` or ``(N, C, d1, ..., dk)`` (any float dtype; half
        precision is computed in float32 and returned in its dtype).
      targets: class indices ``(N, d1, ..., dk)`` or probabilities like ``logits``.
      class_weight: ``(C,)`` non-negative weights (PyTorch's ``weight=``).
      ignore_index: class index to skip (default None: none; PyTorch uses -100).
      label_smoothing: ε in ``[0, 1]``.
      sample_weight: per-element weights broadcastable to ``(N, d1, ..., dk)``.
      from_logits: False when ``logits`` are probabilities (clipped to [1e-7, 1 - 1e-7]).
      reduction: ``"none"``, ``"sum"``, ``"mean"``, ``"mean_per_sample"`` or ``"global"``.
      denominator: for ``"global"``: the all-reduced Σ w over every rank and
        micro-batch (see :meth:`WeightedCrossEntropyLoss.total_weight`); default:
        all-reduce this batch's Σ w.
      implementation: ``"auto"`` (default), ``"native"`` or ``"fused"``. The
        fused kernel (:mod:`wce.torch._fused`) computes loss and gradient in one
        pass and keeps only the gradient, with 1× the logits' memory instead of 3×
        (``benchmarks/bench_fused.py``, ``benchmarks/bench_torch.py``).
        ``"auto"`` uses it for ``(N, C)`` logits with class-index targets on the
        CPU with at least 256 classes (where it wins on every machine measured;
        below that native and fused trade places from machine to machine) when a
        gradient is needed (and the weights need none, outside ``torch.func``
        transforms). Probability targets, ``from_logits=False`` and class weights
        that require a gradient (learned weights) run the shared definition in
        :mod:`wce._array`, differentiable in every input. A second backward (``retain_graph=True``) or
        a double backward (``create_graph=True``) recomputes the gradient from
        the logits, so both agree with ``"native"``. On the CPU it reuses the
        previous step's gradient buffer once nothing refers to it any more, which
        saves the page faults of fresh memory (most of the time at large C); up
        to two gradient-sized buffers stay allocated between steps:
        :func:`empty_cache` frees them and ``set_buffer_reuse(False)`` turns
        reuse off.

    Returns:
      A 0-d tensor, or ``(N, d1, ..., dk)`` for ``"none"``, in the dtype of ``logits``.

    Example:
      >>> import torch, wce.torch as wt
      >>> logits = torch.tensor([[2.0, 0.5], [0.1, 1.0], [1.5, -1.0]])
      >>> round(wt.weighted_cross_entropy(logits, torch.tensor([0, 1, 1]),
      ...                                 class_weight=torch.tensor([1.0, 3.0])).item(), 4)
      1.2802

    References:
      King & Zeng 2001; PyTorch ``torch.nn.functional.cross_entropy``.
    """
    caller = "weighted_cross_entropy"
    return _loss(caller, logits, targets, reduction=check_reduction(reduction, caller),
                 denominator=denominator, class_weight=class_weight, ignore_index=ignore_index,
                 label_smoothing=label_smoothing, sample_weight=sample_weight,
                 from_logits=from_logits,
                 implementation=V.check_one_of(implementation, "implementation", IMPLEMENTATIONS,
                                               caller=caller))


def binary_cross_entropy(logits, targets, *, class_weight=None, alpha=None, pos_weight=None,
                         sample_weight=None, ignore_index=None, label_smoothing=0.0,
                         from_logits=True, reduction="mean", denominator=None, weight=None):
    r"""Weighted binary cross-entropy on tensors; :func:`wce.losses.binary_cross_entropy`.

    .. math::

        \ell_i = -\,s_i\,[\,w_+\, y'_i \log p_i + w_-\,(1 - y'_i) \log(1 - p_i)\,],\qquad
        \text{weight}_i = s_i\,[\,w_+ y_i + w_- (1 - y_i)\,]

    At most one of ``class_weight=(w_neg, w_pos)``, ``alpha`` in [0, 1]
    (TRAPS 1) or ``pos_weight``. With PyTorch's arguments it gives PyTorch's
    value: ``F.binary_cross_entropy_with_logits(x, y, weight=s, pos_weight=r)``
    is ``binary_cross_entropy(x, y, weight=s, pos_weight=r)`` (logits by
    default; ``F.binary_cross_entropy`` of probabilities is
    ``from_logits=False``). PyTorch's ``weight`` is a per-element weight, not a
    class weight (TRAPS 2): ``weight`` and ``sample_weight`` multiply. The
    default ``"mean"`` divides by the number of elements, like PyTorch;
    ``reduction="weighted_mean"`` divides by the total weight.

    Args:
      logits: any shape ``S``; targets: same shape, values in [0, 1].
      sample_weight: broadcastable to ``S``. ignore_index: target value to skip.
      reduction, denominator: as in :func:`weighted_cross_entropy`.

    Example:
      >>> import torch, wce.torch as wt
      >>> y = torch.tensor([1.0, 0, 1, 0, 1]); p = torch.tensor([0.8, 0.2, 0.6, 0.9, 0.95])
      >>> round(wt.binary_cross_entropy(p, y, pos_weight=9, from_logits=False,
      ...                               reduction="mean_per_sample").item(), 4)
      1.9186

    References:
      King & Zeng 2001; PyTorch ``BCEWithLogitsLoss``.
    """
    caller = "binary_cross_entropy"
    if weight is not None:  # PyTorch's per-element weight= is a sample weight
        sample_weight = _product(_element_buffer(weight, caller), sample_weight)
    return _loss(caller, logits, targets, reduction=check_reduction(reduction, caller, binary=True),
                 denominator=denominator, class_weight=class_weight, alpha=alpha,
                 pos_weight=pos_weight, sample_weight=sample_weight, ignore_index=ignore_index,
                 label_smoothing=label_smoothing, from_logits=from_logits)


def focal_loss(logits, targets, *, gamma=2.0, alpha=None, ignore_index=None, label_smoothing=0.0,
               sample_weight=None, reduction="mean", denominator=None):
    r"""Multiclass (softmax) focal loss on tensors; :func:`wce.losses.focal_loss`.

    .. math::

        \ell_i = -\,s_i \sum_c \alpha_c\, q'_{ic}\,(1 - p_{ic})^{\gamma} \log p_{ic},\qquad
        \text{weight}_i = s_i \sum_c \alpha_c\, q_{ic}

    ``alpha`` is a per-class vector (a scalar is refused, TRAPS 12); ``1 - p``
    is computed as ``exp(log(1 - softmax))`` so confident logits stay finite.

    Example:
      >>> import torch, wce.torch as wt
      >>> round(wt.focal_loss(torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0])).item(), 5)
      0.00414

    References:
      Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017.
    """
    caller = "focal_loss"
    return _loss(caller, logits, targets, reduction=check_reduction(reduction, caller),
                 denominator=denominator, gamma=gamma, alpha=alpha, ignore_index=ignore_index,
                 label_smoothing=label_smoothing, sample_weight=sample_weight)


def binary_focal_loss(logits, targets, *, gamma=2.0, alpha=None, class_weight=None,
                      pos_weight=None, sample_weight=None, ignore_index=None, reduction="mean",
                      denominator=None):
    r"""Binary (sigmoid) focal loss on tensors; :func:`wce.losses.binary_focal_loss`.

    .. math::

        \ell_i = s_i\,w_{t,i}\,(1 - p_{t,i})^{\gamma}\,\mathrm{BCE}(z_i, y_i),\quad
        p_t = p y + (1 - p)(1 - y),\quad w_t = w_+ y + w_- (1 - y)

    torchvision's ``sigmoid_focal_loss(x, y, alpha=a, gamma=g, reduction="sum")``
    is ``binary_focal_loss(x, y, alpha=a, gamma=g, reduction="sum")``; its
    ``"mean"`` divides by N, i.e. ``reduction="mean_per_sample"`` here.
    ``alpha`` must lie in [0, 1] (TRAPS 12).

    Example:
      >>> import torch, wce.torch as wt
      >>> round(wt.binary_focal_loss(torch.tensor([2.0, -1.0]), torch.tensor([1.0, 1.0]),
      ...                            alpha=0.25).item(), 5)
      0.08796

    References:
      Lin et al., ICCV 2017; torchvision ``ops.sigmoid_focal_loss``.
    """
    caller = "binary_focal_loss"
    return _loss(caller, logits, targets, reduction=check_reduction(reduction, caller, binary=True),
                 denominator=denominator, gamma=gamma, alpha=alpha, class_weight=class_weight,
                 pos_weight=pos_weight, sample_weight=sample_weight, ignore_index=ignore_index)


def class_balanced_loss(logits, targets, *, samples_per_class, beta=0.9999, loss_type="softmax",
                        gamma=2.0, ignore_index=None, sample_weight=None, reduction="mean",
                        denominator=None):
    r"""Class-balanced loss (Cui et al. 2019) on tensors; :func:`wce.losses.class_balanced_loss`.

    .. math::

        w_c = \frac{1 - \beta}{1 - \beta^{n_c}}, \quad w \leftarrow C\,w / \textstyle\sum_c w_c

    then :func:`weighted_cross_entropy` (``loss_type="softmax"``) or
    :func:`focal_loss` (``"focal"``) with these weights. A class with zero
    samples is refused (TRAPS 4).

    Example:
      >>> import torch, wce.torch as wt
      >>> round(wt.class_balanced_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([1]),
      ...                              samples_per_class=[90, 10], beta=0.99).item(), 4)
      1.3133

    References:
      Cui, Jia, Lin, Song & Belongie, CVPR 2019.
    """
    caller = "class_balanced_loss"
    return _loss(caller, logits, targets, reduction=check_reduction(reduction, caller),
                 denominator=denominator, samples_per_class=_host(samples_per_class), beta=beta,
                 loss_type=loss_type, gamma=gamma, ignore_index=ignore_index,
                 sample_weight=sample_weight)


def cost_sensitive_cross_entropy(logits, targets, *, cost_matrix, class_weight=None,
                                 ignore_index=None, sample_weight=None, reduction="mean",
                                 denominator=None):
    r"""Cost-sensitive cross-entropy on tensors; :func:`wce.losses.cost_sensitive_cross_entropy`.

    .. math::

        \ell_i = s_i\Big[-w_{y_i} \log p_{i,y_i}
                 \;-\; \sum_{k \ne y_i} M_{y_i k} \log(1 - p_{ik})\Big],\qquad
        \text{weight}_i = s_i\,w_{y_i}

    with ``M[i, j]`` the cost of predicting ``j`` when the truth is ``i``
    (diagonal ignored).

    Example:
      >>> import torch, wce.torch as wt
      >>> M = torch.tensor([[0.0, 1, 1], [5, 0, 1], [1, 1, 0]])
      >>> round(wt.cost_sensitive_cross_entropy(torch.tensor([[2.0, 0.5, -1.0]]),
      ...                                       torch.tensor([1]), cost_matrix=M).item(), 4)
      9.4807

    References:
      Ho & Wookey, IEEE Access 2020; Elkan, IJCAI 2001.
    """
    caller = "cost_sensitive_cross_entropy"
    return _loss(caller, logits, targets, reduction=check_reduction(reduction, caller),
                 denominator=denominator, cost_matrix=cost_matrix, class_weight=class_weight,
                 ignore_index=ignore_index, sample_weight=sample_weight)


def logit_adjusted_cross_entropy(logits, targets, *, class_prior, tau=1.0, class_weight=None,
                                 ignore_index=None, label_smoothing=0.0, sample_weight=None,
                                 reduction="mean", denominator=None):
    r"""Logit-adjusted cross-entropy (Menon et al. 2021) on tensors.

    .. math::

        \ell_i = -\log \frac{e^{z_{i,y_i} + \tau \log \pi_{y_i}}}
                            {\sum_c e^{z_{ic} + \tau \log \pi_c}}

    Same as :func:`wce.losses.logit_adjusted_cross_entropy`; ``class_weight``,
    ``ignore_index`` and ``label_smoothing`` act as in :func:`weighted_cross_entropy`.

    Example:
      >>> import torch, wce.torch as wt
      >>> round(wt.logit_adjusted_cross_entropy(torch.tensor([[1.0, 0.0]]), torch.tensor([1]),
      ...                                       class_prior=[0.9, 0.1]).item(), 4)
      3.2373

    References:
      Menon et al., "Long-Tail Learning via Logit Adjustment", ICLR 2021.
    """
    caller = "logit_adjusted_cross_entropy"
    return _loss(caller, logits, targets, reduction=check_reduction(reduction, caller),
                 denominator=denominator, class_prior=_host(class_prior), tau=tau,
                 class_weight=class_weight, ignore_index=ignore_index,
                 label_smoothing=label_smoothing, sample_weight=sample_weight)


def ldam_loss(logits, targets, *, samples_per_class, max_margin=0.5, scale=30.0,
              class_weight=None, ignore_index=None, label_smoothing=0.0, sample_weight=None,
              reduction="mean", denominator=None):
    """LDAM loss (Cao et al. 2019) for PyTorch; see :func:`wce.losses.ldam_loss` for the formula.

    Example:
      >>> import torch
      >>> from wce.torch import ldam_loss
      >>> round(ldam_loss(torch.tensor([[0.2, 0.1]]), torch.tensor([1]),
      ...                 samples_per_class=[100, 1]).item(), 4)
      18.0
    """
    caller = "ldam_loss"
    if torch.is_tensor(targets) and torch.is_tensor(logits) and (
            targets.is_floating_point() or targets.dim() != logits.dim() - 1):
        raise ValueError(
            f"Targets of {caller} must be integer class indices of shape "
            f"{(logits.shape[0],) + tuple(logits.shape[2:])}: the margin is subtracted from "
            f"the true class. Got dtype {targets.dtype}, shape {tuple(targets.shape)} instead."
        )
    return _loss(caller, logits, targets, reduction=check_reduction(reduction, caller),
                 denominator=denominator, samples_per_class=_host(samples_per_class),
                 max_margin=max_margin, scale=scale, class_weight=class_weight,
                 ignore_index=ignore_index, label_smoothing=label_smoothing,
                 sample_weight=sample_weight)


def balanced_softmax_cross_entropy(logits, targets, *, samples_per_class, class_weight=None,
                                   ignore_index=None, label_smoothing=0.0, sample_weight=None,
                                   reduction="mean", denominator=None):
    """Balanced softmax CE (Ren et al. 2020) for PyTorch: CE on ``logits + log n_c``.

    See :func:`wce.losses.balanced_softmax_cross_entropy`. Predict with the raw logits.

    Example:
      >>> import torch
      >>> from wce.torch import balanced_softmax_cross_entropy
      >>> round(balanced_softmax_cross_entropy(torch.tensor([[1.0, 0.0]]), torch.tensor([1]),
      ...                                      samples_per_class=[90, 10]).item(), 4)
      3.2373
    """
    caller = "balanced_softmax_cross_entropy"
    return _loss(caller, logits, targets, reduction=check_reduction(reduction, caller),
                 denominator=denominator, samples_per_class=_host(samples_per_class),
                 class_weight=class_weight, ignore_index=ignore_index,
                 label_smoothing=label_smoothing, sample_weight=sample_weight)


def adjust_logits(logits, class_prior, *, tau=1.0):
    """Post-hoc logit adjustment ``logits - tau * log(prior)`` on axis 1 (Menon et al. 2021, eq. 10).

    Example:
      >>> import torch, wce.torch as wt
      >>> wt.adjust_logits(torch.zeros(1, 2), [0.5, 0.5], tau=0.0).tolist()
      [[0.0, 0.0]]
    """
    z = compute_input(logits, "logits", "adjust_logits")
    if z.dim() < 2:
        raise ValueError("The 'logits' parameter of adjust_logits must have at least 2 dimensions "
                         f"(N, C, ...). Got shape {tuple(z.shape)} instead.")
    moved = torch.movedim(z, 1, -1)
    adjusted = A.adjust_logits(TorchOps(z.device), moved, _host(class_prior), tau=tau)
    return torch.movedim(adjusted, -1, 1).to(logits.dtype)


_FUNCTIONS = {f.__name__: f for f in (
    weighted_cross_entropy, binary_cross_entropy, focal_loss, binary_focal_loss,
    class_balanced_loss, cost_sensitive_cross_entropy, logit_adjusted_cross_entropy, ldam_loss,
    balanced_softmax_cross_entropy)}


_BINARY_FUNCTIONS = ("binary_cross_entropy", "binary_focal_loss")


def numerator_denominator(loss, logits, targets, *, reduction="mean", **options):
    """``(Σ w·l, denominator)`` of a :mod:`wce.torch` loss, for a global weighted mean (TRAPS 9).

    The same function exists in :mod:`wce.losses` and :mod:`wce.jax`. Averaging
    per-rank or per-micro-batch means is not the mean of the whole batch: sum
    both parts across ranks or micro-batches and divide once (a zero
    denominator means a loss of 0). ``reduction="global"`` does exactly this
    for ``DistributedDataParallel``. The numerator carries the gradient.

    Example:
      >>> import torch, wce.torch as wt
      >>> num, den = wt.numerator_denominator(wt.weighted_cross_entropy, torch.zeros(2, 2),
      ...                                     torch.tensor([0, 1]), class_weight=[1.0, 3.0])
      >>> float(den)
      4.0
    """
    name = getattr(loss, "__name__", None)
    if _FUNCTIONS.get(name) is not loss:
        raise TypeError(f"numerator_denominator expects one of the wce.torch loss functions "
                        f"({', '.join(_FUNCTIONS)}). Got {loss!r} instead.")
    reduction = V.check_reduction(reduction, caller=name, binary=name in _BINARY_FUNCTIONS)
    options.pop("implementation", None)
    for key in ("samples_per_class", "class_prior"):
        if key in options:
            options[key] = _host(options[key])
    return _numerator_denominator(name, logits, targets, reduction=reduction, **options)


def _host(values: Any) -> Any:
    """A small parameter (counts, priors) as NumPy for the shared definition's validation."""
    if torch.is_tensor(values):
        return TorchOps.convert_to_numpy(values)
    return values


# ---------------------------------------------------------------------------
# element weights without logits: the denominator of a global mean
# ---------------------------------------------------------------------------


def _multiclass_weight(targets, cw, ignore_index, sample_weight):
    """Σ_c w_c q_c per element, from the targets alone (integer: indices; float: probabilities)."""
    if targets.is_floating_point():
        cwv = None if cw is None else cw.to(targets).view((1, -1) + (1,) * (targets.dim() - 2))
        w = targets.sum(1) if cw is None else (targets * cwv).sum(1)
    else:
        t = targets.long()
        valid = torch.ones_like(t, dtype=torch.bool) if ignore_index is None else t != ignore_index
        safe = t.masked_fill(~valid, 0)
        w = valid.float() if cw is None else cw.to(targets.device)[safe] * valid
    return w if sample_weight is None else w * torch.as_tensor(sample_weight).to(w)


def _total_weight(element_weight, targets, sample_weight):
    """Σ w over one target tensor or a list of them (micro-batches), all-reduced over ranks."""
    if torch.is_tensor(targets):
        targets, sample_weight = [targets], [sample_weight]
    elif sample_weight is None:
        sample_weight = [None] * len(targets)
    total = sum(element_weight(t, s).double().sum() for t, s in zip(targets, sample_weight))
    return all_reduce_sum(total)


# ---------------------------------------------------------------------------
# nn.Module classes: thin, with weights registered as buffers
# ---------------------------------------------------------------------------


def _buffer(values, caller, name="class_weight"):
    """Validated (C,) weights as a float32 buffer (a tensor keeps its dtype), or None."""
    w = check_class_weight(values, None, caller, name=name)
    return w if w is None or torch.is_tensor(values) else w.to(torch.float32)


class _Loss(nn.Module):
    """Shared ``reduction`` handling, the call, and :meth:`total_weight` for global means."""

    caller = ""
    loss_name = ""
    binary = False

    def __init__(self, reduction: str) -> None:
        super().__init__()
        check_reduction(reduction, self.caller, binary=self.binary)
        self.reduction = reduction  # as given, like PyTorch's modules; its meaning is below

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

    def options(self) -> dict:
        raise NotImplementedError

    # What a call passes on; a drop-in overrides these to keep its native counterpart's meanings.
    def _reduction(self, target) -> str:
        return check_reduction(self.reduction, self.caller, binary=self.binary)

    def _options(self, target) -> dict:
        return self.options()

    def _sample_weight(self, sample_weight):
        return sample_weight

    def forward(self, input, target, sample_weight=None, denominator=None):
        return _loss(self.loss_name or self.caller, input, target, reduction=self._reduction(target),
                     denominator=denominator, caller=self.caller,
                     sample_weight=self._sample_weight(sample_weight), **self._options(target))

    def total_weight(self, targets, sample_weight=None):
        """Σ w of ``targets`` (a tensor or a list of micro-batch targets), all-reduced over ranks.

        Pass it as ``denominator=`` with ``reduction="global"`` to every micro-batch
        so that accumulated gradients are those of the global weighted mean (TRAPS 9).
        """
        return _total_weight(self._element_weight, targets, sample_weight)


class _MulticlassLoss(_Loss):
    def _element_weight(self, targets, sample_weight):
        return _multiclass_weight(targets, self.class_weight, self.ignore_index, sample_weight)


class WeightedCrossEntropyLoss(_MulticlassLoss):
    r"""Module form of :func:`weighted_cross_entropy`: a drop-in for ``nn.CrossEntropyLoss``.

    PyTorch's arguments keep PyTorch's meaning and defaults: ``weight`` (the
    class weights, also accepted as ``class_weight``), ``ignore_index=-100``,
    ``reduction="mean"`` (``Σ w_y·l / Σ w_y``) and ``label_smoothing``, so
    ``WeightedCrossEntropyLoss(weight=w)`` gives ``nn.CrossEntropyLoss(weight=w)``'s
    value. What wce adds is opt-in: ``sample_weight=`` at call time,
    ``reduction="mean_per_sample"``/``"global"``, ``from_logits=False``, and a
    loss of 0 (not NaN) when every target is ignored.

    Example:
      >>> import torch, wce.torch as wt
      >>> loss_fn = wt.WeightedCrossEntropyLoss(weight=torch.tensor([1.0, 3.0]))
      >>> round(loss_fn(torch.zeros(2, 2), torch.tensor([0, 1])).item(), 4)
      0.6931
    """

    caller = "weighted_cross_entropy"

    def __init__(self, class_weight=None, *, weight=None, ignore_index=-100, label_smoothing=0.0,
                 from_logits=True, reduction="mean", implementation="auto"):
        super().__init__(reduction)
        if weight is not None and class_weight is not None:
            raise TypeError(
                f"{type(self).__name__} got both 'weight' and 'class_weight': they are the same "
                "class weights (PyTorch's name and wce's). Pass one of them.")
        self.register_buffer("class_weight", _buffer(class_weight if weight is None else weight,
                                                     self.caller))
        self.ignore_index = V.check_ignore_index(ignore_index, caller=self.caller)
        self.from_logits = _check_bool(from_logits, self.caller)
        self.implementation = V.check_one_of(implementation, "implementation", IMPLEMENTATIONS,
                                             caller=self.caller)
        self.label_smoothing = V.check_float(label_smoothing, "label_smoothing",
                                             caller=self.caller, low=0.0, high=1.0)

    @property
    def weight(self):
        """The class weights under PyTorch's attribute name (the ``class_weight`` buffer)."""
        return self.class_weight

    # Probability targets, as nn.CrossEntropyLoss treats them: "mean" divides by N, not by the
    # total weight (TRAPS 6; "weighted_mean" gives Σ w·l / Σ w), and ignore_index does not apply
    # (only PyTorch's default -100 is dropped; another value is refused).
    def _reduction(self, target) -> str:
        if self.reduction == "mean" and _probabilities(target):
            return "mean_per_sample"
        return super()._reduction(target)

    def _options(self, target) -> dict:
        options = self.options()
        if options["ignore_index"] == -100 and _probabilities(target):
            options["ignore_index"] = None
        return options

    def options(self) -> dict:
        return dict(class_weight=self.class_weight, ignore_index=self.ignore_index,
                    label_smoothing=self.label_smoothing, from_logits=self.from_logits,
                    implementation=self.implementation)


class FocalLoss(_MulticlassLoss):
    """Module form of :func:`focal_loss`; ``alpha`` (C,) is stored as the ``class_weight`` buffer.

    Example:
      >>> import torch, wce.torch as wt
      >>> loss_fn = wt.FocalLoss(gamma=2.0, alpha=torch.tensor([0.25, 0.75]))
      >>> x = torch.tensor([[2.0, 0.0], [0.0, 1.0]]); t = torch.tensor([0, 1])
      >>> round(loss_fn(x, t).item(), 4)
      0.0174
    """

    caller = "focal_loss"

    def __init__(self, gamma=2.0, alpha=None, *, ignore_index=None, label_smoothing=0.0,
                 reduction="mean"):
        super().__init__(reduction)
        A.check_focal_alpha(_host(alpha), caller=self.caller)
        self.register_buffer("class_weight", _buffer(alpha, self.caller))
        self.gamma = V.check_float(gamma, "gamma", caller=self.caller, low=0.0)
        self.ignore_index = V.check_ignore_index(ignore_index, caller=self.caller)
        self.label_smoothing = V.check_float(label_smoothing, "label_smoothing",
                                             caller=self.caller, low=0.0, high=1.0)

    def options(self) -> dict:
        return dict(gamma=self.gamma, alpha=self.class_weight, ignore_index=self.ignore_index,
                    label_smoothing=self.label_smoothing)


class ClassBalancedLoss(_MulticlassLoss):
    """Module form of :func:`class_balanced_loss`; the weights are the ``class_weight`` buffer.

    Example:
      >>> import torch, wce.torch as wt
      >>> loss_fn = wt.ClassBalancedLoss([90, 10], beta=0.99)
      >>> [round(w, 4) for w in loss_fn.class_weight.tolist()]
      [0.2768, 1.7232]
      >>> x = torch.tensor([[2.0, 0.0], [0.0, 1.0]]); t = torch.tensor([0, 1])
      >>> round(loss_fn(x, t).item(), 4)
      0.2875
    """

    caller = "class_balanced_loss"

    def __init__(self, samples_per_class, *, beta=0.9999, loss_type="softmax", gamma=2.0,
                 ignore_index=None, reduction="mean"):
        super().__init__(reduction)
        self.loss_type = V.check_one_of(loss_type, "loss_type", ("softmax", "focal"),
                                        caller=self.caller)
        weights = A.class_balanced_weights(_host(samples_per_class), beta, caller=self.caller)
        self.register_buffer("class_weight", torch.as_tensor(weights, dtype=torch.float32))
        self.gamma = V.check_float(gamma, "gamma", caller=self.caller, low=0.0)
        self.ignore_index = V.check_ignore_index(ignore_index, caller=self.caller)
        # The weights are computed once; each call is the weighted CE or focal loss with them.
        self.loss_name = "weighted_cross_entropy" if loss_type == "softmax" else "focal_loss"

    def options(self) -> dict:
        if self.loss_type == "softmax":
            return dict(class_weight=self.class_weight, ignore_index=self.ignore_index)
        return dict(alpha=self.class_weight, gamma=self.gamma, ignore_index=self.ignore_index)


class CostSensitiveCrossEntropyLoss(_MulticlassLoss):
    """Module form of :func:`cost_sensitive_cross_entropy` (``cost_matrix`` is a buffer).

    Example:
      >>> import torch, wce.torch as wt
      >>> loss_fn = wt.CostSensitiveCrossEntropyLoss(torch.tensor([[0.0, 1.0], [5.0, 0.0]]))
      >>> x = torch.tensor([[2.0, 0.0], [0.0, 1.0]]); t = torch.tensor([0, 1])
      >>> round(loss_fn(x, t).item(), 4)
      1.0667
    """

    caller = "cost_sensitive_cross_entropy"

    def __init__(self, cost_matrix, *, class_weight=None, ignore_index=None, reduction="mean"):
        super().__init__(reduction)
        cost = V.check_cost_matrix(_host(cost_matrix), None, caller=self.caller)
        self.register_buffer("cost_matrix", torch.as_tensor(cost, dtype=torch.float32))
        self.register_buffer("class_weight", None if class_weight is None else
                             check_class_weight(class_weight, cost.shape[0], self.caller).float())
        self.ignore_index = V.check_ignore_index(ignore_index, caller=self.caller)

    def options(self) -> dict:
        return dict(cost_matrix=self.cost_matrix, class_weight=self.class_weight,
                    ignore_index=self.ignore_index)


class LogitAdjustedCrossEntropyLoss(_MulticlassLoss):
    """Module form of :func:`logit_adjusted_cross_entropy` (``tau * log prior`` is a buffer).

    Example:
      >>> import torch, wce.torch as wt
      >>> x = torch.tensor([[2.0, 0.0], [0.0, 1.0]]); t = torch.tensor([0, 1])
      >>> round(wt.LogitAdjustedCrossEntropyLoss([0.9, 0.1])(x, t).item(), 4)
      0.738
      >>> round(wt.LogitAdjustedCrossEntropyLoss([0.9, 0.1], tau=0.0)(x, t).item(), 4)  # plain CE
      0.2201
    """

    caller = "logit_adjusted_cross_entropy"

    def __init__(self, class_prior, *, tau=1.0, class_weight=None, ignore_index=None,
                 label_smoothing=0.0, reduction="mean"):
        super().__init__(reduction)
        prior = _host(class_prior)
        shift = A.scaled_log_prior(prior, tau, int(np.size(prior)), caller=self.caller)
        self.register_buffer("log_prior", torch.as_tensor(shift, dtype=torch.float32))
        self.register_buffer("class_weight", _buffer(class_weight, self.caller))
        self.ignore_index = V.check_ignore_index(ignore_index, caller=self.caller)
        self.label_smoothing = V.check_float(label_smoothing, "label_smoothing",
                                             caller=self.caller, low=0.0, high=1.0)

    def options(self) -> dict:
        return dict(class_prior=None, log_prior_shift=self.log_prior,
                    class_weight=self.class_weight, ignore_index=self.ignore_index,
                    label_smoothing=self.label_smoothing)


class _BinaryLoss(_Loss):
    binary = True

    def __init__(self, reduction, class_weight, alpha, pos_weight, ignore_index):
        super().__init__(reduction)
        from ..losses._binary import binary_class_weights

        cw, pw = _host(class_weight), _host(pos_weight)
        shape = np.shape(cw)[:-1] if cw is not None else np.shape(pw) if pw is not None else ()
        w_neg, w_pos = binary_class_weights(class_weight=cw, alpha=alpha, pos_weight=pw,
                                            shape=shape, caller=self.caller)
        self.register_buffer("w_neg", torch.as_tensor(np.array(w_neg), dtype=torch.float32))
        self.register_buffer("w_pos", torch.as_tensor(np.array(w_pos), dtype=torch.float32))
        self.ignore_index = ignore_index

    def _weights(self) -> dict:
        w_neg, w_pos = torch.broadcast_tensors(self.w_neg, self.w_pos)
        return dict(class_weight=torch.stack([w_neg, w_pos], -1), ignore_index=self.ignore_index)

    def _element_weight(self, targets, sample_weight):
        sample_weight = self._sample_weight(sample_weight)
        y = targets.float()
        valid = torch.ones_like(y, dtype=torch.bool) if self.ignore_index is None else (
            targets != self.ignore_index)
        y = y.masked_fill(~valid, 0.0)
        w = (self.w_pos.to(y) * y + self.w_neg.to(y) * (1.0 - y)) * valid
        return w if sample_weight is None else w * torch.as_tensor(sample_weight).to(w)


class BinaryCrossEntropyLoss(_BinaryLoss):
    r"""Module form of :func:`binary_cross_entropy`: a drop-in for ``nn.BCEWithLogitsLoss``.

    PyTorch's arguments keep PyTorch's meaning: ``weight`` rescales each
    element (broadcast to the input, a buffer; TRAPS 2: not a class weight),
    ``pos_weight`` multiplies the positive term, and ``reduction="mean"``
    divides by the number of elements, so
    ``BinaryCrossEntropyLoss(pos_weight=torch.tensor(31.))`` gives
    ``nn.BCEWithLogitsLoss(pos_weight=torch.tensor(31.))``'s value. Opt-in
    extras: ``class_weight=(w_neg, w_pos)`` or ``alpha`` in [0, 1] instead of
    ``pos_weight``, ``reduction="weighted_mean"`` (``Σ w·l / Σ w``),
    ``ignore_index``, ``label_smoothing``, ``from_logits=False`` and
    ``sample_weight=`` at call time. ``w_neg`` and ``w_pos`` are buffers,
    whichever form gave them.

    Example:
      >>> import torch, wce.torch as wt
      >>> x = torch.tensor([2.0, -1.0, 0.5]); y = torch.tensor([1.0, 0.0, 1.0])
      >>> a = wt.BinaryCrossEntropyLoss(pos_weight=torch.tensor(31.0))(x, y)
      >>> b = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(31.0))(x, y)
      >>> bool(torch.allclose(a, b))
      True
    """

    caller = "binary_cross_entropy"

    def __init__(self, weight=None, *, class_weight=None, alpha=None, pos_weight=None,
                 ignore_index=None, label_smoothing=0.0, from_logits=True, reduction="mean"):
        super().__init__(reduction, class_weight, alpha, pos_weight, ignore_index)
        self.register_buffer("weight", None if weight is None else _element_buffer(weight,
                                                                                   self.caller))
        self.from_logits = _check_bool(from_logits, self.caller)
        self.label_smoothing = V.check_float(label_smoothing, "label_smoothing",
                                             caller=self.caller, low=0.0, high=1.0)

    def _sample_weight(self, sample_weight):
        return _product(self.weight, sample_weight)  # PyTorch's weight= is per element

    def options(self) -> dict:
        return dict(self._weights(), label_smoothing=self.label_smoothing,
                    from_logits=self.from_logits)


class BinaryFocalLoss(_BinaryLoss):
    """Module form of :func:`binary_focal_loss`.

    Example:
      >>> import torch, wce.torch as wt
      >>> x = torch.tensor([2.0, -1.0, 0.5]); y = torch.tensor([1.0, 0.0, 1.0])
      >>> round(wt.BinaryFocalLoss(gamma=2.0, alpha=0.25)(x, y).item(), 4)
      0.0114
      >>> round(wt.BinaryFocalLoss(gamma=0.0)(x, y).item(), 4)  # plain BCE
      0.3048
    """

    caller = "binary_focal_loss"

    def __init__(self, gamma=2.0, *, alpha=None, class_weight=None, pos_weight=None,
                 ignore_index=None, reduction="mean"):
        super().__init__(reduction, class_weight, alpha, pos_weight, ignore_index)
        self.gamma = V.check_float(gamma, "gamma", caller=self.caller, low=0.0)

    def options(self) -> dict:
        return dict(self._weights(), gamma=self.gamma)


def _probabilities(target) -> bool:
    return torch.is_tensor(target) and target.is_floating_point()


def _product(weight, sample_weight):
    """Two optional per-element weights multiplied (either may be None)."""
    if weight is None or sample_weight is None:
        return sample_weight if weight is None else weight
    return weight * sample_weight


def _element_buffer(values, caller):
    """PyTorch's per-element ``weight=`` of BCEWithLogitsLoss as a tensor buffer."""
    w = values if torch.is_tensor(values) else torch.as_tensor(np.asarray(values, dtype=np.float32))
    if not w.is_floating_point():
        w = w.float()
    check = w.detach().cpu()
    if not bool(torch.isfinite(check).all()) or bool((check < 0).any()):
        raise ValueError(f"The 'weight' parameter of {caller} must hold finite, non-negative "
                         "per-element weights (PyTorch's weight=, broadcast to the input).")
    return w


def _check_bool(value, caller):
    from ..losses._common import check_from_logits

    return check_from_logits(value, caller=caller)
