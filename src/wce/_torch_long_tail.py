"""PyTorch versions of the long-tail losses (:mod:`wce.losses._long_tail` is the reference).

Re-exported by :mod:`wce.torch`. Each loss shifts the logits (LDAM margins and
scale; ``+ log n_c``) and hands them to :func:`wce.torch.weighted_cross_entropy`,
which owns class weights, label smoothing, ignore_index and the reductions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _validation as V
from ._optional import require
from .losses._long_tail import (BALANCED_SOFTMAX_CALLER, LDAM_CALLER, check_samples_per_class,
                                ldam_margins)

torch = require("torch")


def _class_axis_view(values: np.ndarray, like: "torch.Tensor") -> "torch.Tensor":
    """(C,) numpy -> tensor shaped (1, C, 1, ..., 1) on ``like``'s device, float32 or wider."""
    t = torch.as_tensor(values, dtype=like.dtype, device=like.device)
    return t.reshape((1, -1) + (1,) * (like.ndim - 2))


def _compute_dtype(logits: "torch.Tensor") -> "torch.Tensor":
    # TRAPS 11: half-precision log-softmax loses the loss; accumulate in float32.
    if logits.dtype in (torch.float16, torch.bfloat16):
        return logits.float()
    return logits


def _weighted_cross_entropy(shifted: "torch.Tensor", targets: "torch.Tensor", *,
                            out_dtype: "torch.dtype", caller: str, **kwargs: Any) -> "torch.Tensor":
    """wce.torch's weighted CE on the shifted logits, returned in the input dtype."""
    # Imported here: wce.torch re-exports this module, so a top-level import would be circular.
    from .torch import weighted_cross_entropy

    # Checked here too so that messages name the loss the user called.
    cw = kwargs["class_weight"]
    V.check_class_weight(cw.detach().cpu().numpy() if torch.is_tensor(cw) else cw,
                         shifted.shape[1], caller=caller)
    V.check_float(kwargs["label_smoothing"], "label_smoothing", caller=caller, low=0.0, high=1.0)
    return weighted_cross_entropy(shifted, targets, **kwargs).to(out_dtype)


def ldam_loss(
    logits: "torch.Tensor",
    targets: "torch.Tensor",
    *,
    samples_per_class: Any,
    max_margin: float = 0.5,
    scale: float = 30.0,
    class_weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    reduction: str = "mean",
) -> "torch.Tensor":
    """LDAM loss (Cao et al. 2019) for PyTorch; see :func:`wce.losses.ldam_loss` for the formula.

    Example:
      >>> import torch
      >>> from wce._torch_long_tail import ldam_loss
      >>> round(ldam_loss(torch.tensor([[0.2, 0.1]]), torch.tensor([1]),
      ...                 samples_per_class=[100, 1]).item(), 4)
      18.0
    """
    reduction = V.check_reduction(reduction, caller=LDAM_CALLER)
    scale = V.check_float(scale, "scale", caller=LDAM_CALLER, low=0.0, low_inclusive=False)
    if targets.is_floating_point() or targets.ndim != logits.ndim - 1:
        raise ValueError(
            f"Targets of {LDAM_CALLER} must be integer class indices of shape "
            f"{(logits.shape[0],) + tuple(logits.shape[2:])}: the margin is subtracted from "
            f"the true class. Got dtype {targets.dtype}, shape {tuple(targets.shape)} instead."
        )
    z = _compute_dtype(logits)
    counts = check_samples_per_class(samples_per_class, z.shape[1], caller=LDAM_CALLER)
    margins = _class_axis_view(ldam_margins(counts, max_margin=max_margin, caller=LDAM_CALLER), z)
    classes = torch.arange(z.shape[1], device=z.device).reshape(margins.shape)
    shifted = scale * (z - margins * (targets.unsqueeze(1) == classes))
    return _weighted_cross_entropy(
        shifted, targets, class_weight=class_weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, sample_weight=sample_weight, reduction=reduction,
        out_dtype=logits.dtype, caller=LDAM_CALLER,
    )


def balanced_softmax_cross_entropy(
    logits: "torch.Tensor",
    targets: "torch.Tensor",
    *,
    samples_per_class: Any,
    class_weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    reduction: str = "mean",
) -> "torch.Tensor":
    """Balanced softmax CE (Ren et al. 2020) for PyTorch: CE on ``logits + log n_c``.

    See :func:`wce.losses.balanced_softmax_cross_entropy`. Predict with the raw logits.

    Example:
      >>> import torch
      >>> from wce._torch_long_tail import balanced_softmax_cross_entropy
      >>> round(balanced_softmax_cross_entropy(torch.tensor([[1.0, 0.0]]), torch.tensor([1]),
      ...                                      samples_per_class=[90, 10]).item(), 4)
      3.2373
    """
    reduction = V.check_reduction(reduction, caller=BALANCED_SOFTMAX_CALLER)
    z = _compute_dtype(logits)
    counts = check_samples_per_class(samples_per_class, z.shape[1], caller=BALANCED_SOFTMAX_CALLER)
    return _weighted_cross_entropy(
        z + _class_axis_view(np.log(counts), z), targets, class_weight=class_weight,
        ignore_index=ignore_index, label_smoothing=label_smoothing, sample_weight=sample_weight,
        reduction=reduction, out_dtype=logits.dtype, caller=BALANCED_SOFTMAX_CALLER,
    )


__all__ = ["balanced_softmax_cross_entropy", "ldam_loss"]
