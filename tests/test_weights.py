"""ClassCounts and the class-weight schemes, checked against hand-written formulas and scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest

import oracle
from wce.weights import ClassCounts, class_weight_dict, class_weights, pos_weight

Y = np.array([0] * 6 + [1] * 3 + [2] * 1)  # n = (6, 3, 1), N = 10, K = 3
N_C = np.array([6.0, 3.0, 1.0])


# ----------------------------------------------------------------------------- scikit-learn
def _sklearn_balanced(classes, y):
    from sklearn.utils.class_weight import compute_class_weight

    return compute_class_weight("balanced", classes=np.asarray(classes), y=np.asarray(y))


@pytest.mark.parametrize("labels, classes", [
    (Y, None),
    (np.array(["cat"] * 5 + ["dog"] * 2 + ["emu"] * 9), None),
    (np.array([3, 3, 7, 7, 7, 7, 7, 42]), [42, 7, 3]),  # declared order differs from sorted
    (np.array(["b", "a", "a", "c", "c", "c"]), ["c", "a", "b"]),
    (np.array([True, False, False, False]), None),
])
def test_balanced_equals_scikit_learn(labels, classes):
    pytest.importorskip("sklearn")
    got = class_weights(labels, scheme="balanced", classes=classes)
    order = classes if classes is not None else np.unique(labels)
    np.testing.assert_allclose(got, _sklearn_balanced(order, labels), rtol=1e-12, atol=0)
    np.testing.assert_allclose(got, oracle.balanced_weights(labels.tolist(), list(order)),
                               rtol=1e-12)


def test_balanced_equals_scikit_learn_on_many_random_label_sets():
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(7)
    for _ in range(20):
        k = rng.integers(2, 8)
        y = rng.choice(k, size=rng.integers(k, 300), p=rng.dirichlet(np.ones(k)))
        y[:k] = np.arange(k)  # every class present
        np.testing.assert_allclose(class_weights(y), _sklearn_balanced(np.arange(k), y),
                                   rtol=1e-12, atol=0)


# ----------------------------------------------------------------------------- schemes
@pytest.mark.parametrize("scheme, expected", [
    ("balanced", 10 / (3 * N_C)),
    ("inverse", 1 / N_C),
    ("inverse_sqrt", 1 / np.sqrt(N_C)),
    ("effective_number", (1 - 0.9) / (1 - 0.9 ** N_C)),
    ("median_frequency", np.median(N_C / 10) / (N_C / 10)),  # global frequency for 1-D labels
])
def test_scheme_formulas(scheme, expected):
    np.testing.assert_allclose(class_weights(Y, scheme=scheme, beta=0.9), expected, rtol=1e-12)


def test_effective_number_is_accurate_for_beta_close_to_one():
    w = class_weights(Y, scheme="effective_number", beta=1 - 1e-12)
    np.testing.assert_allclose(w / w[2], 1 / N_C, rtol=1e-6)  # -> inverse frequency
    np.testing.assert_allclose(class_weights(Y, scheme="effective_number", beta=0.0), 1.0)


def test_manual_scheme_takes_an_array_or_a_dict_by_class():
    labels = np.array(["a", "b", "b"])
    np.testing.assert_allclose(class_weights(labels, scheme="manual", manual=[2.0, 5.0]), [2, 5])
    np.testing.assert_allclose(class_weights(labels, scheme="manual", manual={"b": 5, "a": 2}),
                               [2, 5])
    with pytest.raises(ValueError, match=r"The 'manual' parameter of class_weights must have an "
                                         r"entry for every class\. Got no entry for class\(es\) "
                                         r"\['b'\] instead"):
        class_weights(labels, scheme="manual", manual={"a": 2})
    with pytest.raises(ValueError, match=r"scheme='manual' needs the 'manual' parameter"):
        class_weights(labels, scheme="manual")
    with pytest.raises(ValueError, match=r"'manual' parameter of class_weights must be non-negative"):
        class_weights(labels, scheme="manual", manual=[-1.0, 1.0])


def test_cost_matrix_scheme_is_the_total_cost_of_misclassifying_each_class():
    M = np.array([[0.0, 1.0, 2.0], [10.0, 0.0, 5.0], [1.0, 1.0, 0.0]])
    np.testing.assert_allclose(class_weights(Y, scheme="cost_matrix", cost_matrix=M), [3, 15, 2])
    # the diagonal never counts; two classes give Elkan's ratio M[1,0] / M[0,1]
    two = class_weights([0, 0, 1], scheme="cost_matrix", cost_matrix=[[9, 1], [5, 9]])
    assert two[1] / two[0] == pytest.approx(5.0)
    with pytest.raises(ValueError, match=r"scheme='cost_matrix' needs the cost_matrix parameter"):
        class_weights(Y, scheme="cost_matrix")
    with pytest.raises(ValueError, match=r"must be \(3, 3\) to match the number of classes"):
        class_weights(Y, scheme="cost_matrix", cost_matrix=np.ones((2, 2)))


def test_manual_and_cost_matrix_do_not_need_counts_for_absent_classes():
    counts = ClassCounts.from_labels([0, 0, 1], classes=[0, 1, 2])
    np.testing.assert_allclose(class_weights(counts, scheme="manual", manual=[1, 2, 3]), [1, 2, 3])
    np.testing.assert_allclose(
        class_weights(counts, scheme="cost_matrix", cost_matrix=np.ones((3, 3))), [2, 2, 2])


@pytest.mark.parametrize("scheme", ["balanced", "inverse", "inverse_sqrt", "effective_number",
                                    "median_frequency"])
def test_normalisations(scheme):
    raw = class_weights(Y, scheme=scheme, beta=0.99)
    np.testing.assert_allclose(class_weights(Y, scheme=scheme, beta=0.99, normalize="sum_to_one"),
                               raw / raw.sum(), rtol=1e-12)
    np.testing.assert_allclose(class_weights(Y, scheme=scheme, beta=0.99, normalize="sum_to_k"),
                               3 * raw / raw.sum(), rtol=1e-12)
    mean_one = class_weights(Y, scheme=scheme, beta=0.99, normalize="mean_one")
    per_sample = mean_one[Y]  # the weight every sample gets
    assert per_sample.mean() == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(mean_one / raw, mean_one[0] / raw[0], rtol=1e-12)  # same direction


def test_balanced_already_has_per_sample_mean_weight_one():
    w = class_weights(Y, scheme="balanced")
    assert w[Y].mean() == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(class_weights(Y, normalize="mean_one"), w, rtol=1e-12)


def test_zero_count_policies():
    counts = ClassCounts.from_labels(Y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"class\(es\) \[3\] have zero count, so scheme 'inverse' "
                                         r"would divide by zero \(TRAPS 4\)"):
        class_weights(counts, scheme="inverse")
    np.testing.assert_allclose(class_weights(counts, scheme="inverse", zero_count="zero"),
                               [1 / 6, 1 / 3, 1, 0])
    np.testing.assert_allclose(class_weights(counts, scheme="inverse", zero_count="max"),
                               [1 / 6, 1 / 3, 1, 1])
    # 'balanced' keeps K = 4 declared classes in N / (K n_c)
    np.testing.assert_allclose(class_weights(counts, zero_count="zero"), [10 / 24, 10 / 12, 10 / 4, 0])
    # a zero-weight absent class does not disturb the per-sample mean
    mean_one = class_weights(counts, scheme="inverse", zero_count="zero", normalize="mean_one")
    assert mean_one[Y].mean() == pytest.approx(1.0)


def test_median_frequency_of_masks_uses_image_frequency_and_can_be_forced_global():
    masks = np.array([
        [[0, 0, 0], [0, 1, 1]],  # 4 px of 0, 2 px of 1
        [[0, 0, 0], [0, 0, 0]],  # 6 px of 0
        [[2, 0, 0], [0, 0, 255]],  # 1 px of 2, 4 px of 0, 1 void pixel
    ])
    counts = ClassCounts.from_labels(masks, kind="mask", ignore_index=255)
    np.testing.assert_array_equal(counts.counts, [14, 2, 1])
    np.testing.assert_array_equal(counts.pixels_in_present, [17, 6, 5])  # void pixels excluded
    f = np.array([14 / 17, 2 / 6, 1 / 5])
    np.testing.assert_allclose(class_weights(counts, scheme="median_frequency"),
                               np.median(f) / f, rtol=1e-12)
    g = np.array([14, 2, 1]) / 17
    np.testing.assert_allclose(
        class_weights(counts, scheme="median_frequency", median_definition="global"),
        np.median(g) / g, rtol=1e-12)
    with pytest.raises(ValueError, match=r"median_definition='image' needs counts from "
                                         r"segmentation masks"):
        class_weights(Y, scheme="median_frequency", median_definition="image")


@pytest.mark.parametrize("kwargs, match", [
    (dict(scheme="focal"), r"'scheme' parameter of class_weights must be one of 'balanced'"),
    (dict(normalize="l1"), r"'normalize' parameter of class_weights must be one of 'none'"),
    (dict(zero_count="skip"), r"'zero_count' parameter of class_weights must be one of 'error'"),
    (dict(median_definition="pixel"), r"'median_definition' parameter of class_weights must be"),
    (dict(scheme="effective_number", beta=1.0), r"'beta' parameter of class_weights must be a "
                                                r"float in the range \[0, 1\)\. Got 1 instead"),
])
def test_class_weights_parameter_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        class_weights(Y, **kwargs)


def test_class_weights_empty_input_is_refused():
    with pytest.raises(ValueError, match=r"class_weights was given no labels \(empty input\)"):
        class_weights([])
    with pytest.raises(ValueError, match=r"no labels \(empty input\)"):
        class_weights(ClassCounts(classes=(0, 1)))


def test_class_weights_with_declared_classes_follow_that_order():
    counts = ClassCounts.from_labels(["b", "a", "a"])
    np.testing.assert_allclose(class_weights(counts, classes=["c", "b", "a"], zero_count="zero"),
                               [0, 1.0, 0.5])
    with pytest.raises(ValueError, match=r"the counts hold classes \['a'\] that are not in "
                                         r"'classes'"):
        class_weights(counts, classes=["b", "c"])


def test_class_weight_dict_maps_plain_python_classes():
    d = class_weight_dict(np.array([1, 1, 2]))
    assert d == {1: 0.75, 2: 1.5}
    assert all(type(k) is int and type(v) is float for k, v in d.items())
    assert json.dumps(d)  # usable as Keras / scikit-learn class_weight and serialisable
    d = class_weight_dict(["x", "y", "y", "y"], classes=["y", "x", "z"], zero_count="zero",
                          scheme="inverse")
    assert d == {"y": 1 / 3, "x": 1.0, "z": 0.0} and list(d) == ["y", "x", "z"]


# ----------------------------------------------------------------------------- pos_weight
def test_pos_weight_binary():
    assert pos_weight([0, 0, 0, 1]) == 3.0
    assert pos_weight(np.array([[0], [1], [0]])) == 2.0  # (N, 1)
    assert pos_weight([True, False, False, False, False]) == 4.0
    assert pos_weight(["neg", "pos", "neg"], positive="pos") == 2.0
    assert pos_weight(ClassCounts.from_labels([0, 1, 1, 0, 0, 0])) == 2.0
    with pytest.raises(ValueError, match=r"no positive example \(label 1\) among classes \[0\]"):
        pos_weight([0, 0, 0])
    with pytest.raises(ValueError, match=r"pass positive=<label>"):
        pos_weight(["a", "b"])
    with pytest.raises(ValueError, match=r"pos_weight is for binary labels; got 3 classes"):
        pos_weight([0, 1, 2])
    with pytest.raises(ValueError, match=r"pos_weight was given no labels"):
        pos_weight([])


def test_pos_weight_multilabel_is_per_label():
    khot = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 1]])
    np.testing.assert_allclose(pos_weight(khot), [(4 - 2) / 2, (4 - 1) / 1, 0.0])
    counts = ClassCounts.from_labels(khot, kind="multilabel")
    np.testing.assert_allclose(pos_weight(counts), pos_weight(khot))
    with pytest.raises(ValueError, match=r"label\(s\) \[1\] have no positive example"):
        pos_weight(np.array([[1, 0], [0, 0]]))


# ----------------------------------------------------------------------------- ClassCounts
def test_counts_from_ints_strings_bools_and_column_vectors():
    assert ClassCounts.from_labels([2, 0, 2, 2]).as_dict() == {0: 1, 2: 3}
    assert ClassCounts.from_labels(np.array([-1, 5, -1])).as_dict() == {-1: 2, 5: 1}
    assert ClassCounts.from_labels(["b", "a", "b"]).as_dict() == {"a": 1, "b": 2}
    assert ClassCounts.from_labels([True, False, True]).as_dict() == {False: 1, True: 2}
    column = ClassCounts.from_labels(np.array([[1], [0], [1]]))
    assert column.as_dict() == {0: 1, 1: 2} and column.n_rows == 3 and column.kind == "multiclass"
    floats = ClassCounts.from_labels(np.array([1.0, 0.0, 1.0]))  # integral floats are classes
    assert floats.as_dict() == {0: 1, 1: 2} and all(type(c) is int for c in floats.classes)
    c = ClassCounts.from_labels(Y)
    assert c.total == 10 and c.n_classes == 3
    np.testing.assert_allclose(c.frequencies, N_C / 10)


def test_counts_from_k_hot_multilabel_rows():
    khot = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 1]])
    c = ClassCounts.from_labels(khot, kind="multilabel")
    assert c.as_dict() == {0: 2, 1: 1, 2: 3} and c.n_rows == 3 and c.kind == "multilabel"
    named = ClassCounts.from_labels(khot, kind="multilabel", classes=["cat", "dog", "sky"])
    assert named.as_dict() == {"cat": 2, "dog": 1, "sky": 3}
    with pytest.raises(ValueError, match=r"Multi-label targets must be k-hot: every entry 0 or 1"):
        ClassCounts.from_labels(np.array([[2, 0], [0, 1]]), kind="multilabel")
    with pytest.raises(ValueError, match=r"Multi-label rows have 2 columns but 3 classes"):
        c.update(np.array([[1, 0]]))
    with pytest.raises(ValueError, match=r"Labels of shape \(3, 3\) are ambiguous: pass "
                                         r"kind='multilabel'"):
        ClassCounts.from_labels(khot)


def test_counts_from_masks_with_ignore_index():
    masks = np.array([[[0, 1], [255, 1]], [[0, 0], [0, 255]]])
    c = ClassCounts.from_labels(masks, ignore_index=255)  # 3-D: a mask automatically
    assert c.kind == "mask" and c.as_dict() == {0: 4, 1: 2} and c.n_rows == 2
    np.testing.assert_array_equal(c.pixels_in_present, [6, 3])
    with pytest.raises(ValueError, match=r"Segmentation masks must be \(N, H, W, \.\.\.\)"):
        ClassCounts.from_labels(np.array([0, 1]), kind="mask")


def test_declared_classes_fix_the_order_and_refuse_others():
    c = ClassCounts.from_labels([2, 2, 0], classes=[2, 1, 0])
    assert c.classes == (2, 1, 0) and c.counts.tolist() == [2, 0, 1]
    with pytest.raises(ValueError, match=r"Labels \[7\] are not among the declared classes "
                                         r"\[2, 1, 0\]"):
        c.update([7])
    # ignore_index is exempt from the declaration
    masks = np.array([[[0, 255]], [[1, 1]]])
    assert ClassCounts.from_labels(masks, classes=[0, 1], ignore_index=255).as_dict() == \
        {0: 1, 1: 2}


def test_undeclared_classes_are_appended_sorted():
    c = ClassCounts.from_labels(["b", "a"])
    c.update(["d", "c", "a"])
    assert c.classes == ("a", "b", "c", "d")


def test_mixed_label_types_are_refused():
    for labels in (["a", 1], [True, 2], np.array(["a", 1], dtype=object), [1, "1"]):
        with pytest.raises(TypeError, match=r"Class labels mix types"):
            ClassCounts.from_labels(labels)
    with pytest.raises(TypeError, match=r"Class labels mix types \(int, str\)"):
        ClassCounts.from_labels([0, 1]).update(["a"])
    with pytest.raises(TypeError, match=r"Class labels mix types \(bool, int\)"):
        ClassCounts.from_labels([0, 1]).update(np.array([True]))  # True == 1 as a key
    with pytest.raises(TypeError, match=r"Class labels mix types"):
        class_weights(["a", 1])
    with pytest.raises(TypeError, match=r"Class labels mix types"):
        ClassCounts.from_labels([0, 1]).merge(ClassCounts.from_labels(["a"]))


def test_missing_and_non_label_values_are_refused():
    for labels in ([1, None], np.array([1.0, np.nan]), np.array(["a", None], dtype=object)):
        with pytest.raises(ValueError, match=r"Labels contain (missing values \(None/NaN\)|NaN)"):
            ClassCounts.from_labels(labels)
    with pytest.raises(TypeError, match=r"Got the float 0\.5; labels such as 0\.5 look like "
                                        r"probabilities"):
        ClassCounts.from_labels([0.5, 1.0])
    with pytest.raises(ValueError, match=r"A multiclass ClassCounts takes 1-D labels"):
        ClassCounts.from_labels([0, 1]).update(np.zeros((2, 2)))


@pytest.mark.parametrize("counts", [
    ClassCounts.from_labels([3, 1, 3]),
    ClassCounts.from_labels(["x", "y", "y"], classes=["y", "x", "z"]),
    ClassCounts.from_labels([True, False, False]),
    ClassCounts.from_labels(np.array([[1, 0], [1, 1]]), kind="multilabel"),
    ClassCounts.from_labels(np.array([[[0, 2], [2, 255]]]), ignore_index=255),
], ids=["ints", "declared_strings", "bools", "multilabel", "mask"])
def test_json_round_trip(counts):
    back = ClassCounts.from_json(counts.to_json())
    assert back == counts
    assert back.classes == counts.classes  # order too
    assert back.declared == counts.declared and back.ignore_index == counts.ignore_index
    np.testing.assert_array_equal(class_weights(back, zero_count="zero"),
                                  class_weights(counts, zero_count="zero"))


def test_json_round_trip_keeps_declared_classes_closed():
    back = ClassCounts.from_json(ClassCounts.from_labels([0, 1], classes=[0, 1, 2]).to_json())
    with pytest.raises(ValueError, match="not among the declared classes"):
        back.update([5])


def test_merge_adds_counts_and_keeps_the_left_order():
    a = ClassCounts.from_labels(["b", "b", "c"])
    b = ClassCounts.from_labels(["a", "b"])
    merged = a.merge(b)
    assert merged.classes == ("b", "c", "a") and merged.as_dict() == {"b": 3, "c": 1, "a": 1}
    assert merged.n_rows == 5 and (a + b) == merged
    assert a.as_dict() == {"b": 2, "c": 1}  # operands unchanged
    masks = ClassCounts.from_labels(np.array([[[0, 1]]])).merge(ClassCounts.from_labels(
        np.array([[[1, 1]]])))
    np.testing.assert_array_equal(masks.pixels_in_present, [2, 4])
    with pytest.raises(ValueError, match=r"Cannot merge multiclass counts with mask counts"):
        a.merge(ClassCounts.from_labels(np.zeros((1, 2, 2), dtype=int)))
    with pytest.raises(TypeError, match=r"merge takes a ClassCounts\. Got dict"):
        a.merge({"a": 1})


def test_update_in_batches_equals_counting_at_once():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, size=1000)
    c = ClassCounts.from_labels(y[:10])
    for start in range(10, 1000, 97):
        c.update(y[start:start + 97])
    assert c == ClassCounts.from_labels(y)


def test_invalid_construction():
    with pytest.raises(ValueError, match=r"'kind' parameter of ClassCounts must be one of"):
        ClassCounts(kind="image")
    with pytest.raises(ValueError, match=r"classes of ClassCounts must be unique"):
        ClassCounts(classes=(1, 1))
    with pytest.raises(ValueError, match=r"ClassCounts needs one count per class"):
        ClassCounts(classes=(0, 1), counts=[1, 2, 3])


def test_counts_given_as_a_mapping():
    np.testing.assert_allclose(class_weights({0: 90, 1: 10}), [100 / 180, 100 / 20], rtol=1e-12)
    assert class_weight_dict({"b": 9, "a": 1}) == {"b": 10 / 18, "a": 10 / 2}
    assert pos_weight({0: 90, 1: 10}) == 9.0
    with pytest.raises(ValueError, match=r"class\(es\) \['b'\] have zero count"):
        class_weights({"a": 90, "b": 0})
    with pytest.raises(ValueError, match=r"a mapping must give a non-negative integer count per "
                                         r"class, e\.g\. \{0: 90, 1: 10\}\. Got \{'a': 0\.5\}"):
        class_weights({"a": 0.5})


# ----------------------------------------------------------------------------- counts are class sizes
@pytest.mark.parametrize("counts, shown", [
    ([-5, 10], r"Got -5 for class 0 instead"),
    ([3, 2.5], r"Got 2\.5 for class 1 instead"),
    ([np.nan, 1], r"Got nan for class 0 instead"),
    ([1, np.inf], r"Got inf for class 1 instead"),
])
def test_counts_that_are_not_class_sizes_are_refused_naming_the_class(counts, shown):
    match = r"The 'counts' parameter of ClassCounts must hold non-negative integer counts.*" + shown
    with pytest.raises(ValueError, match=match):
        ClassCounts((0, 1), counts)
    text = json.dumps({"classes": ["a", "b"], "counts": [c if np.isfinite(c) else str(c)
                                                         for c in counts],
                       "n_rows": 10, "kind": "multiclass", "pixels_in_present": None})
    with pytest.raises((ValueError, TypeError), match=r"The 'counts' parameter of ClassCounts"):
        ClassCounts.from_json(text)


def test_negative_count_is_an_error_not_a_zero_count():
    # before: class_weights(..., zero_count="zero") gave [0, 0.25] and the error spoke of a
    # zero count; a negative count cannot even be built now
    with pytest.raises(ValueError, match=r"Got -5 for class 0 instead"):
        class_weights(ClassCounts((0, 1), [-5, 10]), zero_count="zero")
    with pytest.raises(ValueError, match=r"Got -5 for class 'a' instead"):
        ClassCounts.from_json('{"classes": ["a", "b"], "counts": [-5, 10], "n_rows": 5, '
                              '"kind": "multiclass", "pixels_in_present": null}')
    counts = ClassCounts.from_labels([0, 1, 1])
    counts.counts[0] = -5  # edited in place after construction: still refused
    with pytest.raises(ValueError, match=r"Got -5 for class 0 instead"):
        class_weights(counts)


def test_other_count_fields_are_checked_too():
    with pytest.raises(ValueError, match=r"'pixels_in_present' parameter of ClassCounts must hold "
                                         r"non-negative integer counts.*Got -1 for class 1"):
        ClassCounts((0, 1), [4, 2], 1, "mask", [4, -1])
    with pytest.raises(ValueError, match=r"'n_rows' parameter of ClassCounts must be a "
                                         r"non-negative integer.*Got -3 instead"):
        ClassCounts((0, 1), [4, 2], -3)
    with pytest.raises(TypeError, match=r"'counts' parameter of ClassCounts must hold numbers of "
                                        r"samples.*Got dtype <U1 instead"):
        ClassCounts((0, 1), ["a", "b"])
    # whole numbers stored as floats (JSON, pandas) are fine
    assert ClassCounts((0, 1), [4.0, 2.0], 6.0).counts.tolist() == [4, 2]


# ----------------------------------------------------------------------------- resolve_class_weight
def test_resolve_class_weight_takes_a_dict_an_array_or_a_scheme():
    from wce.weights import resolve_class_weight

    assert resolve_class_weight(None, classes=["a"]) is None
    dict_weights = resolve_class_weight({"b": 3.0, "a": 1.0, "zzz": 9.0}, classes=["a", "b"])
    assert dict_weights.tolist() == [1.0, 3.0]  # by class, extra entries ignored
    assert resolve_class_weight({1: 2.0, 0: 1.0}).tolist() == [1.0, 2.0]  # class indices
    assert resolve_class_weight([1, 2, 3], n_classes=3).dtype == np.float64
    y = np.array(["x"] * 6 + ["y"] * 2)
    np.testing.assert_allclose(resolve_class_weight("balanced", y=y), _sklearn_balanced(["x", "y"], y))
    np.testing.assert_allclose(resolve_class_weight("balanced", counts=[6, 2], classes=["x", "y"]),
                               _sklearn_balanced(["x", "y"], y))
    np.testing.assert_allclose(resolve_class_weight("inverse", counts=ClassCounts.from_labels(y),
                                                    normalize="sum_to_one"), [0.25, 0.75])
    # the scheme follows ``classes``, not the order the labels come in
    np.testing.assert_allclose(resolve_class_weight("balanced", y=y, classes=["y", "x"]),
                               _sklearn_balanced(["x", "y"], y)[::-1])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(class_weight={"a": 1.0}, classes=["a", "b"]), ValueError,
     r"The 'class_weight' parameter of f must have an entry for every class\. Got no entry for "
     r"class\(es\) \['b'\] instead"),
    (dict(class_weight={"a": 1.0, "b": 2.0}), ValueError,
     r"The 'class_weight' parameter of f must be a dict with the class indices 0\.\.K-1 as keys"),
    (dict(class_weight={0: 1.0, 2: 2.0}), ValueError, r"class indices 0\.\.K-1 as keys.*\[0, 2\]"),
    (dict(class_weight=[1.0, 2.0], n_classes=3), ValueError,
     r"The 'class_weight' parameter of f must be a 1-D array with one weight per class \(3\)\. "
     r"Got shape \(2,\) instead"),
    (dict(class_weight=2.0), ValueError, r"1-D array with one weight per class\. Got shape \(\)"),
    (dict(class_weight=[1.0, -1.0]), ValueError,
     r"The 'class_weight' parameter of f must be non-negative\. Got \[1\.0, -1\.0\] instead"),
    (dict(class_weight=[0.0, 0.0]), ValueError, r"'class_weight' parameter of f must not be all zero"),
    (dict(class_weight=[1.0, np.nan]), ValueError, r"'class_weight' parameter of f contains 1 NaN"),
    (dict(class_weight="balance", y=[0, 1]), ValueError,
     r"The 'class_weight' parameter of f must be None, a dict \{class: weight\}, an array with one "
     r"weight per class or one of 'balanced', .* Got 'balance' instead"),
    (dict(class_weight="balanced"), ValueError,
     r"'class_weight' parameter of f is the scheme 'balanced', which is computed from the class "
     r"counts, and none were given.*class_weights\(y, scheme='balanced'\)"),
    (dict(class_weight="balanced", y=[0, 1], counts=[1, 1]), ValueError, r"both y and counts"),
    (dict(class_weight="balanced", counts=[1, 2, 3], classes=["a", "b"]), ValueError,
     r"The 'counts' parameter of f must hold one count per class \(2\)\. Got shape \(3,\)"),
    (dict(class_weight=[1.0, 2.0], beta=0.9), TypeError, r"scheme option\(s\) \['beta'\]"),
    (dict(class_weight=[1.0, 2.0], classes=["a", "b"], n_classes=3), ValueError,
     r"f was given 2 classes and n_classes=3"),
    (dict(class_weight={"a": 1.0}, classes=["a"], name="alpha"), ValueError,
     r"The 'alpha' parameter of f must be"),
])
def test_resolve_class_weight_errors_name_the_parameter_and_the_caller(kwargs, error, match):
    from wce.weights import resolve_class_weight

    if kwargs.get("name") == "alpha":  # a valid dict: the name shows in a later message
        kwargs["class_weight"] = {"a": -1.0}
    with pytest.raises(error, match=match):
        resolve_class_weight(caller="f", **kwargs)


def test_a_scheme_with_an_absent_class_keeps_the_zero_count_rule():
    from wce.weights import resolve_class_weight

    with pytest.raises(ValueError, match=r"class\(es\) \['c'\] have zero count"):
        resolve_class_weight("balanced", counts=[3, 1, 0], classes=["a", "b", "c"])
    assert resolve_class_weight("balanced", counts=[3, 1, 0], classes=["a", "b", "c"],
                                zero_count="zero")[2] == 0.0


# ----------------------------------------------------------------------------- import structure
def _weights_imports():
    """(module, imported wce module) for every import in src/wce/weights, function-level too."""
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1] / "src" / "wce" / "weights"
    edges = []
    for path in sorted(root.glob("*.py")):
        module = "wce.weights" + ("" if path.stem == "__init__" else f".{path.stem}")
        package = "wce.weights"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[:len(package.split(".")) - node.level + 1] \
                    if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                names = [f"{target}.{a.name}" for a in node.names]
                edges += [(module, t) for t in [target, *names] if t.startswith("wce")]
            elif isinstance(node, ast.Import):
                edges += [(module, a.name) for a in node.names if a.name.startswith("wce")]
    modules = {"wce.weights" + ("" if p.stem == "__init__" else f".{p.stem}")
               for p in root.glob("*.py")}
    return [(a, b) for a, b in edges], modules


def test_weights_imports_run_one_way_and_only_downward():
    edges, modules = _weights_imports()
    assert ("wce.weights._counts", "wce.weights._readers") in edges  # the checker sees them
    forbidden = ("wce.losses", "wce.torch", "wce.jax", "wce.keras", "wce.gbdt", "wce.xgboost",
                 "wce.lightgbm", "wce.sklearn", "wce.huggingface", "wce._array", "wce._torch",
                 "wce.experiments", "wce.reporting", "wce.cli")
    assert not [(a, b) for a, b in edges if b.startswith(forbidden)]
    graph = {m: {b for a, b in edges if a == m and b in modules and b != "wce.weights"}
             for m in modules}
    # depth-first search for a cycle among the submodules (the package __init__ re-exports)
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for n in graph[m]:
            assert state.get(n) != 1, f"import cycle: {' -> '.join(path + [n])}"
            if n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in sorted(modules):
        if m not in state:
            visit(m, [m])
