"""One test (at least) per trap of /work/shared/TRAPS.md that concerns the core (losses and weights).

Traps 13-16 (Keras fit, GBDT objectives, calibration, leakage) belong to the
backends and experiments and are tested there.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import oracle
import wce.losses as L
from wce.losses import numerator_denominator, value_and_grad, value_grad_hess
from wce.weights import ClassCounts, class_weights

Y1 = np.array([1, 0, 1, 0, 1])
P1 = np.array([0.8, 0.2, 0.6, 0.9, 0.95])
REDUCTIONS = ("none", "sum", "mean", "mean_per_sample")


# ----------------------------------------------------------------------------- TRAPS 1
def test_trap1_textbook_alpha_nine_is_refused_and_points_to_pos_weight():
    with pytest.raises(ValueError, match=r"'alpha' .* \[0, 1\]\. Got 9 instead.*use pos_weight="):
        L.binary_cross_entropy(P1, Y1, alpha=9, from_logits=False)
    with pytest.raises(ValueError, match=r"pos_weight"):
        L.binary_focal_loss(np.log(P1 / (1 - P1)), Y1, alpha=9)


def test_trap1_textbook_formula_rewards_confident_wrong_answers():
    """What the refused formula would compute (written here, naively): a negative 'loss'."""
    textbook = oracle.textbook_alpha_bce(P1, Y1, alpha=9)
    assert textbook == pytest.approx(-2.63, abs=0.005)
    # one negative predicted 0.99 (confidently wrong) scores about -36.8: the optimiser is
    # rewarded for it, and rewarded more the more confident it gets
    wrong = oracle.textbook_alpha_bce([0.99], [0], alpha=9)
    assert wrong == pytest.approx(-36.8, abs=0.05)
    assert oracle.textbook_alpha_bce([0.999], [0], alpha=9) < wrong


def test_trap1_pos_weight_nine_gives_a_positive_loss_that_punishes_wrong_answers():
    loss = L.binary_cross_entropy(P1, Y1, pos_weight=9, from_logits=False,
                                  reduction="mean_per_sample")
    assert loss > 0
    expected = -np.mean(9 * Y1 * np.log(P1) + (1 - Y1) * np.log(1 - P1))
    assert loss == pytest.approx(expected, rel=1e-12)
    # the confidently wrong negative is the most expensive negative, and more so at 0.99
    per_element = L.binary_cross_entropy(P1, Y1, pos_weight=9, from_logits=False, reduction="none")
    assert per_element[3] == max(per_element[Y1 == 0])
    worse = L.binary_cross_entropy(np.array([0.99]), np.array([0]), pos_weight=9,
                                   from_logits=False, reduction="none")
    assert worse[0] > per_element[3] > 0


# ----------------------------------------------------------------------------- TRAPS 2
def test_trap2_sample_weight_rescales_every_element_pos_weight_only_positives(rng):
    z, y = rng.normal(size=10), np.array([0, 1] * 5)
    plain = L.binary_cross_entropy(z, y, reduction="none")
    scaled = L.binary_cross_entropy(z, y, sample_weight=3.0, reduction="none")  # torch weight=
    np.testing.assert_allclose(scaled, 3 * plain)
    positive = L.binary_cross_entropy(z, y, pos_weight=3.0, reduction="none")
    np.testing.assert_allclose(positive[y == 1], 3 * plain[y == 1])
    np.testing.assert_allclose(positive[y == 0], plain[y == 0])


def test_trap2_pytorch_pos_weight_mean_is_our_binary_mean(rng):
    """BCEWithLogitsLoss(pos_weight=r) divides by N: the binary "mean", not the weighted mean."""
    torch = pytest.importorskip("torch")
    z, y = rng.normal(size=12), rng.integers(0, 2, size=12).astype(float)
    native = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(z), torch.tensor(y), pos_weight=torch.tensor(4.0)).item()
    assert L.binary_cross_entropy(z, y, pos_weight=4.0, reduction="mean_per_sample") == \
        pytest.approx(native, rel=1e-12)
    assert L.binary_cross_entropy(z, y, pos_weight=4.0) == pytest.approx(native, rel=1e-12)
    n_pos = y.sum()
    weighted_mean = L.binary_cross_entropy(z, y, pos_weight=4.0, reduction="weighted_mean")
    assert weighted_mean == pytest.approx(native * len(y) / (len(y) - n_pos + 4.0 * n_pos))


# ----------------------------------------------------------------------------- TRAPS 3
def test_trap3_inverse_and_balanced_differ_in_scale_only_mean_ignores_it(rng):
    y_train = np.array([0] * 80 + [1] * 15 + [2] * 5)
    balanced = class_weights(y_train, scheme="balanced")
    inverse_sum_one = class_weights(y_train, scheme="inverse", normalize="sum_to_one")
    np.testing.assert_allclose(balanced / balanced.sum(), inverse_sum_one)  # same direction
    x, y = rng.normal(size=(20, 3)), rng.integers(0, 3, size=20)
    mean_b = L.weighted_cross_entropy(x, y, class_weight=balanced, reduction="mean")
    mean_i = L.weighted_cross_entropy(x, y, class_weight=inverse_sum_one, reduction="mean")
    assert mean_b == pytest.approx(mean_i, rel=1e-12)
    sum_b = L.weighted_cross_entropy(x, y, class_weight=balanced, reduction="sum")
    sum_i = L.weighted_cross_entropy(x, y, class_weight=inverse_sum_one, reduction="sum")
    assert sum_b / sum_i == pytest.approx(balanced.sum(), rel=1e-12)  # the scale shows in sum
    # 'balanced' is already inverse frequency with per-sample mean weight 1
    np.testing.assert_allclose(class_weights(y_train, scheme="inverse", normalize="mean_one"),
                               balanced, rtol=1e-12)


# ----------------------------------------------------------------------------- TRAPS 4
@pytest.mark.parametrize("scheme", ["balanced", "inverse", "inverse_sqrt", "effective_number",
                                    "median_frequency"])
def test_trap4_zero_count_class_raises_unless_a_policy_is_chosen(scheme):
    counts = ClassCounts.from_labels([0, 0, 0, 1], classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"class\(es\) \[2\] have zero count.*TRAPS 4.*"
                                         r"zero_count='zero'"):
        class_weights(counts, scheme=scheme)
    zero = class_weights(counts, scheme=scheme, zero_count="zero")
    biggest = class_weights(counts, scheme=scheme, zero_count="max")
    assert np.all(np.isfinite(zero)) and np.all(np.isfinite(biggest))
    assert zero[2] == 0 and biggest[2] == biggest[:2].max()
    np.testing.assert_array_equal(zero[:2], biggest[:2])


def test_trap4_zero_counts_in_losses_are_refused():
    x, y = np.zeros((2, 3)), np.array([0, 1])
    with pytest.raises(ValueError, match="TRAPS 4"):
        L.class_balanced_loss(x, y, samples_per_class=[10, 5, 0])
    with pytest.raises(ValueError, match=r"log of a zero prior is -inf"):
        L.logit_adjusted_cross_entropy(x, y, class_prior=[10, 5, 0])


# ----------------------------------------------------------------------------- TRAPS 5
def test_trap5_median_frequency_uses_eigen_fergus_image_frequency_for_masks():
    # image A: 3 px of class 0, 1 px of class 1; image B: 4 px of class 0;
    # image C: 2 px of class 0, 2 px of class 2
    masks = np.array([[[0, 0], [0, 1]], [[0, 0], [0, 0]], [[0, 2], [0, 2]]])
    counts = ClassCounts.from_labels(masks, kind="mask")
    # f_c = pixels of c / pixels of the images containing c
    f = np.array([9 / 12, 1 / 4, 2 / 4])
    np.testing.assert_allclose(class_weights(counts, scheme="median_frequency"),
                               np.median(f) / f, rtol=1e-12)
    # the global-frequency variant several public implementations use is different
    g = np.array([9, 1, 2]) / 12
    global_weights = class_weights(counts, scheme="median_frequency", median_definition="global")
    np.testing.assert_allclose(global_weights, np.median(g) / g, rtol=1e-12)
    assert not np.allclose(global_weights, np.median(f) / f)


# ----------------------------------------------------------------------------- TRAPS 6
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_trap6_mean_means_the_same_for_index_and_probability_targets(reduction, rng):
    x, y = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    w = np.array([0.2, 1.0, 5.0])
    index = L.weighted_cross_entropy(x, y, class_weight=w, reduction=reduction)
    one_hot = L.weighted_cross_entropy(x, np.eye(3)[y], class_weight=w, reduction=reduction)
    np.testing.assert_allclose(one_hot, index, rtol=1e-12)


def test_trap6_mean_divides_by_total_weight_mean_per_sample_by_count(rng):
    x, y = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    w = np.array([0.2, 1.0, 5.0])
    total = L.weighted_cross_entropy(x, y, class_weight=w, reduction="sum")
    assert L.weighted_cross_entropy(x, y, class_weight=w, reduction="mean") == \
        pytest.approx(total / w[y].sum(), rel=1e-12)
    assert L.weighted_cross_entropy(x, y, class_weight=w, reduction="mean_per_sample") == \
        pytest.approx(total / 6, rel=1e-12)


# ----------------------------------------------------------------------------- TRAPS 7
ALL_IGNORED = [
    (L.weighted_cross_entropy, dict(class_weight=[1.0, 2.0, 3.0], label_smoothing=0.1)),
    (L.focal_loss, dict(alpha=[1.0, 2.0, 3.0])),
    (L.class_balanced_loss, dict(samples_per_class=[5, 3, 1])),
    (L.cost_sensitive_cross_entropy, dict(cost_matrix=[[0, 1, 1], [2, 0, 1], [1, 1, 0]])),
    (L.logit_adjusted_cross_entropy, dict(class_prior=[5, 3, 1], label_smoothing=0.1)),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("f, kw", ALL_IGNORED, ids=[f.__name__ for f, _ in ALL_IGNORED])
def test_trap7_all_targets_ignored_gives_zero_loss_and_zero_gradient(f, kw, reduction, rng):
    x = rng.normal(size=(4, 3, 2))
    y = np.full((4, 2), 255)
    with np.errstate(all="raise"):  # no 0/0 on the way
        value, grad = value_and_grad(f, x, y, ignore_index=255, reduction=reduction, **kw)
    assert np.all(np.asarray(value) == 0) and not np.any(np.isnan(value))
    np.testing.assert_array_equal(grad, 0.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("f", [L.binary_cross_entropy, L.binary_focal_loss])
def test_trap7_all_binary_targets_ignored_gives_zero_loss_gradient_and_hessian(f, reduction, rng):
    z = rng.normal(size=(3, 4))
    with np.errstate(all="raise"):
        value, grad, hess = value_grad_hess(f, z, np.full((3, 4), 255), ignore_index=255,
                                            pos_weight=3.0, reduction=reduction)
    assert np.all(np.asarray(value) == 0)
    np.testing.assert_array_equal(grad, 0.0)
    np.testing.assert_array_equal(hess, 0.0)


def test_trap7_all_zero_sample_weights_give_zero_not_nan(rng):
    x, y = rng.normal(size=(4, 3)), rng.integers(0, 3, size=4)
    for reduction in ("mean", "mean_per_sample", "sum"):
        value, grad = value_and_grad(L.weighted_cross_entropy, x, y, sample_weight=np.zeros(4),
                                     reduction=reduction)
        assert value == 0 and np.all(grad == 0)


def test_trap7_pytorch_returns_nan_where_we_return_zero():
    torch = pytest.importorskip("torch")
    x, y = torch.zeros(3, 2), torch.full((3,), -100)
    assert math.isnan(torch.nn.functional.cross_entropy(x, y, ignore_index=-100).item())
    assert L.weighted_cross_entropy(x.numpy(), y.numpy(), ignore_index=-100) == 0.0


# ----------------------------------------------------------------------------- TRAPS 8
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_trap8_label_smoothing_with_weights_follows_the_documented_formula(reduction, rng):
    x = rng.normal(size=(5, 4))
    y = np.array([0, 1, 2, 3, -100])
    w = [0.1, 1.0, 2.0, 8.0]
    got = L.weighted_cross_entropy(x, y, class_weight=w, label_smoothing=0.3, ignore_index=-100,
                                   reduction=reduction)
    expected = oracle.weighted_cross_entropy(x, y, class_weight=w, label_smoothing=0.3,
                                             ignore_index=-100, reduction=reduction)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_trap8_label_smoothing_changes_the_loss_never_the_weight(rng):
    x, y = rng.normal(size=(5, 3)), rng.integers(0, 3, size=5)
    w = np.array([0.5, 1.0, 4.0])
    for eps in (0.0, 0.2, 0.9):
        num, den = numerator_denominator(L.weighted_cross_entropy, x, y, class_weight=w,
                                         label_smoothing=eps, reduction="mean")
        assert den == pytest.approx(w[y].sum())  # PyTorch's Σ w[y_i]


def test_trap8_label_smoothing_with_weights_matches_pytorch(rng):
    torch = pytest.importorskip("torch")
    x, y = rng.normal(size=(8, 4)), rng.integers(0, 4, size=8)
    w = np.array([0.1, 1.0, 2.0, 8.0])
    native = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y),
                                               weight=torch.tensor(w), label_smoothing=0.3).item()
    assert L.weighted_cross_entropy(x, y, class_weight=w, label_smoothing=0.3) == \
        pytest.approx(native, rel=1e-12)


# ----------------------------------------------------------------------------- TRAPS 9
@pytest.mark.parametrize("reduction", ["mean", "mean_per_sample"])
def test_trap9_global_mean_all_reduces_numerator_and_denominator(reduction, rng):
    x, y = rng.normal(size=(12, 3)), rng.integers(0, 3, size=12)
    y[:4] = -100  # the first shard is half ignored, so shards have unequal weight
    w = np.array([0.1, 1.0, 9.0])
    kw = dict(class_weight=w, ignore_index=-100, reduction=reduction)
    shards = [slice(0, 5), slice(5, 7), slice(7, 12)]
    parts = [numerator_denominator(L.weighted_cross_entropy, x[s], y[s], **kw) for s in shards]
    global_mean = sum(n for n, _ in parts) / sum(d for _, d in parts)
    assert global_mean == pytest.approx(L.weighted_cross_entropy(x, y, **kw), rel=1e-12)
    mean_of_means = np.mean([L.weighted_cross_entropy(x[s], y[s], **kw) for s in shards])
    assert abs(mean_of_means - global_mean) > 1e-3  # the naive average is a different number


# ----------------------------------------------------------------------------- TRAPS 10
def test_trap10_logits_path_is_exact_where_log_p_plus_eps_is_biased():
    z = np.array([-30.0, 30.0])
    y = np.array([1, 0])
    exact = L.binary_cross_entropy(z, y, reduction="none")
    np.testing.assert_allclose(exact, [30.0 + np.log1p(np.exp(-30.0))] * 2, rtol=1e-15)
    p = 1 / (1 + np.exp(-z))
    naive = -(y * np.log(p + 1e-7) + (1 - y) * np.log(1 - p + 1e-7))
    assert np.all(naive < 17)  # the eps caps the loss at -log(1e-7) ≈ 16.1
    with np.errstate(divide="ignore"):
        assert np.isinf(-np.log(1 - np.array([1.0]))).all()  # p = 1 on the negative term


def test_trap10_probabilities_are_clipped_to_the_documented_eps():
    eps = L._common.EPS
    assert eps == 1e-7
    value = L.binary_cross_entropy(np.array([1.0, 0.0]), np.array([0, 1]), from_logits=False,
                                   reduction="none")
    np.testing.assert_allclose(value, [-np.log(eps)] * 2, rtol=1e-9)


# ----------------------------------------------------------------------------- TRAPS 11
def test_trap11_half_precision_inputs_are_computed_in_float64():
    x16 = np.array([[1000.0, -1000.0, 0.0]], dtype=np.float16)
    loss = L.weighted_cross_entropy(x16, np.array([1]))
    assert loss == pytest.approx(2000.0, rel=1e-12)  # float16 would overflow exp and lose it
    _, grad = value_and_grad(L.weighted_cross_entropy, x16, np.array([1]))
    assert np.all(np.isfinite(grad))
    z16 = np.array([60000.0, -60000.0], dtype=np.float16)
    assert L.binary_cross_entropy(z16, np.array([0, 1]), reduction="sum") == \
        pytest.approx(2 * float(np.float16(60000.0)), rel=1e-12)


# ----------------------------------------------------------------------------- TRAPS 12
def test_trap12_focal_alpha_must_be_a_vector_or_a_validated_binary_alpha(rng):
    x, y = rng.normal(size=(4, 3)), rng.integers(0, 3, size=4)
    with pytest.raises(ValueError, match="scalar alpha is ambiguous"):
        L.focal_loss(x, y, alpha=0.25)
    with pytest.raises(ValueError, match=r"'alpha' parameter of binary_focal_loss .* Got 10"):
        L.binary_focal_loss(x[:, 0], y > 0, alpha=10)
    # torchvision's alpha: positives weighted by alpha, negatives by 1 - alpha
    z, t = rng.normal(size=6), np.array([1, 0, 1, 0, 1, 0])
    plain = L.binary_focal_loss(z, t, reduction="none")
    weighted = L.binary_focal_loss(z, t, alpha=0.25, reduction="none")
    np.testing.assert_allclose(weighted, np.where(t == 1, 0.25, 0.75) * plain, rtol=1e-12)
    assert np.all(weighted >= 0)
