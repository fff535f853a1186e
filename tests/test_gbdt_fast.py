"""The GBDT objectives' fast path (wce.gbdt._fast) against the general reference path.

Weighted binary and softmax cross-entropy skip the NumPy reference every boosting round;
these tests check that they still give the reference's gradient and the documented Hessian
(binary: bitwise the general path's), whatever the block size and thread count, that the
library callbacks hand over the float32 rounding of the same numbers, and that everything
else (other losses and parameters, bad margins, bad labels) still goes to the reference.
"""

from __future__ import annotations

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost")
pytest.importorskip("sklearn")

from wce.gbdt import _fast as gbdt_fast  # noqa: E402
from wce.gbdt import _objective  # noqa: E402
from wce.losses import (  # noqa: E402
    binary_cross_entropy,
    value_and_grad,
    value_grad_hess,
    weighted_cross_entropy,
)
from wce.losses._common import log_softmax  # noqa: E402
from wce.xgboost import XGBObjective  # noqa: E402

BINARY_PARAMS = [{}, {"pos_weight": 9.0}, {"class_weight": (0.4, 3.0)}, {"alpha": 0.2}]


@pytest.fixture(params=["one block", "many blocks, 3 threads"])
def blocks(request, monkeypatch):
    """Run each test both on a single block and split over many blocks and threads."""
    if request.param != "one block":
        monkeypatch.setattr(gbdt_fast, "BLOCK_ELEMENTS", 48)
        monkeypatch.setattr(gbdt_fast, "n_threads", lambda: 3)
    return request.param


def _general(obj, margin, y, sw):
    """The reference path of Objective.grad_hess, bypassing the fast path."""
    if obj.multiclass:
        return obj._multiclass_grad_hess(np.asarray(margin), y, sw)
    return obj._binary_grad_hess(np.asarray(margin), y, sw)


def _fast(obj, margin, y, sw):
    out = obj._fast_grad_hess(np.asarray(margin), y, sw)
    assert out is not None, "the fast path did not apply"
    return out


@pytest.mark.parametrize("params", BINARY_PARAMS, ids=lambda p: ",".join(p) or "unweighted")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_fast_path_is_bitwise_the_general_path(params, dtype, weighted, blocks, rng):
    n = 1000
    obj = XGBObjective.binary(**params)
    y = (rng.random(n) < 0.2).astype(np.float64)
    sw = rng.uniform(0.0, 3.0, n) if weighted else None
    margin = (rng.standard_normal(n) * 6).astype(dtype)
    margin[:4] = [0.0, -0.0, 40.0, -800.0]  # sigmoid's branch point and its saturated ends
    grad, hess = _fast(obj, margin, y, sw)
    g_ref, h_ref = _general(obj, margin, y, sw)
    assert grad.dtype == hess.dtype == np.float64 and grad.shape == hess.shape == (n,)
    np.testing.assert_array_equal(grad, g_ref)
    np.testing.assert_array_equal(hess, h_ref)
    # and the reference loss's own derivatives
    _, g, h = value_grad_hess(binary_cross_entropy, margin.astype(np.float64), y,
                              sample_weight=sw, reduction="sum", **params)
    np.testing.assert_allclose(grad, g, rtol=1e-12, atol=1e-15)
    weight = obj._element_weight(y, sw, obj._class_weight_vector(2))
    np.testing.assert_allclose(hess, np.maximum(h, 1e-16 * weight), rtol=1e-12, atol=1e-300)
    # grad_hess takes the fast path
    g2, h2 = obj.grad_hess(margin, y, sw)
    np.testing.assert_array_equal(g2, grad)
    np.testing.assert_array_equal(h2, hess)


@pytest.mark.parametrize("k", [2, 3, 10, 37])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("class_weighted", [False, True])
def test_softmax_fast_path_matches_reference(k, weighted, class_weighted, blocks, rng):
    n = 600
    cw = rng.uniform(0.2, 5.0, k) if class_weighted else None
    obj = XGBObjective.multiclass(class_weight=cw)
    y = rng.integers(0, k, n)
    sw = rng.uniform(0.0, 3.0, n) if weighted else None
    margin = (rng.standard_normal((n, k)) * 4).astype(np.float32)
    margin[0] = 0.0
    margin[1, 0] = 60.0  # a saturated row: p = 1 on class 0, e^-60 elsewhere
    grad, hess = _fast(obj, margin, y, sw)
    assert grad.shape == hess.shape == (n, k) and grad.dtype == hess.dtype == np.float64
    z = margin.astype(np.float64)
    _, g_ref = value_and_grad(weighted_cross_entropy, z, y, sample_weight=sw,
                              class_weight=cw, reduction="sum")
    np.testing.assert_allclose(grad, g_ref, rtol=1e-12, atol=1e-14)
    # Hessian: the documented diagonal factor · w_i p (1 - p), floored at 1e-16 w_i
    w = (np.ones(k) if cw is None else cw)[y] * (1.0 if sw is None else sw)
    p = np.exp(log_softmax(z))
    expected = np.maximum(2.0 * w[:, None] * p * (1.0 - p), 1e-16 * w[:, None])
    np.testing.assert_allclose(hess, expected, rtol=1e-12, atol=1e-14)
    g_gen, h_gen = _general(obj, margin, y, sw)
    np.testing.assert_allclose(grad, g_gen, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hess, h_gen, rtol=1e-12, atol=1e-14)
    assert np.all(hess[w > 0] > 0) and np.all(hess[w == 0] == 0)


def test_softmax_fast_path_uses_the_hessian_factor(rng):
    n, k = 200, 4
    y, margin = rng.integers(0, k, n), rng.standard_normal((n, k))
    _, h2 = XGBObjective.multiclass().grad_hess(margin, y)
    _, h1 = XGBObjective.multiclass(hessian_factor=1.0).grad_hess(margin, y)
    np.testing.assert_allclose(h2, 2.0 * h1, rtol=1e-15)
    lgbm = pytest.importorskip("wce.lightgbm")
    _, hl = lgbm.LGBMObjective.multiclass().grad_hess(margin, y)
    np.testing.assert_allclose(hl, k / (k - 1) * h1, rtol=1e-15)


def test_fast_path_does_not_depend_on_blocks_or_threads(monkeypatch, rng):
    n, k = 5003, 7
    y2, y7 = (rng.random(n) < 0.3).astype(float), rng.integers(0, k, n)
    m2 = rng.standard_normal(n).astype(np.float32)
    m7 = rng.standard_normal((n, k)).astype(np.float32)
    sw = rng.uniform(0.5, 2.0, n)
    results = []
    for block, threads in [(1 << 16, 1), (1 << 16, 4), (100, 1), (100, 2), (7, 4), (1, 3)]:
        monkeypatch.setattr(gbdt_fast, "BLOCK_ELEMENTS", block)
        monkeypatch.setattr(gbdt_fast, "n_threads", lambda threads=threads: threads)
        results.append(XGBObjective.binary(pos_weight=3.0).grad_hess(m2, y2, sw)
                       + XGBObjective.multiclass(class_weight=np.arange(1.0, k + 1))
                       .grad_hess(m7, y7, sw))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_run_blocks_reraises_errors_from_helper_threads(monkeypatch):
    monkeypatch.setattr(gbdt_fast, "n_threads", lambda: 3)
    seen = []

    def block(start, stop):
        seen.append((start, stop))
        if start == 40:
            raise RuntimeError("boom")
        return True

    with pytest.raises(RuntimeError, match="boom"):
        gbdt_fast.run_blocks(100, 10, block)
    assert gbdt_fast.run_blocks(95, 10, lambda s, e: seen.append((s, e)) or True)
    assert sorted(seen[-10:]) == [(s, min(s + 10, 95)) for s in range(0, 95, 10)]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("multiclass", [False, True])
def test_non_finite_margins_raise_the_reference_error(bad, multiclass, blocks, rng):
    n = 300
    if multiclass:
        obj, y = XGBObjective.multiclass(), rng.integers(0, 3, n)
        margin = rng.standard_normal((n, 3))
        margin[n - 2, 1] = bad
    else:
        obj, y = XGBObjective.binary(), rng.integers(0, 2, n)
        margin = rng.standard_normal(n)
        margin[n - 2] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        obj.grad_hess(margin, y)
    d = xgb.DMatrix(np.zeros((n, 1)), label=y)
    with pytest.raises(ValueError, match="NaN or infinite"):
        obj(margin.astype(np.float32), d)


def test_other_losses_and_parameters_use_the_reference(rng):
    n, k = 50, 3
    y = rng.integers(0, k, n)
    margin = rng.standard_normal((n, k))
    for obj in (XGBObjective.focal_multiclass(gamma=2.0),
                XGBObjective.cost_sensitive(cost_matrix=1.0 - np.eye(k)),
                XGBObjective("cross_entropy", multiclass=True, label_smoothing=0.1),
                XGBObjective.focal_binary()):
        m = margin if obj.multiclass else margin[:, 0]
        yy = y if obj.multiclass else (y > 0).astype(float)
        assert obj._fast_grad_hess(m, yy, None) is None
    smoothed = XGBObjective("cross_entropy", multiclass=True, label_smoothing=0.1)
    grad, _ = smoothed.grad_hess(margin, y)
    _, expected = value_and_grad(weighted_cross_entropy, margin, y, label_smoothing=0.1,
                                 reduction="sum")
    np.testing.assert_allclose(grad, expected, rtol=1e-12)
    # margins of another shape or dtype, labels out of range: the reference judges them
    obj = XGBObjective.multiclass(class_weight=[1.0, 2.0, 3.0])
    assert obj._fast_grad_hess(margin.astype(np.float16), y, None) is None
    assert obj._fast_grad_hess(margin[:, :2], y, None) is None  # 3 class weights, 2 columns
    with pytest.raises(ValueError, match="class_weight"):
        obj.grad_hess(np.zeros((n, 4)), y)
    assert XGBObjective.binary()._fast_grad_hess(margin, (y > 0).astype(float), None) is None
    assert XGBObjective.binary()._fast_grad_hess(margin[:, 0], np.full(n, 0.5), None) is None


@pytest.mark.parametrize("k", [2, 5])
def test_xgboost_callback_hands_over_float32_of_the_float64_result(k, rng):
    n = 400
    X = rng.normal(size=(n, 3))
    y = rng.integers(0, k, n)
    sw = rng.uniform(0.5, 2.0, n)
    d = xgb.DMatrix(X, label=y, weight=sw)
    obj = XGBObjective.binary(pos_weight=2.5) if k == 2 else XGBObjective.multiclass(
        class_weight=np.linspace(1.0, 3.0, k))
    margin = (rng.standard_normal((n, k) if k > 2 else n) * 3).astype(np.float32)
    grad, hess = obj(margin, d)
    prepared = obj._fast_cache
    obj(margin, d)
    assert obj._fast_cache is prepared  # labels and weights prepared once for this DMatrix
    g64, h64 = obj.grad_hess(margin, y, d.get_weight())
    assert grad.dtype == hess.dtype == np.float32 and grad.shape == margin.shape
    np.testing.assert_array_equal(grad, g64.astype(np.float32))
    np.testing.assert_array_equal(hess, h64.astype(np.float32))


def test_xgboost_training_matches_the_general_path(monkeypatch, rng):
    """Same trees with the fast path as with the reference path (binary: bitwise gradients)."""
    n = 1500
    X = rng.normal(size=(n, 4))
    y3 = np.digitize(X[:, 0] + 0.5 * rng.normal(size=n), [-0.5, 0.8])
    y2 = (y3 == 2).astype(float)
    sw = rng.uniform(0.5, 2.0, n)
    params = {"tree_method": "hist", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0,
              "disable_default_eval_metric": True}
    cases = [(XGBObjective.binary(pos_weight=4.0), y2, {}),
             (XGBObjective.multiclass(class_weight=[1.0, 2.0, 6.0]), y3, {"num_class": 3})]

    def train(obj, y, extra):
        d = xgb.DMatrix(X, label=y, weight=sw)
        base = obj.base_margin(y, sw)
        base = base.tolist() if isinstance(base, np.ndarray) else base
        booster = xgb.train({**params, **extra, "base_score": base}, d, 10, obj=obj)
        return booster.predict(xgb.DMatrix(X), output_margin=True)

    fast = [train(obj, y, extra) for obj, y, extra in cases]
    monkeypatch.setattr(_objective.Objective, "_fast_grad_hess", lambda self, *a, **k: None)
    general = [train(obj, y, extra) for obj, y, extra in cases]
    np.testing.assert_array_equal(fast[0], general[0])
    np.testing.assert_allclose(fast[1], general[1], rtol=1e-5, atol=1e-6)


def test_lightgbm_callback_gives_class_major_float32(rng):
    lgb = pytest.importorskip("lightgbm")
    from wce.lightgbm import LGBMObjective

    n, k = 300, 4
    y = rng.integers(0, k, n)
    data = lgb.Dataset(rng.normal(size=(n, 2)), label=y).construct()
    obj = LGBMObjective.multiclass(class_weight=[1.0, 2.0, 3.0, 4.0])
    # LightGBM hands margins over as an (n, K) Fortran-ordered view of class-major scores
    margin = np.asfortranarray(rng.standard_normal((n, k)))
    grad, hess = obj(margin, data)
    g64, h64 = obj.grad_hess(margin, y)
    np.testing.assert_array_equal(grad, g64.astype(np.float32))
    np.testing.assert_array_equal(hess, h64.astype(np.float32))
    flat = grad.ravel(order="F")  # what LightGBM does with it: no copy needed
    assert flat.dtype == np.float32 and np.shares_memory(flat, grad)


# --- state that must never go stale (found by review) -------------------------

def _multiclass_data(rng, n=2000):
    X = rng.normal(size=(n, 3))
    return X, np.digitize(X[:, 0], [-0.3, 0.9])


MULTI = {"max_depth": 3, "num_class": 3, "base_score": [0.0] * 3,
         "disable_default_eval_metric": True}


def test_class_weights_changed_on_the_same_objective_and_data_are_used(rng):
    X, y = _multiclass_data(rng)
    d = xgb.DMatrix(X, label=y)
    w = np.array([1.0, 2.0, 3.0])
    obj = XGBObjective.multiclass(class_weight=w)
    xgb.train(MULTI, d, 2, obj=obj)
    w[2] = 30.0  # edited in place after a first training
    got = xgb.train(MULTI, d, 3, obj=obj).predict(d, output_margin=True)
    fresh = xgb.train(MULTI, xgb.DMatrix(X, label=y), 3,
                      obj=XGBObjective.multiclass(class_weight=[1.0, 2.0, 30.0]))
    np.testing.assert_allclose(got, fresh.predict(d, output_margin=True), rtol=0, atol=1e-6)
    obj.params["class_weight"] = [1.0, 2.0, 3.0]  # or replaced in params
    again = xgb.train(MULTI, d, 3, obj=obj).predict(d, output_margin=True)
    first = xgb.train(MULTI, xgb.DMatrix(X, label=y), 3,
                      obj=XGBObjective.multiclass(class_weight=[1.0, 2.0, 3.0]))
    np.testing.assert_allclose(again, first.predict(d, output_margin=True), rtol=0, atol=1e-6)


def test_caller_arrays_refilled_between_calls_are_read_afresh(rng):
    n = 1000
    obj = XGBObjective.binary(pos_weight=3.0)
    y = (rng.random(n) < 0.3).astype(np.float64)
    sw, m = rng.uniform(0.5, 2, n), rng.normal(size=n)
    obj.grad_hess(m, y, sw, checked=True)
    y[:] = 1.0 - y  # the same buffers, refilled with the next batch
    sw *= 3.0
    g, h = obj.grad_hess(m, y, sw, checked=True)
    g_ref, h_ref = _general(obj, m, y, sw)
    np.testing.assert_array_equal(g, g_ref)
    np.testing.assert_array_equal(h, h_ref)


def test_set_label_and_set_weight_between_trainings_are_seen(rng):
    X = rng.normal(size=(2000, 3))
    y_a, y_b = (X[:, 0] > 0).astype(int), (X[:, 1] > 0.5).astype(int)
    params = {"max_depth": 3, "base_score": 0.0, "disable_default_eval_metric": True}
    obj = XGBObjective.binary(pos_weight=3.0)
    d = xgb.DMatrix(X, label=y_a)
    xgb.train(params, d, 2, obj=obj)
    d.set_label(y_b)
    got = xgb.train(params, d, 3, obj=obj).predict(d, output_margin=True)
    fresh = xgb.train(params, xgb.DMatrix(X, label=y_b), 3, obj=XGBObjective.binary(pos_weight=3.0))
    np.testing.assert_allclose(got, fresh.predict(d, output_margin=True), rtol=0, atol=1e-6)
    sw = rng.uniform(0.2, 3.0, len(y_b))
    d.set_weight(sw)
    got = xgb.train(params, d, 3, obj=obj).predict(d, output_margin=True)
    # A fresh objective on the same DMatrix (a new DMatrix built with weights would also
    # change XGBoost's weighted quantile sketch, hence the histogram bins).
    fresh = xgb.train(params, d, 3, obj=XGBObjective.binary(pos_weight=3.0))
    np.testing.assert_allclose(got, fresh.predict(d, output_margin=True), rtol=0, atol=1e-6)
    unweighted = xgb.train(params, xgb.DMatrix(X, label=y_b), 3,
                           obj=XGBObjective.binary(pos_weight=3.0))
    assert not np.allclose(got, unweighted.predict(d, output_margin=True), atol=1e-3)


def test_a_subclass_overriding_grad_hess_is_what_trains(rng):
    class Stiffer(XGBObjective):
        calls = 0

        def grad_hess(self, margin, labels, sample_weight=None, *, checked=False):
            Stiffer.calls += 1
            g, h = super().grad_hess(margin, labels, sample_weight, checked=checked)
            return g, 4.0 * h

    X = rng.normal(size=(1000, 3))
    y = (X[:, 0] > 0.5).astype(int)
    params = {"max_depth": 3, "base_score": 0.0, "disable_default_eval_metric": True}
    d = xgb.DMatrix(X, label=y)
    stiff = xgb.train(params, d, 5, obj=Stiffer.binary(pos_weight=2.0))
    plain = xgb.train(params, d, 5, obj=XGBObjective.binary(pos_weight=2.0))
    assert Stiffer.calls == 5
    assert not np.allclose(stiff.predict(d, output_margin=True), plain.predict(d, output_margin=True))
