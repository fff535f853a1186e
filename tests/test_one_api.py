"""The same name means the same thing in every backend: the global-mean parts and logit adjustment."""

import numpy as np
import pytest

import wce.losses as L

torch = pytest.importorskip("torch")
import wce.torch as wt  # noqa: E402


@pytest.mark.parametrize("reduction", ["mean", "mean_per_sample", "sum"])
@pytest.mark.parametrize("name, kwargs", [
    ("weighted_cross_entropy", {"class_weight": [1.0, 3.0, 0.5]}),
    ("focal_loss", {"gamma": 2.0, "alpha": [1.0, 2.0, 4.0]}),
    ("cost_sensitive_cross_entropy", {"cost_matrix": [[0, 1, 2], [3, 0, 1], [1, 1, 0]]}),
])
def test_torch_numerator_denominator_equals_the_reference(name, kwargs, reduction):
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(7, 3)), rng.integers(0, 3, 7)
    num, den = wt.numerator_denominator(getattr(wt, name), torch.tensor(z), torch.tensor(y),
                                        reduction=reduction, **kwargs)
    ref_num, ref_den = L.numerator_denominator(getattr(L, name), z, y, reduction=reduction, **kwargs)
    np.testing.assert_allclose([float(num), float(den)], [ref_num, ref_den], rtol=1e-12)


def test_torch_numerator_denominator_refuses_other_callables():
    with pytest.raises(TypeError, match="expects one of the wce.torch loss functions"):
        wt.numerator_denominator(torch.nn.functional.cross_entropy, torch.zeros(2, 2),
                                 torch.tensor([0, 1]))


def test_torch_adjust_logits_equals_the_reference():
    z = np.random.default_rng(1).normal(size=(4, 3, 2))
    prior = [0.7, 0.2, 0.1]
    out = wt.adjust_logits(torch.tensor(z), prior, tau=0.5)
    np.testing.assert_allclose(out.numpy(), L.adjust_logits(z, prior, tau=0.5), rtol=1e-12)


def test_keras_adjust_logits_equals_the_reference():
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    wk = pytest.importorskip("wce.keras")
    z = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    prior = [0.7, 0.2, 0.1]
    out = np.asarray(wk.keras.ops.convert_to_numpy(wk.adjust_logits(z, prior, tau=0.5)))
    np.testing.assert_allclose(out, L.adjust_logits(z.astype(np.float64), prior, tau=0.5), rtol=1e-6)
