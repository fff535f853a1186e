"""Inputs that once gave silently wrong results in a backend now give the right value or an error."""

import numpy as np
import pytest

import wce.losses as L

torch = pytest.importorskip("torch")
import wce.torch as wt  # noqa: E402


CB = dict(samples_per_class=[5, 3, 2], loss_type="focal")


@pytest.mark.parametrize("dtype, margin", [(torch.float32, 89.0), (torch.float32, 200.0),
                                           (torch.float64, 800.0)])
@pytest.mark.parametrize("make, reference, kwargs", [
    (lambda x, y: wt.focal_loss(x, y), L.focal_loss, {}),
    (lambda x, y: wt.FocalLoss()(x, y), L.focal_loss, {}),
    (lambda x, y: wt.class_balanced_loss(x, y, **CB), L.class_balanced_loss, CB),
], ids=["focal_loss", "FocalLoss", "class_balanced_focal"])
def test_focal_gradient_is_finite_for_a_confident_logit(make, reference, kwargs, dtype, margin):
    x = torch.tensor([[margin, 0.0, 0.0], [0.5, 0.1, -0.3]], dtype=dtype, requires_grad=True)
    make(x, torch.tensor([0, 2])).backward()
    assert torch.isfinite(x.grad).all()
    _, expected = L.value_and_grad(reference, x.detach().double().numpy(), np.array([0, 2]),
                                   **kwargs)
    np.testing.assert_allclose(x.grad.double().numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_torch_refuses_non_finite_sample_weight(bad):
    with pytest.raises(ValueError, match="'sample_weight' parameter of binary_cross_entropy "
                                         "contains NaN or infinite"):
        wt.binary_cross_entropy(torch.zeros(2), torch.ones(2), sample_weight=torch.tensor([bad, 1.0]))
    with pytest.raises(ValueError, match="'sample_weight' parameter of weighted_cross_entropy"):
        wt.weighted_cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]),
                                  sample_weight=torch.tensor([bad, 1.0]))


@pytest.mark.parametrize("denominator", [-1.0, float("nan"), float("inf")])
def test_global_reduction_refuses_a_bad_denominator(denominator):
    with pytest.raises(ValueError, match="'denominator' parameter of weighted_cross_entropy must "
                                         "be a finite, non-negative number"):
        wt.weighted_cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), reduction="global",
                                  denominator=denominator)


def test_learned_class_weights_get_the_right_gradient():
    torch.manual_seed(0)
    z = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 1, 1, 0])
    w = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    wt.weighted_cross_entropy(z, y, class_weight=w).backward()
    assert w.grad is not None
    # Naive autograd formula, written independently: Σ w_y l / Σ w_y.
    w2 = w.detach().clone().requires_grad_()
    l = -torch.log_softmax(z.detach(), 1)[torch.arange(6), y]
    ((w2[y] * l).sum() / w2[y].sum()).backward()
    torch.testing.assert_close(w.grad, w2.grad)
    _, expected = L.value_and_grad(L.weighted_cross_entropy, z.detach().numpy(), y.numpy(),
                                   class_weight=w.detach().numpy())
    np.testing.assert_allclose(z.grad.numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("rows", [[[0.25, 0.25, 0.0], [0.5, 0.0, 0.0]], [[1.5, 1.5, 0.0], [0, 3, 0]]])
def test_probability_targets_must_sum_to_one(rows):
    q = np.array(rows)
    match = "Soft targets of weighted_cross_entropy must be probabilities that sum to 1"
    with pytest.raises(ValueError, match=match):
        L.weighted_cross_entropy(np.zeros((2, 3)), q)
    with pytest.raises(ValueError, match=match):
        wt.weighted_cross_entropy(torch.zeros(2, 3), torch.tensor(q))
    jax_backend = pytest.importorskip("wce.jax")
    with pytest.raises(ValueError, match=match):
        jax_backend.weighted_cross_entropy(np.zeros((2, 3), "float32"), q)


def test_probability_targets_within_rounding_of_one_pass():
    q = np.array([[1 + 1e-6, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert np.isfinite(float(wt.weighted_cross_entropy(torch.zeros(2, 3), torch.tensor(q))))
    assert np.isfinite(L.weighted_cross_entropy(np.zeros((2, 3)), q))


def test_jax_probability_targets_with_spatial_axes_keep_their_class_axis():
    wj = pytest.importorskip("wce.jax")
    optax = pytest.importorskip("optax")
    rng = np.random.default_rng(0)
    z = rng.normal(size=(2, 3, 3)).astype("float32")  # d == C: a wrong axis would not raise
    q = rng.random((2, 3, 3))
    q = (q / q.sum(axis=1, keepdims=True)).astype("float32")
    expected = L.weighted_cross_entropy(z.astype(np.float64), q.astype(np.float64))
    np.testing.assert_allclose(float(wj.weighted_cross_entropy(z, q)), expected, rtol=1e-5)
    native = float(optax.softmax_cross_entropy(z, q, axis=1).mean())
    np.testing.assert_allclose(float(wj.weighted_cross_entropy(z, q)), native, rtol=1e-5)
