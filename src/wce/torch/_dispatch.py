"""How a ``wce.torch`` call is computed: PyTorch's native or wce's fused cross-entropy kernel
where one serves, the shared definition in :mod:`wce._array` everywhere else; and the
reductions, ``"global"`` included.

The kernels serve weighted cross-entropy of logits with class-index targets
whose weights need no gradient: the native ``F.cross_entropy`` /
``nll_loss`` (every device) or the fused one-pass kernel
(:mod:`wce.torch._fused`, chosen by :func:`use_fused`). Every other loss,
target kind or option runs the shared definition with the ``torch`` adapter
(:mod:`wce.torch._ops`), differentiable throughout (learned class weights
included).
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .. import _array as A
from .. import _validation as V
from ._fused import fused_weighted_cross_entropy
from ._ops import TorchOps, compute_dtype
from ._private import functorch_transforms_active, is_traced

REDUCTIONS = V.REDUCTIONS + ("global",)
IMPLEMENTATIONS = ("auto", "native", "fused")
# ignore_index handed to PyTorch when none is wanted: no label equals it, so every label is
# range-checked (PyTorch's default -100 would silently skip a label of -100).
NO_IGNORE = torch.iinfo(torch.int64).min
#: "auto" uses the fused kernel from this many classes on. Below it, native's cost is mostly
#: per-element work the fused kernel also does, and which one wins depends on the machine
#: (page-fault cost); from here on the fused kernel's single pass wins on every machine
#: measured (benchmarks/bench_fused.py).
FUSED_MIN_CLASSES = 256


# ---------------------------------------------------------------------------
# checks of what only the torch front sees
# ---------------------------------------------------------------------------


def check_reduction(reduction: Any, caller: str, *, binary: bool = False) -> str:
    if reduction == "global":
        return reduction
    try:
        return V.check_reduction(reduction, caller=caller, binary=binary)
    except ValueError as exc:
        raise ValueError(
            f"{exc} wce.torch also accepts 'global' (Σ w·l over the local batch divided by the "
            "Σ w all-reduced over ranks, for DDP and gradient accumulation)."
        ) from None


def compute_input(x: Any, name: str, caller: str):
    """The input as a float32/float64 tensor for computing (half precision upcast, TRAPS 11)."""
    if not torch.is_tensor(x):
        raise TypeError(
            f"The '{name}' parameter of {caller} must be a torch.Tensor. Got {type(x).__name__} "
            "instead. Use wce.losses for NumPy arrays."
        )
    if not x.is_floating_point():
        raise TypeError(
            f"The '{name}' parameter of {caller} must be a floating-point tensor. "
            f"Got dtype {x.dtype} instead."
        )
    return x.to(compute_dtype(x.dtype))


def check_targets(z, targets, caller: str, *, multiclass: bool, ignore_index=None,
                  name: str = "logits") -> str:
    """The targets' kind ("index", "probability" or "binary"), with type and shape checked."""
    if not torch.is_tensor(targets):
        raise TypeError(
            f"The 'targets' parameter of {caller} must be a torch.Tensor. "
            f"Got {type(targets).__name__} instead."
        )
    if targets.numel() == 0:
        raise ValueError(f"The 'targets' parameter of {caller} is empty. Pass at least one sample.")
    if not multiclass:
        return "binary"
    kind = V.multiclass_target_kind(tuple(z.shape), tuple(targets.shape), caller=caller,
                                    name=name, ignore_index=ignore_index, class_axis=1)
    if kind == "index" and (targets.is_floating_point() or targets.is_complex()):
        raise TypeError(
            f"Class-index targets of {caller} must be integers. Got dtype {targets.dtype} "
            f"instead. Cast them with targets.long(), or pass probability targets with the "
            f"same shape as {name}."
        )
    return kind


def check_index_range(t, n_classes: int, ignore_index, caller: str) -> None:
    """One host sync; the values are fetched only to name them in the error."""
    checked = t if ignore_index is None else t.masked_fill(t == ignore_index, 0)
    low, high = torch.aminmax(checked)
    if int(low) < 0 or int(high) >= n_classes:
        V.raise_bad_class_indices(checked[(checked < 0) | (checked >= n_classes)].cpu().numpy(),
                                  n_classes, caller=caller, ignore_index=ignore_index)


def sample_weight_tensor(sample_weight, shape, z, caller: str):
    """Per-element weights broadcast to ``shape``: finite and non-negative (one host sync)."""
    if sample_weight is None:
        return None
    if not torch.is_tensor(sample_weight):
        sample_weight = torch.as_tensor(np.asarray(sample_weight, dtype=np.float64))
    try:
        s = torch.broadcast_to(sample_weight.to(device=z.device, dtype=z.dtype), tuple(shape))
    except RuntimeError:
        raise ValueError(
            f"The 'sample_weight' parameter of {caller} must broadcast to the per-element "
            f"shape {tuple(shape)}. Got shape {tuple(sample_weight.shape)} instead."
        ) from None
    low, finite = torch.stack([torch.where(torch.isfinite(s), s, 0).amin(),
                               torch.isfinite(s).all().to(s.dtype)]).tolist()
    V.check_finite_nonnegative(low, finite > 0, "sample_weight", caller=caller)
    return s


#: Weight tensors found valid, with the version counter they had then.
#: Weight tensors found valid: id -> (reference, version counter then, all weights > 0).
_CHECKED: dict[int, tuple[weakref.ref, int, bool]] = {}


def _seen(values):
    entry = _CHECKED.get(id(values))
    if entry is not None and entry[0]() is values and entry[1] == values._version:
        return entry
    return None


def all_positive(weights) -> bool:
    """Whether checked class weights (or None: all 1) are all > 0, known without a sync."""
    entry = None if weights is None else _seen(weights)
    return weights is None or (entry is not None and entry[2])


def check_class_weight(values, n_classes: int | None, caller: str, name: str = "class_weight"):
    """Validated (C,) class weights as given (a tensor keeps its autograd graph), or None."""
    if values is None:
        return None
    if (torch.is_tensor(values) and values.is_floating_point() and values.dim() == 1
            and values.shape[0] == (n_classes if n_classes is not None else values.shape[0])):
        # The same weight tensor comes back at every step: checked once per in-place change
        # (its version counter), with one host sync; the host check below words the error.
        if _seen(values) is not None:
            return values
        if is_traced(values):
            return values  # values cannot be read inside a transform
        w = values.detach()
        finite, non_negative, positive = torch.stack(
            [torch.isfinite(w).all(), (w >= 0).all(), (w > 0).all()]).tolist()
        if finite and non_negative and bool((w > 0).any()):
            if len(_CHECKED) > 64:
                _CHECKED.clear()
            _CHECKED[id(values)] = (weakref.ref(values), values._version, positive)
            return values
    host = TorchOps.convert_to_numpy(values) if torch.is_tensor(values) else values
    n = n_classes if n_classes is not None else int(np.size(host)) if np.ndim(host) == 1 else -1
    checked = V.check_class_weight(host, n, caller=caller, name=name)
    if torch.is_tensor(values):
        return values if values.is_floating_point() else values.float()
    weights = torch.as_tensor(np.asarray(host, dtype=np.float64))
    _CHECKED[id(weights)] = (weakref.ref(weights), weights._version, bool(np.all(checked > 0)))
    return weights


# ---------------------------------------------------------------------------
# reductions, "global" included (TRAPS 9)
# ---------------------------------------------------------------------------


def world_size() -> int:
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def all_reduce_sum(value):
    value = value.detach().clone()
    if world_size() > 1:
        torch.distributed.all_reduce(value)
    return value


def _denominator_tensor(denominator, like, caller: str):
    den = torch.as_tensor(denominator).detach()
    if den.numel() != 1 or not bool(torch.isfinite(den).all()) or float(den) < 0:
        raise ValueError(
            f"The 'denominator' parameter of {caller} must be a finite, non-negative number: "
            "the Σ w of the whole global batch (see total_weight). Got "
            f"{den.tolist()} instead."
        )
    return den.reshape(()).to(device=like.device, dtype=like.dtype)


def finish(reduction: str, out_dtype, caller: str, *, num, weight_sum: Callable, count: Callable,
           denominator=None):
    """Σ w·l (``num``) to the reduction; ``weight_sum``/``count`` are evaluated only if needed."""
    ops = TorchOps(num.device)
    if reduction == "sum":
        value = num
    elif reduction == "mean":
        value = A.divide(ops, num, weight_sum())
    elif reduction == "mean_per_sample":
        value = A.divide(ops, num, count().to(num.dtype))
    else:  # global
        den = (all_reduce_sum(weight_sum()) if denominator is None
               else _denominator_tensor(denominator, num, caller))
        value = world_size() * A.divide(ops, num, den)
    return value.to(out_dtype)


def finish_elements(el: A.Elements, reduction: str, out_dtype, caller: str, denominator=None):
    if reduction == "none":
        return el.weighted_loss.to(out_dtype)
    value = finish(reduction, out_dtype, caller, num=el.weighted_loss.sum(),
                   weight_sum=lambda: el.weight.sum(), count=lambda: el.valid.sum(),
                   denominator=denominator)
    return el.reduced(TorchOps(value.device), value).to(out_dtype)


# ---------------------------------------------------------------------------
# the two paths
# ---------------------------------------------------------------------------


def elements(name: str, x, targets, *, caller: str, **options) -> A.Elements:
    """Per-element pieces from the shared definition (class axis moved last for multiclass)."""
    from_logits = options.get("from_logits", True)
    input_name = "logits" if from_logits else "probs"
    z = compute_input(x, input_name, caller)
    multiclass = name in A.MULTICLASS
    check_targets(z, targets, caller, multiclass=multiclass,
                  ignore_index=options.get("ignore_index"), name=input_name)
    ops = TorchOps(z.device)
    if not multiclass:
        return A.BINARY[name](ops, z, targets, caller=caller, **options)
    moved, t = A.class_last(ops, z, targets, caller=caller, name=input_name,
                            ignore_index=options.get("ignore_index"))
    return A.MULTICLASS[name](ops, moved, t, caller=caller, **options)


def use_fused(implementation: str, z, reduction: str, denominator, cw=None, s=None) -> bool:
    """Whether the fused one-pass kernel serves a weighted CE with index targets.

    It serves ``(N, C)`` logits that need a gradient (for a value alone native is
    leaner) with weights that need none (it differentiates the logits only).
    ``"auto"`` picks it on the CPU from :data:`FUSED_MIN_CLASSES` classes on, and
    not inside ``torch.func`` transforms (``vmap``/``grad`` need a
    ``setup_context`` the kernel lacks); on accelerators native kernels are used.
    """
    if implementation == "native" or z.dim() != 2 or reduction == "global" or denominator is not None:
        return False
    if any(v is not None and v.requires_grad for v in (cw, s)):
        return False
    if not (z.requires_grad and torch.is_grad_enabled()):
        return False
    if implementation == "fused":
        return True
    return (z.device.type == "cpu" and type(z) is torch.Tensor and z.shape[1] >= FUSED_MIN_CLASSES
            and not functorch_transforms_active())


def chosen_path(logits, targets, *, class_weight=None, implementation="auto",
                reduction="mean") -> str:
    """Which kernel :func:`wce.torch.weighted_cross_entropy` runs for these inputs (for benchmarks)."""
    if targets.dim() != logits.dim() - 1 or (class_weight is not None and class_weight.requires_grad):
        return "shared"
    return "fused" if use_fused(implementation, logits, reduction, None, class_weight) else "native"


def _native_checked(call, targets, n_classes, ignore_index, caller):
    """Run a native op; if it rejects a label, raise wce's clear ValueError instead."""
    try:
        return call()
    except (IndexError, RuntimeError):  # the fused kernel's gather reports -1 as a RuntimeError
        check_index_range(targets, n_classes, ignore_index, caller)
        raise


def weighted_cross_entropy(x, targets, *, class_weight=None, ignore_index=None,
                           label_smoothing=0.0, sample_weight=None, from_logits=True,
                           reduction="mean", denominator=None, caller="weighted_cross_entropy",
                           implementation="auto"):
    """Weighted CE: a native or fused kernel for class indices, else the shared definition."""
    learned = torch.is_tensor(class_weight) and class_weight.requires_grad
    index = (torch.is_tensor(targets) and torch.is_tensor(x) and targets.dim() == x.dim() - 1
             and not targets.is_floating_point())
    if not (from_logits and index) or learned:
        el = elements("weighted_cross_entropy", x, targets, caller=caller,
                      class_weight=class_weight, ignore_index=ignore_index,
                      label_smoothing=label_smoothing, sample_weight=sample_weight,
                      from_logits=from_logits)
        return finish_elements(el, reduction, x.dtype, caller, denominator)
    z = compute_input(x, "logits", caller)
    check_targets(z, targets, caller, multiclass=True, ignore_index=ignore_index)
    ignore_index = V.check_ignore_index(ignore_index, caller=caller)
    label_smoothing = V.check_float(label_smoothing, "label_smoothing", caller=caller,
                                    low=0.0, high=1.0)
    C = z.shape[1]
    checked = None if class_weight is None else check_class_weight(class_weight, C, caller)
    positive = all_positive(checked)  # before .to(): the check is remembered for the original
    cw = None if checked is None else checked.to(device=z.device, dtype=z.dtype)
    t = targets.long()
    if z.device.type != "cpu":  # a device-side assert would be cryptic: check first (a sync)
        check_index_range(t, C, ignore_index, caller)
    # On the CPU the native op refuses out-of-range labels itself (IndexError), and
    # _native_checked turns that into the clear message: no extra pass when labels are fine.
    shape = (z.shape[0],) + tuple(z.shape[2:])
    s = sample_weight_tensor(sample_weight, shape, z, caller)
    native_ignore = NO_IGNORE if ignore_index is None else ignore_index
    count = (lambda: torch.tensor(float(t.numel()), device=z.device)) if ignore_index is None \
        else (lambda: (t != ignore_index).sum())

    if use_fused(implementation, z, reduction, denominator, cw, s):
        out = _native_checked(
            lambda: fused_weighted_cross_entropy(
                z, t, class_weight=cw, sample_weight=s, ignore_index=ignore_index,
                label_smoothing=label_smoothing, reduction=reduction),
            t, C, ignore_index, caller)
        return out.to(x.dtype)
    if reduction == "mean" and s is None and ignore_index is None and positive:
        # Every element has a positive weight, so Σ w > 0: PyTorch's own weighted mean is
        # exactly ours (label smoothing included, TRAPS 8), at no extra cost.
        return _native_checked(
            lambda: F.cross_entropy(z, t, weight=cw, label_smoothing=label_smoothing,
                                    ignore_index=NO_IGNORE), t, C, ignore_index, caller
        ).to(x.dtype)
    if s is None and reduction != "none" and z.dim() == 2 and label_smoothing == 0:
        # One pass gives Σ w·l and Σ w (PyTorch's own total weight).
        num, total = _native_checked(
            lambda: torch.ops.aten.nll_loss_forward(torch.log_softmax(z, 1), t, cw, 2,
                                                    native_ignore),
            t, C, ignore_index, caller)
        return finish(reduction, x.dtype, caller, num=num, weight_sum=lambda: total,
                      count=count, denominator=denominator)

    def weight_sum():
        w = torch.ones_like(t, dtype=z.dtype) if cw is None else cw[t.clamp(0, C - 1)]
        if ignore_index is not None:
            w = w * (t != ignore_index)
        return (w if s is None else w * s).sum()

    # F.cross_entropy's per-element loss is -Σ_c w_c q'_c log p_c with q' the smoothed targets:
    # exactly the shared definition's numerator (TRAPS 8). Only its mean differs.
    def native_loss(kind):
        return _native_checked(
            lambda: F.cross_entropy(z, t, weight=cw, label_smoothing=label_smoothing,
                                    ignore_index=native_ignore, reduction=kind),
            t, C, ignore_index, caller)

    if s is None:
        if reduction == "none":
            return native_loss("none").to(x.dtype)
        num = native_loss("sum")
    else:
        per_element = native_loss("none") * s
        if reduction == "none":
            return per_element.to(x.dtype)
        num = per_element.sum()
    return finish(reduction, x.dtype, caller, num=num, weight_sum=weight_sum, count=count,
                  denominator=denominator)


def loss(name: str, x, targets, *, reduction: str, denominator=None, caller: str | None = None,
         **options):
    """Any wce loss by name, reduced."""
    caller = caller or name
    if name == "weighted_cross_entropy":
        return weighted_cross_entropy(x, targets, reduction=reduction, denominator=denominator,
                                      caller=caller, **options)
    el = elements(name, x, targets, caller=caller, **options)
    return finish_elements(el, reduction, x.dtype, caller, denominator)


def numerator_denominator(name: str, x, targets, *, reduction: str = "mean",
                          caller: str | None = None, **options):
    """``(Σ w·l, denominator)`` by the shared definition: the parts of a global mean."""
    el = elements(name, x, targets, caller=caller or name, **options)
    return A.numerator_denominator(TorchOps(el.weighted_loss.device), el, reduction)
