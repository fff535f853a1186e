"""Hypothesis properties of ClassCounts and the weight schemes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wce.weights import ClassCounts, class_weights

int_labels = st.lists(st.integers(-3, 6), min_size=1, max_size=40)
str_labels = st.lists(st.sampled_from(["cat", "dog", "emu", "yak"]), min_size=1, max_size=40)
labels = st.one_of(int_labels, str_labels)


@given(st.one_of(st.tuples(int_labels, int_labels, int_labels),
                 st.tuples(str_labels, str_labels, str_labels)))
def test_merge_is_associative_and_commutative_as_a_mapping(triple):
    a, b, c = (ClassCounts.from_labels(x) for x in triple)
    assert (a + b) + c == a + (b + c)
    assert a + b == b + a  # equal as mappings class -> count (orders may differ)
    assert ((a + b) + c).classes == (a + (b + c)).classes  # left order, new classes appended


@given(st.data())
def test_merge_of_masks_is_associative_and_commutative(data):
    parts = [ClassCounts.from_labels(
        np.array(data.draw(st.lists(st.integers(0, 4), min_size=4, max_size=4))).reshape(1, 2, 2),
        kind="mask") for _ in range(3)]
    a, b, c = parts
    assert (a + b) + c == a + (b + c)
    assert a + b == b + a


@given(labels, st.lists(st.integers(1, 10), min_size=1, max_size=8))
def test_update_in_batches_equals_from_labels_at_once(y, sizes):
    at_once = ClassCounts.from_labels(y)
    counts, start = None, 0
    for size in sizes * (len(y) // max(sum(sizes), 1) + 1):
        batch = y[start:start + size]
        if not batch:
            break
        counts = ClassCounts.from_labels(batch) if counts is None else counts.update(batch)
        start += size
    assert counts == at_once
    shards = [ClassCounts.from_labels(y[i:i + 3]) for i in range(0, len(y), 3)]
    merged = shards[0]
    for shard in shards[1:]:
        merged = merged + shard
    assert merged == at_once


@given(labels)
def test_json_round_trip(y):
    c = ClassCounts.from_labels(y)
    back = ClassCounts.from_json(c.to_json())
    assert back == c and back.classes == c.classes


@given(labels)
def test_balanced_equals_scikit_learn(y):
    pytest.importorskip("sklearn")
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.unique(np.asarray(y))
    np.testing.assert_allclose(class_weights(y),
                               compute_class_weight("balanced", classes=classes, y=np.asarray(y)),
                               rtol=1e-12, atol=0)


@given(labels, st.sampled_from(["balanced", "inverse", "inverse_sqrt", "effective_number",
                                "median_frequency"]))
def test_normalisations_have_their_defining_property(y, scheme):
    counts = ClassCounts.from_labels(y)
    n = counts.counts
    one = class_weights(counts, scheme=scheme, normalize="sum_to_one", beta=0.99)
    k = class_weights(counts, scheme=scheme, normalize="sum_to_k", beta=0.99)
    mean_one = class_weights(counts, scheme=scheme, normalize="mean_one", beta=0.99)
    raw = class_weights(counts, scheme=scheme, beta=0.99)
    assert one.sum() == pytest.approx(1.0)
    assert k.sum() == pytest.approx(len(n))
    assert (n * mean_one).sum() / n.sum() == pytest.approx(1.0)
    for w in (one, k, mean_one):  # a normalisation rescales, never re-orders
        np.testing.assert_allclose(w * raw.sum(), raw * w.sum(), rtol=1e-10)
    assert np.all(raw > 0)


@given(labels, st.floats(1e-3, 1e3))
def test_normalised_manual_weights_ignore_their_scale(y, scale):
    counts = ClassCounts.from_labels(y)
    w = np.arange(1.0, counts.n_classes + 1)
    for normalize in ("sum_to_one", "sum_to_k", "mean_one"):
        np.testing.assert_allclose(
            class_weights(counts, scheme="manual", manual=scale * w, normalize=normalize),
            class_weights(counts, scheme="manual", manual=w, normalize=normalize), rtol=1e-10)


@given(labels)
def test_rarer_classes_never_weigh_less(y):
    counts = ClassCounts.from_labels(y)
    order = np.argsort(counts.counts, kind="stable")
    for scheme in ("balanced", "inverse", "inverse_sqrt", "effective_number", "median_frequency"):
        w = class_weights(counts, scheme=scheme, beta=0.9)
        assert np.all(np.diff(w[order]) <= 1e-12 * w.max())
