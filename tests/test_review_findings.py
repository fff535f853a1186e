"""Cases found by trying the backends as a demanding user would: each gave a wrong value or a crash."""

import os

import numpy as np
import pytest

import wce.losses as L

torch = pytest.importorskip("torch")
import wce.torch as wt  # noqa: E402


def test_binary_sample_weight_that_does_not_broadcast_is_refused():
    x = torch.randn(4, 1)
    y = torch.tensor([[1.0], [0.0], [1.0], [0.0]])
    with pytest.raises(ValueError, match=r"'sample_weight' parameter of binary_cross_entropy must "
                                         r"broadcast to the per-element shape \(4, 1\)"):
        wt.binary_cross_entropy(x, y, sample_weight=torch.tensor([1.0, 2, 3, 4]))
    s = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    expected = L.binary_cross_entropy(x.numpy(), y.numpy(), sample_weight=s.numpy())
    np.testing.assert_allclose(float(wt.binary_cross_entropy(x, y, sample_weight=s)), expected,
                               rtol=1e-6)


def test_logit_adjusted_module_with_a_large_tau_equals_the_function():
    z, t = torch.randn(2, 2, dtype=torch.float64), torch.tensor([0, 1])
    module = wt.LogitAdjustedCrossEntropyLoss([0.99, 0.01], tau=200.0).double()
    expected = wt.logit_adjusted_cross_entropy(z, t, class_prior=[0.99, 0.01], tau=200.0)
    torch.testing.assert_close(module(z, t), expected)


def test_closed_over_weights_work_under_torch_func():
    from torch.func import functional_call, grad, vmap

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    params = dict(model.named_parameters())
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 1, 0])
    for criterion in (wt.WeightedCrossEntropyLoss(class_weight=[1.0, 2.0, 3.0]),
                      wt.FocalLoss(alpha=[1.0, 2.0, 3.0])):
        per_sample = vmap(grad(lambda p, a, b: criterion(functional_call(model, p, (a[None],)),
                                                         b[None])), (None, 0, 0))(params, x, y)
        for i in range(5):
            model.zero_grad()
            criterion(model(x[i:i + 1]), y[i:i + 1]).backward()
            torch.testing.assert_close(per_sample["weight"][i], model.weight.grad)


def test_non_integral_or_huge_class_indices_are_refused():
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\]"):
        wt.focal_loss(torch.zeros(1, 3), torch.tensor([2**32 + 1]))
    wj = pytest.importorskip("wce.jax")
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\]. Got \[0\.69999"):
        wj.weighted_cross_entropy(np.zeros((2, 3), "float32"), np.array([0.7, 1.0], "float32"))
    whole = wj.weighted_cross_entropy(np.zeros((2, 3), "float32"), np.array([0.0, 1.0], "float32"))
    np.testing.assert_allclose(float(whole), np.log(3), rtol=1e-6)


def test_a_bad_index_under_jit_is_nan_even_when_nothing_else_is_weighted():
    jax = pytest.importorskip("jax")
    wj = pytest.importorskip("wce.jax")
    z = np.zeros((3, 3), "float32")
    t = np.array([9, 1, 2])
    per_example = jax.vmap(lambda a, b: wj.weighted_cross_entropy(a[None], b[None]))(z, t)
    assert np.isnan(per_example[0]) and np.all(np.isfinite(per_example[1:]))
    assert np.isnan(jax.jit(lambda a, b: wj.focal_loss(a, b))(z, t))


def test_tensor_alpha_for_binary_losses_is_accepted():
    x, y = torch.randn(6), torch.tensor([1.0, 0, 1, 0, 0, 1])
    torch.testing.assert_close(wt.binary_focal_loss(x, y, alpha=torch.tensor(0.25)),
                               wt.binary_focal_loss(x, y, alpha=0.25))


def test_chunked_refuses_learned_class_weights():
    h, W = torch.randn(6, 4, requires_grad=True), torch.randn(20, 4, requires_grad=True)
    y = torch.randint(0, 20, (6,))
    with pytest.raises(ValueError, match="'class_weight' parameter of chunked_weighted_cross_entropy "
                                         "requires a gradient"):
        wt.chunked_weighted_cross_entropy(h, W, y, class_weight=torch.ones(20, requires_grad=True))


@pytest.mark.parametrize("make", ["focal_onehot", "probabilities"])
def test_keras_fit_with_probability_targets_on_the_torch_backend(make):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    wk = pytest.importorskip("wce.keras")
    keras = wk.keras
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5)).astype("float32")
    y = rng.integers(0, 3, 32)
    keras.utils.set_random_seed(0)
    if make == "focal_onehot":
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
        model.compile("sgd", loss=wk.FocalLoss(from_logits=True))
        history = model.fit(x, np.eye(3)[y], epochs=1, batch_size=8, verbose=0)
    else:
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
        model.compile("sgd", loss=wk.WeightedCrossEntropy(from_logits=False))
        history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_bfloat16_probability_targets_within_their_rounding_pass():
    q = torch.tensor([[0.9, 0.05, 0.05], [0.2, 0.3, 0.5]]).to(torch.bfloat16)
    z = torch.randn(2, 3)
    value = wt.weighted_cross_entropy(z, q)
    expected = L.weighted_cross_entropy(z.double().numpy(), q.double().numpy()
                                        / q.double().numpy().sum(1, keepdims=True))
    np.testing.assert_allclose(float(value), expected, rtol=2e-2)
    with pytest.raises(ValueError, match="sum to 1"):
        wt.weighted_cross_entropy(z, (q.float() * 1.1).to(torch.bfloat16))
