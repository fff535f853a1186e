"""wce.keras on the current Keras backend (torch in the main run, JAX in the Makefile's second run).

TensorFlow is not installed, so the TensorFlow backend is not tested.
"""

from __future__ import annotations

import importlib.util
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import wce.keras as wk  # noqa: E402
import wce.losses as reference  # noqa: E402

BACKEND = keras.backend.backend()
# Keras' torch backend calls np.array(tensor) without copy=; the warning is Keras', not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
C = 3

# (class, reference name, binary?, options)
CASES = [
    (wk.WeightedCrossEntropy, "weighted_cross_entropy", False,
     dict(class_weight=[1.0, 4.0, 0.5], label_smoothing=0.1, ignore_index=-1)),
    (wk.WeightedCrossEntropy, "weighted_cross_entropy", False,
     dict(class_weight=[1.0, 4.0, 0.5], from_logits=False)),
    (wk.FocalLoss, "focal_loss", False, dict(gamma=2.0, alpha=[0.25, 1.0, 2.0], ignore_index=-1)),
    (wk.ClassBalancedLoss, "class_balanced_loss", False,
     dict(samples_per_class=[300, 30, 5], beta=0.99, loss_type="focal", gamma=1.0)),
    (wk.CostSensitiveCrossEntropy, "cost_sensitive_cross_entropy", False,
     dict(cost_matrix=[[0, 1, 2], [5, 0, 1], [1, 3, 0]], class_weight=[1.0, 2.0, 1.0])),
    (wk.LogitAdjustedCrossEntropy, "logit_adjusted_cross_entropy", False,
     dict(class_prior=[0.8, 0.15, 0.05], tau=1.0)),
    (wk.BalancedSoftmaxCrossEntropy, "balanced_softmax_cross_entropy", False,
     dict(samples_per_class=[300, 30, 5], class_weight=[1.0, 2.0, 1.0], ignore_index=-1)),
    (wk.LDAMLoss, "ldam_loss", False, dict(samples_per_class=[300, 30, 5], scale=5.0)),
    (wk.BinaryCrossEntropy, "binary_cross_entropy", True, dict(pos_weight=9.0, label_smoothing=0.1)),
    (wk.BinaryCrossEntropy, "binary_cross_entropy", True,
     dict(class_weight=[[1.0, 4.0], [0.5, 2.0], [1.0, 1.0]], ignore_index=255)),
    (wk.BinaryFocalLoss, "binary_focal_loss", True, dict(gamma=2.0, alpha=0.25)),
]
IDS = [f"{c[1]}-{i}" for i, c in enumerate(CASES)]


def make_data(binary, options, seed=0):
    """Class-last scores (Keras layout), targets and per-sample weights."""
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=2.0, size=(6, C)).astype("float32")
    if binary:
        y = (rng.random((6, C)) < 0.4).astype("float32")
        if options.get("ignore_index") is not None:
            y[0, 1] = options["ignore_index"]
    else:
        y = rng.integers(0, C, size=6)
        if options.get("ignore_index") is not None:
            y[2] = options["ignore_index"]
        if options.get("from_logits") is False:
            e = np.exp(x - x.max(-1, keepdims=True))
            x = (e / e.sum(-1, keepdims=True)).astype("float32")
    return x, y, rng.uniform(0.5, 2.0, size=6).astype("float32")


def expected_value(name, binary, x, y, sw, reduction, options):
    """The NumPy reference in its own layout: class axis 1, per-element sample weights."""
    x64 = x.astype(np.float64)
    sw_elements = sw[:, None] * np.ones_like(x64) if binary else sw
    return getattr(reference, name)(x64, y, sample_weight=sw_elements, reduction=reduction, **options)


def numpy(value):
    return keras.ops.convert_to_numpy(value)


def test_keras_reduction_names_are_aliases():
    x, y, sw = make_data(False, {})
    cw = [1.0, 4.0, 0.5]
    # Keras' names with Keras' meanings; the reference names them explicitly.
    for keras_name, ours in [("sum_over_batch_size", "mean_per_sample"),
                             ("mean", "mean_per_sample"),
                             ("mean_with_sample_weight", "weighted_mean"), (None, "none")]:
        loss = wk.WeightedCrossEntropy(from_logits=True, class_weight=cw, reduction=keras_name)
        assert loss.reduction == keras_name  # kept as given, like Keras' own losses
        np.testing.assert_allclose(numpy(loss(y, x, sample_weight=sw)),
                                   expected_value("weighted_cross_entropy", False, x, y, sw, ours,
                                                  dict(class_weight=cw)), rtol=1e-6, atol=1e-6)


def test_index_one_hot_and_trailing_one_targets_agree():
    """TRAPS 6: the same weighted mean whatever the target encoding."""
    x, y, _ = make_data(False, {})
    loss = wk.WeightedCrossEntropy(from_logits=True, class_weight=[1.0, 4.0, 0.5])
    values = [float(numpy(loss(t, x))) for t in (y, y[:, None], np.eye(C)[y])]
    np.testing.assert_allclose(values, values[0], rtol=1e-6)


def test_matches_native_keras_losses():
    x, y, sw = make_data(False, {})
    onehot = np.eye(C, dtype="float32")[y]
    sparse = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    ours = wk.WeightedCrossEntropy(from_logits=True, reduction="mean_per_sample")
    np.testing.assert_allclose(numpy(ours(y, x, sample_weight=sw)),
                               numpy(sparse(y, x, sample_weight=sw)), rtol=1e-6)
    smoothed = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)
    np.testing.assert_allclose(
        numpy(wk.WeightedCrossEntropy(from_logits=True, label_smoothing=0.2, reduction="mean_per_sample")(onehot, x)),
        numpy(smoothed(onehot, x)), rtol=1e-6)
    # Keras' "mean_with_sample_weight" with sample_weight = w[y] is wce's "weighted_mean".
    cw = np.array([1.0, 4.0, 0.5], dtype="float32")
    weighted_mean = keras.losses.CategoricalCrossentropy(from_logits=True,
                                                        reduction="mean_with_sample_weight")
    np.testing.assert_allclose(
        numpy(wk.WeightedCrossEntropy(from_logits=True, class_weight=cw,
                                      reduction="weighted_mean")(y, x)),
        numpy(weighted_mean(onehot, x, sample_weight=cw[y])), rtol=1e-6)
    # The default is Keras' default: class weights as sample weights, divided by N.
    np.testing.assert_allclose(
        numpy(wk.WeightedCrossEntropy(from_logits=True, class_weight=cw)(y, x)),
        numpy(keras.losses.CategoricalCrossentropy(from_logits=True)(onehot, x,
                                                                    sample_weight=cw[y])),
        rtol=1e-6)

    xb, yb, _ = make_data(True, {})
    bce = keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1)
    np.testing.assert_allclose(
        numpy(wk.BinaryCrossEntropy(from_logits=True, label_smoothing=0.1, reduction="mean_per_sample")(yb, xb)),
        numpy(bce(yb, xb)), rtol=1e-6)


def test_trap12_binary_focal_alpha_matches_keras_only_with_class_balancing():
    xb, yb, _ = make_data(True, {})
    ours = numpy(wk.BinaryFocalLoss(from_logits=True, alpha=0.25, gamma=2.0, reduction="mean_per_sample")(yb, xb))
    balanced = keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.25,
                                                    gamma=2.0, from_logits=True)
    ignored = keras.losses.BinaryFocalCrossentropy(alpha=0.25, gamma=2.0, from_logits=True)
    np.testing.assert_allclose(ours, numpy(balanced(yb, xb)), rtol=1e-5)
    assert not np.isclose(ours, numpy(ignored(yb, xb)), rtol=1e-3)  # Keras ignored alpha


def test_multiclass_focal_matches_keras_categorical_focal():
    x, y, _ = make_data(False, {})
    native = keras.losses.CategoricalFocalCrossentropy(alpha=0.25, gamma=2.0, from_logits=True)
    ours = wk.FocalLoss(from_logits=True, alpha=[0.25] * C, gamma=2.0, reduction="mean_per_sample")
    np.testing.assert_allclose(numpy(ours(y, x)), numpy(native(np.eye(C)[y], x)), rtol=1e-5)


def _value_and_grad(loss, y, x):
    """Autodiff on the active backend."""
    if BACKEND == "torch":
        import torch

        z = torch.tensor(x, requires_grad=True)
        value = loss(y, z)
        value.backward()
        return float(value.detach()), z.grad.numpy()
    if BACKEND == "jax":
        import jax

        value, grad = jax.value_and_grad(lambda z: loss(y, z))(x)
        return float(value), np.asarray(grad)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        z = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(z)
            value = loss(y, z)
        return float(value), tape.gradient(value, z).numpy()
    pytest.skip(f"no gradient helper for backend {BACKEND}")


def test_trap7_all_ignored_gives_zero():
    x, _, _ = make_data(False, {})
    y = np.full(6, -1)
    for reduction in ("mean", "weighted_mean", "mean_per_sample"):
        value, grad = _value_and_grad(
            wk.WeightedCrossEntropy(from_logits=True, ignore_index=-1, reduction=reduction), y, x)
        assert value == 0.0 and np.all(grad == 0.0)


def test_trap11_float16_scores_are_computed_in_float32():
    rng = np.random.default_rng(0)
    x = rng.normal(scale=30.0, size=(32, 500)).astype("float16")
    y = rng.integers(0, 500, size=32)
    got = float(numpy(wk.WeightedCrossEntropy(from_logits=True)(y, x)))
    np.testing.assert_allclose(got, reference.weighted_cross_entropy(x.astype(np.float64), y), rtol=1e-5)


def test_trap1_alpha_above_one_is_refused_at_construction():
    with pytest.raises(ValueError, match=r"Got 9 instead.*pos_weight=<ratio>"):
        wk.BinaryCrossEntropy(from_logits=True, alpha=9)
    with pytest.raises(ValueError, match="TRAPS 12"):
        wk.FocalLoss(from_logits=True, alpha=0.25)
    with pytest.raises(ValueError, match="'reduction' parameter of WeightedCrossEntropy"):
        wk.WeightedCrossEntropy(from_logits=True, reduction="batch")
    with pytest.raises(ValueError, match="non-negative"):
        wk.WeightedCrossEntropy(from_logits=True, class_weight=[1.0, -2.0])
    loss = wk.WeightedCrossEntropy(from_logits=True, class_weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="one weight per class"):
        loss(np.array([0, 1]), np.zeros((2, 3), dtype="float32"))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_config_round_trip(case):
    cls, name, binary, options = case
    loss = cls(reduction="mean_per_sample", **{"from_logits": True, **options})
    config = keras.saving.serialize_keras_object(loss)
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is cls and restored.get_config() == loss.get_config()
    x, y, sw = make_data(binary, options)
    np.testing.assert_allclose(numpy(restored(y, x, sw)), numpy(loss(y, x, sw)), rtol=1e-6)


def _tiny_model(n_out, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((C,)), keras.layers.Dense(n_out)])


def test_compile_fit_save_and_load(tmp_path):
    x, y, _ = make_data(False, {})
    model = _tiny_model(C)
    model.compile(optimizer="sgd", loss=wk.WeightedCrossEntropy(from_logits=True, class_weight=[1.0, 4.0, 0.5]))
    history = model.fit(x, y, epochs=2, batch_size=6, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.loss, wk.WeightedCrossEntropy)
    assert loaded.loss.get_config() == model.loss.get_config()
    expected = reference.weighted_cross_entropy(model.predict(x, verbose=0).astype(np.float64), y,
                                                class_weight=[1.0, 4.0, 0.5],
                                                reduction="mean_per_sample")
    np.testing.assert_allclose(loaded.evaluate(x, y, batch_size=6, verbose=0), expected, rtol=1e-5)


# --------------------------------------------------------------------------- TRAPS 13


def test_trap13_segmentation_masks_class_weight_fails_sample_weights_train():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4, 4, 3)).astype("float32")
    masks = rng.integers(0, 2, size=(8, 4, 4))
    cw = {0: 1.0, 1: 5.0}

    def model():
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(2, 1)])
        m.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return m

    with pytest.raises((TypeError, ValueError)):
        model().fit(x, masks, class_weight=cw, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="TRAPS 13"):
        wk.class_weight_dict(masks)
    weights = wk.sample_weights(masks, cw)
    assert weights.shape == masks.shape
    m = model()
    m.fit(x, masks, sample_weight=weights, epochs=1, batch_size=8, verbose=0)
    logits = np.moveaxis(m.predict(x, verbose=0), -1, 1).astype(np.float64)
    expected = reference.weighted_cross_entropy(logits, masks, class_weight=[1.0, 5.0],
                                                reduction="mean_per_sample")
    np.testing.assert_allclose(m.evaluate(x, masks, sample_weight=weights, batch_size=8, verbose=0),
                               expected, rtol=1e-5)


def test_trap13_multilabel_class_weight_silently_argmaxes_sample_weights_do_not():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, C)).astype("float32")
    y = (rng.random((16, 3)) < 0.5).astype("float32")
    y[0] = [1, 1, 1]
    cw = {0: 1.0, 1: 3.0, 2: 9.0}

    def fitted(**fit_kwargs):
        model = _tiny_model(3)
        model.compile(optimizer=keras.optimizers.SGD(0.1),
                      loss=keras.losses.BinaryCrossentropy(from_logits=True))
        model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0, **fit_kwargs)
        return model.get_weights()

    # Keras weights each k-hot row by the weight of its arg-max label only.
    argmaxed = np.array([cw[int(i)] for i in y.argmax(axis=1)], dtype="float32")
    for a, b in zip(fitted(class_weight=cw), fitted(sample_weight=argmaxed)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    with pytest.raises(ValueError, match="TRAPS 13"):
        wk.class_weight_dict(y)

    # Ours: a (w_neg, w_pos) pair per label, one weight per element, with a per-element loss.
    pairs = np.array([[1.0, 2.0], [1.0, 4.0], [0.5, 8.0]])
    weights = wk.sample_weights(y, pairs, kind="multilabel")
    assert weights.shape == y.shape
    model = _tiny_model(3)
    model.compile(optimizer="sgd", loss=wk.BinaryCrossEntropy(from_logits=True, reduction="mean_per_sample"))
    model.fit(x, y, sample_weight=weights, epochs=1, batch_size=16, verbose=0)
    expected = reference.binary_cross_entropy(model.predict(x, verbose=0).astype(np.float64), y,
                                              class_weight=pairs, reduction="mean_per_sample")
    np.testing.assert_allclose(model.evaluate(x, y, sample_weight=weights, batch_size=16, verbose=0),
                               expected, rtol=1e-5)


def test_trap13_multi_output_class_weight_fails_sample_weights_train():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(12, C)).astype("float32")
    ya, yb = rng.integers(0, 2, 12), rng.integers(0, 3, 12)
    inputs = keras.Input((C,))
    model = keras.Model(inputs, [keras.layers.Dense(2)(inputs), keras.layers.Dense(3)(inputs)])
    model.compile(optimizer="sgd", loss=[keras.losses.SparseCategoricalCrossentropy(from_logits=True)] * 2)
    with pytest.raises(ValueError, match="single output"):
        model.fit(x, [ya, yb], class_weight={0: 1.0, 1: 5.0}, epochs=1, verbose=0)
    weights = wk.sample_weights([ya, yb], [wk.class_weight_dict(ya), wk.class_weight_dict(yb)])
    history = model.fit(x, [ya, yb], sample_weight=weights, epochs=1, batch_size=12, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    pa, pb = (p.astype(np.float64) for p in model.predict(x, verbose=0))
    expected = sum(
        reference.weighted_cross_entropy(p, t, sample_weight=w, reduction="mean_per_sample")
        for p, t, w in zip((pa, pb), (ya, yb), weights))
    np.testing.assert_allclose(model.evaluate(x, [ya, yb], sample_weight=weights, batch_size=12,
                                              verbose=0)[0], expected, rtol=1e-5)


def test_class_weight_dict_equals_sklearn_balanced():
    sklearn_utils = pytest.importorskip("sklearn.utils")
    y = np.array([0] * 30 + [1] * 5 + [2] * 2)
    expected = sklearn_utils.class_weight.compute_class_weight("balanced", classes=np.arange(3), y=y)
    got = wk.class_weight_dict(y[:, None])
    assert list(got) == [0, 1, 2] and all(isinstance(k, int) for k in got)
    np.testing.assert_allclose(list(got.values()), expected)
    np.testing.assert_allclose(list(wk.class_weight_dict(np.eye(3)[y]).values()), expected)
    with pytest.raises(TypeError, match="integer class indices"):
        wk.class_weight_dict(np.array(["a", "b"]))


def test_sample_weights_kinds_and_errors():
    np.testing.assert_allclose(wk.sample_weights(np.eye(3)[[0, 2]], [1.0, 2.0, 3.0], kind="onehot"),
                               [1.0, 3.0])
    with pytest.raises(ValueError, match="class indices 0..K-1 as keys"):
        wk.sample_weights(np.array([0, 2]), {0: 1.0, 2: 3.0})
    with pytest.raises(ValueError, match=r"integers in \[0, 1\]"):
        wk.sample_weights(np.array([0, 2]), [1.0, 2.0])
    with pytest.raises(ValueError, match="kind='multilabel'"):
        wk.sample_weights(np.ones((2, 3)), [1.0, 2.0, 3.0], kind="multilabel")
    with pytest.raises(ValueError, match="'kind' parameter"):
        wk.sample_weights(np.ones(2, dtype=int), [1.0, 2.0], kind="khot")


def test_missing_tensorflow_backend_gives_a_clear_import_error():
    """Keras defaults to TensorFlow; without it, importing wce.keras says how to pick a backend."""
    import subprocess
    import sys

    # TensorFlow is hidden from the child process, installed or not: a finder refuses it.
    hide = ("import sys\n"
            "class Hide:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'tensorflow' or name.startswith('tensorflow.'):\n"
            "            raise ModuleNotFoundError(\"No module named 'tensorflow'\", name='tensorflow')\n"
            "sys.meta_path.insert(0, Hide())\n"
            "import wce.keras\n")
    result = subprocess.run(
        [sys.executable, "-c", hide], capture_output=True, text=True,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"}, timeout=120,
    )
    assert result.returncode != 0
    assert "KERAS_BACKEND" in result.stderr and "TensorFlow backend" in result.stderr
