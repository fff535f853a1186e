"""The NumPy reference losses against the independent oracle, finite differences and PyTorch.

* every loss and every reduction agrees with ``tests/oracle.py`` to 1e-10 in float64;
* ``value_and_grad`` agrees with central finite differences, and
  ``value_grad_hess`` with central differences of the gradient (binary losses);
* the documented equivalences hold (alpha / pos_weight / class_weight forms,
  one-hot == index targets, gamma=0, beta=0, tau=0);
* logits up to ±1e4 and probabilities 0 and 1 give finite values and gradients;
* where PyTorch has the same loss it agrees in float64 (1e-10) and float32 (1e-6).
"""

from __future__ import annotations

import subprocess
import sys
import zlib

import numpy as np
import pytest

import oracle
import wce.losses as L
from wce.losses import numerator_denominator, value_and_grad, value_grad_hess

REDUCTIONS = ("none", "sum", "mean", "weighted_mean", "mean_per_sample")
COST = np.array([[0.0, 1.0, 2.0], [5.0, 0.0, 1.0], [1.0, 3.0, 0.0]])


def _soft(rng, shape_nc):
    """Random probability targets with the class axis at 1."""
    n, c, *rest = shape_nc
    q = rng.dirichlet(np.ones(c), size=(n, *rest))
    return np.moveaxis(q, -1, 1)


def make_case(name: str):
    """(reference function, oracle function, inputs, targets, keyword arguments)."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = 2.0 * rng.normal(size=(5, 3))
    y = rng.integers(0, 3, size=5)
    y[1] = -100
    sw = rng.uniform(0.2, 2.0, size=5)
    if name == "ce_index":
        return (L.weighted_cross_entropy, oracle.weighted_cross_entropy, x, y,
                dict(class_weight=[0.5, 2.0, 1.5], ignore_index=-100, sample_weight=sw))
    if name == "ce_index_smoothing":
        return (L.weighted_cross_entropy, oracle.weighted_cross_entropy, x, y,
                dict(class_weight=[0.5, 2.0, 1.5], ignore_index=-100, label_smoothing=0.2))
    if name == "ce_nd":
        x4 = rng.normal(size=(2, 3, 2, 3))
        y4 = rng.integers(0, 3, size=(2, 2, 3))
        y4[0, 1, 2] = 255
        return (L.weighted_cross_entropy, oracle.weighted_cross_entropy, x4, y4,
                dict(class_weight=[1.0, 3.0, 0.25], ignore_index=255, label_smoothing=0.1,
                     sample_weight=rng.uniform(0.5, 1.5, size=(2, 1, 3))))
    if name == "ce_soft":
        x3 = rng.normal(size=(3, 4, 2))
        return (L.weighted_cross_entropy, oracle.weighted_cross_entropy, x3, _soft(rng, (3, 4, 2)),
                dict(class_weight=[1.0, 2.0, 0.5, 4.0], label_smoothing=0.1,
                     sample_weight=rng.uniform(0.5, 1.5, size=(3, 2))))
    if name == "ce_probs":
        return (L.weighted_cross_entropy, oracle.weighted_cross_entropy, _soft(rng, (5, 3)), y,
                dict(class_weight=[0.5, 2.0, 1.5], ignore_index=-100, from_logits=False,
                     sample_weight=sw, label_smoothing=0.1))
    if name == "focal":
        return (L.focal_loss, oracle.focal_loss, x, y,
                dict(gamma=2.0, alpha=[0.25, 0.5, 1.0], ignore_index=-100, sample_weight=sw))
    if name == "focal_nd_soft_gamma_half":
        x3 = rng.normal(size=(2, 3, 3))
        return (L.focal_loss, oracle.focal_loss, x3, _soft(rng, (2, 3, 3)),
                dict(gamma=0.5, label_smoothing=0.1))
    if name == "class_balanced_softmax":
        return (L.class_balanced_loss, oracle.class_balanced_loss, x, y,
                dict(samples_per_class=[200, 20, 3], beta=0.99, ignore_index=-100, sample_weight=sw))
    if name == "class_balanced_focal":
        return (L.class_balanced_loss, oracle.class_balanced_loss, x, y,
                dict(samples_per_class=[200, 20, 3], beta=0.999, loss_type="focal", gamma=1.5,
                     ignore_index=-100))
    if name == "cost_sensitive":
        return (L.cost_sensitive_cross_entropy, oracle.cost_sensitive_cross_entropy, x, y,
                dict(cost_matrix=COST, class_weight=[1.0, 2.0, 0.5], ignore_index=-100,
                     sample_weight=sw))
    if name == "cost_sensitive_soft_nd":
        x3 = rng.normal(size=(2, 3, 2))
        return (L.cost_sensitive_cross_entropy, oracle.cost_sensitive_cross_entropy, x3,
                _soft(rng, (2, 3, 2)), dict(cost_matrix=COST))
    if name == "logit_adjusted":
        return (L.logit_adjusted_cross_entropy, oracle.logit_adjusted_cross_entropy, x, y,
                dict(class_prior=[500, 50, 5], tau=1.5, class_weight=[1.0, 0.5, 2.0],
                     ignore_index=-100, label_smoothing=0.1, sample_weight=sw))
    # binary: (N, L) multi-label targets with one ignored entry and per-label weights
    z = 3.0 * rng.normal(size=(4, 3))
    t = rng.integers(0, 2, size=(4, 3)).astype(float)
    t[2, 1] = 255
    swb = rng.uniform(0.5, 2.0, size=(4, 3))
    if name == "bce_alpha":
        return (L.binary_cross_entropy, oracle.binary_cross_entropy, z, t,
                dict(alpha=0.3, ignore_index=255, sample_weight=swb))
    if name == "bce_pos_weight":
        return (L.binary_cross_entropy, oracle.binary_cross_entropy, z, t,
                dict(pos_weight=4.0, ignore_index=255, label_smoothing=0.1))
    if name == "bce_class_weight":
        return (L.binary_cross_entropy, oracle.binary_cross_entropy, z, t,
                dict(class_weight=(0.2, 3.0), ignore_index=255, sample_weight=swb))
    if name == "bce_probs":
        p = rng.uniform(0.02, 0.98, size=(4, 3))
        return (L.binary_cross_entropy, oracle.binary_cross_entropy, p, t,
                dict(pos_weight=2.5, ignore_index=255, from_logits=False, label_smoothing=0.05))
    if name == "bce_soft_targets":
        return (L.binary_cross_entropy, oracle.binary_cross_entropy, z,
                rng.uniform(size=(4, 3)), dict(class_weight=(0.5, 2.0)))
    if name == "binary_focal":
        return (L.binary_focal_loss, oracle.binary_focal_loss, z, t,
                dict(gamma=2.0, alpha=0.25, ignore_index=255, sample_weight=swb))
    if name == "binary_focal_pos_weight_gamma_half":
        return (L.binary_focal_loss, oracle.binary_focal_loss, z, t,
                dict(gamma=0.5, pos_weight=3.0, ignore_index=255))
    if name == "binary_focal_soft_targets":
        return (L.binary_focal_loss, oracle.binary_focal_loss, z, rng.uniform(size=(4, 3)),
                dict(gamma=1.5, class_weight=(0.4, 1.5), sample_weight=swb))
    raise KeyError(name)


MULTICLASS = ["ce_index", "ce_index_smoothing", "ce_nd", "ce_soft", "ce_probs", "focal",
              "focal_nd_soft_gamma_half", "class_balanced_softmax", "class_balanced_focal",
              "cost_sensitive", "cost_sensitive_soft_nd", "logit_adjusted"]
BINARY = ["bce_alpha", "bce_pos_weight", "bce_class_weight", "bce_probs", "bce_soft_targets",
          "binary_focal", "binary_focal_pos_weight_gamma_half", "binary_focal_soft_targets"]
CASES = MULTICLASS + BINARY


# ----------------------------------------------------------------------------- import
def test_import_wce_imports_no_framework():
    """``import wce`` (and its losses and weights) must not import any framework."""
    code = ("import sys, wce, wce.losses, wce.weights; "
            "print(','.join(m for m in ('torch', 'jax', 'tensorflow', 'keras', 'xgboost', "
            "'lightgbm', 'pandas', 'polars', 'sklearn', 'pyspark', 'dask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import wce imported {out.stdout.strip()}"


# ----------------------------------------------------------------------------- oracle
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CASES)
def test_reference_matches_oracle(case, reduction):
    ref, naive, x, t, kw = make_case(case)
    got = ref(x, t, reduction=reduction, **kw)
    expected = naive(x, t, reduction=reduction, **kw)
    if reduction == "none":
        assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", CASES)
def test_numerator_denominator_recombine_to_every_reduction(case):
    ref, _, x, t, kw = make_case(case)
    for reduction in ("sum", "mean", "mean_per_sample"):
        num, den = numerator_denominator(ref, x, t, reduction=reduction, **kw)
        np.testing.assert_allclose(num / den, ref(x, t, reduction=reduction, **kw), rtol=1e-12)


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CASES)
def test_value_and_grad_matches_finite_differences(case, reduction):
    ref, _, x, t, kw = make_case(case)
    value, grad = value_and_grad(ref, x, t, reduction=reduction, **kw)
    np.testing.assert_allclose(value, ref(x, t, reduction=reduction, **kw), rtol=1e-12)
    assert grad.shape == np.shape(x)

    def scalar(xx):  # for "none" the gradient is that of the sum of the per-element losses
        return float(np.sum(ref(xx, t, reduction=reduction, **kw)))

    fd = oracle.finite_difference_grad(scalar, x)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", BINARY)
def test_value_grad_hess_matches_differences_of_the_gradient(case, reduction):
    ref, _, x, t, kw = make_case(case)
    value, grad, hess = value_grad_hess(ref, x, t, reduction=reduction, **kw)
    _, grad2 = value_and_grad(ref, x, t, reduction=reduction, **kw)
    np.testing.assert_array_equal(grad, grad2)
    h = 1e-5
    # Each element's loss depends on its own input only, so the Hessian is diagonal and
    # one coordinate-wise difference per element gives it.
    fd = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        fd[i] = (value_and_grad(ref, up, t, reduction=reduction, **kw)[1][i]
                 - value_and_grad(ref, down, t, reduction=reduction, **kw)[1][i]) / (2 * h)
    np.testing.assert_allclose(hess, fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("case", MULTICLASS)
def test_value_grad_hess_refuses_multiclass_losses(case):
    ref, _, x, t, kw = make_case(case)
    with pytest.raises(TypeError, match="value_grad_hess is defined for the binary losses"):
        value_grad_hess(ref, x, t, **kw)


def test_value_and_grad_refuses_a_foreign_function():
    with pytest.raises(TypeError, match="value_and_grad expects one of the wce.losses functions"):
        value_and_grad(np.mean, np.zeros((2, 2)), np.zeros(2, dtype=int))


# ----------------------------------------------------------------------------- equivalences
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_alpha_form_equals_class_weight_form(reduction, rng):
    z, y = rng.normal(size=8), rng.integers(0, 2, size=8)
    for a in (0.0, 0.1, 0.5, 0.9, 1.0):
        np.testing.assert_allclose(
            L.binary_cross_entropy(z, y, alpha=a, reduction=reduction),
            L.binary_cross_entropy(z, y, class_weight=(1 - a, a), reduction=reduction), rtol=1e-12)
        np.testing.assert_allclose(
            L.binary_focal_loss(z, y, alpha=a, reduction=reduction),
            L.binary_focal_loss(z, y, class_weight=(1 - a, a), reduction=reduction), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pos_weight_form_equals_class_weight_form(reduction, rng):
    z, y = rng.normal(size=8), rng.integers(0, 2, size=8)
    for r in (0.5, 1.0, 9.0):
        np.testing.assert_allclose(
            L.binary_cross_entropy(z, y, pos_weight=r, reduction=reduction),
            L.binary_cross_entropy(z, y, class_weight=(1.0, r), reduction=reduction), rtol=1e-12)


def test_per_label_pos_weight_equals_per_label_class_weight(rng):
    z, y = rng.normal(size=(6, 3)), rng.integers(0, 2, size=(6, 3))
    r = np.array([1.0, 4.0, 0.5])
    cw = np.stack([np.ones(3), r], axis=-1)  # (L, 2)
    np.testing.assert_allclose(L.binary_cross_entropy(z, y, pos_weight=r, reduction="none"),
                               L.binary_cross_entropy(z, y, class_weight=cw, reduction="none"),
                               rtol=1e-12)
    # and column j equals a single-label loss with pos_weight=r[j]
    for j in range(3):
        np.testing.assert_allclose(
            L.binary_cross_entropy(z, y, pos_weight=r, reduction="none")[:, j],
            L.binary_cross_entropy(z[:, j], y[:, j], pos_weight=r[j], reduction="none"))


@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_one_hot_targets_equal_index_targets(reduction, label_smoothing, rng):
    x = rng.normal(size=(4, 3, 2))
    y = rng.integers(0, 3, size=(4, 2))
    one_hot = np.moveaxis(np.eye(3)[y], -1, 1)
    sw = rng.uniform(0.5, 2.0, size=(4, 2))
    kw = dict(sample_weight=sw, reduction=reduction)
    for f, extra in [(L.weighted_cross_entropy, dict(class_weight=[1.0, 5.0, 0.2],
                                                     label_smoothing=label_smoothing)),
                     (L.focal_loss, dict(alpha=[1.0, 5.0, 0.2], gamma=1.5,
                                         label_smoothing=label_smoothing)),
                     (L.logit_adjusted_cross_entropy, dict(class_prior=[3, 2, 1],
                                                           label_smoothing=label_smoothing)),
                     (L.class_balanced_loss, dict(samples_per_class=[30, 5, 1], beta=0.9)),
                     (L.cost_sensitive_cross_entropy, dict(cost_matrix=COST))]:
        index_value, index_grad = value_and_grad(f, x, y, **kw, **extra)
        soft_value, soft_grad = value_and_grad(f, x, one_hot, **kw, **extra)
        np.testing.assert_allclose(soft_value, index_value, rtol=1e-12, err_msg=f.__name__)
        np.testing.assert_allclose(soft_grad, index_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_with_gamma_zero_is_weighted_cross_entropy(reduction, rng):
    x, y = rng.normal(size=(6, 4)), rng.integers(0, 4, size=6)
    w = [0.5, 1.0, 2.0, 4.0]
    np.testing.assert_allclose(
        L.focal_loss(x, y, gamma=0.0, alpha=w, label_smoothing=0.1, reduction=reduction),
        L.weighted_cross_entropy(x, y, class_weight=w, label_smoothing=0.1, reduction=reduction),
        rtol=1e-12)
    z, t = rng.normal(size=6), rng.integers(0, 2, size=6)
    np.testing.assert_allclose(
        L.binary_focal_loss(z, t, gamma=0.0, pos_weight=3.0, reduction=reduction),
        L.binary_cross_entropy(z, t, pos_weight=3.0, reduction=reduction), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_class_balanced_with_beta_zero_is_plain_cross_entropy(reduction, rng):
    x, y = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    np.testing.assert_allclose(
        L.class_balanced_loss(x, y, samples_per_class=[100, 10, 1], beta=0.0, reduction=reduction),
        L.weighted_cross_entropy(x, y, reduction=reduction), rtol=1e-12)
    np.testing.assert_allclose(
        L.class_balanced_loss(x, y, samples_per_class=[100, 10, 1], beta=0.0, loss_type="focal",
                              gamma=2.0, reduction=reduction),
        L.focal_loss(x, y, gamma=2.0, reduction=reduction), rtol=1e-12)


def test_class_balanced_approaches_inverse_frequency_as_beta_goes_to_one(rng):
    x, y = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    n = np.array([100.0, 10.0, 1.0])
    inverse = (1 / n) * 3 / (1 / n).sum()
    np.testing.assert_allclose(
        L.class_balanced_loss(x, y, samples_per_class=n, beta=1 - 1e-9, reduction="sum"),
        L.weighted_cross_entropy(x, y, class_weight=inverse, reduction="sum"), rtol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_logit_adjusted_with_tau_zero_is_plain_cross_entropy(reduction, rng):
    x, y = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    np.testing.assert_allclose(
        L.logit_adjusted_cross_entropy(x, y, class_prior=[0.7, 0.2, 0.1], tau=0.0,
                                       reduction=reduction),
        L.weighted_cross_entropy(x, y, reduction=reduction), rtol=1e-12)


def test_logit_adjusted_is_cross_entropy_of_the_shifted_logits_and_counts_equal_frequencies(rng):
    x, y = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    counts = np.array([70.0, 20.0, 10.0])
    shifted = x + 0.5 * np.log(counts / counts.sum())
    np.testing.assert_allclose(
        L.logit_adjusted_cross_entropy(x, y, class_prior=counts, tau=0.5),
        L.weighted_cross_entropy(shifted, y), rtol=1e-12)
    np.testing.assert_allclose(
        L.logit_adjusted_cross_entropy(x, y, class_prior=counts),
        L.logit_adjusted_cross_entropy(x, y, class_prior=counts / counts.sum()), rtol=1e-12)
    # post-hoc adjustment subtracts on axis 1, N-d included
    x4 = rng.normal(size=(2, 3, 2, 2))
    np.testing.assert_allclose(L.adjust_logits(x4, counts, tau=2.0),
                               x4 - 2.0 * np.log(counts / 100.0).reshape(1, 3, 1, 1))


def test_cost_sensitive_with_zero_one_costs_on_two_classes_is_twice_cross_entropy(rng):
    x, y = rng.normal(size=(7, 2)), rng.integers(0, 2, size=7)
    np.testing.assert_allclose(
        L.cost_sensitive_cross_entropy(x, y, cost_matrix=[[0, 1], [1, 0]], reduction="sum"),
        2 * L.weighted_cross_entropy(x, y, reduction="sum"), rtol=1e-12)


def test_cost_sensitive_ignores_the_diagonal(rng):
    x, y = rng.normal(size=(5, 3)), rng.integers(0, 3, size=5)
    with_diagonal = COST + np.diag([7.0, 8.0, 9.0])
    np.testing.assert_allclose(L.cost_sensitive_cross_entropy(x, y, cost_matrix=with_diagonal),
                               L.cost_sensitive_cross_entropy(x, y, cost_matrix=COST))


def test_binary_cross_entropy_equals_two_class_softmax_cross_entropy(rng):
    # sigmoid(z) == softmax([0, z])[1]: the binary and multiclass references agree.
    z, y = rng.normal(size=9), rng.integers(0, 2, size=9)
    logits = np.stack([np.zeros_like(z), z], axis=1)
    # "mean" is each family's framework mean (÷ N for binary, ÷ Σw for multiclass); the
    # explicit reductions mean the same thing in both.
    for reduction in REDUCTIONS:
        multiclass = "mean_per_sample" if reduction == "mean" else reduction
        np.testing.assert_allclose(
            L.binary_cross_entropy(z, y, class_weight=(0.3, 2.0), label_smoothing=0.2,
                                   reduction=reduction),
            L.weighted_cross_entropy(logits, y, class_weight=[0.3, 2.0], label_smoothing=0.2,
                                     reduction=multiclass), rtol=1e-12)


def test_focal_down_weights_easy_examples():
    easy, hard = np.array([[4.0, 0.0]]), np.array([[0.5, 0.0]])
    y = np.array([0])
    ratio_easy = L.focal_loss(easy, y, gamma=2.0) / L.weighted_cross_entropy(easy, y)
    ratio_hard = L.focal_loss(hard, y, gamma=2.0) / L.weighted_cross_entropy(hard, y)
    assert ratio_easy < ratio_hard < 1.0


# ----------------------------------------------------------------------------- stability
EXTREME = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [0.0, 0.0, -1e4], [1e4, 1e4, 1e4],
                    [-1e4, -1e4, -1e4]])
EXTREME_TARGETS = np.array([0, 0, 2, 1, 2])


@pytest.mark.parametrize("f, kw", [
    (L.weighted_cross_entropy, dict(label_smoothing=0.1, class_weight=[1.0, 2.0, 3.0])),
    (L.focal_loss, dict(gamma=2.0)),
    (L.focal_loss, dict(gamma=0.5, label_smoothing=0.1)),
    (L.class_balanced_loss, dict(samples_per_class=[50, 5, 1], loss_type="focal", gamma=0.3)),
    (L.class_balanced_loss, dict(samples_per_class=[50, 5, 1])),
    (L.cost_sensitive_cross_entropy, dict(cost_matrix=COST)),
    (L.logit_adjusted_cross_entropy, dict(class_prior=[50, 5, 1])),
], ids=lambda v: getattr(v, "__name__", ""))
def test_extreme_logits_give_finite_loss_and_gradient(f, kw):
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        for reduction in REDUCTIONS:
            value, grad = value_and_grad(f, EXTREME, EXTREME_TARGETS, reduction=reduction, **kw)
            assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
    none = f(EXTREME, EXTREME_TARGETS, reduction="none", **kw)
    # a confidently wrong row costs in proportion to the logits, not inf
    assert 100 < none[1] < 1e6
    if "label_smoothing" not in kw:  # a confidently right row costs (almost) nothing
        assert none[0] < 1e-3


def test_extreme_logits_cross_entropy_values_are_exact():
    # log-softmax of ±1e4 in closed form: the wrong row costs exactly 2e4 + log 2
    value = L.weighted_cross_entropy(EXTREME[:2], np.array([0, 0]), reduction="none")
    np.testing.assert_allclose(value, [0.0, 2e4 + np.log(2)], rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("f, kw", [
    (L.binary_cross_entropy, dict(pos_weight=3.0, label_smoothing=0.1)),
    (L.binary_focal_loss, dict(alpha=0.25, gamma=2.0)),
    (L.binary_focal_loss, dict(gamma=0.5)),
    (L.binary_focal_loss, dict(gamma=1.0)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_extreme_binary_logits_give_finite_loss_gradient_and_hessian(f, kw):
    z = np.array([1e4, -1e4, 1e4, -1e4, 0.0, 40.0, -40.0])
    y = np.array([1, 1, 0, 0, 1, 0, 1])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        for reduction in REDUCTIONS:
            out = value_grad_hess(f, z, y, reduction=reduction, **kw)
            assert all(np.all(np.isfinite(a)) for a in out)
    value = f(z, y, reduction="none", **kw)
    if "label_smoothing" not in kw:
        assert value[0] == 0.0 and value[3] == 0.0  # confidently right
    assert value[1] > 1e3 and value[2] > 1e3  # confidently wrong: linear in |z|, not inf


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_probabilities_zero_and_one_use_the_documented_clip(reduction):
    eps = L._common.EPS
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([1, 1, 0, 0, 1])
    value, grad, hess = value_grad_hess(L.binary_cross_entropy, p, y, from_logits=False,
                                        reduction=reduction)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))
    clipped = np.clip(p, eps, 1 - eps)
    expected = -(y * np.log(clipped) + (1 - y) * np.log1p(-clipped))
    np.testing.assert_allclose(L.binary_cross_entropy(p, y, from_logits=False, reduction="none"),
                               expected, rtol=1e-12)
    # outside [eps, 1 - eps] the clip is flat: zero gradient, as for a clip in autodiff
    _, g = value_and_grad(L.binary_cross_entropy, p, y, from_logits=False, reduction="sum")
    np.testing.assert_array_equal(g[:4], 0.0)
    probs = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    v = L.weighted_cross_entropy(probs, np.array([0, 2]), from_logits=False, reduction="none")
    np.testing.assert_allclose(v, [-np.log(1 - eps), -np.log(eps)], rtol=1e-12)


# ----------------------------------------------------------------------------- PyTorch
def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-6)])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cross_entropy_index_targets_match_pytorch(reduction, dtype, tol, rng):
    torch = _torch()
    x = rng.normal(size=(4, 3, 2, 2)).astype(dtype)
    y = rng.integers(0, 3, size=(4, 2, 2))
    y[0, 0, 0] = -100
    w = np.array([0.3, 1.0, 4.0])
    for ls in (0.0, 0.2):
        expected = torch.nn.functional.cross_entropy(
            torch.tensor(x), torch.tensor(y), weight=torch.tensor(w.astype(dtype)),
            ignore_index=-100, label_smoothing=ls, reduction=reduction).numpy()
        got = L.weighted_cross_entropy(x, y, class_weight=w, ignore_index=-100, label_smoothing=ls,
                                       reduction=reduction)
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cross_entropy_soft_targets_match_pytorch_which_divides_by_n(reduction, rng):
    torch = _torch()
    x, q = rng.normal(size=(5, 4)), _soft(rng, (5, 4))
    w = np.array([0.3, 1.0, 4.0, 2.0])
    expected = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(q),
                                                 weight=torch.tensor(w), label_smoothing=0.1,
                                                 reduction=reduction).numpy()
    ours = "mean_per_sample" if reduction == "mean" else reduction
    got = L.weighted_cross_entropy(x, q, class_weight=w, label_smoothing=0.1, reduction=ours)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-6)])
def test_binary_cross_entropy_matches_pytorch_weight_and_pos_weight(dtype, tol, rng):
    torch = _torch()
    F = torch.nn.functional
    z = (3 * rng.normal(size=(6, 3))).astype(dtype)
    y = rng.integers(0, 2, size=(6, 3)).astype(dtype)
    pw = np.array([1.0, 3.0, 0.5], dtype=dtype)
    sw = rng.uniform(0.5, 2.0, size=(6, 3)).astype(dtype)
    T = torch.tensor
    for reduction, ours in [("none", "none"), ("sum", "sum"), ("mean", "mean_per_sample")]:
        expected = F.binary_cross_entropy_with_logits(T(z), T(y), weight=T(sw), pos_weight=T(pw),
                                                      reduction=reduction).numpy()
        got = L.binary_cross_entropy(z, y, pos_weight=pw, sample_weight=sw, reduction=ours)
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
        p = 1 / (1 + np.exp(-z.astype(np.float64)))
        expected = F.binary_cross_entropy(T(p), T(y.astype(np.float64)), weight=T(sw.astype(float)),
                                          reduction=reduction).numpy()
        got = L.binary_cross_entropy(p, y, sample_weight=sw, from_logits=False, reduction=ours)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_gradients_match_pytorch_autograd(rng):
    torch = _torch()
    x = rng.normal(size=(5, 3, 2))
    y = rng.integers(0, 3, size=(5, 2))
    w = np.array([0.5, 2.0, 1.0])
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.cross_entropy(xt, torch.tensor(y), weight=torch.tensor(w),
                                      label_smoothing=0.1).backward()
    _, grad = value_and_grad(L.weighted_cross_entropy, x, y, class_weight=w, label_smoothing=0.1)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    z, t = rng.normal(size=7), rng.integers(0, 2, size=7).astype(float)
    zt = torch.tensor(z, requires_grad=True)
    torch.nn.functional.binary_cross_entropy_with_logits(zt, torch.tensor(t),
                                                         pos_weight=torch.tensor(2.5)).backward()
    _, grad = value_and_grad(L.binary_cross_entropy, z, t, pos_weight=2.5,
                             reduction="mean_per_sample")
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_binary_focal_matches_torchvision_formula_in_torch(rng):
    """torchvision.ops.sigmoid_focal_loss, transcribed (torchvision is not a dependency)."""
    torch = _torch()
    F = torch.nn.functional
    z, y = torch.tensor(3 * rng.normal(size=20)), torch.tensor(rng.integers(0, 2, 20).astype(float))
    alpha, gamma = 0.25, 2.0
    p = torch.sigmoid(z)
    ce = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    ours = L.binary_focal_loss(z.numpy(), y.numpy(), alpha=alpha, gamma=gamma, reduction="none")
    np.testing.assert_allclose(ours, loss.numpy(), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(
        L.binary_focal_loss(z.numpy(), y.numpy(), alpha=alpha, gamma=gamma,
                            reduction="mean_per_sample"), loss.mean().item(), rtol=1e-10)


def test_binary_cross_entropy_matches_scikit_learn_log_loss(rng):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    p = rng.uniform(0.01, 0.99, size=30)
    y = rng.integers(0, 2, size=30)
    sw = rng.uniform(0.1, 3.0, size=30)
    expected = sklearn_metrics.log_loss(y, p, sample_weight=sw)
    # log_loss(sample_weight=) is np.average: the weighted mean.
    got = L.binary_cross_entropy(p, y, sample_weight=sw, from_logits=False,
                                 reduction="weighted_mean")
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_log1m_softmax_is_accurate_for_confident_and_tied_logits(rng):
    """log(1 - p_k) from the others' logsumexp: exact where 1 - softmax would cancel to 0."""
    from scipy.special import logsumexp

    rows = np.concatenate([rng.normal(size=(20, 4)) * s for s in (1.0, 30.0, 1e4)]
                          + [np.array([[50.0, 0.0, 0.0, 0.0], [5.0, 5.0, 5.0, 5.0],
                                       [1e4, 1e4, -1e4, 0.0], [40.0, 39.0, -3.0, 1.0]])])
    got = L._common.log1m_softmax(rows)
    expected = np.empty_like(rows)
    for k in range(rows.shape[1]):
        others = np.delete(rows, k, axis=1)
        expected[:, k] = logsumexp(others, axis=1) - logsumexp(rows, axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
