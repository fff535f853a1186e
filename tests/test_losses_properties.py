"""Hypothesis properties of the reference losses: weights, scale, class permutations, symmetries."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import wce.losses as L
from wce.losses import value_and_grad

REDUCTIONS = ("none", "sum", "mean", "mean_per_sample")
finite = st.floats(-20, 20, allow_nan=False, allow_infinity=False)
positive = st.floats(0.05, 20, allow_nan=False, allow_infinity=False)


@st.composite
def problems(draw, soft=False):
    """(logits (N, C), targets, class weights (C,), sample weights (N,))."""
    n = draw(st.integers(1, 6))
    c = draw(st.integers(2, 5))
    x = draw(hnp.arrays(np.float64, (n, c), elements=finite))
    if soft:
        raw = draw(hnp.arrays(np.float64, (n, c), elements=st.floats(0, 1)))
        raw[:, 0] += 1e-3  # rows never all zero
        y = raw / raw.sum(axis=1, keepdims=True)
    else:
        y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
    w = draw(hnp.arrays(np.float64, c, elements=positive))
    sw = draw(hnp.arrays(np.float64, n, elements=positive))
    return x, y, w, sw


def _multiclass_losses(c):
    """(function, kwargs with per-class arrays given as functions of the class order)."""
    cost = np.arange(1.0, c * c + 1).reshape(c, c)
    counts = np.arange(1.0, c + 1) * 7
    return [
        (L.weighted_cross_entropy, lambda perm: dict(label_smoothing=0.1)),
        (L.focal_loss, lambda perm: dict(gamma=1.5)),
        (L.class_balanced_loss, lambda perm: dict(samples_per_class=counts[perm], beta=0.9)),
        (L.cost_sensitive_cross_entropy, lambda perm: dict(cost_matrix=cost[np.ix_(perm, perm)])),
        (L.logit_adjusted_cross_entropy, lambda perm: dict(class_prior=counts[perm])),
    ]


@given(problems(), st.sampled_from(REDUCTIONS), st.floats(0.1, 10))
def test_equal_class_weights_give_plain_cross_entropy(problem, reduction, c):
    x, y, _, sw = problem
    plain = L.weighted_cross_entropy(x, y, sample_weight=sw, reduction=reduction)
    ones = L.weighted_cross_entropy(x, y, class_weight=np.ones(x.shape[1]), sample_weight=sw,
                                    reduction=reduction)
    np.testing.assert_allclose(ones, plain, rtol=1e-12, atol=1e-12)
    scaled = L.weighted_cross_entropy(x, y, class_weight=np.full(x.shape[1], c), sample_weight=sw,
                                      reduction=reduction)
    factor = 1.0 if reduction == "mean" else c  # weight c: same mean, c times the rest
    np.testing.assert_allclose(scaled, factor * np.asarray(plain), rtol=1e-10, atol=1e-12)


@given(problems(), st.floats(1e-3, 1e3), st.floats(1e-3, 1e3), st.booleans())
def test_mean_is_invariant_to_scaling_the_weights(problem, a, b, soft):
    x, y, w, sw = problem
    if soft:
        y = np.eye(x.shape[1])[y]
    for f, kw in [(L.weighted_cross_entropy, {}), (L.focal_loss, {}),
                  (L.logit_adjusted_cross_entropy, {"class_prior": np.ones(x.shape[1])})]:
        name = "alpha" if f is L.focal_loss else "class_weight"
        base, base_grad = value_and_grad(f, x, y, **{name: w}, sample_weight=sw, **kw)
        scaled, scaled_grad = value_and_grad(f, x, y, **{name: a * w}, sample_weight=b * sw, **kw)
        np.testing.assert_allclose(scaled, base, rtol=1e-9)
        np.testing.assert_allclose(scaled_grad, base_grad, rtol=1e-8, atol=1e-12)


@given(problems(), st.floats(1e-3, 1e3), st.sampled_from(["pos_weight", "class_weight"]))
def test_binary_mean_is_invariant_to_scaling_the_weights(problem, a, form):
    """The weighted mean is scale-free; the binary "mean" (÷ N, as BCEWithLogitsLoss) scales."""
    x, y, w, sw = problem
    z, t = x[:, 0], (y > 0).astype(float)
    if form == "pos_weight":  # only the (1, r) -> (a, a r) scaling keeps the direction
        weights = dict(class_weight=(1.0, w[0]), sample_weight=sw)
        scaled_weights = dict(class_weight=(a, a * w[0]), sample_weight=sw)
    else:
        weights = dict(class_weight=w[:2], sample_weight=sw)
        scaled_weights = dict(class_weight=w[:2], sample_weight=a * sw)
    base = L.binary_cross_entropy(z, t, reduction="weighted_mean", **weights)
    scaled = L.binary_cross_entropy(z, t, reduction="weighted_mean", **scaled_weights)
    np.testing.assert_allclose(scaled, base, rtol=1e-9)
    np.testing.assert_allclose(L.binary_cross_entropy(z, t, **scaled_weights),
                               a * L.binary_cross_entropy(z, t, **weights), rtol=1e-9)


@given(problems(), st.sampled_from(REDUCTIONS), st.randoms(use_true_random=False))
def test_permuting_classes_permutes_the_gradient_and_keeps_the_loss(problem, reduction, random):
    x, y, w, sw = problem
    c = x.shape[1]
    perm = np.array(random.sample(range(c), c))  # new class j is old class perm[j]
    inverse = np.argsort(perm)
    for f, per_class in _multiclass_losses(c):
        name = "alpha" if f is L.focal_loss else "class_weight"
        extra = {} if f is L.class_balanced_loss else {name: w}
        value, grad = value_and_grad(f, x, y, sample_weight=sw, reduction=reduction,
                                     **per_class(np.arange(c)), **extra)
        extra_p = {} if f is L.class_balanced_loss else {name: w[perm]}
        value_p, grad_p = value_and_grad(f, x[:, perm], inverse[y], sample_weight=sw,
                                         reduction=reduction, **per_class(perm), **extra_p)
        np.testing.assert_allclose(value_p, value, rtol=1e-9, atol=1e-12, err_msg=f.__name__)
        np.testing.assert_allclose(grad_p, grad[:, perm], rtol=1e-8, atol=1e-10)


@given(problems(soft=True), st.sampled_from(REDUCTIONS), st.randoms(use_true_random=False))
def test_permuting_classes_with_soft_targets_keeps_the_loss(problem, reduction, random):
    x, q, w, sw = problem
    c = x.shape[1]
    perm = np.array(random.sample(range(c), c))
    for f, per_class in _multiclass_losses(c):
        if f is L.class_balanced_loss:
            continue
        name = "alpha" if f is L.focal_loss else "class_weight"
        value = f(x, q, sample_weight=sw, reduction=reduction, **{name: w},
                  **per_class(np.arange(c)))
        value_p = f(x[:, perm], q[:, perm], sample_weight=sw, reduction=reduction,
                    **{name: w[perm]}, **per_class(perm))
        np.testing.assert_allclose(value_p, value, rtol=1e-9, atol=1e-12, err_msg=f.__name__)


@given(problems(), st.sampled_from(REDUCTIONS), finite)
def test_softmax_losses_are_invariant_to_shifting_all_logits(problem, reduction, shift):
    x, y, w, sw = problem
    for f, per_class in _multiclass_losses(x.shape[1]):
        kw = per_class(np.arange(x.shape[1]))
        value, grad = value_and_grad(f, x, y, sample_weight=sw, reduction=reduction, **kw)
        shifted, grad_s = value_and_grad(f, x + shift, y, sample_weight=sw, reduction=reduction,
                                         **kw)
        np.testing.assert_allclose(shifted, value, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(grad_s, grad, rtol=1e-7, atol=1e-9)
        # ... so the gradient sums to zero over the class axis
        np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-9 * (1 + np.abs(grad).max()))


@given(problems(), st.sampled_from(REDUCTIONS))
def test_losses_are_non_negative(problem, reduction):
    x, y, w, sw = problem
    for f, per_class in _multiclass_losses(x.shape[1]):
        assert np.all(np.asarray(f(x, y, sample_weight=sw, reduction=reduction,
                                   **per_class(np.arange(x.shape[1])))) >= 0)
    z, t = x[:, 0], (y > 0).astype(float)
    assert np.all(np.asarray(L.binary_cross_entropy(z, t, reduction=reduction)) >= 0)
    assert np.all(np.asarray(L.binary_focal_loss(z, t, reduction=reduction, gamma=2)) >= 0)


@given(problems(), st.sampled_from(REDUCTIONS), st.floats(0, 1))
def test_binary_losses_are_symmetric_under_swapping_the_labels(problem, reduction, eps):
    x, y, w, sw = problem
    z, t = x[:, 0], (y > 0).astype(float)
    np.testing.assert_allclose(
        L.binary_cross_entropy(-z, 1 - t, class_weight=(w[1], w[0]), sample_weight=sw,
                               label_smoothing=eps, reduction=reduction),
        L.binary_cross_entropy(z, t, class_weight=(w[0], w[1]), sample_weight=sw,
                               label_smoothing=eps, reduction=reduction), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        L.binary_focal_loss(-z, 1 - t, class_weight=(w[1], w[0]), reduction=reduction),
        L.binary_focal_loss(z, t, class_weight=(w[0], w[1]), reduction=reduction),
        rtol=1e-10, atol=1e-12)


@given(problems(), st.sampled_from(REDUCTIONS))
def test_one_hot_targets_equal_index_targets(problem, reduction):
    x, y, w, sw = problem
    one_hot = np.eye(x.shape[1])[y]
    for eps in (0.0, 0.25):
        np.testing.assert_allclose(
            L.weighted_cross_entropy(x, one_hot, class_weight=w, sample_weight=sw,
                                     label_smoothing=eps, reduction=reduction),
            L.weighted_cross_entropy(x, y, class_weight=w, sample_weight=sw, label_smoothing=eps,
                                     reduction=reduction), rtol=1e-12, atol=1e-12)


@given(problems(), st.floats(0, 5))
def test_focal_loss_never_exceeds_weighted_cross_entropy(problem, gamma):
    x, y, w, sw = problem
    focal = L.focal_loss(x, y, alpha=w, gamma=gamma, sample_weight=sw, reduction="none")
    ce = L.weighted_cross_entropy(x, y, class_weight=w, sample_weight=sw, reduction="none")
    assert np.all(focal <= ce * (1 + 1e-12) + 1e-300)


@given(problems(), st.sampled_from(REDUCTIONS), st.floats(0, 3), st.floats(0, 0.5))
def test_value_and_grad_matches_finite_differences_on_random_problems(problem, reduction, gamma,
                                                                      eps):
    x, y, w, sw = problem
    x = np.clip(x, -8, 8)  # keep central differences accurate
    c = x.shape[1]
    cases = [(f, per_class(np.arange(c))) for f, per_class in _multiclass_losses(c)]
    cases += [(L.focal_loss, dict(gamma=gamma, alpha=w, label_smoothing=eps)),
              (L.weighted_cross_entropy, dict(class_weight=w, label_smoothing=eps))]
    for f, kw in cases:
        _, grad = value_and_grad(f, x, y, sample_weight=sw, reduction=reduction, **kw)
        fd = np.zeros_like(x)
        h = 1e-6
        for i in np.ndindex(x.shape):
            up, down = x.copy(), x.copy()
            up[i] += h
            down[i] -= h
            fd[i] = (np.sum(f(up, y, sample_weight=sw, reduction=reduction, **kw))
                     - np.sum(f(down, y, sample_weight=sw, reduction=reduction, **kw))) / (2 * h)
        scale = 1 + np.abs(fd).max()
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6 * scale, err_msg=f.__name__)
    z, t = x[:, 0], (y > 0).astype(float)
    for f, kw in [(L.binary_focal_loss, dict(gamma=gamma, class_weight=w[:2])),
                  (L.binary_cross_entropy, dict(pos_weight=w[0], label_smoothing=eps))]:
        _, grad, hess = L.value_grad_hess(f, z, t, sample_weight=sw, reduction=reduction, **kw)
        h = 1e-5
        g_up = value_and_grad(f, z + h, t, sample_weight=sw, reduction=reduction, **kw)[1]
        g_down = value_and_grad(f, z - h, t, sample_weight=sw, reduction=reduction, **kw)[1]
        scale = 1 + np.abs(hess).max()
        np.testing.assert_allclose(hess, (g_up - g_down) / (2 * h), rtol=1e-4, atol=1e-5 * scale,
                                   err_msg=f.__name__)
