"""Bad input to the reference losses raises ValueError/TypeError with a message that names it."""

from __future__ import annotations

import numpy as np
import pytest

import wce.losses as L

X = np.array([[2.0, 0.5, -1.0], [0.1, 1.0, 0.3]])
Y = np.array([0, 2])
Z = np.array([0.5, -1.0, 2.0])
T = np.array([1, 0, 1])
P3 = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
COST = [[0, 1, 1], [2, 0, 1], [1, 1, 0]]

ALL_MULTICLASS = [
    (L.weighted_cross_entropy, {}),
    (L.focal_loss, {}),
    (L.class_balanced_loss, {"samples_per_class": [5, 3, 1]}),
    (L.cost_sensitive_cross_entropy, {"cost_matrix": COST}),
    (L.logit_adjusted_cross_entropy, {"class_prior": [5, 3, 1]}),
]
ALL = ALL_MULTICLASS + [(L.binary_cross_entropy, {}), (L.binary_focal_loss, {})]
NAMES = [f.__name__ for f, _ in ALL]


def _inputs(f):
    return (Z, T) if f.__name__.startswith("binary") else (X, Y)


CASES = [
    # ------------------------------------------------------------------ shapes
    ("logits_1d", lambda: L.weighted_cross_entropy(Z, T), ValueError,
     r"'logits' parameter of weighted_cross_entropy must have shape \(N, C\)"),
    ("index_targets_wrong_shape", lambda: L.weighted_cross_entropy(X, np.array([0, 1, 2])),
     ValueError, r"Class-index targets of weighted_cross_entropy must have shape \(2,\)"),
    ("targets_wrong_rank", lambda: L.focal_loss(X, np.zeros((2, 3, 1), dtype=int)), ValueError,
     r"Targets of focal_loss must be class indices of shape \(2,\) or probabilities of shape"),
    ("soft_targets_wrong_shape", lambda: L.weighted_cross_entropy(X, np.full((2, 4), 0.25)),
     ValueError, r"Soft targets of weighted_cross_entropy must have the same shape"),
    ("binary_shape_mismatch", lambda: L.binary_cross_entropy(Z, T[:2]), ValueError,
     r"targets of binary_cross_entropy must have the same shape as logits \(3,\)"),
    ("class_weight_wrong_length", lambda: L.weighted_cross_entropy(X, Y, class_weight=[1, 2]),
     ValueError, r"'class_weight' parameter of weighted_cross_entropy must be a 1-D array with "
                 r"one weight per class \(3\)"),
    ("binary_class_weight_not_pairs", lambda: L.binary_cross_entropy(Z, T, class_weight=[1, 2, 3]),
     ValueError, r"'class_weight' parameter of binary_cross_entropy must have a last axis of length 2"),
    ("binary_weights_do_not_broadcast",
     lambda: L.binary_cross_entropy(Z, T, pos_weight=[1.0, 2.0]), ValueError,
     r"class weights of binary_cross_entropy \(shape \(2,\)\) do not broadcast"),
    ("sample_weight_does_not_broadcast",
     lambda: L.weighted_cross_entropy(X, Y, sample_weight=[1.0, 2.0, 3.0]), ValueError,
     r"'sample_weight' parameter of weighted_cross_entropy must broadcast to the per-element "
     r"shape \(2,\)"),
    ("alpha_wrong_length", lambda: L.focal_loss(X, Y, alpha=[0.25, 0.75]), ValueError,
     r"'class_weight' parameter of focal_loss must be a 1-D array with one weight per class"),
    ("class_prior_wrong_length",
     lambda: L.logit_adjusted_cross_entropy(X, Y, class_prior=[0.5, 0.5]), ValueError,
     r"'class_prior' parameter of logit_adjusted_cross_entropy has 2 entries but the logits "
     r"have 3 classes"),
    ("cost_matrix_not_square",
     lambda: L.cost_sensitive_cross_entropy(X, Y, cost_matrix=[[0, 1, 1], [1, 0, 1]]), ValueError,
     r"'cost_matrix' parameter of cost_sensitive_cross_entropy must be a square \(K, K\) matrix"),
    ("cost_matrix_wrong_size",
     lambda: L.cost_sensitive_cross_entropy(X, Y, cost_matrix=[[0, 1], [1, 0]]), ValueError,
     r"must be \(3, 3\) to match the number of classes"),
    # ------------------------------------------------------------------ labels out of range
    ("index_too_large", lambda: L.weighted_cross_entropy(X, np.array([0, 3])), ValueError,
     r"Targets of weighted_cross_entropy must be class indices in \[0, 2\]\. Got \[3\] instead"),
    ("index_negative", lambda: L.focal_loss(X, np.array([-1, 0])), ValueError,
     r"Targets of focal_loss must be class indices in \[0, 2\]\. Got \[-1\] instead"),
    ("index_out_of_range_next_to_ignore_index",
     lambda: L.weighted_cross_entropy(X, np.array([-100, 5]), ignore_index=-100), ValueError,
     r"class indices in \[0, 2\] \(ignore_index=-100 is exempt\)\. Got \[5\]"),
    ("binary_target_outside_unit_interval", lambda: L.binary_cross_entropy(Z, np.array([1, 0, 2])),
     ValueError, r"targets of binary_cross_entropy must lie in \[0, 1\]"),
    ("binary_negative_target", lambda: L.binary_focal_loss(Z, np.array([1, -1, 0])), ValueError,
     r"targets of binary_focal_loss must lie in \[0, 1\]"),
    # ------------------------------------------------------------------ NaN / inf
    ("nan_logits", lambda: L.weighted_cross_entropy(np.array([[np.nan, 0.0]]), np.array([0])),
     ValueError, r"'logits' parameter of weighted_cross_entropy contains 1 NaN or infinite"),
    ("inf_binary_logits", lambda: L.binary_cross_entropy(np.array([np.inf, 0.0]), np.array([1, 0])),
     ValueError, r"'logits' parameter of binary_cross_entropy contains 1 NaN or infinite"),
    ("nan_binary_targets",
     lambda: L.binary_cross_entropy(Z, np.array([1.0, np.nan, 0.0])), ValueError,
     r"'targets' parameter of binary_cross_entropy contains 1 NaN or infinite"),
    ("nan_soft_targets",
     lambda: L.weighted_cross_entropy(X, np.array([[1.0, 0.0, 0.0], [np.nan, 0.5, 0.5]])),
     ValueError, r"'targets' parameter of weighted_cross_entropy contains 1 NaN"),
    ("inf_class_weight", lambda: L.weighted_cross_entropy(X, Y, class_weight=[1, np.inf, 1]),
     ValueError, r"'class_weight' parameter of weighted_cross_entropy contains 1 NaN or infinite"),
    ("nan_sample_weight",
     lambda: L.binary_cross_entropy(Z, T, sample_weight=[1.0, np.nan, 1.0]), ValueError,
     r"'sample_weight' parameter of binary_cross_entropy contains 1 NaN or infinite"),
    ("inf_pos_weight", lambda: L.binary_cross_entropy(Z, T, pos_weight=np.inf), ValueError,
     r"'pos_weight' parameter of binary_cross_entropy contains 1 NaN or infinite"),
    ("nan_gamma", lambda: L.focal_loss(X, Y, gamma=np.nan), ValueError,
     r"'gamma' parameter of focal_loss must be a float in the range \[0, inf\]\. Got nan"),
    # ------------------------------------------------------------------ weights
    ("negative_class_weight", lambda: L.weighted_cross_entropy(X, Y, class_weight=[1, -1, 1]),
     ValueError, r"'class_weight' parameter of weighted_cross_entropy must be non-negative\. "
                 r"Got \[1\.0, -1\.0, 1\.0\] instead\. A negative weight makes the loss reward"),
    ("all_zero_class_weight", lambda: L.weighted_cross_entropy(X, Y, class_weight=[0, 0, 0]),
     ValueError, r"'class_weight' parameter of weighted_cross_entropy must not be all zero"),
    ("negative_focal_alpha", lambda: L.focal_loss(X, Y, alpha=[0.5, -0.5, 1.0]), ValueError,
     r"'class_weight' parameter of focal_loss must be non-negative"),
    ("negative_sample_weight",
     lambda: L.weighted_cross_entropy(X, Y, sample_weight=[1.0, -2.0]), ValueError,
     r"'sample_weight' parameter of weighted_cross_entropy must be non-negative"),
    ("negative_pos_weight", lambda: L.binary_cross_entropy(Z, T, pos_weight=-3.0), ValueError,
     r"'pos_weight' parameter of binary_cross_entropy must be non-negative \(n_neg / n_pos"),
    ("negative_binary_class_weight",
     lambda: L.binary_cross_entropy(Z, T, class_weight=(-1.0, 2.0)), ValueError,
     r"'class_weight' parameter of binary_cross_entropy must be non-negative and not all zero"),
    ("all_zero_binary_class_weight",
     lambda: L.binary_focal_loss(Z, T, class_weight=(0.0, 0.0)), ValueError,
     r"'class_weight' parameter of binary_focal_loss must be non-negative and not all zero"),
    ("two_weight_forms", lambda: L.binary_cross_entropy(Z, T, alpha=0.3, pos_weight=3.0),
     ValueError, r"binary_cross_entropy takes at most one of 'class_weight', 'alpha', "
                 r"'pos_weight'; got 'alpha', 'pos_weight'"),
    ("negative_cost", lambda: L.cost_sensitive_cross_entropy(
        X, Y, cost_matrix=[[0, -1, 1], [1, 0, 1], [1, 1, 0]]), ValueError,
     r"'cost_matrix' parameter of cost_sensitive_cross_entropy must be non-negative"),
    ("cost_matrix_without_costs", lambda: L.cost_sensitive_cross_entropy(
        X, Y, cost_matrix=np.eye(3)), ValueError, r"has no positive off-diagonal entry"),
    # ------------------------------------------------------------------ zero-count classes
    ("class_balanced_zero_count",
     lambda: L.class_balanced_loss(X, Y, samples_per_class=[10, 0, 3]), ValueError,
     r"'samples_per_class' parameter of class_balanced_loss must hold positive counts\. "
     r"Class\(es\) at position\(s\) \[1\] have \[0\.0\] \(TRAPS 4"),
    ("class_balanced_negative_count",
     lambda: L.class_balanced_loss(X, Y, samples_per_class=[10, -1, 3]), ValueError,
     r"'samples_per_class' parameter of class_balanced_loss must hold positive counts"),
    ("class_balanced_counts_wrong_length",
     lambda: L.class_balanced_loss(X, Y, samples_per_class=[10, 3]), ValueError,
     r"'samples_per_class' parameter of class_balanced_loss must be a 1-D array with one count "
     r"per class \(3\)\. Got shape \(2,\)"),
    ("logit_adjusted_zero_prior",
     lambda: L.logit_adjusted_cross_entropy(X, Y, class_prior=[0.5, 0.5, 0.0]), ValueError,
     r"'class_prior' parameter of logit_adjusted_cross_entropy must be a 1-D array of positive"),
    # ------------------------------------------------------------------ empty input
    ("empty_logits", lambda: L.weighted_cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int)),
     ValueError, r"'logits' parameter of weighted_cross_entropy is empty \(shape \(0, 3\)\)"),
    ("empty_binary", lambda: L.binary_cross_entropy(np.zeros(0), np.zeros(0)), ValueError,
     r"'logits' parameter of binary_cross_entropy is empty"),
    ("empty_targets_list", lambda: L.focal_loss(np.zeros((0, 2)), []), ValueError,
     r"parameter of focal_loss is empty"),
    # ------------------------------------------------------------------ hyper-parameters
    ("alpha_above_one", lambda: L.binary_cross_entropy(Z, T, alpha=9), ValueError,
     r"'alpha' parameter of binary_cross_entropy must be a float in the range \[0, 1\]\. "
     r"Got 9 instead\..*pos_weight=<ratio>"),
    ("alpha_negative", lambda: L.binary_cross_entropy(Z, T, alpha=-0.1), ValueError,
     r"'alpha' parameter of binary_cross_entropy must be a float in the range \[0, 1\]\. "
     r"Got -0\.1 instead"),
    ("binary_focal_alpha_ten", lambda: L.binary_focal_loss(Z, T, alpha=10), ValueError,
     r"'alpha' parameter of binary_focal_loss must be a float in the range \[0, 1\]\. Got 10"),
    ("alpha_not_a_number", lambda: L.binary_cross_entropy(Z, T, alpha="0.5"), TypeError,
     r"'alpha' parameter of binary_cross_entropy must be a float\. Got '0\.5' instead"),
    ("alpha_bool", lambda: L.binary_cross_entropy(Z, T, alpha=True), TypeError,
     r"'alpha' parameter of binary_cross_entropy must be a float\. Got True"),
    ("focal_scalar_alpha", lambda: L.focal_loss(X, Y, alpha=0.25), ValueError,
     r"'alpha' parameter of focal_loss must be a per-class vector of shape \(C,\)\. Got the "
     r"scalar 0\.25 instead: a scalar alpha is ambiguous"),
    ("negative_gamma", lambda: L.focal_loss(X, Y, gamma=-1), ValueError,
     r"'gamma' parameter of focal_loss must be a float in the range \[0, inf\]\. Got -1"),
    ("negative_binary_gamma", lambda: L.binary_focal_loss(Z, T, gamma=-0.5), ValueError,
     r"'gamma' parameter of binary_focal_loss must be a float in the range \[0, inf\]"),
    ("label_smoothing_above_one",
     lambda: L.weighted_cross_entropy(X, Y, label_smoothing=1.5), ValueError,
     r"'label_smoothing' parameter of weighted_cross_entropy must be a float in the range \[0, 1\]"),
    ("binary_label_smoothing_negative",
     lambda: L.binary_cross_entropy(Z, T, label_smoothing=-0.1), ValueError,
     r"'label_smoothing' parameter of binary_cross_entropy must be a float in the range \[0, 1\]"),
    ("beta_one", lambda: L.class_balanced_loss(X, Y, samples_per_class=[5, 3, 1], beta=1.0),
     ValueError, r"'beta' parameter of class_balanced_loss must be a float in the range \[0, 1\)\. "
                 r"Got 1 instead"),
    ("unknown_loss_type",
     lambda: L.class_balanced_loss(X, Y, samples_per_class=[5, 3, 1], loss_type="sigmoid"),
     ValueError, r"'loss_type' parameter of class_balanced_loss must be one of 'softmax', "
                 r"'focal'\. Got 'sigmoid' instead"),
    ("negative_tau", lambda: L.logit_adjusted_cross_entropy(X, Y, class_prior=[5, 3, 1], tau=-1),
     ValueError, r"'tau' parameter of logit_adjusted_cross_entropy must be a float in the range "
                 r"\[0, inf\]"),
    ("adjust_logits_negative_tau", lambda: L.adjust_logits(X, [5, 3, 1], tau=-1), ValueError,
     r"'tau' parameter of adjust_logits must be a float"),
    ("ignore_index_not_an_int",
     lambda: L.weighted_cross_entropy(X, Y, ignore_index=1.5), TypeError,
     r"'ignore_index' parameter of weighted_cross_entropy must be an int \(a class-index value "
     r"such as -100 or 255\) or None\. Got 1\.5 instead"),
    ("from_logits_not_bool", lambda: L.weighted_cross_entropy(X, Y, from_logits="yes"), TypeError,
     r"'from_logits' parameter of weighted_cross_entropy must be a bool\. Got 'yes' instead"),
    # ------------------------------------------------------------------ target types
    ("soft_targets_with_ignore_index",
     lambda: L.weighted_cross_entropy(X, P3, ignore_index=-100), ValueError,
     r"'ignore_index' parameter of weighted_cross_entropy applies to class-index targets only; "
     r"with probability targets, give ignored elements sample_weight=0 instead"),
    ("focal_soft_targets_with_ignore_index",
     lambda: L.focal_loss(X, P3, ignore_index=255), ValueError,
     r"'ignore_index' parameter of focal_loss applies to class-index targets only"),
    ("float_index_targets", lambda: L.weighted_cross_entropy(X, np.array([0.0, 2.0])), TypeError,
     r"Class-index targets of weighted_cross_entropy must be integers\. Got dtype float64 "
     r"instead\. Cast them with targets\.astype\(int\)"),
    ("string_index_targets", lambda: L.focal_loss(X, np.array(["a", "b"])), TypeError,
     r"Class-index targets of focal_loss must be integers\. Got dtype <U1"),
    ("negative_soft_targets",
     lambda: L.weighted_cross_entropy(X, np.array([[1.5, -0.5, 0.0], [0, 0, 1.0]])), ValueError,
     r"Soft targets of weighted_cross_entropy must be non-negative probabilities"),
    ("string_logits", lambda: L.binary_cross_entropy(np.array(["a", "b"]), np.array([1, 0])),
     TypeError, r"'logits' parameter of binary_cross_entropy must be a numeric array\. "
                r"Got dtype <U1"),
    # ------------------------------------------------------------------ from_logits=False
    ("rows_do_not_sum_to_one",
     lambda: L.weighted_cross_entropy(np.array([[0.5, 0.2, 0.1]]), np.array([0]),
                                      from_logits=False), ValueError,
     r"weighted_cross_entropy was given from_logits=False, but 'probs' are not probabilities "
     r"\(each row must lie in \[0, 1\] and sum to 1 over the class axis\)\. If these are raw "
     r"scores, pass from_logits=True"),
    ("logits_passed_as_probabilities",
     lambda: L.weighted_cross_entropy(X, Y, from_logits=False), ValueError,
     r"from_logits=False, but 'probs' are not probabilities"),
    ("binary_probabilities_above_one",
     lambda: L.binary_cross_entropy(np.array([0.5, 1.5, 0.2]), T, from_logits=False), ValueError,
     r"binary_cross_entropy was given from_logits=False, but 'probs' lie outside \[0, 1\]\. "
     r"If these are raw scores, pass from_logits=True"),
]


@pytest.mark.parametrize("call, error, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("f, kw", ALL, ids=NAMES)
@pytest.mark.parametrize("reduction", ["avg", "MEAN", None, "batchmean"])
def test_unknown_reduction_is_refused_by_every_loss(f, kw, reduction):
    x, y = _inputs(f)
    with pytest.raises(ValueError, match=rf"The 'reduction' parameter of {f.__name__} must be one "
                                         r"of 'none', 'sum', 'mean', 'weighted_mean', 'mean_per_sample'\. Got "):
        f(x, y, reduction=reduction, **kw)


@pytest.mark.parametrize("f, kw", ALL, ids=NAMES)
def test_unknown_reduction_is_refused_by_value_and_grad(f, kw):
    x, y = _inputs(f)
    with pytest.raises(ValueError, match=rf"'reduction' parameter of {f.__name__} must be one of"):
        L.value_and_grad(f, x, y, reduction="avg", **kw)


@pytest.mark.parametrize("f, kw", ALL, ids=NAMES)
def test_nan_logits_are_refused_by_every_loss(f, kw):
    x, y = _inputs(f)
    x = x.copy()
    x.flat[0] = np.nan
    with pytest.raises(ValueError, match=r"contains 1 NaN or infinite value\(s\)"):
        f(x, y, **kw)


@pytest.mark.parametrize("f, kw", ALL_MULTICLASS, ids=NAMES[:len(ALL_MULTICLASS)])
def test_out_of_range_labels_are_refused_by_every_multiclass_loss(f, kw):
    with pytest.raises(ValueError, match=r"must be class indices in \[0, 2\]\. Got \[7\]"):
        f(X, np.array([0, 7]), **kw)


@pytest.mark.parametrize("f, kw", ALL_MULTICLASS, ids=NAMES[:len(ALL_MULTICLASS)])
def test_float_index_targets_are_refused_by_every_multiclass_loss(f, kw):
    with pytest.raises(TypeError, match=r"Class-index targets of .* must be integers"):
        f(X, np.array([0.0, 1.0]), **kw)
