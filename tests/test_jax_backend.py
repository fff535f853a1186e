"""wce.jax against the NumPy reference: values, gradients, jit/grad/vmap, dtypes, traps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

import wce.losses as reference  # noqa: E402
from wce import jax as wjax  # noqa: E402

REDUCTIONS = ("none", "sum", "mean", "mean_per_sample")
C = 4

# (loss, binary?, options): every reference loss with the options that change its math.
CASES = [
    ("weighted_cross_entropy", False, {}),
    ("weighted_cross_entropy", False, dict(class_weight=[1.0, 3.0, 0.5, 2.0], label_smoothing=0.1)),
    ("weighted_cross_entropy", False, dict(class_weight=[1.0, 3.0, 0.5, 2.0], ignore_index=-100)),
    ("weighted_cross_entropy", False, dict(class_weight=[1.0, 3.0, 0.5, 2.0], from_logits=False)),
    ("focal_loss", False, dict(gamma=2.0, alpha=[0.25, 0.5, 1.0, 2.0], label_smoothing=0.05)),
    ("focal_loss", False, dict(gamma=0.5, ignore_index=-100)),
    ("class_balanced_loss", False, dict(samples_per_class=[500, 50, 10, 5], beta=0.99)),
    ("class_balanced_loss", False, dict(samples_per_class=[500, 50, 10, 5], beta=0.999,
                                        loss_type="focal", gamma=1.5)),
    ("cost_sensitive_cross_entropy", False, dict(
        cost_matrix=[[0, 1, 2, 1], [5, 0, 1, 1], [1, 3, 0, 1], [2, 2, 2, 0]],
        class_weight=[1.0, 2.0, 1.0, 3.0], ignore_index=-100)),
    ("logit_adjusted_cross_entropy", False, dict(class_prior=[0.7, 0.2, 0.07, 0.03], tau=1.0,
                                                 class_weight=[1.0, 2.0, 1.0, 3.0])),
    ("balanced_softmax_cross_entropy", False, dict(samples_per_class=[500, 50, 10, 5],
                                                   label_smoothing=0.1, ignore_index=-100)),
    ("ldam_loss", False, dict(samples_per_class=[500, 50, 10, 5], scale=10.0,
                              class_weight=[1.0, 2.0, 1.0, 3.0])),
    ("binary_cross_entropy", True, dict(pos_weight=9.0)),
    ("binary_cross_entropy", True, dict(alpha=0.8, label_smoothing=0.1, ignore_index=255)),
    ("binary_cross_entropy", True, dict(class_weight=[[1.0, 4.0], [0.5, 2.0], [1.0, 1.0], [2.0, 1.0]])),
    ("binary_cross_entropy", True, dict(pos_weight=3.0, from_logits=False)),
    ("binary_focal_loss", True, dict(gamma=2.0, alpha=0.25)),
    ("binary_focal_loss", True, dict(gamma=1.5, pos_weight=[2.0, 5.0, 1.0, 3.0], ignore_index=255)),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


def make_data(binary: bool, options: dict, *, seed: int = 0):
    """Logits, targets and sample weights shaped for the case (with a few ignored elements)."""
    rng = np.random.default_rng(seed)
    if binary:
        shape = (7, C)
        x = rng.normal(scale=2.0, size=shape)
        y = (rng.random(shape) < 0.3).astype(np.float64)
        if options.get("ignore_index") is not None:
            y[0, 1] = options["ignore_index"]
        if options.get("from_logits") is False:
            x = 1.0 / (1.0 + np.exp(-x))
        sample_weight = rng.uniform(0.5, 2.0, size=shape[:1] + (1,))
        return x, y, sample_weight
    shape = (7, C)
    x = rng.normal(scale=2.0, size=shape)
    y = rng.integers(0, C, size=(shape[0],) + shape[2:])
    if options.get("ignore_index") is not None:
        y.flat[1] = options["ignore_index"]
    if options.get("from_logits") is False:
        e = np.exp(x - x.max(axis=1, keepdims=True))
        x = e / e.sum(axis=1, keepdims=True)
    sample_weight = rng.uniform(0.5, 2.0, size=y.shape)
    return x, y, sample_weight


JIT_CASES = (1, 4, 8, 11, 13, 17)  # CE with smoothing, focal, cost-sensitive, LDAM, BCE alpha, focal BCE


@pytest.mark.parametrize("case", [CASES[i] for i in JIT_CASES], ids=[IDS[i] for i in JIT_CASES])
def test_jit_and_vmap(case):
    name, binary, options = case
    loss = getattr(wjax, name)
    xs, ys = zip(*(make_data(binary, options, seed=s)[:2] for s in range(3)))
    xs, ys = jnp.asarray(np.stack(xs), jnp.float32), jnp.asarray(np.stack(ys))
    jitted = jax.jit(lambda z, t: loss(z, t, **options))
    batched = jax.vmap(jitted)(xs, ys)
    for i in range(3):
        expected = getattr(reference, name)(np.asarray(xs[i], np.float64), np.asarray(ys[i]), **options)
        np.testing.assert_allclose(float(batched[i]), expected, rtol=1e-6, atol=1e-6)
    grads = jax.jit(jax.grad(lambda z: loss(z, ys[0], **options)))(xs[0])
    assert np.all(np.isfinite(np.asarray(grads)))


def test_traced_class_weight_is_used_unvalidated():
    """A class_weight passed as a jit argument is a tracer: used as given, same value as concrete."""
    x, y, _ = make_data(False, {})
    w = jnp.asarray([1.0, 3.0, 0.5, 2.0])
    jitted = jax.jit(lambda z, cw: wjax.weighted_cross_entropy(z, y, class_weight=cw))
    expected = reference.weighted_cross_entropy(x, y, class_weight=np.asarray(w))
    np.testing.assert_allclose(float(jitted(jnp.asarray(x, jnp.float32), w)), expected, rtol=1e-6)


def test_check_path_validates_values_with_reference_messages():
    x, y, _ = make_data(False, {})
    y = y.copy()
    y[0] = 7
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\]"):
        wjax.weighted_cross_entropy(x, y, check=True)
    with pytest.raises(ValueError, match="cannot run inside jax.jit"):
        jax.jit(lambda z: wjax.weighted_cross_entropy(z, y, check=True))(jnp.asarray(x))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        wjax.binary_cross_entropy(jnp.zeros(3), jnp.array([0.0, 2.0, 1.0]), check=True)


def test_static_validation_runs_inside_jit():
    """Hyper-parameters are checked at trace time with the core's messages."""
    x, y, _ = make_data(False, {})
    with pytest.raises(ValueError, match="one weight per class"):
        jax.jit(lambda z: wjax.weighted_cross_entropy(z, y, class_weight=[1.0, 2.0]))(jnp.asarray(x))
    with pytest.raises(ValueError, match="'reduction' parameter of focal_loss"):
        wjax.focal_loss(x, y, reduction="batch_mean")
    with pytest.raises(ValueError, match=r"Class-index targets|class indices of shape"):
        wjax.weighted_cross_entropy(x, y[:3])
    with pytest.raises(TypeError, match="floating-point"):
        wjax.weighted_cross_entropy(np.zeros((2, 3), dtype=int), np.array([0, 1]))


def test_trap1_alpha_above_one_is_refused_and_pos_weight_is_the_fix():
    y = jnp.array([1.0, 0.0, 1.0, 0.0, 1.0])
    p = jnp.array([0.8, 0.2, 0.6, 0.9, 0.95])
    with pytest.raises(ValueError, match=r"range \[0, 1\]. Got 9 instead.*pos_weight=<ratio>"):
        wjax.binary_cross_entropy(p, y, alpha=9, from_logits=False)
    loss = wjax.binary_cross_entropy(p, y, pos_weight=9, from_logits=False)
    assert float(loss) > 0


def test_trap12_scalar_alpha_in_multiclass_focal_is_refused():
    x, y, _ = make_data(False, {})
    with pytest.raises(ValueError, match="TRAPS 12"):
        wjax.focal_loss(x, y, alpha=0.25)
    with pytest.raises(ValueError, match="alpha"):
        wjax.binary_focal_loss(jnp.zeros(2), jnp.ones(2), alpha=10.0)


def test_trap7_all_ignored_gives_zero_and_zero_gradient():
    x = jnp.asarray(make_data(False, {})[0], jnp.float32)
    y = jnp.full((7,), -100)
    for reduction in ("mean", "mean_per_sample", "sum"):
        f = lambda z: wjax.weighted_cross_entropy(z, y, ignore_index=-100, reduction=reduction)  # noqa: E731
        value, grad = jax.value_and_grad(f)(x)
        assert float(value) == 0.0
        assert np.all(np.asarray(grad) == 0.0)


def test_trap6_one_hot_targets_equal_class_indices_under_every_reduction():
    x, y, sw = make_data(False, {})
    one_hot = np.eye(C)[y]
    for reduction in REDUCTIONS:
        a = wjax.weighted_cross_entropy(x, y, class_weight=[1, 3, 0.5, 2], reduction=reduction)
        b = wjax.weighted_cross_entropy(x, one_hot, class_weight=[1, 3, 0.5, 2], reduction=reduction)
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


def test_trap8_label_smoothing_with_weights_matches_reference():
    x, y, _ = make_data(False, {})
    options = dict(class_weight=[1.0, 5.0, 1.0, 1.0], label_smoothing=0.2)
    for reduction in ("mean", "mean_per_sample"):
        np.testing.assert_allclose(
            float(wjax.weighted_cross_entropy(x, y, reduction=reduction, **options)),
            reference.weighted_cross_entropy(x, y, reduction=reduction, **options), rtol=1e-6)


def test_trap10_extreme_logits_stay_finite():
    x, y, _ = make_data(False, {})
    x[:, 0] = 1e4 * np.sign(x[:, 0])  # one class holds (almost) all the mass, or none of it
    x[:3, 1] = -3e3
    x = jnp.asarray(x, jnp.float32)
    for name, opts in [("focal_loss", {}),
                       ("cost_sensitive_cross_entropy", dict(cost_matrix=np.ones((C, C))))]:
        loss = getattr(wjax, name)
        value, grad = jax.value_and_grad(lambda z: loss(z, y, **opts))(x)
        expected = getattr(reference, name)(np.asarray(x, np.float64), np.asarray(y), **opts)
        np.testing.assert_allclose(float(value), expected, rtol=1e-6)
        assert np.all(np.isfinite(np.asarray(grad)))
    z = jnp.array([50.0, -50.0, 200.0])
    value = wjax.binary_cross_entropy(z, jnp.array([0.0, 1.0, 0.0]), reduction="sum")
    np.testing.assert_allclose(float(value), 300.0, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_trap11_half_precision_computed_in_float32_returned_in_input_dtype(dtype):
    rng = np.random.default_rng(3)
    x = rng.normal(scale=30.0, size=(64, 1000))  # large logits and a large vocabulary
    y = rng.integers(0, 1000, size=64)
    half = jnp.asarray(x, dtype)
    got = wjax.weighted_cross_entropy(half, y, reduction="mean")
    assert got.dtype == jnp.dtype(dtype)
    # The reference on the same (rounded) half-precision scores, to the output dtype's resolution.
    expected = reference.weighted_cross_entropy(np.asarray(half.astype(jnp.float32), np.float64), y)
    np.testing.assert_allclose(float(got), expected, rtol=float(jnp.finfo(dtype).eps))


@given(
    logits=st.lists(st.floats(-20, 20), min_size=6, max_size=6),
    labels=st.lists(st.integers(0, 1), min_size=3, max_size=3),
    scale=st.floats(0.01, 100.0),
)
def test_weighted_mean_ignores_weight_scale_property(logits, labels, scale):
    """TRAPS 3: the weighted mean is unchanged by scaling every class weight; the sum is scaled."""
    x = np.asarray(logits).reshape(3, 2)
    y = np.asarray(labels)
    w = np.array([1.0, 4.0])
    mean1 = float(wjax.weighted_cross_entropy(x, y, class_weight=w))
    mean2 = float(wjax.weighted_cross_entropy(x, y, class_weight=w * scale))
    np.testing.assert_allclose(mean1, mean2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mean1, reference.weighted_cross_entropy(x, y, class_weight=w),
                               rtol=1e-5, atol=1e-6)
    sum1 = float(wjax.weighted_cross_entropy(x, y, class_weight=w, reduction="sum"))
    sum2 = float(wjax.weighted_cross_entropy(x, y, class_weight=w * scale, reduction="sum"))
    np.testing.assert_allclose(sum2, scale * sum1, rtol=1e-5, atol=1e-5)


def test_adjust_logits_matches_reference():
    x = np.random.default_rng(0).normal(size=(3, 4, 2))
    prior = [0.7, 0.2, 0.07, 0.03]
    np.testing.assert_allclose(np.asarray(wjax.adjust_logits(x, prior, tau=0.5)),
                               reference.adjust_logits(x, prior, tau=0.5), rtol=1e-6)


# --------------------------------------------------------------------------- optax, where it overlaps
@pytest.fixture
def optax():
    return pytest.importorskip("optax")


def test_unweighted_ce_matches_optax(optax):
    x, y, _ = make_data(False, {})
    x = jnp.asarray(x, jnp.float32)
    native = optax.losses.softmax_cross_entropy_with_integer_labels(x, y)
    np.testing.assert_allclose(np.asarray(wjax.weighted_cross_entropy(x, y, reduction="none")),
                               np.asarray(native), rtol=1e-6, atol=1e-6)
    soft = jax.nn.softmax(jnp.asarray(np.random.default_rng(1).normal(size=x.shape)), axis=-1)
    np.testing.assert_allclose(np.asarray(wjax.weighted_cross_entropy(x, soft, reduction="none")),
                               np.asarray(optax.losses.softmax_cross_entropy(x, soft)),
                               rtol=1e-6, atol=1e-6)


def test_trap2_pos_weight_one_and_sample_weight_match_optax_sigmoid_bce(optax):
    x, y, sw = make_data(True, {})
    x = jnp.asarray(x, jnp.float32)
    native = optax.losses.sigmoid_binary_cross_entropy(x, y)
    np.testing.assert_allclose(np.asarray(wjax.binary_cross_entropy(x, y, reduction="none")),
                               np.asarray(native), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        float(wjax.binary_cross_entropy(x, y, sample_weight=sw, reduction="mean_per_sample")),
        float(jnp.mean(native * sw)), rtol=1e-6)


def test_binary_focal_matches_optax_sigmoid_focal_loss(optax):
    x, y, _ = make_data(True, {})
    x = jnp.asarray(x, jnp.float32)
    for alpha in (None, 0.25):
        native = optax.losses.sigmoid_focal_loss(x, y, alpha=alpha, gamma=2.0)
        ours = wjax.binary_focal_loss(x, y, alpha=alpha, gamma=2.0, reduction="none")
        np.testing.assert_allclose(np.asarray(ours), np.asarray(native), rtol=1e-5, atol=1e-6)


def test_trap9_numerator_denominator_gives_the_global_mean_across_shards():
    """Summing (Σ w·l, Σ w) over two shards and dividing once is the mean of the whole batch."""
    x, y, sw = make_data(False, {}, seed=4)
    options = dict(class_weight=[1.0, 3.0, 0.5, 2.0], sample_weight=sw)
    for reduction in ("mean", "mean_per_sample"):
        parts = [wjax.numerator_denominator(wjax.weighted_cross_entropy, x[s], y[s],
                                            class_weight=options["class_weight"],
                                            sample_weight=sw[s], reduction=reduction)
                 for s in (slice(0, 2), slice(2, None))]
        numerator = sum(float(p[0]) for p in parts)
        denominator = sum(float(p[1]) for p in parts)
        expected = reference.weighted_cross_entropy(x, y, reduction=reduction, **options)
        np.testing.assert_allclose(numerator / denominator, expected, rtol=1e-6)
        np.testing.assert_allclose(
            (numerator, denominator),
            reference.numerator_denominator(reference.weighted_cross_entropy, x, y,
                                            reduction=reduction, **options), rtol=1e-6)
    with pytest.raises(TypeError, match="wce.jax losses"):
        wjax.numerator_denominator(reference.weighted_cross_entropy, x, y)


def test_ignore_index_must_be_an_int_like_the_core():
    x, y, _ = make_data(False, {})
    with pytest.raises(TypeError, match="'ignore_index' parameter of weighted_cross_entropy"):
        wjax.weighted_cross_entropy(x, y, ignore_index=1.5)
