"""The fused weighted cross-entropy (issue 9) against the NumPy reference and native PyTorch."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from wce.torch._fused import fused_weighted_cross_entropy  # noqa: E402
from wce.losses import value_and_grad, weighted_cross_entropy  # noqa: E402

REDUCTIONS = ["none", "sum", "mean", "mean_per_sample"]


def _case(N, C, seed=0, ignore=False):
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=3.0, size=(N, C)).astype(np.float32)
    y = rng.integers(0, C, size=N)
    if ignore:
        y[rng.random(N) < 0.3] = -100
    w = (rng.random(C) + 0.2).astype(np.float32)
    return z, y, w


def _fused(z, y, w, dtype=torch.float32, **kw):
    x = torch.tensor(z, dtype=dtype, requires_grad=True)
    out = fused_weighted_cross_entropy(x, torch.tensor(y), class_weight=torch.tensor(w), **kw)
    return x, out


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("shape", [(7, 3), (300, 2000), (1100, 4000)])  # 1100 x 4000 spans 3 blocks
def test_matches_reference_value_and_grad(reduction, smoothing, shape):
    N, C = shape
    z, y, w = _case(N, C, ignore=True)
    sw = np.random.default_rng(1).random(N).astype(np.float32)
    kw = dict(ignore_index=-100, label_smoothing=smoothing)
    x, out = _fused(z, y, w, sample_weight=torch.tensor(sw), reduction=reduction, **kw)
    upstream = torch.randn(N) if reduction == "none" else torch.tensor(1.7)
    (out * upstream).sum().backward()
    ref_value, ref_grad = value_and_grad(
        weighted_cross_entropy, z.astype(np.float64), y, class_weight=w.astype(np.float64),
        sample_weight=sw.astype(np.float64), reduction=reduction, **kw)
    up = upstream.numpy().astype(np.float64)
    ref_grad = ref_grad * (up[:, None] if reduction == "none" else up)
    np.testing.assert_allclose(out.detach().numpy(), ref_value, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), ref_grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_matches_native_cross_entropy(smoothing):
    z, y, w = _case(513, 37, ignore=True)
    x, out = _fused(z, y, w, ignore_index=-100, label_smoothing=smoothing)
    out.backward()
    xn = torch.tensor(z, requires_grad=True)
    native = F.cross_entropy(xn, torch.tensor(y), weight=torch.tensor(w), ignore_index=-100,
                             label_smoothing=smoothing)
    native.backward()
    assert abs(out.item() - native.item()) <= 1e-6 * max(1.0, abs(native.item()))
    torch.testing.assert_close(x.grad, xn.grad, rtol=1e-5, atol=1e-6)


def test_trap7_all_ignored_is_zero_with_zero_gradient():
    z, y, w = _case(5, 4)
    y[:] = -100
    x, out = _fused(z, y, w, ignore_index=-100)
    out.backward()
    assert out.item() == 0.0
    assert torch.count_nonzero(x.grad) == 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_trap11_half_precision_computed_in_float32(dtype):
    z, y, w = _case(64, 1000)
    z[:, 0] = 6e4 if dtype == torch.float16 else 1e5  # huge logits stay finite
    x, out = _fused(z, y, w, dtype=dtype)
    out.backward()
    assert out.dtype == dtype and x.grad.dtype == dtype
    assert torch.isfinite(out) and torch.isfinite(x.grad).all()
    ref = weighted_cross_entropy(x.detach().float().numpy().astype(np.float64), y,
                                 class_weight=w.astype(np.float64))
    assert abs(out.float().item() - ref) <= 1e-3 * abs(ref)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_second_backward_recomputes_the_same_gradient(reduction, smoothing):
    z, y, w = _case(6, 5, ignore=True)
    sw = torch.rand(6)
    kw = dict(ignore_index=-100, label_smoothing=smoothing, sample_weight=sw, reduction=reduction)
    x, out = _fused(z, y, w, **kw)
    up = torch.randn(6) if reduction == "none" else torch.tensor(0.7)
    out.backward(up, retain_graph=True)
    first = x.grad.clone()
    out.backward(up)  # the buffer was consumed: recomputed from the logits
    torch.testing.assert_close(x.grad, 2 * first, rtol=1e-5, atol=1e-6)


def test_in_place_change_of_logits_is_caught_on_recompute():
    z, y, w = _case(6, 5)
    x = torch.tensor(z, requires_grad=True)
    h = x * 1.0
    out = fused_weighted_cross_entropy(h, torch.tensor(y), class_weight=torch.tensor(w))
    out.backward(retain_graph=True)  # the usual backward needs no logits: fine
    with torch.no_grad():
        h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        out.backward()


# --- wce.torch integration -------------------------------------------------

import wce.torch as wt  # noqa: E402


def test_auto_uses_fused_on_cpu_when_a_gradient_is_needed():
    z, y, w = _case(50, 300)
    x = torch.tensor(z, requires_grad=True)
    out = wt.weighted_cross_entropy(x, torch.tensor(y), class_weight=torch.tensor(w))
    assert "Fused" in type(out.grad_fn).__name__
    with torch.no_grad():
        plain = wt.weighted_cross_entropy(x, torch.tensor(y), class_weight=torch.tensor(w))
    assert plain.grad_fn is None
    native = wt.weighted_cross_entropy(x, torch.tensor(y), class_weight=torch.tensor(w),
                                       implementation="native")
    assert "Fused" not in type(native.grad_fn).__name__


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_fused_and_native_implementations_agree(reduction):
    z, y, w = _case(97, 11, ignore=True)
    grads, values = [], []
    for impl in ("fused", "native"):
        x = torch.tensor(z, requires_grad=True)
        loss_fn = wt.WeightedCrossEntropyLoss(torch.tensor(w), ignore_index=-100,
                                              label_smoothing=0.05, reduction=reduction,
                                              implementation=impl)
        out = loss_fn(x, torch.tensor(y))
        out.sum().backward()
        values.append(out.detach())
        grads.append(x.grad)
    torch.testing.assert_close(values[0], values[1], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-5, atol=1e-6)


def test_fused_refuses_out_of_range_labels_clearly():
    z, y, w = _case(8, 3)
    y[2] = 7
    x = torch.tensor(z, requires_grad=True)
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\]"):
        wt.weighted_cross_entropy(x, torch.tensor(y), implementation="fused")


def test_unknown_implementation_is_refused():
    with pytest.raises(ValueError, match="The 'implementation' parameter of weighted_cross_entropy"):
        wt.weighted_cross_entropy(torch.zeros(2, 2), torch.tensor([0, 1]), implementation="cuda")


@pytest.mark.parametrize("implementation", ["fused", "auto"])
def test_hessian_matches_native(implementation):
    z, y, w = _case(3, 4, ignore=False)
    z, yt, wt_ = torch.tensor(z, dtype=torch.float64), torch.tensor(y), torch.tensor(w).double()
    kw = dict(class_weight=wt_, label_smoothing=0.1)

    def hess(impl):
        return torch.autograd.functional.hessian(
            lambda v: wt.weighted_cross_entropy(v, yt, implementation=impl, **kw), z)

    got, native = hess(implementation), hess("native")
    assert native.abs().sum() > 0
    torch.testing.assert_close(got, native, rtol=1e-10, atol=1e-12)


def test_maml_meta_gradient_matches_native():
    rng = torch.Generator().manual_seed(0)
    X, Xq = torch.randn(32, 4, generator=rng), torch.randn(32, 4, generator=rng)
    y, yq = torch.randint(0, 5, (32,), generator=rng), torch.randint(0, 5, (32,), generator=rng)
    W0 = torch.randn(4, 5, generator=rng)
    grads = []
    for impl in ("fused", "native"):
        W = W0.clone().requires_grad_()
        (g,) = torch.autograd.grad(wt.weighted_cross_entropy(X @ W, y, implementation=impl), W,
                                   create_graph=True)
        assert g.requires_grad
        wt.weighted_cross_entropy(Xq @ (W - 0.5 * g), yq, implementation=impl).backward()
        grads.append(W.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-5, atol=1e-6)


def test_jacobian_of_per_row_losses_matches_native():
    z, y, w = _case(5, 4)
    z, yt = torch.tensor(z), torch.tensor(y)
    jac = [torch.autograd.functional.jacobian(
        lambda v: wt.weighted_cross_entropy(v, yt, reduction="none", implementation=impl), z)
        for impl in ("fused", "native")]
    torch.testing.assert_close(jac[0], jac[1], rtol=1e-5, atol=1e-6)


def test_auto_uses_native_where_fused_cannot_serve():
    """Learned sample weights, and torch.func transforms, get native (correct) results."""
    z = torch.randn(6, 4, requires_grad=True)
    y = torch.tensor([0, 1, 2, 3, 1, 0])
    got = []
    for impl in ("auto", "fused", "native"):
        v = torch.rand(6, generator=torch.Generator().manual_seed(1)).requires_grad_()
        wt.weighted_cross_entropy(z, y, reduction="sum", implementation=impl,
                                  sample_weight=v).backward()
        assert v.grad is not None
        got.append(v.grad)
    torch.testing.assert_close(got[0], got[2])
    torch.testing.assert_close(got[1], got[2])
    per_sample = [torch.func.vmap(torch.func.grad(
        lambda r, t: wt.weighted_cross_entropy(r[None], t[None], implementation=impl)))(
        z.detach(), y) for impl in ("auto", "native")]
    torch.testing.assert_close(per_sample[0], per_sample[1])


def test_negative_label_without_ignore_index_gets_the_clear_error():
    x = torch.randn(6, 4, requires_grad=True)
    y = torch.tensor([0, 1, -1, 3, 1, 0])
    for impl in ("fused", "native"):
        with pytest.raises(ValueError, match=r"class indices in \[0, 3\]"):
            wt.weighted_cross_entropy(x, y, implementation=impl)


# --- gradient-buffer reuse (the page-fault saving on the CPU) ----------------

import wce.torch._buffer_pool as fused_mod  # noqa: E402

BIG = (512, 1000)  # 2 MB in float32: above MIN_POOLED_BYTES, so pooled


@pytest.fixture
def fresh_pool():
    fused_mod.set_buffer_reuse(True)
    fused_mod.empty_cache()
    yield
    fused_mod.set_buffer_reuse(True)
    fused_mod.empty_cache()


def _expected_grad(z, y, w):
    _, g = value_and_grad(weighted_cross_entropy, z.astype(np.float64), y, class_weight=w)
    return g


def _step(z, y, w):
    x = torch.tensor(z, requires_grad=True)
    fused_weighted_cross_entropy(x, torch.tensor(y), class_weight=torch.tensor(w)).backward()
    return x


def test_a_freed_gradient_buffer_is_reused(fresh_pool):
    z, y, w = _case(*BIG)
    x = _step(z, y, w)
    (pooled,) = fused_mod._pool[torch.float32]
    assert x.grad.data_ptr() == pooled.storage.data_ptr()
    assert x.grad._base is None  # a tensor of its own, not a view of a pooled tensor
    del x  # the gradient is consumed and dropped, as after optimizer.zero_grad()
    z2, y2, w2 = _case(*BIG, seed=1)
    x = _step(z2, y2, w2)
    (again,) = fused_mod._pool[torch.float32]
    assert again is pooled  # the same buffer handed out again, not a new one
    assert x.grad.data_ptr() == pooled.storage.data_ptr()
    np.testing.assert_allclose(x.grad.numpy(), _expected_grad(z2, y2, w2), rtol=1e-5, atol=1e-7)


def test_a_gradient_still_held_is_never_overwritten(fresh_pool):
    z, y, w = _case(*BIG)
    kept = _step(z, y, w).grad  # the user keeps the previous gradient
    snapshot = kept.clone()
    for seed in (1, 2, 3):  # more calls than POOL_SIZE
        x = _step(*_case(*BIG, seed=seed))
        assert x.grad.data_ptr() != kept.data_ptr()
    torch.testing.assert_close(kept, snapshot, rtol=0, atol=0)


def test_accumulating_into_leaf_grad_stays_correct(fresh_pool):
    z, y, w = _case(*BIG)
    x = torch.tensor(z, requires_grad=True)
    for _ in range(3):  # no zero_grad: .grad accumulates across calls
        fused_weighted_cross_entropy(x, torch.tensor(y), class_weight=torch.tensor(w)).backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * _expected_grad(z, y, w), rtol=1e-5, atol=1e-6)


def test_two_losses_in_one_graph_get_separate_buffers(fresh_pool):
    z, y, w = _case(*BIG)
    z2, y2, _ = _case(*BIG, seed=5)
    for _ in range(3):
        x = torch.tensor(z, requires_grad=True)
        a = fused_weighted_cross_entropy(x, torch.tensor(y), class_weight=torch.tensor(w))
        b = fused_weighted_cross_entropy(2 * x + torch.tensor(z2), torch.tensor(y2),
                                         class_weight=torch.tensor(w))
        (a + b).backward()
        _, gb = value_and_grad(weighted_cross_entropy, 2 * z.astype(np.float64) + z2, y2,
                               class_weight=w)
        np.testing.assert_allclose(x.grad.numpy(), _expected_grad(z, y, w) + 2 * gb,
                                   rtol=1e-5, atol=1e-6)


def test_autograd_grad_results_survive_later_calls(fresh_pool):
    z, y, w = _case(*BIG)
    x = torch.tensor(z, requires_grad=True)
    (g,) = torch.autograd.grad(
        fused_weighted_cross_entropy(x, torch.tensor(y), class_weight=torch.tensor(w)), x)
    snapshot = g.clone()
    _step(*_case(*BIG, seed=1))
    torch.testing.assert_close(g, snapshot, rtol=0, atol=0)


def test_reuse_can_be_turned_off(fresh_pool):
    fused_mod.set_buffer_reuse(False)
    z, y, w = _case(*BIG)
    _step(z, y, w)
    assert not any(fused_mod._pool.values())
    fused_mod.set_buffer_reuse(True)
    _step(z, y, w)
    assert sum(len(v) for v in fused_mod._pool.values()) == 1
    fused_mod.empty_cache()
    assert not fused_mod._pool


@pytest.mark.parametrize("set_to_none", [True, False])
def test_training_loop_with_reuse_matches_native(fresh_pool, set_to_none):
    """A real loop (Linear head, SGD, zero_grad) trains the same model with reuse as native.

    The logits' gradient goes on into the Linear layer and is dropped, so from the
    second step on the pooled buffer is handed out again; the parameters after
    several steps must equal those trained with native F.cross_entropy.
    """
    import wce.torch as wt

    rng = np.random.default_rng(3)
    X = torch.tensor(rng.normal(size=(512, 16)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 1000, size=512))
    w = torch.tensor(rng.random(1000) + 0.2, dtype=torch.float32)

    def train(implementation):
        torch.manual_seed(0)
        head = torch.nn.Linear(16, 1000)
        opt = torch.optim.SGD(head.parameters(), lr=0.5)
        pointers = set()
        for _ in range(5):
            opt.zero_grad(set_to_none=set_to_none)
            logits = head(X)
            logits.register_hook(lambda g: pointers.add(g.data_ptr()))
            wt.weighted_cross_entropy(logits, y, class_weight=w,
                                      implementation=implementation).backward()
            opt.step()
        return head, pointers

    fused_head, fused_ptrs = train("fused")
    native_head, _ = train("native")
    assert len(fused_ptrs) == 1  # one gradient buffer served all five steps
    for a, b in zip(fused_head.parameters(), native_head.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_torch_compile_with_pooled_buffers_matches_eager(fresh_pool):
    """torch.compile over a head + loss whose gradient is large enough to be pooled."""
    import wce.torch as wt

    torch._dynamo.reset()
    rng = np.random.default_rng(4)
    X = torch.tensor(rng.normal(size=(512, 8)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 1000, size=512))
    w = torch.tensor(rng.random(1000) + 0.2, dtype=torch.float32)
    head = torch.nn.Linear(8, 1000)
    loss_fn = wt.WeightedCrossEntropyLoss(class_weight=w)

    def step(model_fn):
        head.zero_grad(set_to_none=True)
        out = model_fn(X)
        out.backward()
        return out.detach(), head.weight.grad.clone()

    compiled = torch.compile(lambda inp: loss_fn(head(inp), y))
    eager = step(lambda inp: loss_fn(head(inp), y))
    for _ in range(3):  # later steps may reuse the pooled buffer
        got = step(compiled)
        torch.testing.assert_close(got[0], eager[0], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(got[1], eager[1], rtol=1e-5, atol=1e-6)


# --- what must never be reused, and what must never enter the pool ------------

def test_a_held_storage_object_is_never_overwritten(fresh_pool):
    z, y, w = _case(*BIG)
    x = _step(z, y, w)
    storage = x.grad.untyped_storage()  # the tensor goes, its storage object stays
    snapshot = x.grad.clone()
    del x
    for seed in (1, 2, 3):
        _step(*_case(*BIG, seed=seed))
    kept = torch.empty(0).set_(storage, 0, BIG)
    torch.testing.assert_close(kept, snapshot, rtol=0, atol=0)


def test_saved_tensor_hooks_keyed_on_storage_get_the_right_gradients(fresh_pool):
    """An offload/dedupe hook that packs storages (not tensors) must not see a reused buffer."""
    (z1, y1, w), (z2, y2, _) = _case(*BIG), _case(*BIG, seed=7)

    def pack(t):
        return t.untyped_storage(), t.storage_offset(), t.shape, t.stride()

    def unpack(p):
        return torch.empty(0, dtype=torch.float32).set_(*p)

    x1, x2 = torch.tensor(z1, requires_grad=True), torch.tensor(z2, requires_grad=True)
    cw = torch.tensor(w)
    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        loss = (fused_weighted_cross_entropy(x1, torch.tensor(y1), class_weight=cw)
                + fused_weighted_cross_entropy(x2, torch.tensor(y2), class_weight=cw))
    loss.backward()
    np.testing.assert_allclose(x1.grad.numpy(), _expected_grad(z1, y1, w), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(x2.grad.numpy(), _expected_grad(z2, y2, w), rtol=1e-5, atol=1e-7)


def test_a_gradient_moved_to_shared_memory_leaves_the_pool(fresh_pool):
    z, y, w = _case(*BIG)
    x = _step(z, y, w)
    x.grad.share_memory_()  # what sending it to another process does
    shared = x.grad.data_ptr()
    del x  # the sender keeps no reference; the receiving process still reads that memory
    for seed in (1, 2):
        x = _step(*_case(*BIG, seed=seed))
        assert x.grad.data_ptr() != shared
    assert all(not e.storage.is_shared() for e in fused_mod._pool[torch.float32])


def test_a_small_gradient_never_pins_a_large_buffer(fresh_pool):
    big, small = (4096, 1000), BIG
    held = []
    for seed in range(3):
        _step(*_case(*big, seed=seed))
        g = _step(*_case(*small, seed=seed)).grad
        assert g.untyped_storage().nbytes() <= fused_mod.MAX_SLACK * g.numel() * g.element_size()
        held.append(g)
    assert sum(len(v) for v in fused_mod._pool.values()) <= fused_mod.POOL_SIZE


def test_inference_mode_never_poisons_the_pool(fresh_pool):
    z, y, w = _case(*BIG)
    with torch.inference_mode():
        fused_weighted_cross_entropy(torch.tensor(z), torch.tensor(y), class_weight=torch.tensor(w))
    assert not any(fused_mod._pool.values())
    x = _step(z, y, w)
    np.testing.assert_allclose(x.grad.numpy(), _expected_grad(z, y, w), rtol=1e-5, atol=1e-7)


def test_a_default_device_never_poisons_the_pool(fresh_pool):
    z, y, w = _case(*BIG)
    with torch.device("meta"):
        x = torch.tensor(z, device="cpu", requires_grad=True)
        out = fused_weighted_cross_entropy(x, torch.tensor(y, device="cpu"),
                                           class_weight=torch.tensor(w, device="cpu"))
        out.backward()
    assert x.grad.device.type == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), _expected_grad(z, y, w), rtol=1e-5, atol=1e-7)
    x = _step(z, y, w)  # later eager calls are unaffected
    np.testing.assert_allclose(x.grad.numpy(), _expected_grad(z, y, w), rtol=1e-5, atol=1e-7)


def test_fake_tensor_tracing_never_poisons_the_pool(fresh_pool):
    from torch._subclasses.fake_tensor import FakeTensorMode

    z, y, w = _case(*BIG)
    with FakeTensorMode():
        x = torch.empty(BIG, requires_grad=True)
        target = torch.zeros(BIG[0], dtype=torch.long)
        wt.weighted_cross_entropy(x, target).backward()  # "auto" serves fake tensors natively
        assert x.grad.shape == BIG
        try:  # the kernel itself reads scalars, which fake tensors cannot give
            fused_weighted_cross_entropy(x, target).backward()
        except RuntimeError:
            pass
    assert not any(fused_mod._pool.values())
    x = _step(z, y, w)
    np.testing.assert_allclose(x.grad.numpy(), _expected_grad(z, y, w), rtol=1e-5, atol=1e-7)
