"""Weighted cross-entropy over a large vocabulary without materialising the N×V logits.

``hidden @ classifier_weight.T (+ bias)`` is formed ``chunk_size`` rows at a
time; for each chunk the loss and its gradient with respect to the logits are
computed, then immediately contracted into the gradients of ``hidden``,
``classifier_weight`` and ``bias``. Peak extra memory is one ``chunk_size × V``
block plus the gradients themselves, instead of several ``N × V`` blocks.
"""

from __future__ import annotations

import torch

from .. import _validation as V
from ._dispatch import check_class_weight, check_index_range, check_reduction, finish
from ._ops import compute_dtype

CALLER = "chunked_weighted_cross_entropy"


def _chunk(h, W, b, t, valid, cw, eps, row_scale, grads):
    """Per-row weighted losses of one chunk; accumulate gradients into ``grads`` if given.

    Row loss ``-Σ_c a_c log p_c = A·lse - Σ_c a_c z_c`` with
    ``a = (1-ε) w_y e_y + (ε/V) w`` and ``A = Σ_c a_c``; its logit gradient is ``A·p - a``.
    """
    z = h @ W.T
    if b is not None:
        z += b
    V_ = z.shape[1]
    w_y = torch.ones_like(t, dtype=z.dtype) if cw is None else cw[t]
    if valid is not None:
        w_y = w_y * valid
    lse = torch.logsumexp(z, 1)
    z_y = z.gather(1, t.unsqueeze(1)).squeeze(1)
    big_a = (1.0 - eps) * w_y
    loss = big_a * (lse - z_y)
    if eps > 0:
        row = torch.ones_like(w_y) if valid is None else valid.to(z.dtype)
        w_sum = float(V_) if cw is None else cw.sum()
        zw = z.sum(1) if cw is None else z @ cw
        loss = loss + (eps / V_) * row * (w_sum * lse - zw)
        big_a = big_a + (eps / V_) * w_sum * row
    if grads is None:
        return loss
    g = z.sub_(lse.unsqueeze(1)).exp_().mul_(big_a.unsqueeze(1))  # A·p, in place of z
    g.scatter_add_(1, t.unsqueeze(1), -((1.0 - eps) * w_y).unsqueeze(1))
    if eps > 0:
        g -= (eps / V_) * row.unsqueeze(1) * (1.0 if cw is None else cw.unsqueeze(0))
    if row_scale is not None:
        g.mul_(row_scale.unsqueeze(1))
    grad_h, grad_W, grad_b = grads
    if grad_h is not None:
        grad_h.copy_(g @ W)
    if grad_W is not None:
        grad_W.addmm_(g.T, h)
    if grad_b is not None:
        grad_b += g.sum(0)
    return loss


def _loop(hidden, W, b, t, valid, cw, eps, chunk_size, row_scale=None, need=(False,) * 3):
    """Run the chunks; returns (per-row losses, grad_hidden, grad_W, grad_b)."""
    N, H = hidden.shape
    dtype = W.dtype
    grad_h = torch.empty(N, H, dtype=dtype, device=hidden.device) if need[0] else None
    grad_W = torch.zeros_like(W) if need[1] else None
    grad_b = torch.zeros(W.shape[0], dtype=dtype, device=W.device) if need[2] else None
    any_grad = any(need)
    losses = torch.empty(N, dtype=dtype, device=hidden.device)
    for start in range(0, N, chunk_size):
        rows = slice(start, min(start + chunk_size, N))
        h = hidden[rows].to(dtype)
        grads = (grad_h[rows] if grad_h is not None else None, grad_W, grad_b) if any_grad else None
        losses[rows] = _chunk(h, W, b, t[rows], None if valid is None else valid[rows], cw, eps,
                              None if row_scale is None else row_scale[rows], grads)
    return losses, grad_h, grad_W, grad_b


class _ChunkedCrossEntropy(torch.autograd.Function):
    """Σ w·l (``per_row=False``) or per-row w·l (``per_row=True``) of the chunked logits.

    For a scalar output the gradients are computed during the forward pass (one
    pass over the vocabulary) and scaled by the incoming gradient in backward;
    for per-row output backward recomputes the chunks with the row gradients.
    """

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, valid, class_weight, eps, chunk_size, per_row):
        dtype = compute_dtype(hidden.dtype)
        W = weight.to(dtype)
        b = None if bias is None else bias.to(dtype)
        cw = None if class_weight is None else class_weight.to(device=W.device, dtype=dtype)
        need = ctx.needs_input_grad[:2] + (bias is not None and ctx.needs_input_grad[2],)
        ctx.dtypes = (hidden.dtype, weight.dtype, None if bias is None else bias.dtype)
        ctx.config = (eps, chunk_size, per_row)
        if per_row:
            losses = _loop(hidden, W, b, targets, valid, cw, eps, chunk_size)[0]
            ctx.save_for_backward(hidden, weight, bias, targets, valid, class_weight)
            ctx.need = need
            return losses
        losses, grad_h, grad_W, grad_b = _loop(hidden, W, b, targets, valid, cw, eps, chunk_size,
                                               need=need)
        ctx.save_for_backward(grad_h, grad_W, grad_b)
        return losses.sum()

    @staticmethod
    def backward(ctx, grad_output):
        eps, chunk_size, per_row = ctx.config
        if per_row:
            hidden, weight, bias, targets, valid, class_weight = ctx.saved_tensors
            dtype = compute_dtype(hidden.dtype)
            cw = None if class_weight is None else class_weight.to(dtype)
            _, grad_h, grad_W, grad_b = _loop(
                hidden, weight.to(dtype), None if bias is None else bias.to(dtype), targets, valid,
                cw, eps, chunk_size, row_scale=grad_output.to(dtype), need=ctx.need)
        else:
            grad_h, grad_W, grad_b = ctx.saved_tensors
            scale = grad_output.to(grad_h.dtype if grad_h is not None else grad_W.dtype)
            grad_h = None if grad_h is None else grad_h * scale
            grad_W = None if grad_W is None else grad_W * scale
            grad_b = None if grad_b is None else grad_b * scale
        out = [None if g is None else g.to(dt) for g, dt in zip((grad_h, grad_W, grad_b),
                                                                  ctx.dtypes)]
        return (*out, None, None, None, None, None, None)


def chunked_weighted_cross_entropy(hidden, classifier_weight, targets, *, bias=None,
                                   class_weight=None, ignore_index=None, label_smoothing=0.0,
                                   chunk_size=1024, reduction="mean", denominator=None):
    r"""Weighted cross-entropy of ``hidden @ classifier_weight.T + bias``, computed by row chunks.

    The same loss as
    ``wce.torch.weighted_cross_entropy(hidden @ classifier_weight.T + bias, targets, ...)``
    (every reduction, ``ignore_index``, ``label_smoothing``), for language-model
    heads where the ``N × V`` logits would not fit: forward and backward never
    hold more than ``chunk_size × V`` logits. Gradients for ``hidden``,
    ``classifier_weight`` and ``bias`` are computed chunk by chunk in a custom
    ``torch.autograd.Function`` (for scalar reductions during the forward pass,
    so the vocabulary is traversed once). Half-precision inputs are computed in
    float32 (TRAPS 11).

    Args:
      hidden: ``(N, H)`` (or ``(..., H)``, flattened) final hidden states.
      classifier_weight: ``(V, H)`` output projection (``nn.Linear(H, V).weight``).
      targets: ``(N,)`` (or ``(...)``) class indices.
      bias: optional ``(V,)``.
      class_weight: optional ``(V,)`` non-negative weights.
      chunk_size: rows per chunk; memory is about ``chunk_size × V`` floats.
      reduction, denominator: as in :func:`wce.torch.weighted_cross_entropy`.

    Example:
      >>> import torch, wce.torch as wt
      >>> h, W = torch.randn(6, 4), torch.randn(50, 4, requires_grad=True)
      >>> y = torch.randint(0, 50, (6,))
      >>> loss = wt.chunked_weighted_cross_entropy(h, W, y, chunk_size=4)
      >>> torch.allclose(loss, wt.weighted_cross_entropy(h @ W.T, y))
      True

    References:
      Wijmans et al., "Cut Your Losses in Large-Vocabulary Language Models", 2024;
      Liger-Kernel ``FusedLinearCrossEntropy``.
    """
    caller = CALLER
    reduction = check_reduction(reduction, caller)
    chunk_size = V.check_positive_int(chunk_size, "chunk_size", caller=caller)
    eps = V.check_float(label_smoothing, "label_smoothing", caller=caller, low=0.0, high=1.0)
    ignore_index = V.check_ignore_index(ignore_index, caller=caller)
    for name, value in (("hidden", hidden), ("classifier_weight", classifier_weight)):
        if not torch.is_tensor(value) or not value.is_floating_point():
            raise TypeError(f"The '{name}' parameter of {caller} must be a floating-point "
                            f"torch.Tensor. Got {type(value).__name__} instead.")
    if classifier_weight.dim() != 2 or hidden.shape[-1] != classifier_weight.shape[1]:
        raise ValueError(
            f"The 'classifier_weight' parameter of {caller} must have shape (V, H) with "
            f"H = hidden.shape[-1] = {hidden.shape[-1]}. Got shape "
            f"{tuple(classifier_weight.shape)} instead."
        )
    n_classes = classifier_weight.shape[0]
    if bias is not None and tuple(bias.shape) != (n_classes,):
        raise ValueError(f"The 'bias' parameter of {caller} must have shape ({n_classes},). "
                         f"Got shape {tuple(bias.shape)} instead.")
    if not torch.is_tensor(targets) or tuple(targets.shape) != tuple(hidden.shape[:-1]):
        raise ValueError(
            f"The 'targets' parameter of {caller} must be a tensor of class indices with shape "
            f"{tuple(hidden.shape[:-1])}. Got "
            f"{tuple(targets.shape) if torch.is_tensor(targets) else type(targets).__name__}."
        )
    if targets.is_floating_point():
        raise TypeError(f"Class-index targets of {caller} must be integers. Got dtype "
                        f"{targets.dtype} instead. Cast them with targets.long().")
    out_shape = tuple(targets.shape)
    h2 = hidden.reshape(-1, hidden.shape[-1])
    t = targets.reshape(-1).long()
    check_index_range(t, n_classes, ignore_index, caller)
    valid = None if ignore_index is None else t != ignore_index
    if valid is not None:
        t = t.masked_fill(~valid, 0)
    if torch.is_tensor(class_weight) and class_weight.requires_grad:
        raise ValueError(
            f"The 'class_weight' parameter of {caller} requires a gradient, which the chunked "
            "kernel does not compute (it differentiates hidden, classifier_weight and bias). "
            "For learned class weights use wce.torch.weighted_cross_entropy on the logits."
        )
    cw = check_class_weight(class_weight, n_classes, caller)
    cw = None if cw is None else cw.detach().to(device=h2.device)
    per_row = reduction == "none"
    out = _ChunkedCrossEntropy.apply(h2, classifier_weight, bias, t, valid, cw, eps, chunk_size,
                                     per_row)
    if per_row:
        return out.reshape(out_shape).to(hidden.dtype)

    def weight():
        w = torch.ones_like(t, dtype=out.dtype) if cw is None else cw.to(out.dtype)[t]
        return w if valid is None else w * valid

    count = (lambda: valid.sum()) if valid is not None else (
        lambda: torch.tensor(float(t.numel()), device=t.device))
    return finish(reduction, hidden.dtype, caller, num=out, weight_sum=lambda: weight().sum(),
                  count=count, denominator=denominator)
