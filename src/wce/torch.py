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

from . import _validation as V
from ._optional import require
from .losses._binary import binary_class_weights
from .losses._common import EPS
from .losses._logit_adjusted import log_prior
from .weights._schemes import effective_number_weights

torch = require("torch")
import torch.nn.functional as F  # noqa: E402  (after the optional-import guard)
from torch import nn  # noqa: E402

REDUCTIONS = V.REDUCTIONS + ("global",)
# ignore_index handed to PyTorch when none is wanted: no label equals it, so every label is
# range-checked (PyTorch's default -100 would silently skip a label of -100).
NO_IGNORE = torch.iinfo(torch.int64).min

__all__ = [
    "BinaryCrossEntropyLoss",
    "BinaryFocalLoss",
    "ClassBalancedLoss",
    "CostSensitiveCrossEntropyLoss",
    "FocalLoss",
    "LogitAdjustedCrossEntropyLoss",
    "WeightedCrossEntropyLoss",
    "balanced_softmax_cross_entropy",
    "binary_cross_entropy",
    "binary_focal_loss",
    "chunked_weighted_cross_entropy",
    "class_balanced_loss",
    "empty_cache",
    "set_buffer_reuse",
    "cost_sensitive_cross_entropy",
    "focal_loss",
    "ldam_loss",
    "logit_adjusted_cross_entropy",
    "weighted_cross_entropy",
]


# ---------------------------------------------------------------------------
# checks (hyper-parameters through wce._validation; tensors checked cheaply)
# ---------------------------------------------------------------------------


def _check_reduction(reduction: Any, caller: str) -> str:
    if reduction == "global":
        return reduction
    try:
        return V.check_reduction(reduction, caller=caller)
    except ValueError as exc:
        raise ValueError(
            f"{exc} wce.torch also accepts 'global' (Σ w·l over the local batch divided by the "
            "Σ w all-reduced over ranks, for DDP and gradient accumulation)."
        ) from None


def _host(values: Any) -> Any:
    """A small parameter (weights, priors) as NumPy for validation."""
    if torch.is_tensor(values):
        return values.detach().cpu().numpy()
    return values


def _weight_tensor(values: Any, n_classes: int | None, caller: str, name: str = "class_weight",
                   dtype=None):
    """Validated (C,) class weights as a float tensor, or None (validated once, on the host).

    Tensors keep their dtype; other values become ``dtype`` (float64 for the functions, which
    cast to the compute dtype at once; float32 for module buffers).
    """
    if values is None:
        return None
    host = _host(values)
    n = n_classes if n_classes is not None else int(np.size(host)) if np.ndim(host) == 1 else -1
    V.check_class_weight(host, n, caller=caller, name=name)
    if torch.is_tensor(values):
        return values.detach().to(torch.float32 if not values.is_floating_point() else values.dtype)
    return torch.as_tensor(host, dtype=dtype or torch.float64)


def _compute(x: Any, name: str, caller: str):
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
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _like(values, z):
    return None if values is None else values.to(device=z.device, dtype=z.dtype)


def _class_axis(w, z):
    """(C,) -> shaped to broadcast along axis 1 of z."""
    return w.view((1, -1) + (1,) * (z.dim() - 2))


def _is_soft(z, targets, caller: str, name: str = "logits") -> bool:
    """True for probability targets, False for class indices; shapes checked."""
    if not torch.is_tensor(targets):
        raise TypeError(
            f"The 'targets' parameter of {caller} must be a torch.Tensor. "
            f"Got {type(targets).__name__} instead."
        )
    if z.dim() < 2:
        raise ValueError(
            f"The '{name}' parameter of {caller} must have shape (N, C) or (N, C, d1, ...). "
            f"Got shape {tuple(z.shape)} instead. For a single binary output use "
            "binary_cross_entropy."
        )
    if targets.numel() == 0:
        raise ValueError(f"The 'targets' parameter of {caller} is empty. Pass at least one sample.")
    expected = (z.shape[0],) + tuple(z.shape[2:])
    if targets.dim() == z.dim():
        if targets.shape != z.shape:
            raise ValueError(
                f"Soft targets of {caller} must have the same shape as {name} {tuple(z.shape)}. "
                f"Got shape {tuple(targets.shape)} instead."
            )
        return True
    if targets.dim() == z.dim() - 1:
        if tuple(targets.shape) != expected:
            raise ValueError(
                f"Class-index targets of {caller} must have shape {expected} to match {name} "
                f"of shape {tuple(z.shape)}. Got shape {tuple(targets.shape)} instead."
            )
        if targets.is_floating_point() or targets.is_complex():
            raise TypeError(
                f"Class-index targets of {caller} must be integers. Got dtype {targets.dtype} "
                f"instead. Cast them with targets.long(), or pass probability targets with the "
                f"same shape as {name}."
            )
        return False
    raise ValueError(
        f"Targets of {caller} must be class indices of shape {expected} or probabilities of "
        f"shape {tuple(z.shape)}. Got shape {tuple(targets.shape)} instead."
    )


def _index_targets(targets, n_classes: int, ignore_index, caller: str):
    """(long targets, valid mask or None); one host sync to refuse out-of-range labels."""
    t = targets.long()
    valid = None if ignore_index is None else t != ignore_index
    checked = t if valid is None else t.masked_fill(~valid, 0)
    low, high = torch.aminmax(checked)
    if int(low) < 0 or int(high) >= n_classes:
        bad = checked[(checked < 0) | (checked >= n_classes)].unique()[:5].tolist()
        hint = "" if ignore_index is None else f" (ignore_index={ignore_index} is exempt)"
        raise ValueError(
            f"Targets of {caller} must be class indices in [0, {n_classes - 1}]{hint}. "
            f"Got {bad} instead."
        )
    return t, valid


def _soft_targets(z, targets, ignore_index, caller: str):
    if ignore_index is not None:
        raise ValueError(
            f"The 'ignore_index' parameter of {caller} applies to class-index targets only; "
            "with probability targets, give ignored elements sample_weight=0 instead."
        )
    q = targets.to(z.dtype)
    if bool((q < 0).any()):
        raise ValueError(f"Soft targets of {caller} must be non-negative probabilities.")
    return q


def _sample_weight(sample_weight, shape, z, caller: str):
    if sample_weight is None:
        return None
    if not torch.is_tensor(sample_weight):
        sample_weight = torch.as_tensor(np.asarray(sample_weight, dtype=np.float64))
    try:
        ok = torch.broadcast_shapes(tuple(sample_weight.shape), tuple(shape)) == tuple(shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(
            f"The 'sample_weight' parameter of {caller} must broadcast to the per-element "
            f"shape {tuple(shape)}. Got shape {tuple(sample_weight.shape)} instead."
        )
    s = sample_weight.to(device=z.device, dtype=z.dtype)
    if bool((s < 0).any()):
        raise ValueError(f"The 'sample_weight' parameter of {caller} must be non-negative.")
    return s


# ---------------------------------------------------------------------------
# reductions: the one place where per-element losses become a number
# ---------------------------------------------------------------------------


def _world_size() -> int:
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _all_reduce_sum(value):
    value = value.detach().clone()
    if _world_size() > 1:
        torch.distributed.all_reduce(value)
    return value


def _safe_div(num, den):
    """num / den, and 0 with zero gradient where den == 0 (TRAPS 7)."""
    positive = den > 0
    return torch.where(positive, num, torch.zeros_like(num)) / torch.where(
        positive, den, torch.ones_like(den)
    )


def _reduce(reduction, out_dtype, *, weighted_loss=None, num=None, weight=None, count=None,
            denominator=None):
    """Reduce per-element ``weighted_loss`` (or its precomputed sum ``num``).

    ``weight`` and ``count`` are callables (evaluated only when the reduction needs them)
    giving the per-element weights and the number of non-ignored elements.
    """
    if reduction == "none":
        return weighted_loss.to(out_dtype)
    if num is None:
        num = weighted_loss.sum()
    if reduction == "sum":
        return num.to(out_dtype)
    if reduction == "mean":
        return _safe_div(num, weight().sum()).to(out_dtype)
    if reduction == "mean_per_sample":
        return _safe_div(num, count().to(num.dtype)).to(out_dtype)
    # global
    if denominator is None:
        den = _all_reduce_sum(weight().sum())
    else:
        den = torch.as_tensor(denominator).to(device=num.device, dtype=num.dtype)
    return (_world_size() * _safe_div(num, den)).to(out_dtype)


def _counter(valid, shape, device):
    if valid is None:
        return lambda: torch.tensor(float(np.prod(shape)), device=device)
    return lambda: valid.sum()


# ---------------------------------------------------------------------------
# multiclass math
# ---------------------------------------------------------------------------


def _log1m_softmax(z):
    """log(1 - softmax(z)) along axis 1, finite and accurate when one class holds the mass.

    Same construction as the NumPy reference: for k != argmax,
    ``log(Σ_{j≠k} e^{z_j - max})`` has a term equal to 1, so no cancellation;
    for the arg-max the others are summed directly, shifted by the second largest logit.
    """
    if z.shape[1] == 1:
        return torch.full_like(z, -float("inf"))
    lse = torch.logsumexp(z, 1, keepdim=True)
    top2, idx2 = z.topk(2, dim=1)
    top, second, arg = top2[:, :1], top2[:, 1:2], idx2[:, :1]
    e = torch.exp(z - top)
    out = top + torch.log((e.sum(1, keepdim=True) - e).clamp_min(1.0)) - lse
    others = torch.exp(z - second).scatter(1, arg, 0.0)
    at_max = second + torch.log(others.sum(1, keepdim=True)) - lse
    return out.scatter(1, arg, at_max).clamp_max(0.0)


def _pow0(u, exponent: float):
    """u ** exponent for u >= 0 with 0 where u == 0 (the reference's pow0)."""
    if exponent == 0:
        return torch.ones_like(u)
    positive = u > 0
    safe = torch.where(positive, u, torch.ones_like(u))
    return torch.where(positive, safe**exponent, torch.zeros_like(u))


def _dense_multiclass(z, targets, cw, *, ignore_index, label_smoothing, sample_weight, caller):
    """(a, q, weight, valid): a[n, c] = s·w_c·q'_c (layout of z), q unsmoothed targets."""
    ignore_index = V.check_ignore_index(ignore_index, caller=caller)
    C = z.shape[1]
    if _is_soft(z, targets, caller):
        q = _soft_targets(z, targets, ignore_index, caller)
        valid = None
    else:
        t, valid = _index_targets(targets, C, ignore_index, caller)
        safe = t if valid is None else t.masked_fill(~valid, 0)
        q = torch.zeros_like(z).scatter_(1, safe.unsqueeze(1), 1.0)
        if valid is not None:
            q = q * valid.unsqueeze(1)
    cwv = None if cw is None else _class_axis(cw, z)
    weight = q.sum(1) if cwv is None else (q * cwv).sum(1)
    smoothed = q
    if label_smoothing > 0:
        smoothed = (1.0 - label_smoothing) * q + label_smoothing / C
        if valid is not None:
            smoothed = smoothed * valid.unsqueeze(1)
    a = smoothed if cwv is None else smoothed * cwv
    s = _sample_weight(sample_weight, weight.shape, z, caller)
    if s is not None:
        a = a * s.unsqueeze(1)
        weight = weight * s
    return a, q, s, weight, valid


IMPLEMENTATIONS = ("auto", "native", "fused")


def empty_cache() -> None:
    """Free the gradient buffers the fused CPU kernel keeps for reuse between steps."""
    from ._torch_fused import empty_cache as _empty

    _empty()


def set_buffer_reuse(enabled: bool) -> None:
    """Let the fused CPU kernel reuse freed gradient buffers between steps (default on)."""
    from ._torch_fused import set_buffer_reuse as _set

    _set(enabled)


def _use_fused(implementation, z, reduction, denominator, cw=None, s=None):
    """The fused one-pass kernel (wce._torch_fused) serves 2-D index targets that need a gradient.

    "auto" picks it on the CPU, where it beats native by avoiding two N×C buffers
    (benchmarks/bench_fused.py); on accelerators native kernels are used. Native also
    serves, even for "fused", a call that needs no gradient and weights that need a
    gradient themselves (the kernel differentiates the logits only); for "auto", also
    torch.func transforms (``vmap``/``grad`` need a ``setup_context`` the kernel lacks).
    """
    if implementation == "native" or z.dim() != 2 or reduction == "global" or denominator is not None:
        return False
    if any(v is not None and v.requires_grad for v in (cw, s)):
        return False
    if not (z.requires_grad and torch.is_grad_enabled()):
        return False  # the kernel's point is the gradient: for a value alone native is leaner
    if implementation == "fused":
        return True
    return (z.device.type == "cpu" and type(z) is torch.Tensor
            and not torch._C._are_functorch_transforms_active())


def _cross_entropy(x, targets, cw, *, ignore_index, label_smoothing, sample_weight, from_logits,
                   reduction, denominator, caller, implementation="auto"):
    z = _compute(x, "logits" if from_logits else "probs", caller)
    soft = _is_soft(z, targets, caller, "logits" if from_logits else "probs")
    ignore_index = V.check_ignore_index(ignore_index, caller=caller)
    C = z.shape[1]
    if cw is not None and cw.shape[0] != C:
        V.check_class_weight(_host(cw), C, caller=caller)
    cw = _like(cw, z)
    if not from_logits:
        _check_probs(z, caller)
        return _probs_cross_entropy(z, targets, cw, ignore_index=ignore_index,
                                    label_smoothing=label_smoothing, sample_weight=sample_weight,
                                    reduction=reduction, denominator=denominator, caller=caller,
                                    out_dtype=x.dtype)
    shape = (z.shape[0],) + tuple(z.shape[2:])
    s = _sample_weight(sample_weight, shape, z, caller)
    if soft:
        q = _soft_targets(z, targets, ignore_index, caller)
        weight = (lambda: q.sum(1)) if cw is None else (lambda: (q * _class_axis(cw, z)).sum(1))
        native = dict(weight=cw, label_smoothing=label_smoothing)
        target_arg, count = q, _counter(None, shape, z.device)
    else:
        t = targets.long()
        if z.device.type != "cpu":  # a device-side assert would be cryptic: check first (a sync)
            _index_targets(t, C, ignore_index, caller)
        # On the CPU the native op refuses out-of-range labels itself (IndexError), and
        # _native_checked turns that into the clear message: no extra pass when labels are fine.
        native_ignore = NO_IGNORE if ignore_index is None else ignore_index
        native = dict(weight=cw, label_smoothing=label_smoothing, ignore_index=native_ignore)
        target_arg = t
        valid = (lambda: None) if ignore_index is None else (lambda: t != ignore_index)
        count = (lambda: torch.tensor(float(t.numel()), device=z.device)) if ignore_index is None \
            else (lambda: valid().sum())
        if _use_fused(implementation, z, reduction, denominator, cw, s):
            from ._torch_fused import fused_weighted_cross_entropy

            out = _native_checked(
                lambda: fused_weighted_cross_entropy(
                    z, t, class_weight=cw, sample_weight=s, ignore_index=ignore_index,
                    label_smoothing=label_smoothing, reduction=reduction),
                t, C, ignore_index, caller)
            return out.to(x.dtype)
        if s is None and reduction != "none" and z.dim() == 2 and label_smoothing == 0:
            # Fast path: one pass gives Σ w·l and Σ w (PyTorch's own total weight).
            num, total = _native_checked(
                lambda: torch.ops.aten.nll_loss_forward(torch.log_softmax(z, 1), t, cw, 2,
                                                        native_ignore),
                t, C, ignore_index, caller)
            return _reduce(reduction, x.dtype, num=num, weight=lambda: total, count=count,
                           denominator=denominator)

        def weight():
            v = valid()
            if cw is None:
                return torch.ones_like(t, dtype=z.dtype) if v is None else v.to(z.dtype)
            return cw[t] if v is None else cw[t.masked_fill(~v, 0)] * v

    # For both target types F.cross_entropy's per-element loss is -Σ_c w_c q'_c log p_c with
    # q' the smoothed targets: exactly the reference numerator (TRAPS 8). Only its mean differs.
    def native_loss(kind):
        return _native_checked(lambda: F.cross_entropy(z, target_arg, reduction=kind, **native),
                               targets, C, ignore_index, caller)

    if s is None:
        if reduction == "none":
            return native_loss("none").to(x.dtype)
        return _reduce(reduction, x.dtype, num=native_loss("sum"), weight=weight, count=count,
                       denominator=denominator)
    return _reduce(reduction, x.dtype, weighted_loss=native_loss("none") * s,
                   weight=lambda: weight() * s, count=count, denominator=denominator)


def _native_checked(call, targets, n_classes, ignore_index, caller):
    """Run a native op; if it rejects a label, raise wce's clear ValueError instead."""
    try:
        return call()
    except (IndexError, RuntimeError):  # the fused kernel's gather reports -1 as a RuntimeError
        if not targets.is_floating_point():
            _index_targets(targets, n_classes, ignore_index, caller)
        raise


def _check_probs(p, caller):
    rows_ok = torch.allclose(p.sum(1), torch.ones((), dtype=p.dtype, device=p.device), atol=1e-4)
    if bool((p < 0).any() | (p > 1).any()) or not rows_ok:
        raise ValueError(
            f"{caller} was given from_logits=False, but 'probs' are not probabilities "
            "(each row must lie in [0, 1] and sum to 1 over the class axis). "
            "If these are raw scores, pass from_logits=True."
        )


def _probs_cross_entropy(p, targets, cw, *, ignore_index, label_smoothing, sample_weight,
                         reduction, denominator, caller, out_dtype):
    a, _, _, weight, valid = _dense_multiclass(
        p, targets, cw, ignore_index=ignore_index, label_smoothing=label_smoothing,
        sample_weight=sample_weight, caller=caller)
    # Clipped to [1e-7, 1 - 1e-7] like the reference (TRAPS 10); zero gradient outside.
    wl = -(a * torch.log(p.clamp(EPS, 1.0 - EPS))).sum(1)
    return _reduce(reduction, out_dtype, weighted_loss=wl, weight=lambda: weight,
                   count=_counter(valid, weight.shape, p.device), denominator=denominator)


def _focal(x, targets, cw, *, gamma, ignore_index, label_smoothing, sample_weight, reduction,
           denominator, caller, name="class_weight"):
    z = _compute(x, "logits", caller)
    if z.dim() >= 2:
        _check_classes(cw, z, caller, name)
    a, _, _, weight, valid = _dense_multiclass(
        z, targets, _like(cw, z), ignore_index=ignore_index, label_smoothing=label_smoothing,
        sample_weight=sample_weight, caller=caller)
    logp = torch.log_softmax(z, 1)
    modulating = _pow0(torch.exp(_log1m_softmax(z)), gamma)
    wl = -(a * modulating * logp).sum(1)
    return _reduce(reduction, x.dtype, weighted_loss=wl, weight=lambda: weight,
                   count=_counter(valid, weight.shape, z.device), denominator=denominator)


def _check_classes(cw, z, caller, name="class_weight"):
    if cw is not None and cw.shape[0] != z.shape[1]:
        V.check_class_weight(_host(cw), z.shape[1], caller=caller, name=name)


# ---------------------------------------------------------------------------
# binary math
# ---------------------------------------------------------------------------


def _binary_weights(class_weight, alpha, pos_weight, caller, dtype=torch.float64):
    """Validated (w_neg, w_pos) tensors from exactly one of the three forms (TRAPS 1, 2)."""
    cw, pw = _host(class_weight), _host(pos_weight)
    if cw is not None:
        shape = np.shape(cw)[:-1]
    elif pw is not None:
        shape = np.shape(pw)
    else:
        shape = ()
    w_neg, w_pos = binary_class_weights(class_weight=cw, alpha=alpha, pos_weight=pw, shape=shape,
                                        caller=caller)
    return (torch.as_tensor(np.array(w_neg), dtype=dtype),
            torch.as_tensor(np.array(w_pos), dtype=dtype))


def _binary_terms(x, targets, w_neg, w_pos, *, sample_weight, ignore_index, label_smoothing,
                  from_logits, caller):
    name = "logits" if from_logits else "probs"
    z = _compute(x, name, caller)
    if not torch.is_tensor(targets):
        raise TypeError(
            f"The 'targets' parameter of {caller} must be a torch.Tensor. "
            f"Got {type(targets).__name__} instead."
        )
    if targets.shape != z.shape:
        raise ValueError(
            f"The targets of {caller} must have the same shape as {name} {tuple(z.shape)}. "
            f"Got shape {tuple(targets.shape)} instead. For (N, 1) outputs, reshape targets "
            "to (N, 1)."
        )
    for w in (w_neg, w_pos):
        try:
            fits = torch.broadcast_shapes(tuple(w.shape), tuple(z.shape)) == tuple(z.shape)
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(
                f"The class weights of {caller} (shape {tuple(w.shape)}) do not broadcast to the "
                f"targets' shape {tuple(z.shape)}. Per-label weights go on the last axis."
            )
    y = targets.to(z.dtype)
    valid = None if ignore_index is None else targets != ignore_index
    out = (y < 0) | (y > 1)
    if valid is not None:
        out = out & valid
    if bool(out.any()):
        shown = y[valid] if valid is not None else y
        raise ValueError(
            f"The targets of {caller} must lie in [0, 1] (labels 0/1 or probabilities). "
            f"Got values in [{float(shown.min()):g}, {float(shown.max()):g}] instead."
        )
    if not from_logits and bool(((z < 0) | (z > 1)).any()):
        raise ValueError(
            f"{caller} was given from_logits=False, but 'probs' lie outside [0, 1]. "
            "If these are raw scores, pass from_logits=True."
        )
    s = _sample_weight(sample_weight, z.shape, z, caller)
    if valid is not None:
        y = y.masked_fill(~valid, 0.0)
        s = valid.to(z.dtype) if s is None else s * valid
    w_neg, w_pos = _like(w_neg, z), _like(w_pos, z)
    # Element weight from the unsmoothed label; smoothing changes the loss only.
    weight = w_pos * y + w_neg * (1.0 - y)
    ys = y * (1.0 - label_smoothing) + 0.5 * label_smoothing
    a, b = w_pos * ys, w_neg * (1.0 - ys)
    if s is not None:
        weight, a, b = weight * s, a * s, b * s
    return z, y, a, b, torch.broadcast_to(weight, z.shape), valid


def _softplus(x):
    # logaddexp(x, 0): exact for every x and with the right gradient at 0 (F.softplus
    # switches to the identity above its threshold, an error of e^-20 relative to float64).
    return torch.logaddexp(x, torch.zeros_like(x))


def _binary(x, targets, w_neg, w_pos, *, sample_weight, ignore_index, label_smoothing,
            from_logits, reduction, denominator, caller):
    z, _, a, b, weight, valid = _binary_terms(
        x, targets, w_neg, w_pos, sample_weight=sample_weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, from_logits=from_logits, caller=caller)
    if from_logits:
        wl = a * _softplus(-z) + b * _softplus(z)
    else:
        pc = z.clamp(EPS, 1.0 - EPS)
        wl = -(a * torch.log(pc) + b * torch.log1p(-pc))
    return _reduce(reduction, x.dtype, weighted_loss=wl, weight=lambda: weight,
                   count=_counter(valid, z.shape, z.device), denominator=denominator)


def _binary_focal(x, targets, w_neg, w_pos, *, gamma, sample_weight, ignore_index, reduction,
                  denominator, caller):
    z, y, a, b, weight, valid = _binary_terms(
        x, targets, w_neg, w_pos, sample_weight=sample_weight, ignore_index=ignore_index,
        label_smoothing=0.0, from_logits=True, caller=caller)
    ce = y * _softplus(-z) + (1.0 - y) * _softplus(z)
    one_minus_pt = y * torch.sigmoid(-z) + (1.0 - y) * torch.sigmoid(z)
    wl = (a + b) * ce * _pow0(one_minus_pt, gamma)
    return _reduce(reduction, x.dtype, weighted_loss=wl, weight=lambda: weight,
                   count=_counter(valid, z.shape, z.device), denominator=denominator)


# ---------------------------------------------------------------------------
# public functions (validate hyper-parameters, then the math above)
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
        fused kernel (:mod:`wce._torch_fused`) computes loss and gradient in one
        pass and keeps only the gradient: faster than native on the CPU at every
        shape measured, with 1× the logits' memory instead of 3×
        (``benchmarks/bench_fused.py``, ``benchmarks/bench_torch.py``).
        ``"auto"`` uses it for ``(N, C)`` logits with class-index targets on the
        CPU when a gradient is needed (and the weights need none, outside
        ``torch.func`` transforms). A second backward (``retain_graph=True``) or
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
    reduction = _check_reduction(reduction, caller)
    return _cross_entropy(
        logits, targets, _weight_tensor(class_weight, None, caller), ignore_index=ignore_index,
        label_smoothing=V.check_float(label_smoothing, "label_smoothing", caller=caller,
                                      low=0.0, high=1.0),
        sample_weight=sample_weight, from_logits=_check_bool(from_logits, caller),
        reduction=reduction, denominator=denominator, caller=caller,
        implementation=V.check_one_of(implementation, "implementation", IMPLEMENTATIONS,
                                      caller=caller))


def _check_bool(value, caller):
    from .losses._common import check_from_logits

    return check_from_logits(value, caller=caller)


def binary_cross_entropy(logits, targets, *, class_weight=None, alpha=None, pos_weight=None,
                         sample_weight=None, ignore_index=None, label_smoothing=0.0,
                         from_logits=True, reduction="mean", denominator=None):
    r"""Weighted binary cross-entropy on tensors; :func:`wce.losses.binary_cross_entropy`.

    .. math::

        \ell_i = -\,s_i\,[\,w_+\, y'_i \log p_i + w_-\,(1 - y'_i) \log(1 - p_i)\,],\qquad
        \text{weight}_i = s_i\,[\,w_+ y_i + w_- (1 - y_i)\,]

    At most one of ``class_weight=(w_neg, w_pos)``, ``alpha`` in [0, 1]
    (TRAPS 1) or ``pos_weight``. PyTorch's
    ``F.binary_cross_entropy_with_logits(x, y, weight=s, pos_weight=r)`` is
    ``binary_cross_entropy(x, y, sample_weight=s, pos_weight=r,
    reduction="mean_per_sample")``: its ``weight`` is a per-element sample
    weight, not a class weight (TRAPS 2).

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
    reduction = _check_reduction(reduction, caller)
    w_neg, w_pos = _binary_weights(class_weight, alpha, pos_weight, caller)
    return _binary(
        logits, targets, w_neg, w_pos, sample_weight=sample_weight, ignore_index=ignore_index,
        label_smoothing=V.check_float(label_smoothing, "label_smoothing", caller=caller,
                                      low=0.0, high=1.0),
        from_logits=_check_bool(from_logits, caller), reduction=reduction,
        denominator=denominator, caller=caller)


def _check_gamma(gamma, caller):
    return V.check_float(gamma, "gamma", caller=caller, low=0.0)


def _focal_alpha(alpha, caller, dtype=None):
    if alpha is not None and np.ndim(_host(alpha)) == 0:
        raise ValueError(
            f"The 'alpha' parameter of {caller} must be a per-class vector of shape (C,). "
            f"Got the scalar {_host(alpha)!r} instead: a scalar alpha is ambiguous with more "
            "than two classes (TRAPS 12). For a binary problem use binary_focal_loss(alpha=...)."
        )
    return _weight_tensor(alpha, None, caller, name="class_weight", dtype=dtype)


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
    reduction = _check_reduction(reduction, caller)
    cw = _focal_alpha(alpha, caller)
    return _focal(logits, targets, cw, gamma=_check_gamma(gamma, caller),
                  ignore_index=ignore_index,
                  label_smoothing=V.check_float(label_smoothing, "label_smoothing",
                                                caller=caller, low=0.0, high=1.0),
                  sample_weight=sample_weight, reduction=reduction, denominator=denominator,
                  caller=caller)


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
      0.35184

    References:
      Lin et al., ICCV 2017; torchvision ``ops.sigmoid_focal_loss``.
    """
    caller = "binary_focal_loss"
    reduction = _check_reduction(reduction, caller)
    w_neg, w_pos = _binary_weights(class_weight, alpha, pos_weight, caller)
    return _binary_focal(logits, targets, w_neg, w_pos, gamma=_check_gamma(gamma, caller),
                         sample_weight=sample_weight, ignore_index=ignore_index,
                         reduction=reduction, denominator=denominator, caller=caller)


def _class_balanced_weights(samples_per_class, beta, caller, dtype=torch.float64):
    beta = V.check_float(beta, "beta", caller=caller, low=0.0, high=1.0, high_inclusive=False)
    counts = V.as_float_array(_host(samples_per_class), "samples_per_class", caller=caller)
    weights = effective_number_weights(counts, beta, caller=caller)
    weights = weights * len(weights) / weights.sum()  # Cui et al. normalise to sum to C
    return torch.as_tensor(weights, dtype=dtype)


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
    reduction = _check_reduction(reduction, caller)
    V.check_one_of(loss_type, "loss_type", ("softmax", "focal"), caller=caller)
    cw = _class_balanced_weights(samples_per_class, beta, caller)
    return _class_balanced(logits, targets, cw, loss_type=loss_type,
                           gamma=_check_gamma(gamma, caller), ignore_index=ignore_index,
                           sample_weight=sample_weight, reduction=reduction,
                           denominator=denominator, caller=caller)


def _class_balanced(logits, targets, cw, *, loss_type, gamma, ignore_index, sample_weight,
                    reduction, denominator, caller):
    z = _compute(logits, "logits", caller)
    if z.dim() >= 2:
        _check_classes(cw, z, caller, name="samples_per_class")
    if loss_type == "softmax":
        return _cross_entropy(logits, targets, cw, ignore_index=ignore_index, label_smoothing=0.0,
                              sample_weight=sample_weight, from_logits=True, reduction=reduction,
                              denominator=denominator, caller=caller)
    return _focal(logits, targets, cw, gamma=gamma, ignore_index=ignore_index,
                  label_smoothing=0.0, sample_weight=sample_weight, reduction=reduction,
                  denominator=denominator, caller=caller, name="samples_per_class")


def _cost_matrix(cost_matrix, caller, dtype=torch.float64):
    host = V.check_cost_matrix(_host(cost_matrix), None, caller=caller)
    return torch.as_tensor(host, dtype=dtype)


def _cost_sensitive(x, targets, cost, cw, *, ignore_index, sample_weight, reduction, denominator,
                    caller):
    z = _compute(x, "logits", caller)
    C = z.shape[1] if z.dim() >= 2 else None
    if C is not None and cost.shape[0] != C:
        V.check_cost_matrix(_host(cost), C, caller=caller)
    a, q, s, weight, valid = _dense_multiclass(
        z, targets, _like(cw, z), ignore_index=ignore_index, label_smoothing=0.0,
        sample_weight=sample_weight, caller=caller)
    cost = _like(cost, z)
    off = cost * (1.0 - torch.eye(C, dtype=z.dtype, device=z.device))
    m = torch.einsum("nc...,ck->nk...", q, off)  # weight of -log(1 - p_k), false positives
    if s is not None:
        m = m * s.unsqueeze(1)
    logp = torch.log_softmax(z, 1)
    fp = torch.where(m > 0, -m * _log1m_softmax(z), torch.zeros_like(m))
    wl = -(a * logp).sum(1) + fp.sum(1)
    return _reduce(reduction, x.dtype, weighted_loss=wl, weight=lambda: weight,
                   count=_counter(valid, weight.shape, z.device), denominator=denominator)


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
    reduction = _check_reduction(reduction, caller)
    cost = _cost_matrix(cost_matrix, caller)
    cw = _weight_tensor(class_weight, cost.shape[0], caller)
    return _cost_sensitive(logits, targets, cost, cw, ignore_index=ignore_index,
                           sample_weight=sample_weight, reduction=reduction,
                           denominator=denominator, caller=caller)


def _log_prior(class_prior, tau, caller, dtype=torch.float64):
    tau = V.check_float(tau, "tau", caller=caller, low=0.0)
    return torch.as_tensor(tau * log_prior(_host(class_prior), caller=caller), dtype=dtype)


def _logit_adjusted(x, targets, shift, cw, *, ignore_index, label_smoothing, sample_weight,
                    reduction, denominator, caller):
    z = _compute(x, "logits", caller)
    if z.dim() >= 2 and shift.shape[0] != z.shape[1]:
        raise ValueError(
            f"The 'class_prior' parameter of {caller} has {shift.shape[0]} entries but the "
            f"logits have {z.shape[1]} classes."
        )
    adjusted = (z + _class_axis(_like(shift, z), z)) if z.dim() >= 2 else z
    out = _cross_entropy(adjusted, targets, cw, ignore_index=ignore_index,
                         label_smoothing=label_smoothing, sample_weight=sample_weight,
                         from_logits=True, reduction=reduction, denominator=denominator,
                         caller=caller)
    return out.to(x.dtype)


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
    reduction = _check_reduction(reduction, caller)
    shift = _log_prior(class_prior, tau, caller)
    return _logit_adjusted(
        logits, targets, shift, _weight_tensor(class_weight, None, caller),
        ignore_index=ignore_index,
        label_smoothing=V.check_float(label_smoothing, "label_smoothing", caller=caller,
                                      low=0.0, high=1.0),
        sample_weight=sample_weight, reduction=reduction, denominator=denominator,
        caller=caller)


# ---------------------------------------------------------------------------
# element weights without logits: the denominator of a global mean
# ---------------------------------------------------------------------------


def _multiclass_weight(targets, cw, ignore_index, sample_weight):
    """Σ_c w_c q_c per element, from the targets alone (integer: indices; float: probabilities)."""
    if targets.is_floating_point():
        w = targets.sum(1) if cw is None else (targets * _class_axis(cw.to(targets), targets)).sum(1)
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
    return _all_reduce_sum(total)


# ---------------------------------------------------------------------------
# nn.Module classes: thin, with weights registered as buffers
# ---------------------------------------------------------------------------


class _Loss(nn.Module):
    """Shared ``reduction`` handling and :meth:`total_weight` for global means."""

    caller = ""

    def __init__(self, reduction: str) -> None:
        super().__init__()
        self.reduction = _check_reduction(reduction, self.caller)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

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
    """Module form of :func:`weighted_cross_entropy` (like ``nn.CrossEntropyLoss``).

    Example:
      >>> import torch, wce.torch as wt
      >>> loss_fn = wt.WeightedCrossEntropyLoss(class_weight=torch.tensor([1.0, 3.0]))
      >>> round(loss_fn(torch.zeros(2, 2), torch.tensor([0, 1])).item(), 4)
      0.6931
    """

    caller = "weighted_cross_entropy"

    def __init__(self, class_weight=None, *, ignore_index=None, label_smoothing=0.0,
                 from_logits=True, reduction="mean", implementation="auto"):
        super().__init__(reduction)
        self.register_buffer("class_weight", _weight_tensor(class_weight, None, self.caller,
                                                            dtype=torch.float32))
        self.ignore_index, self.from_logits = ignore_index, _check_bool(from_logits, self.caller)
        self.implementation = V.check_one_of(implementation, "implementation", IMPLEMENTATIONS,
                                             caller=self.caller)
        self.label_smoothing = V.check_float(label_smoothing, "label_smoothing",
                                             caller=self.caller, low=0.0, high=1.0)

    def forward(self, input, target, sample_weight=None, denominator=None):
        return _cross_entropy(input, target, self.class_weight, ignore_index=self.ignore_index,
                              label_smoothing=self.label_smoothing, sample_weight=sample_weight,
                              from_logits=self.from_logits, reduction=self.reduction,
                              denominator=denominator, caller=self.caller,
                              implementation=self.implementation)


class FocalLoss(_MulticlassLoss):
    """Module form of :func:`focal_loss`; ``alpha`` (C,) is stored as the ``class_weight`` buffer."""

    caller = "focal_loss"

    def __init__(self, gamma=2.0, alpha=None, *, ignore_index=None, label_smoothing=0.0,
                 reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("class_weight", _focal_alpha(alpha, self.caller, torch.float32))
        self.gamma = _check_gamma(gamma, self.caller)
        self.ignore_index = ignore_index
        self.label_smoothing = V.check_float(label_smoothing, "label_smoothing",
                                             caller=self.caller, low=0.0, high=1.0)

    def forward(self, input, target, sample_weight=None, denominator=None):
        return _focal(input, target, self.class_weight, gamma=self.gamma,
                      ignore_index=self.ignore_index, label_smoothing=self.label_smoothing,
                      sample_weight=sample_weight, reduction=self.reduction,
                      denominator=denominator, caller=self.caller)


class ClassBalancedLoss(_MulticlassLoss):
    """Module form of :func:`class_balanced_loss`; the weights are the ``class_weight`` buffer."""

    caller = "class_balanced_loss"

    def __init__(self, samples_per_class, *, beta=0.9999, loss_type="softmax", gamma=2.0,
                 ignore_index=None, reduction="mean"):
        super().__init__(reduction)
        self.loss_type = V.check_one_of(loss_type, "loss_type", ("softmax", "focal"),
                                        caller=self.caller)
        self.register_buffer("class_weight",
                             _class_balanced_weights(samples_per_class, beta, self.caller,
                                                     torch.float32))
        self.gamma, self.ignore_index = _check_gamma(gamma, self.caller), ignore_index

    def forward(self, input, target, sample_weight=None, denominator=None):
        return _class_balanced(input, target, self.class_weight, loss_type=self.loss_type,
                               gamma=self.gamma, ignore_index=self.ignore_index,
                               sample_weight=sample_weight, reduction=self.reduction,
                               denominator=denominator, caller=self.caller)


class CostSensitiveCrossEntropyLoss(_MulticlassLoss):
    """Module form of :func:`cost_sensitive_cross_entropy` (``cost_matrix`` is a buffer)."""

    caller = "cost_sensitive_cross_entropy"

    def __init__(self, cost_matrix, *, class_weight=None, ignore_index=None, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("cost_matrix", _cost_matrix(cost_matrix, self.caller, torch.float32))
        self.register_buffer("class_weight", _weight_tensor(
            class_weight, self.cost_matrix.shape[0], self.caller, dtype=torch.float32))
        self.ignore_index = ignore_index

    def forward(self, input, target, sample_weight=None, denominator=None):
        return _cost_sensitive(input, target, self.cost_matrix, self.class_weight,
                               ignore_index=self.ignore_index, sample_weight=sample_weight,
                               reduction=self.reduction, denominator=denominator,
                               caller=self.caller)


class LogitAdjustedCrossEntropyLoss(_MulticlassLoss):
    """Module form of :func:`logit_adjusted_cross_entropy` (``tau * log prior`` is a buffer)."""

    caller = "logit_adjusted_cross_entropy"

    def __init__(self, class_prior, *, tau=1.0, class_weight=None, ignore_index=None,
                 label_smoothing=0.0, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("log_prior", _log_prior(class_prior, tau, self.caller, torch.float32))
        self.register_buffer("class_weight", _weight_tensor(class_weight, None, self.caller,
                                                            dtype=torch.float32))
        self.ignore_index = ignore_index
        self.label_smoothing = V.check_float(label_smoothing, "label_smoothing",
                                             caller=self.caller, low=0.0, high=1.0)

    def forward(self, input, target, sample_weight=None, denominator=None):
        return _logit_adjusted(input, target, self.log_prior, self.class_weight,
                               ignore_index=self.ignore_index,
                               label_smoothing=self.label_smoothing, sample_weight=sample_weight,
                               reduction=self.reduction, denominator=denominator,
                               caller=self.caller)


class _BinaryLoss(_Loss):
    def __init__(self, reduction, class_weight, alpha, pos_weight, ignore_index):
        super().__init__(reduction)
        w_neg, w_pos = _binary_weights(class_weight, alpha, pos_weight, self.caller, torch.float32)
        self.register_buffer("w_neg", w_neg)
        self.register_buffer("w_pos", w_pos)
        self.ignore_index = ignore_index

    def _element_weight(self, targets, sample_weight):
        y = targets.float()
        valid = torch.ones_like(y, dtype=torch.bool) if self.ignore_index is None else (
            targets != self.ignore_index)
        y = y.masked_fill(~valid, 0.0)
        w = (self.w_pos.to(y) * y + self.w_neg.to(y) * (1.0 - y)) * valid
        return w if sample_weight is None else w * torch.as_tensor(sample_weight).to(w)


class BinaryCrossEntropyLoss(_BinaryLoss):
    """Module form of :func:`binary_cross_entropy` (like ``nn.BCEWithLogitsLoss``).

    ``w_neg`` and ``w_pos`` are buffers, whichever form (``class_weight``,
    ``alpha``, ``pos_weight``) gave them.
    """

    caller = "binary_cross_entropy"

    def __init__(self, *, class_weight=None, alpha=None, pos_weight=None, ignore_index=None,
                 label_smoothing=0.0, from_logits=True, reduction="mean"):
        super().__init__(reduction, class_weight, alpha, pos_weight, ignore_index)
        self.from_logits = _check_bool(from_logits, self.caller)
        self.label_smoothing = V.check_float(label_smoothing, "label_smoothing",
                                             caller=self.caller, low=0.0, high=1.0)

    def forward(self, input, target, sample_weight=None, denominator=None):
        return _binary(input, target, self.w_neg, self.w_pos, sample_weight=sample_weight,
                       ignore_index=self.ignore_index, label_smoothing=self.label_smoothing,
                       from_logits=self.from_logits, reduction=self.reduction,
                       denominator=denominator, caller=self.caller)


class BinaryFocalLoss(_BinaryLoss):
    """Module form of :func:`binary_focal_loss`."""

    caller = "binary_focal_loss"

    def __init__(self, gamma=2.0, *, alpha=None, class_weight=None, pos_weight=None,
                 ignore_index=None, reduction="mean"):
        super().__init__(reduction, class_weight, alpha, pos_weight, ignore_index)
        self.gamma = _check_gamma(gamma, self.caller)

    def forward(self, input, target, sample_weight=None, denominator=None):
        return _binary_focal(input, target, self.w_neg, self.w_pos, gamma=self.gamma,
                             sample_weight=sample_weight, ignore_index=self.ignore_index,
                             reduction=self.reduction, denominator=denominator,
                             caller=self.caller)


from ._torch_chunked import chunked_weighted_cross_entropy  # noqa: E402
from ._torch_long_tail import balanced_softmax_cross_entropy, ldam_loss  # noqa: E402
