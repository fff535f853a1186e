"""Same name, same meaning for wce.keras, on the current Keras backend (see test_same_names.py)."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import wce.keras as wk  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def mirrors(name: str):
    return pytest.mark.mirrors(name)


def _numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)


def _data(seed=0, n=32, c=4):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, c)).astype("float32")
    e = np.exp(logits - logits.max(-1, keepdims=True))
    probs = (e / e.sum(-1, keepdims=True)).astype("float32")
    y = rng.integers(0, c, size=n)
    return logits, probs, y, rng.uniform(0.2, 3.0, size=n).astype("float32")


KERAS_REDUCTIONS = ["sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight"]


@mirrors("wce.keras.WeightedCrossEntropy")
@pytest.mark.parametrize("reduction", [None, *KERAS_REDUCTIONS])
@pytest.mark.parametrize("from_logits", [None, True])
def test_weighted_cross_entropy_is_keras_categorical_cross_entropy(reduction, from_logits):
    logits, probs, y, sw = _data()
    scores = logits if from_logits else probs  # the default takes softmax outputs, as Keras
    onehot = np.eye(4, dtype="float32")[y]
    kwargs = {} if from_logits is None else {"from_logits": from_logits}
    if reduction is not None:
        kwargs["reduction"] = reduction
    ours = wk.WeightedCrossEntropy(**kwargs)
    for weights in (None, sw):
        np.testing.assert_allclose(
            _numpy(ours(y, scores, sample_weight=weights)),
            _numpy(keras.losses.SparseCategoricalCrossentropy(**kwargs)(
                y, scores, sample_weight=weights)), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(
            _numpy(ours(onehot, scores, sample_weight=weights)),
            _numpy(keras.losses.CategoricalCrossentropy(**kwargs)(
                onehot, scores, sample_weight=weights)), rtol=1e-6, atol=1e-6)
    smoothed = dict(kwargs, label_smoothing=0.1)
    np.testing.assert_allclose(
        _numpy(wk.WeightedCrossEntropy(**smoothed)(onehot, scores)),
        _numpy(keras.losses.CategoricalCrossentropy(**smoothed)(onehot, scores)),
        rtol=1e-6, atol=1e-6)


@mirrors("wce.keras.BinaryCrossEntropy")
@pytest.mark.parametrize("reduction", [None, *KERAS_REDUCTIONS])
@pytest.mark.parametrize("from_logits", [None, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_binary_cross_entropy_is_keras_binary_cross_entropy(reduction, from_logits, smoothing):
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=2.0, size=(32, 3)).astype("float32")
    probs = (1.0 / (1.0 + np.exp(-logits))).astype("float32")
    y = (rng.random((32, 3)) < 0.2).astype("float32")
    sw = rng.uniform(0.2, 3.0, size=32).astype("float32")
    kwargs = {"label_smoothing": smoothing}
    if from_logits is not None:
        kwargs["from_logits"] = from_logits
    if reduction is not None:
        kwargs["reduction"] = reduction
    scores = logits if from_logits else probs
    for weights in (None, sw):
        np.testing.assert_allclose(
            _numpy(wk.BinaryCrossEntropy(**kwargs)(y, scores, sample_weight=weights)),
            _numpy(keras.losses.BinaryCrossentropy(**kwargs)(y, scores, sample_weight=weights)),
            rtol=1e-6, atol=1e-6)


@mirrors("wce.keras.class_weight_dict")
def test_class_weight_dict_is_balanced_compute_class_weight():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0] * 50 + [1] * 7 + [2] * 3)
    native = dict(enumerate(compute_class_weight("balanced", classes=np.unique(y), y=y)))
    ours = wk.class_weight_dict(y)
    assert list(ours) == list(native)
    np.testing.assert_allclose(list(ours.values()), list(native.values()), rtol=1e-15)


@pytest.mark.parametrize("cls, options", [
    (wk.FocalLoss, {"alpha": [1.0, 2.0, 1.0]}),
    (wk.BinaryFocalLoss, {"alpha": 0.25}),
    (wk.LogitAdjustedCrossEntropy, {"class_prior": [0.7, 0.2, 0.1]}),
    (wk.LDAMLoss, {"samples_per_class": [70, 20, 10]}),
])
def test_losses_defined_on_logits_need_from_logits_true(cls, options):
    """Keras' default input is probabilities; a logits-only loss must not take them silently."""
    with pytest.raises(ValueError, match=r"defined on logits.*from_logits=True"):
        cls(**options)
    cls(from_logits=True, **options)
