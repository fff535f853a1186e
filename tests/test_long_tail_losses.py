"""LDAM and balanced softmax: NumPy reference vs naive oracles, gradients, torch backend."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wce.losses import (LOSSES, balanced_softmax_cross_entropy, ldam_loss, ldam_margins,
                        logit_adjusted_cross_entropy, numerator_denominator, value_and_grad,
                        weighted_cross_entropy)

REDUCTIONS = ("none", "sum", "mean", "mean_per_sample")


# ---------------------------------------------------------------------------
# naive oracles, written from the papers' formulas one element at a time
# ---------------------------------------------------------------------------


def _reduce(per_elem, weights, n_valid, reduction):
    if reduction == "none":
        return np.array(per_elem)
    total = sum(per_elem)
    if reduction == "sum":
        return total
    den = sum(weights) if reduction == "mean" else n_valid
    return total / den if den > 0 else 0.0


def oracle_ldam(z, y, counts, *, max_margin=0.5, s=30.0, w=None, ignore_index=None,
                reduction="mean"):
    """Cao et al. (2019): Δ_j = C / n_j^{1/4}, C chosen so that max Δ = max_margin."""
    n_classes = len(counts)
    w = [1.0] * n_classes if w is None else list(w)
    raw = [1.0 / math.sqrt(math.sqrt(n)) for n in counts]
    constant = max_margin / max(raw)
    delta = [constant * r for r in raw]
    per_elem, weights, n_valid = [], [], 0
    for i in range(len(y)):
        if ignore_index is not None and y[i] == ignore_index:
            per_elem.append(0.0)
            weights.append(0.0)
            continue
        n_valid += 1
        u = [s * (z[i][j] - (delta[j] if j == y[i] else 0.0)) for j in range(n_classes)]
        top = max(u)
        log_denominator = top + math.log(sum(math.exp(v - top) for v in u))
        per_elem.append(w[y[i]] * (log_denominator - u[y[i]]))
        weights.append(w[y[i]])
    return _reduce(per_elem, weights, n_valid, reduction)


def oracle_balanced_softmax(z, y, counts, *, w=None, reduction="mean"):
    """Ren et al. (2020): p_j = n_j e^{z_j} / Σ_k n_k e^{z_k}."""
    n_classes = len(counts)
    w = [1.0] * n_classes if w is None else list(w)
    per_elem, weights = [], []
    for i in range(len(y)):
        top = max(z[i])
        scores = [counts[j] * math.exp(z[i][j] - top) for j in range(n_classes)]
        p = scores[y[i]] / sum(scores)
        per_elem.append(-w[y[i]] * math.log(p))
        weights.append(w[y[i]])
    return _reduce(per_elem, weights, len(y), reduction)


def _data(seed=0, n=7, c=4):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, c))
    y = rng.integers(0, c, size=n)
    counts = np.array([500, 120, 30, 4][:c] + [2] * max(0, c - 4), dtype=float)
    w = rng.uniform(0.2, 3.0, size=c)
    return z, y, counts, w


# ---------------------------------------------------------------------------
# NumPy reference vs oracle
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_ldam_matches_oracle(reduction, weighted):
    z, y, counts, w = _data()
    cw = w if weighted else None
    got = ldam_loss(z, y, samples_per_class=counts, class_weight=cw, reduction=reduction)
    want = oracle_ldam(z.tolist(), y.tolist(), counts.tolist(), w=cw, reduction=reduction)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ldam_ignore_index_matches_oracle(reduction):
    z, y, counts, w = _data(seed=1)
    y[[0, 3]] = -1
    got = ldam_loss(z, y, samples_per_class=counts, class_weight=w, ignore_index=-1,
                    max_margin=0.3, scale=10.0, reduction=reduction)
    want = oracle_ldam(z.tolist(), y.tolist(), counts.tolist(), w=w, ignore_index=-1,
                       max_margin=0.3, s=10.0, reduction=reduction)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_balanced_softmax_matches_oracle(reduction, weighted):
    z, y, counts, w = _data(seed=2)
    cw = w if weighted else None
    got = balanced_softmax_cross_entropy(z, y, samples_per_class=counts, class_weight=cw,
                                         reduction=reduction)
    want = oracle_balanced_softmax(z.tolist(), y.tolist(), counts.tolist(), w=cw,
                                   reduction=reduction)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_ldam_margins_follow_quarter_power():
    counts = np.array([10000.0, 625.0, 16.0, 1.0])
    m = ldam_margins(counts, max_margin=0.5)
    np.testing.assert_allclose(m, 0.5 * (counts.min() / counts) ** 0.25)
    assert m.max() == pytest.approx(0.5)


def test_ldam_without_margin_is_scaled_cross_entropy():
    z, y, counts, w = _data(seed=3)
    got = ldam_loss(z, y, samples_per_class=counts, max_margin=0.0, scale=2.5, class_weight=w)
    assert got == pytest.approx(weighted_cross_entropy(2.5 * z, y, class_weight=w), rel=1e-12)


def test_balanced_softmax_is_logit_adjusted_with_tau_one():
    z, y, counts, w = _data(seed=4)
    for reduction in REDUCTIONS:
        a = balanced_softmax_cross_entropy(z, y, samples_per_class=counts, class_weight=w,
                                           label_smoothing=0.1, reduction=reduction)
        b = logit_adjusted_cross_entropy(z, y, class_prior=counts / counts.sum(), tau=1.0,
                                         class_weight=w, label_smoothing=0.1, reduction=reduction)
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_ldam_spatial_targets_match_flattened():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(2, 3, 4, 5))
    y = rng.integers(0, 3, size=(2, 4, 5))
    counts = [50, 10, 2]
    flat_z = np.moveaxis(z, 1, -1).reshape(-1, 3)
    got = ldam_loss(z, y, samples_per_class=counts, reduction="none")
    want = ldam_loss(flat_z, y.reshape(-1), samples_per_class=counts, reduction="none")
    np.testing.assert_allclose(got.reshape(-1), want, rtol=1e-12)


def test_long_tail_losses_are_registered():
    assert LOSSES["ldam_loss"] is ldam_loss
    assert LOSSES["balanced_softmax_cross_entropy"] is balanced_softmax_cross_entropy


# ---------------------------------------------------------------------------
# gradients: analytic (value_and_grad) vs central finite differences
# ---------------------------------------------------------------------------


def _finite_difference(f, z, h=1e-6):
    g = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[idx] += h
        down[idx] -= h
        g[idx] = (f(up) - f(down)) / (2 * h)
    return g


@pytest.mark.parametrize("reduction", ["sum", "mean", "mean_per_sample"])
@pytest.mark.parametrize("loss", [ldam_loss, balanced_softmax_cross_entropy])
def test_gradient_matches_finite_differences(loss, reduction):
    z, y, counts, w = _data(seed=6, n=5)
    y[1] = -1
    kw = dict(samples_per_class=counts, class_weight=w, ignore_index=-1, label_smoothing=0.05,
              sample_weight=np.linspace(0.5, 2.0, 5), reduction=reduction)
    if loss is ldam_loss:
        kw["scale"] = 4.0  # a moderate scale keeps the finite differences accurate
    value, grad = value_and_grad(loss, z, y, **kw)
    assert value == pytest.approx(loss(z, y, **kw), rel=1e-12)
    numeric = _finite_difference(lambda v: loss(v, y, **kw), z)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("loss", [ldam_loss, balanced_softmax_cross_entropy])
def test_trap7_all_ignored_gives_zero_and_zero_gradient(loss):
    z, y, counts, _ = _data(seed=7)
    y[:] = -1
    value, grad = value_and_grad(loss, z, y, samples_per_class=counts, ignore_index=-1)
    assert value == 0.0
    assert not np.any(grad)


def test_trap9_numerator_denominator_give_global_mean():
    z, y, counts, w = _data(seed=8, n=10)
    parts = [numerator_denominator(ldam_loss, z[s], y[s], samples_per_class=counts, class_weight=w)
             for s in (slice(0, 3), slice(3, 10))]
    total = sum(p[0] for p in parts) / sum(p[1] for p in parts)
    assert total == pytest.approx(ldam_loss(z, y, samples_per_class=counts, class_weight=w))


# ---------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), factor=st.floats(0.01, 100.0),
       m1=st.floats(0.0, 1.0), m2=st.floats(0.0, 1.0))
def test_properties(seed, factor, m1, m2):
    z, y, counts, _ = _data(seed=seed, n=6, c=5)
    # Balanced softmax depends on the class distribution only, not on the total count.
    a = balanced_softmax_cross_entropy(z, y, samples_per_class=counts)
    b = balanced_softmax_cross_entropy(z, y, samples_per_class=counts * factor)
    assert a == pytest.approx(b, rel=1e-9)
    # A larger margin can only increase each element's LDAM loss.
    lo, hi = sorted((m1, m2))
    small = ldam_loss(z, y, samples_per_class=counts, max_margin=lo, reduction="none")
    large = ldam_loss(z, y, samples_per_class=counts, max_margin=hi, reduction="none")
    assert np.all(large >= small - 1e-12)


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [ldam_loss, balanced_softmax_cross_entropy])
def test_trap4_zero_count_is_refused(loss):
    z, y, _, _ = _data()
    with pytest.raises(ValueError, match=r"samples_per_class.*positive counts.*TRAPS 4"):
        loss(z, y, samples_per_class=[10, 0, 3, 2])


@pytest.mark.parametrize("loss", [ldam_loss, balanced_softmax_cross_entropy])
def test_wrong_number_of_counts(loss):
    z, y, _, _ = _data()
    with pytest.raises(ValueError, match=r"one count per class \(4\)\. Got shape \(3,\)"):
        loss(z, y, samples_per_class=[10, 5, 3])


def test_ldam_refuses_probability_targets():
    z, y, counts, _ = _data()
    with pytest.raises(ValueError, match="must be class indices.*true class"):
        ldam_loss(z, np.eye(4)[y], samples_per_class=counts)


@pytest.mark.parametrize("kw, match", [
    ({"scale": 0.0}, r"'scale' parameter of ldam_loss must be a float in the range \(0, inf\]"),
    ({"max_margin": -0.1}, r"'max_margin' parameter of ldam_loss must be a float in the range"),
    ({"reduction": "avg"}, r"'reduction' parameter of ldam_loss"),
])
def test_ldam_bad_hyper_parameters(kw, match):
    z, y, counts, _ = _data()
    with pytest.raises(ValueError, match=match):
        ldam_loss(z, y, samples_per_class=counts, **kw)


def test_out_of_range_target_is_reported():
    z, y, counts, _ = _data()
    y[0] = 9
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\]"):
        ldam_loss(z, y, samples_per_class=counts)


# ---------------------------------------------------------------------------
# torch backend
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def T():
    torch = pytest.importorskip("torch")
    import wce.torch as _torch_long_tail

    return torch, _torch_long_tail


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["ldam_loss", "balanced_softmax_cross_entropy"])
def test_torch_matches_reference_float32(T, name, reduction):
    """Value to 1e-6 and autograd gradient vs the analytic one, with class weights, sample
    weights, ignore_index and label smoothing: the same 'mean' (TRAPS 6) and smoothing (TRAPS 8)."""
    torch, backend = T
    z, y, counts, w = _data(seed=9, n=12, c=5)
    y[2] = -1
    sw = np.linspace(0.5, 2.0, 12)
    kw = dict(samples_per_class=counts, class_weight=w, ignore_index=-1, label_smoothing=0.1,
              sample_weight=sw, reduction=reduction)
    ref_value, ref_grad = value_and_grad(LOSSES[name], z.astype(np.float32), y, **kw)
    zt = torch.tensor(z, dtype=torch.float32, requires_grad=True)
    out = getattr(backend, name)(zt, torch.tensor(y), **kw)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.detach().numpy(), ref_value, rtol=1e-6, atol=1e-6)
    out.sum().backward()
    if reduction == "none":
        ref_grad = value_and_grad(LOSSES[name], z.astype(np.float32), y,
                                  **{**kw, "reduction": "sum"})[1]
    np.testing.assert_allclose(zt.grad.numpy(), ref_grad, rtol=1e-5, atol=1e-6)


def test_torch_balanced_softmax_matches_native_cross_entropy(T):
    torch, backend = T
    z, y, counts, w = _data(seed=10, n=9, c=4)
    zt, yt = torch.tensor(z, dtype=torch.float32), torch.tensor(y)
    native = torch.nn.functional.cross_entropy(
        zt + torch.log(torch.tensor(counts, dtype=torch.float32)), yt,
        weight=torch.tensor(w, dtype=torch.float32))
    ours = backend.balanced_softmax_cross_entropy(zt, yt, samples_per_class=counts, class_weight=w)
    assert abs(ours.item() - native.item()) < 1e-6


def test_torch_ldam_matches_native_on_shifted_logits(T):
    """LDAM as written in Cao et al.'s code: F.cross_entropy(s * where(onehot, z - m_y, z))."""
    torch, backend = T
    z, y, counts, _ = _data(seed=11, n=9, c=4)
    zt, yt = torch.tensor(z, dtype=torch.float32), torch.tensor(y)
    m = 1.0 / np.sqrt(np.sqrt(counts))
    m = torch.tensor(m * (0.5 / m.max()), dtype=torch.float32)
    onehot = torch.nn.functional.one_hot(yt, 4).bool()
    native = torch.nn.functional.cross_entropy(30.0 * torch.where(onehot, zt - m[yt][:, None], zt), yt)
    ours = backend.ldam_loss(zt, yt, samples_per_class=counts)
    assert abs(ours.item() - native.item()) < 1e-6 * max(1.0, abs(native.item()))


@pytest.mark.parametrize("name", ["ldam_loss", "balanced_softmax_cross_entropy"])
def test_torch_trap7_all_ignored_zero_value_and_gradient(T, name):
    torch, backend = T
    zt = torch.randn(4, 3, requires_grad=True)
    out = getattr(backend, name)(zt, torch.full((4,), -100), samples_per_class=[5, 3, 1],
                                 ignore_index=-100)
    out.backward()
    assert out.item() == 0.0
    assert torch.all(zt.grad == 0)


@pytest.mark.parametrize("name", ["ldam_loss", "balanced_softmax_cross_entropy"])
def test_torch_trap11_half_precision_accumulates_in_float32(T, name):
    torch, backend = T
    z, y, counts, _ = _data(seed=12, n=6, c=4)
    z = 40.0 * z  # large logits: a float16 log-softmax would lose them
    half = getattr(backend, name)(torch.tensor(z, dtype=torch.float16), torch.tensor(y),
                                  samples_per_class=counts)
    assert half.dtype == torch.float16
    ref = LOSSES[name](z.astype(np.float16).astype(np.float64), y, samples_per_class=counts)
    assert float(half) == pytest.approx(ref, rel=2e-3)


def test_torch_validation_messages_are_the_reference_ones(T):
    torch, backend = T
    zt, yt = torch.randn(3, 3), torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match="TRAPS 4"):
        backend.ldam_loss(zt, yt, samples_per_class=[3, 0, 1])
    with pytest.raises(ValueError, match="must be integer class indices"):
        backend.ldam_loss(zt, torch.eye(3), samples_per_class=[3, 2, 1])
    with pytest.raises(ValueError, match="'reduction' parameter of balanced_softmax"):
        backend.balanced_softmax_cross_entropy(zt, yt, samples_per_class=[3, 2, 1], reduction="x")
    with pytest.raises(ValueError, match="'class_weight' parameter of ldam_loss must be non-neg"):
        backend.ldam_loss(zt, yt, samples_per_class=[3, 2, 1], class_weight=[1, -1, 1])


def test_torch_balanced_softmax_soft_targets_match_reference(T):
    torch, backend = T
    z, y, counts, w = _data(seed=13, n=5, c=4)
    q = np.random.default_rng(0).dirichlet(np.ones(4), size=5)
    for reduction in REDUCTIONS:
        ref = balanced_softmax_cross_entropy(z, q, samples_per_class=counts, class_weight=w,
                                             reduction=reduction)
        out = backend.balanced_softmax_cross_entropy(
            torch.tensor(z), torch.tensor(q), samples_per_class=counts, class_weight=w,
            reduction=reduction)
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10)
