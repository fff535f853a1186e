"""Small direct tests of behaviour that was once wrong, each against the reference or a naive formula.

The case grid (tests/cases.py) finds these too; here each one is a few lines a reader can run.
"""

from __future__ import annotations

import itertools
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import oracle  # noqa: E402
import wce.losses as reference  # noqa: E402

COST_MATRIX = [[0.0, 1.0, 2.0], [5.0, 0.0, 1.0], [1.0, 3.0, 0.0]]
# Keras' torch backend calls np.array(tensor) without copy=; the warning is Keras', not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def wt(torch):
    import wce.torch

    return wce.torch


@pytest.fixture(scope="module")
def jax():
    return pytest.importorskip("jax")


@pytest.fixture(scope="module")
def wjax(jax):
    from wce import jax as module

    return module


@pytest.fixture(scope="module")
def wk():
    pytest.importorskip("keras")
    import wce.keras

    return wce.keras


# --------------------------------------------------------------------------- a dominant top logit


FOCAL_FORMS = {
    "focal_loss": (lambda wt, x, y: wt.focal_loss(x, y), reference.focal_loss, {}),
    "FocalLoss": (lambda wt, x, y: wt.FocalLoss()(x, y), reference.focal_loss, {}),
    "class_balanced_focal": (
        lambda wt, x, y: wt.class_balanced_loss(x, y, samples_per_class=[300, 30, 5],
                                                loss_type="focal"),
        reference.class_balanced_loss, dict(samples_per_class=[300, 30, 5], loss_type="focal")),
    "cost_sensitive": (
        lambda wt, x, y: wt.cost_sensitive_cross_entropy(x, y, cost_matrix=COST_MATRIX),
        reference.cost_sensitive_cross_entropy, dict(cost_matrix=COST_MATRIX)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("margin", [89.0, 800.0])
@pytest.mark.parametrize("form", list(FOCAL_FORMS))
def test_torch_gradient_is_finite_when_the_true_class_dominates_by_a_wide_margin(
        torch, wt, form, margin, dtype):
    """[[89., 0, 0]] with target 0: p = 1 - 2e-39 rounds to 1 in float32; the gradient is ~0, not NaN."""
    loss, ref, options = FOCAL_FORMS[form]
    x = torch.tensor([[margin, 0.0, 0.0], [0.0, margin, 0.0]], dtype=getattr(torch, dtype),
                     requires_grad=True)
    y = torch.tensor([0, 1])
    loss(wt, x, y).backward()
    assert torch.isfinite(x.grad).all(), f"gradient {x.grad.tolist()}"
    _, expected = reference.value_and_grad(ref, x.detach().double().numpy(), y.numpy(), **options)
    np.testing.assert_allclose(x.grad.double().numpy(), expected, atol=1e-6)


def test_torch_gradient_is_finite_when_the_wrong_class_dominates(torch, wt):
    """Confidently wrong by 89: the gradient is large and finite (1 and -1 for the focal loss)."""
    x = torch.tensor([[89.0, 0.0, 0.0]], requires_grad=True)
    wt.focal_loss(x, torch.tensor([1])).backward()
    _, expected = reference.value_and_grad(reference.focal_loss, x.detach().double().numpy(),
                                           np.array([1]))
    np.testing.assert_allclose(x.grad.double().numpy(), expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- tied top logits


@pytest.mark.parametrize("target", [0, 1, 2])
@pytest.mark.parametrize("gap", [30.0, 1e4])
@pytest.mark.parametrize("name, options", [("focal_loss", {}),
                                           ("cost_sensitive_cross_entropy",
                                            {"cost_matrix": COST_MATRIX})])
def test_jax_gradient_with_two_tied_top_logits_equals_the_reference(jax, wjax, name, options, gap,
                                                                    target):
    """Two classes tie for the top logit far above the third: a smooth point with one gradient."""
    x = np.array([[0.0, gap, gap]])
    y = np.array([target])
    _, expected = reference.value_and_grad(getattr(reference, name), x, y, reduction="sum",
                                           **options)
    got = jax.grad(lambda z: getattr(wjax, name)(z, y, reduction="sum", **options))(
        np.asarray(x, np.float32))
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-4, atol=1e-6)


def test_reference_gradient_with_two_tied_top_logits_equals_the_finite_difference():
    """The reference used above, against central differences of the naive oracle."""
    x = np.array([[0.0, 30.0, 30.0]])
    for y, (name, options) in itertools.product(
            ([0], [1], [2]), (("focal_loss", {}),
                              ("cost_sensitive_cross_entropy", {"cost_matrix": COST_MATRIX}))):
        y = np.array(y)
        f = getattr(oracle, name)
        numeric = oracle.finite_difference_grad(lambda z: f(z, y, reduction="sum", **options), x,
                                                h=1e-5)
        _, analytic = reference.value_and_grad(getattr(reference, name), x, y, reduction="sum",
                                               **options)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


# --------------------------------------------------------------------------- JAX, spatial soft targets


@pytest.mark.parametrize("shape", [(2, 3, 3), (2, 3, 4), (2, 3, 4, 2)],
                         ids=["d_equals_C", "d_differs", "two_spatial_axes"])
@pytest.mark.parametrize("name, options", [
    ("weighted_cross_entropy", {"class_weight": [1.0, 4.0, 0.5]}),
    ("focal_loss", {"gamma": 2.0}),
    ("cost_sensitive_cross_entropy", {"cost_matrix": COST_MATRIX}),
])
def test_jax_probability_targets_with_spatial_axes_use_class_axis_1(wjax, shape, name, options):
    """(N, C, d...) scores with (N, C, d...) probabilities: the class axis is 1 for both."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape)
    q = rng.random(shape)
    q /= q.sum(axis=1, keepdims=True)
    for reduction in ("none", "mean"):
        expected = getattr(reference, name)(x, q, reduction=reduction, **options)
        got = getattr(wjax, name)(np.asarray(x, np.float32), np.asarray(q, np.float32),
                                  reduction=reduction, **options)
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- Keras, float64


@pytest.mark.parametrize("cls, name, options", [
    ("FocalLoss", "focal_loss", {"gamma": 2.0, "alpha": [0.25, 1.0, 2.0]}),
    ("CostSensitiveCrossEntropy", "cost_sensitive_cross_entropy", {"cost_matrix": COST_MATRIX}),
    ("ClassBalancedLoss", "class_balanced_loss",
     {"samples_per_class": [300, 30, 5], "loss_type": "focal", "gamma": 1.0}),
    ("WeightedCrossEntropy", "weighted_cross_entropy", {"class_weight": [1.0, 4.0, 0.5]}),
])
def test_keras_torch_backend_computes_float64_in_float64(wk, torch, cls, name, options):
    import keras

    if keras.backend.backend() != "torch":
        pytest.skip("checks the torch backend")
    rng = np.random.default_rng(1)
    x = rng.normal(scale=2.0, size=(6, 3))
    y = rng.integers(0, 3, size=6)
    z = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = getattr(wk, cls)(dtype="float64", from_logits=True, reduction="weighted_mean",
                           **options)(y, z)
    out.backward()
    value, grad = reference.value_and_grad(getattr(reference, name), x, y, **options)
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.item(), value, rtol=1e-12)
    np.testing.assert_allclose(z.grad.numpy(), grad, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- sample weights, denominator


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("name", ["binary_cross_entropy", "weighted_cross_entropy", "focal_loss"])
def test_torch_refuses_non_finite_sample_weight(torch, wt, name, bad):
    """A NaN sample weight used to give a loss of 0.0 and a NaN gradient, silently."""
    if name == "binary_cross_entropy":
        x, y = torch.zeros(3, requires_grad=True), torch.tensor([0.0, 1.0, 1.0])
    else:
        x, y = torch.zeros(3, 3, requires_grad=True), torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match="sample_weight"):
        getattr(wt, name)(x, y, sample_weight=torch.tensor([1.0, bad, 1.0]))


@pytest.mark.parametrize("denominator", [-1.0, float("nan"), float("inf")])
def test_torch_global_reduction_refuses_a_bad_denominator(torch, wt, denominator):
    x, y = torch.zeros(3, 3), torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match="denominator"):
        wt.weighted_cross_entropy(x, y, reduction="global", denominator=denominator)
    with pytest.raises(ValueError, match="denominator"):
        wt.weighted_cross_entropy(x, y, reduction="global",
                                  denominator=torch.tensor(denominator))


def test_torch_global_reduction_with_a_valid_denominator_divides_by_it(torch, wt):
    """The guard above must not refuse the intended use: Σ w·l / the given Σ w."""
    x = torch.randn(4, 3, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 1])
    total = wt.weighted_cross_entropy(x, y, reduction="sum")
    out = wt.weighted_cross_entropy(x, y, reduction="global", denominator=8.0)
    torch.testing.assert_close(out, total / 8.0)


# --------------------------------------------------------------------------- learned class weights


def _naive_weighted_ce(torch, x, y, w, reduction):
    """-Σ_i Σ_c w_c q_ic log p_ic over Σ_i Σ_c w_c q_ic (mean) or the element count."""
    q = y if y.is_floating_point() else torch.nn.functional.one_hot(y, x.shape[1]).to(x.dtype)
    wl = -(w * q * torch.log_softmax(x, 1)).sum(1)
    if reduction == "sum":
        return wl.sum()
    if reduction == "mean_per_sample":
        return wl.sum() / len(wl)
    return wl.sum() / (q * w).sum()


@pytest.mark.parametrize("targets", ["index", "probabilities"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "mean_per_sample"])
def test_torch_class_weight_that_requires_grad_gets_its_gradient(torch, wt, reduction, targets):
    """Learned class weights: the weights get d loss / d w, and the logits' gradient is unchanged."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    if targets == "index":
        y = torch.tensor([0, 1, 2, 1, 0, 2])
    else:
        y = torch.softmax(torch.randn(6, 3, generator=g, dtype=torch.float64), 1)
    w = torch.tensor([1.0, 4.0, 0.5], dtype=torch.float64, requires_grad=True)
    out = wt.weighted_cross_entropy(x, y, class_weight=w, reduction=reduction)
    out.backward()
    assert w.grad is not None, "the class weights got no gradient"

    x2 = x.detach().clone().requires_grad_()
    w2 = w.detach().clone().requires_grad_()
    naive = _naive_weighted_ce(torch, x2, y, w2, reduction)
    naive.backward()
    torch.testing.assert_close(out.detach(), naive.detach())
    torch.testing.assert_close(w.grad, w2.grad)

    # independently of autograd: central differences of the oracle in the class weights
    numeric = oracle.finite_difference_grad(
        lambda cw: oracle.weighted_cross_entropy(x.detach().numpy(), y.numpy(), class_weight=cw,
                                                 reduction=reduction), w.detach().numpy())
    np.testing.assert_allclose(w.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)
    _, expected = reference.value_and_grad(reference.weighted_cross_entropy, x.detach().numpy(),
                                           y.numpy(), class_weight=w.detach().numpy(),
                                           reduction=reduction)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_torch_bfloat16_class_weight_tensor_is_accepted(torch, wt):
    """Weights kept in the model's bfloat16 are validated without a NumPy round trip error."""
    x = torch.randn(4, 3).to(torch.bfloat16)
    y = torch.tensor([0, 1, 2, 1])
    w = torch.tensor([1.0, 4.0, 0.5], dtype=torch.bfloat16)
    out = wt.weighted_cross_entropy(x, y, class_weight=w)
    expected = reference.weighted_cross_entropy(x.double().numpy(), y.numpy(),
                                                class_weight=[1.0, 4.0, 0.5])
    np.testing.assert_allclose(out.float().item(), expected, rtol=1e-2)


# --------------------------------------------------------------------------- Keras, out-of-range indices


def test_keras_refuses_class_indices_out_of_range(wk):
    """A sparse target 5 with 3 classes used to give log 3 silently."""
    x = np.zeros((2, 3), dtype="float32")
    loss = wk.WeightedCrossEntropy(from_logits=True)
    with pytest.raises(ValueError, match="class indices"):
        loss(np.array([0, 5]), x)
    with pytest.raises(ValueError, match="class indices"):
        loss(np.array([0, -2]), x)


# --------------------------------------------------------------------------- probability rows


def _soft(row_sum):
    q = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    return q * row_sum


SOFT_LOSSES = [("weighted_cross_entropy", {}, "WeightedCrossEntropy"),
               ("focal_loss", {}, "FocalLoss"),
               ("cost_sensitive_cross_entropy", {"cost_matrix": COST_MATRIX},
                "CostSensitiveCrossEntropy")]
SOFT_IDS = [s[0] for s in SOFT_LOSSES]


def _call(backend, name, options, keras_class, q):
    x = np.random.default_rng(0).normal(size=q.shape)
    if backend == "losses":
        return getattr(reference, name)(x, q, **options)
    if backend == "torch":
        import torch

        import wce.torch as wt

        return getattr(wt, name)(torch.tensor(x), torch.tensor(q), **options)
    if backend == "jax":
        from wce import jax as wjax

        return getattr(wjax, name)(np.asarray(x, np.float32), np.asarray(q, np.float32), **options)
    import wce.keras as wk

    # Logits, and the reference's multiclass "mean" under its explicit name (Keras' "mean" is ÷ N).
    loss = getattr(wk, keras_class)(from_logits=True, reduction="weighted_mean", **options)
    return loss(q.astype("float32"), x.astype("float32"))


BACKENDS = ["losses", "torch", "jax", "keras"]


def _require(backend):
    if backend in ("torch", "jax", "keras"):
        pytest.importorskip(backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("row_sum", [0.5, 3.0])
@pytest.mark.parametrize("name, options, keras_class", SOFT_LOSSES, ids=SOFT_IDS)
def test_probability_targets_must_sum_to_one(backend, row_sum, name, options, keras_class):
    _require(backend)
    with pytest.raises(ValueError, match="sum to 1"):
        _call(backend, name, options, keras_class, _soft(row_sum))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, options, keras_class", SOFT_LOSSES, ids=SOFT_IDS)
def test_probability_targets_within_rounding_of_one_are_accepted(backend, name, options,
                                                                 keras_class):
    _require(backend)
    q = _soft(1.0 + 1e-6)
    value = float(np.asarray(_call(backend, name, options, keras_class, q)))
    x = np.random.default_rng(0).normal(size=q.shape)
    expected = getattr(oracle, name)(x, q, **options)
    np.testing.assert_allclose(value, expected, rtol=1e-5)
