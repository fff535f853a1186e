"""wce keeps working, with plain fallbacks, when PyTorch's private APIs it uses are missing."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import wce.torch as wt  # noqa: E402
from wce.torch import _buffer_pool, _dispatch, _private  # noqa: E402


def _step(n=512, c=1000):
    torch.manual_seed(0)
    x = torch.randn(n, c, requires_grad=True)
    y = torch.randint(0, c, (n,))
    loss = wt.weighted_cross_entropy(x, y, implementation="fused")
    loss.backward()
    expected = torch.autograd.grad(
        wt.weighted_cross_entropy(x, y, implementation="native"), x)[0]
    return x.grad, expected


def test_without_the_storage_use_count_buffers_are_not_reused(monkeypatch):
    _buffer_pool.empty_cache()
    monkeypatch.setattr(_buffer_pool, "HAS_STORAGE_USE_COUNT", False)
    grad, expected = _step()
    torch.testing.assert_close(grad, expected)
    assert not any(_buffer_pool._pool.values())


def test_without_the_mode_stack_api_buffers_are_not_reused(monkeypatch):
    _buffer_pool.empty_cache()
    monkeypatch.setattr(_private, "_dispatch_stack", None)
    assert _private.plain_eager_mode() is False
    monkeypatch.setattr(_buffer_pool, "plain_eager_mode", _private.plain_eager_mode)
    grad, expected = _step()
    torch.testing.assert_close(grad, expected)
    assert not any(_buffer_pool._pool.values())


def test_without_the_functorch_probe_auto_takes_the_native_path(monkeypatch):
    monkeypatch.setattr(_private, "_functorch_active", None)
    assert _private.functorch_transforms_active() is True
    monkeypatch.setattr(_dispatch, "functorch_transforms_active", _private.functorch_transforms_active)
    x = torch.randn(8, 300, requires_grad=True)
    assert not _dispatch.use_fused("auto", x, "mean", None)
    out = wt.weighted_cross_entropy(x, torch.randint(0, 300, (8,)))
    assert "Fused" not in type(out.grad_fn).__name__


def test_auto_picks_the_kernel_by_the_number_of_classes():
    small = torch.randn(64, _dispatch.FUSED_MIN_CLASSES - 1, requires_grad=True)
    large = torch.randn(64, _dispatch.FUSED_MIN_CLASSES, requires_grad=True)
    assert _dispatch.chosen_path(small, torch.zeros(64, dtype=torch.long)) == "native"
    assert _dispatch.chosen_path(large, torch.zeros(64, dtype=torch.long)) == "fused"
    probabilities = torch.full((64, 4), 0.25)
    assert _dispatch.chosen_path(small[:, :4], probabilities) == "shared"
    np.testing.assert_allclose(
        float(wt.weighted_cross_entropy(small, torch.zeros(64, dtype=torch.long))),
        float(torch.nn.functional.cross_entropy(small, torch.zeros(64, dtype=torch.long))),
        rtol=1e-6)
