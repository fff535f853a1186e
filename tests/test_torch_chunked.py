"""chunked_weighted_cross_entropy against the plain computation on materialised logits."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import wce.torch as wt  # noqa: E402

REDUCTIONS = ("none", "sum", "mean", "mean_per_sample", "global")


def _inputs(n=37, h=8, v=53, dtype=torch.float64, seed=0, bias=True):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, h, generator=g, dtype=dtype)
    weight = torch.randn(v, h, generator=g, dtype=dtype) / h**0.5 * 3
    b = torch.randn(v, generator=g, dtype=dtype) if bias else None
    targets = torch.randint(0, v, (n,), generator=g)
    class_weight = torch.rand(v, generator=g, dtype=dtype) + 0.1
    return hidden, weight, b, targets, class_weight


def _both(hidden, weight, bias, targets, **kwargs):
    """(value, grads) of the chunked and the plain computation."""
    out = []
    for chunked in (True, False):
        leaves = [t.detach().clone().requires_grad_() for t in (hidden, weight)]
        if bias is not None:
            leaves.append(bias.detach().clone().requires_grad_())
        b = leaves[2] if bias is not None else None
        if chunked:
            value = wt.chunked_weighted_cross_entropy(leaves[0], leaves[1], targets, bias=b, **kwargs)
        else:
            kwargs = {k: v for k, v in kwargs.items() if k != "chunk_size"}
            logits = leaves[0].reshape(-1, leaves[0].shape[-1]) @ leaves[1].T
            logits = logits + (0 if b is None else b)
            value = wt.weighted_cross_entropy(logits, targets.reshape(-1), **kwargs)
            value = value.reshape(targets.shape) if value.dim() else value
        # a non-uniform upstream gradient for 'none', to test the per-row backward
        upstream = torch.linspace(0.5, 2.0, value.numel(), dtype=value.dtype).reshape(value.shape)
        grads = torch.autograd.grad((value * upstream).sum(), leaves)
        out.append((value.detach(), grads))
    return out


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [
    {},
    {"class_weight": True},
    {"class_weight": True, "ignore_index": 7, "label_smoothing": 0.2},
    {"label_smoothing": 0.1, "bias": False},
], ids=["plain", "weighted", "weighted-ignore-smooth", "smooth-nobias"])
@pytest.mark.parametrize("chunk_size", [5, 64])
def test_chunked_matches_plain_values_and_grads_float64(reduction, options, chunk_size):
    options = dict(options)
    hidden, weight, bias, targets, cw = _inputs(bias=options.pop("bias", True))
    if options.pop("class_weight", False):
        options["class_weight"] = cw
    if "ignore_index" in options:
        targets[[0, 5, 30]] = options["ignore_index"] = -100
    (v1, g1), (v2, g2) = _both(hidden, weight, bias, targets, reduction=reduction,
                               chunk_size=chunk_size, **options)
    torch.testing.assert_close(v1, v2, rtol=1e-10, atol=1e-12)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_chunked_float32_and_nd_hidden():
    hidden, weight, bias, targets, cw = _inputs(n=24, dtype=torch.float32, seed=1)
    hidden3, targets3 = hidden.reshape(4, 6, -1), targets.reshape(4, 6)
    (v1, g1), (v2, g2) = _both(hidden3, weight, bias, targets3, class_weight=cw, chunk_size=7,
                               reduction="none")
    assert v1.shape == (4, 6)
    torch.testing.assert_close(v1, v2, rtol=1e-6, atol=1e-6)
    (v1, g1), (v2, g2) = _both(hidden3, weight, bias, targets3, class_weight=cw, chunk_size=7)
    torch.testing.assert_close(v1, v2, rtol=1e-6, atol=1e-6)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_trap11_chunked_bfloat16_accumulates_in_float32():
    hidden, weight, bias, targets, _ = _inputs(n=16, dtype=torch.float32, seed=2)
    h16, w16 = hidden.bfloat16().requires_grad_(), weight.bfloat16().requires_grad_()
    out = wt.chunked_weighted_cross_entropy(h16, w16, targets, chunk_size=5)
    out.backward()
    assert out.dtype == torch.bfloat16 and h16.grad.dtype == torch.bfloat16
    expected = wt.weighted_cross_entropy(h16.detach().float() @ w16.detach().float().T, targets)
    assert torch.equal(out, expected.bfloat16())


def test_trap7_chunked_all_ignored_is_zero_with_zero_gradient():
    hidden, weight, _, targets, _ = _inputs(n=6)
    hidden.requires_grad_()
    out = wt.chunked_weighted_cross_entropy(hidden, weight, torch.full((6,), -1), ignore_index=-1)
    out.backward()
    assert out.item() == 0.0 and not hidden.grad.any()


def test_chunked_only_hidden_requires_grad():
    hidden, weight, _, targets, _ = _inputs(n=9)
    hidden.requires_grad_()
    out = wt.chunked_weighted_cross_entropy(hidden, weight, targets, chunk_size=4)
    (g,) = torch.autograd.grad(out, hidden)
    plain = hidden.detach().clone().requires_grad_()
    (expected,) = torch.autograd.grad(wt.weighted_cross_entropy(plain @ weight.T, targets), plain)
    torch.testing.assert_close(g, expected, rtol=1e-10, atol=1e-12)


def test_chunked_validation():
    hidden, weight, _, targets, _ = _inputs(n=4, v=10)
    with pytest.raises(ValueError, match=r"class indices in \[0, 9\].*Got \[12\]"):
        wt.chunked_weighted_cross_entropy(hidden, weight, torch.tensor([0, 12, 1, 2]))
    with pytest.raises(ValueError, match="classifier_weight.*shape \\(V, H\\)"):
        wt.chunked_weighted_cross_entropy(hidden, weight.T, targets)
    with pytest.raises(ValueError, match="'chunk_size' parameter.*>= 1"):
        wt.chunked_weighted_cross_entropy(hidden, weight, targets, chunk_size=0)
    with pytest.raises(ValueError, match="'reduction' parameter"):
        wt.chunked_weighted_cross_entropy(hidden, weight, targets, reduction="avg")
    with pytest.raises(ValueError, match=r"one weight per class \(10\)"):
        wt.chunked_weighted_cross_entropy(hidden, weight, targets, class_weight=torch.ones(3))
    with pytest.raises(TypeError, match="must be integers"):
        wt.chunked_weighted_cross_entropy(hidden, weight, targets.double())
