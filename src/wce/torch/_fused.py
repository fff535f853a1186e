"""Fused forward + backward weighted cross-entropy for PyTorch.

One pass over the logits, row block by row block, computes the loss *and* the
gradient; the gradient is kept instead of the softmax, so the only N×C
allocation is the gradient itself (native ``F.cross_entropy`` allocates the
log-softmax, its gradient and the result: about 3× the logits). Blocks are
sized to stay in cache. On the CPU the gradient buffer comes from
:mod:`wce.torch._buffer_pool`, which reuses the previous step's buffer once
nothing refers to it.

Only plain PyTorch operations are used, so it runs on every device and dtype;
float16/bfloat16 blocks are computed in float32 and stored in the input dtype.

The gradient computed in the forward pass serves the first backward. A second
backward through the same graph (``retain_graph=True``, ``autograd.functional.
jacobian``) and double backward (``create_graph=True``: Hessians, MAML, gradient
penalties) recompute the loss from the logits (kept for that: a reference, not
a copy) with the shared definition in :mod:`wce._array`, differentiable
throughout, so both give what the native path gives.

For class-index targets ``y``, class weights ``w``, label smoothing ε over C
classes, and sample weight ``s`` the per-row pieces are

    a_c  = s · (ε/C · w_c + (1-ε) · w_y · [c = y])
    loss = (Σ_c a_c) · lse(z) - Σ_c a_c z_c
    grad = (Σ_c a_c) · softmax(z) - a

which is the NumPy reference :func:`wce.losses.weighted_cross_entropy`
(``tests/test_torch_fused.py`` checks it to 1e-6 in float32).
"""

from __future__ import annotations

import torch

from .. import _array as A
from ._buffer_pool import empty_like
from ._ops import TorchOps, compute_dtype

#: Elements per block: few enough blocks to amortise per-op overhead (and OpenMP barriers
#: on busy machines), small enough to stay in the last-level cache.
BLOCK_ELEMENTS = 1 << 21
#: Rows per block when C is small, so per-row temporaries stay small next to the logits...
BLOCK_ROWS = 8192
#: ...unless that makes more than this many blocks: then the per-op overhead of many small
#: blocks dominates (measured at 1048576 x 2: 8192-row blocks were slower than native,
#: 8 blocks 0.6x native, with per-row temporaries of up to ~0.8x the logits).
MAX_SMALL_C_BLOCKS = 8
class _FusedWeightedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, target, class_weight, sample_weight, ignore_index, label_smoothing,
                reduction):
        N, C = logits.shape
        compute = compute_dtype(logits.dtype)
        w = class_weight.to(compute)
        sw = None if sample_weight is None else sample_weight.to(compute)
        rows = max(1, min(max(BLOCK_ROWS, -(-N // MAX_SMALL_C_BLOCKS)), BLOCK_ELEMENTS // max(C, 1)))

        def block(s, e):
            """(targets with ignored set to 0, weight of the true class, validity) of rows s:e."""
            t = target[s:e]
            valid = None if ignore_index is None else t != ignore_index
            if valid is not None:
                t = t.masked_fill(~valid, 0)
            w_y = w[t]  # unsmoothed: smoothing changes the loss only
            if sw is not None:
                w_y = w_y * sw[s:e]
            if valid is not None:
                w_y = w_y * valid.to(compute)
            return t, w_y, valid

        # Denominator of the reduction, by blocks so that no N-sized temporary is kept.
        if reduction == "mean":
            den = sum((block(s, min(N, s + rows))[1].sum() for s in range(0, N, rows)),
                      torch.zeros((), dtype=compute, device=logits.device))
        elif reduction == "mean_per_sample":
            den = (torch.tensor(float(N), dtype=compute, device=logits.device)
                   if ignore_index is None else (target != ignore_index).sum().to(compute))
        else:
            den = None
        eps = float(label_smoothing)
        w_total = w.sum()
        scale = None
        if den is not None:
            scale = torch.where(den > 0, 1.0 / den.clamp_min(torch.finfo(compute).tiny), 0.0)

        grad = empty_like(logits)
        per_row = torch.empty(N, dtype=compute, device=logits.device) if reduction == "none" else None
        value = torch.zeros((), dtype=compute, device=logits.device)
        for s in range(0, N, rows):
            e = min(N, s + rows)
            z = logits[s:e].to(compute)
            t, w_y, valid = block(s, e)
            t = t[:, None]
            b = (1.0 - eps) * w_y  # weight of the true-class term
            if eps > 0:
                # per-row factor of the ε/C·w term: sample weight and validity
                rs = torch.ones(e - s, dtype=compute, device=logits.device)
                if sw is not None:
                    rs = rs * sw[s:e]
                if valid is not None:
                    rs = rs * valid.to(compute)
                total = b + (eps / C) * w_total * rs  # Σ_c a_c
            else:
                total = b
            m = z.amax(dim=1, keepdim=True)
            p = torch.sub(z, m, out=grad[s:e]) if compute == logits.dtype else z - m
            p.exp_()
            ssum = p.sum(dim=1, keepdim=True)
            coef = total[:, None] / ssum if scale is None else total[:, None] * scale / ssum
            p.mul_(coef)  # (Σa) softmax / den
            row_loss = total * (m + ssum.log()).squeeze(1) - b * z.gather(1, t).squeeze(1)
            if eps > 0:
                row_loss = row_loss - (eps / C) * rs * (z @ w)
                sub = (eps / C) * rs[:, None] * w[None, :]
                p.sub_(sub if scale is None else sub * scale)
            p.scatter_add_(1, t, (-(b if scale is None else b * scale))[:, None])
            if p.data_ptr() != grad[s:e].data_ptr():
                grad[s:e].copy_(p)
            if per_row is not None:
                per_row[s:e] = row_loss
            else:
                value += row_loss.sum()
        ctx.save_for_backward(grad)
        # Kept for a second or double backward only (a reference: no copy). Not saved with
        # save_for_backward, so that an in-place change of the logits after the forward does
        # not break the usual backward, which needs only the gradient computed here.
        ctx.logits = logits
        ctx.version = None if logits.is_inference() else logits._version
        ctx.args = (target, class_weight, sample_weight, ignore_index, float(label_smoothing))
        ctx.reduction = reduction
        ctx.consumed = False
        if per_row is not None:
            return per_row.to(logits.dtype)
        if scale is not None:
            value = value * scale
        return value.to(logits.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        if torch.is_grad_enabled() or ctx.consumed:
            return (_FusedWeightedCrossEntropy._recompute(ctx, grad_output),) + (None,) * 6
        ctx.consumed = True
        (grad,) = ctx.saved_tensors
        if ctx.reduction == "none":
            grad.mul_(grad_output.to(grad.dtype)[:, None])
        elif not (grad_output.numel() == 1 and float(grad_output) == 1.0):
            grad.mul_(grad_output.to(grad.dtype))
        return grad, None, None, None, None, None, None

    @staticmethod
    def _recompute(ctx, grad_output):
        """Gradient from the logits through the native path (double or second backward)."""
        logits = ctx.logits
        if logits._version != ctx.version:
            raise RuntimeError(
                "The logits given to the fused weighted cross-entropy were modified in place "
                "after the forward pass, so a second or double backward cannot recompute the "
                "gradient. Do not modify them in place, or use implementation='native'."
            )
        target, class_weight, sample_weight, ignore_index, label_smoothing = ctx.args
        create_graph = torch.is_grad_enabled()
        with torch.enable_grad():
            z = logits if create_graph else logits.detach().requires_grad_()
            compute = compute_dtype(z.dtype)
            ops = TorchOps(z.device)
            elements = A.MULTICLASS["weighted_cross_entropy"](
                ops, z.to(compute), target, class_weight=class_weight,
                sample_weight=sample_weight, ignore_index=ignore_index,
                label_smoothing=label_smoothing)
            value = A.reduce(ops, elements, ctx.reduction).to(z.dtype)
            (g,) = torch.autograd.grad(value, z, grad_output, create_graph=create_graph)
        return g


def fused_weighted_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    class_weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Weighted CE over ``(N, C)`` logits and ``(N,)`` class indices, loss and gradient in one pass.

    Same meaning as :func:`wce.losses.weighted_cross_entropy` (reductions
    ``none``, ``sum``, ``mean``, ``mean_per_sample``; all ignored gives 0). Inputs
    are assumed validated by the caller (``wce.torch``). Backward may run once.
    """
    if class_weight is None:
        class_weight = torch.ones(logits.shape[1], dtype=torch.float32, device=logits.device)
    return _FusedWeightedCrossEntropy.apply(
        logits, target, class_weight, sample_weight, ignore_index, label_smoothing, reduction
    )
