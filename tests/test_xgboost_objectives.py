"""wce.xgboost: objectives against the NumPy reference, finite differences and XGBoost's built-ins."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

xgb = pytest.importorskip("xgboost")
pytest.importorskip("sklearn")

from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.class_weight import compute_class_weight  # noqa: E402

from wce.gbdt import _library, _objective  # noqa: E402
from wce.losses import (  # noqa: E402
    binary_cross_entropy,
    binary_focal_loss,
    cost_sensitive_cross_entropy,
    focal_loss,
    value_and_grad,
    value_grad_hess,
    weighted_cross_entropy,
)
from wce.xgboost import WeightedXGBClassifier, XGBObjective  # noqa: E402

COST = np.array([[0.0, 1.0, 4.0], [2.0, 0.0, 1.0], [8.0, 1.0, 0.0]])
OBJECTIVES = {
    "binary_pos_weight": (XGBObjective.binary(pos_weight=3.0), binary_cross_entropy,
                          {"pos_weight": 3.0}),
    "binary_class_weight": (XGBObjective.binary(class_weight=(0.5, 2.0)), binary_cross_entropy,
                            {"class_weight": (0.5, 2.0)}),
    "focal_binary": (XGBObjective.focal_binary(gamma=2.0, alpha=0.25), binary_focal_loss,
                     {"gamma": 2.0, "alpha": 0.25}),
    "multiclass": (XGBObjective.multiclass(class_weight=[1.0, 2.0, 5.0]), weighted_cross_entropy,
                   {"class_weight": [1.0, 2.0, 5.0]}),
    "focal_multiclass": (XGBObjective.focal_multiclass(gamma=1.5, alpha=[0.2, 0.3, 0.5]),
                         focal_loss, {"gamma": 1.5, "alpha": [0.2, 0.3, 0.5]}),
    "cost_sensitive": (XGBObjective.cost_sensitive(cost_matrix=COST), cost_sensitive_cross_entropy,
                       {"cost_matrix": COST}),
}


def _problem(obj, rng, n=40):
    if obj.multiclass:
        return rng.normal(size=(n, 3)) * 2, rng.integers(0, 3, n), rng.uniform(0.5, 2.0, n)
    return rng.normal(size=n) * 3, rng.integers(0, 2, n).astype(float), rng.uniform(0.5, 2.0, n)


def _summed(ref, kw, margin, y, sw):
    return ref(margin, y, sample_weight=sw, reduction="sum", **kw)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_gradient_matches_reference_and_finite_differences(name, rng):
    obj, ref, kw = OBJECTIVES[name]
    margin, y, sw = _problem(obj, rng)
    grad, hess = obj.grad_hess(margin, y, sw)
    if obj.multiclass:
        _, expected = value_and_grad(ref, margin, y, sample_weight=sw, reduction="sum", **kw)
    else:
        _, expected, _ = value_grad_hess(ref, margin, y, sample_weight=sw, reduction="sum", **kw)
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-12)
    h = 1e-6
    flat = margin.reshape(-1)
    fd = np.empty_like(flat)
    for i in range(flat.size):
        up, down = flat.copy(), flat.copy()
        up[i] += h
        down[i] -= h
        fd[i] = (_summed(ref, kw, up.reshape(margin.shape), y, sw)
                 - _summed(ref, kw, down.reshape(margin.shape), y, sw)) / (2 * h)
    np.testing.assert_allclose(grad.reshape(-1), fd, rtol=1e-5, atol=1e-6)
    assert hess.shape == margin.shape and np.all(hess > 0)


def test_binary_hessian_is_exact_second_derivative(rng):
    obj, ref, kw = OBJECTIVES["binary_pos_weight"]
    margin, y, sw = _problem(obj, rng)
    _, hess = obj.grad_hess(margin, y, sw)
    h = 1e-5
    g_up = value_grad_hess(ref, margin + h, y, sample_weight=sw, reduction="sum", **kw)[1]
    g_down = value_grad_hess(ref, margin - h, y, sample_weight=sw, reduction="sum", **kw)[1]
    np.testing.assert_allclose(hess, (g_up - g_down) / (2 * h), rtol=1e-6, atol=1e-9)


def test_multiclass_hessian_is_xgboost_softprob_diagonal(rng):
    """Diagonal of the softmax-CE Hessian, w p (1 - p), times XGBoost's factor 2."""
    obj, ref, kw = OBJECTIVES["multiclass"]
    margin, y, sw = _problem(obj, rng)
    _, hess = obj.grad_hess(margin, y, sw)
    h = 1e-5
    fd = np.empty_like(margin)
    for j in range(3):
        up, down = margin.copy(), margin.copy()
        up[:, j] += h
        down[:, j] -= h
        g_up = value_and_grad(ref, up, y, sample_weight=sw, reduction="sum", **kw)[1]
        g_down = value_and_grad(ref, down, y, sample_weight=sw, reduction="sum", **kw)[1]
        fd[:, j] = (g_up[:, j] - g_down[:, j]) / (2 * h)
    np.testing.assert_allclose(hess, 2.0 * fd, rtol=1e-6, atol=1e-9)
    _, hess1 = XGBObjective.multiclass(class_weight=kw["class_weight"], hessian_factor=1.0
                                       ).grad_hess(margin, y, sw)
    np.testing.assert_allclose(hess1, fd, rtol=1e-6, atol=1e-9)


def test_trap14_focal_hessian_is_positive_where_exact_is_negative():
    """TRAPS 14: the exact focal Hessian goes negative on badly misclassified points."""
    obj, ref, kw = OBJECTIVES["focal_binary"]
    margin = np.linspace(-12, 12, 97)
    for label in (0.0, 1.0):
        y = np.full_like(margin, label)
        _, _, exact = value_grad_hess(ref, margin, y, reduction="sum", **kw)
        _, hess = obj.grad_hess(margin, y)
        assert np.any(exact < 0)
        assert np.all(hess > 0)
        assert np.all(hess >= exact)
        # documented approximation: max(exact, w_t (1 - p_t)^gamma p (1 - p)), alpha = 0.25
        p = 1.0 / (1.0 + np.exp(-margin))
        w_t = 0.25 if label else 0.75
        modulated = w_t * (1.0 - (p if label else 1.0 - p)) ** 2 * p * (1.0 - p)
        np.testing.assert_allclose(hess, np.maximum(exact, np.maximum(modulated, 1e-16 * w_t)),
                                   rtol=1e-9, atol=1e-300)
    # gamma = 0 is plain weighted cross-entropy, Hessian included
    g0, h0 = XGBObjective.focal_binary(gamma=0.0, pos_weight=2.0).grad_hess(margin, y)
    g1, h1 = XGBObjective.binary(pos_weight=2.0).grad_hess(margin, y)
    np.testing.assert_allclose(g0, g1, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(h0, h1, rtol=1e-10, atol=1e-15)


def test_trap14_base_margin_is_weighted_prior_log_odds(rng):
    y = (rng.random(500) < 0.1).astype(int)
    sw = rng.uniform(0.5, 2.0, 500)
    base = XGBObjective.binary(pos_weight=4.0).base_margin(y, sw)
    expected = np.log(4.0 * sw[y == 1].sum() / sw[y == 0].sum())
    assert base == pytest.approx(expected, rel=1e-12)
    cw = np.array([1.0, 3.0, 0.5])
    y3 = rng.integers(0, 3, 500)
    base3 = XGBObjective.multiclass(class_weight=cw).base_margin(y3, sw)
    mass = np.bincount(y3, weights=sw * cw[y3])
    np.testing.assert_allclose(base3, np.log(mass) - np.log(mass).mean(), rtol=1e-12)
    np.testing.assert_allclose(_objective.softmax(base3), mass / mass.sum(), rtol=1e-12)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_trap14_base_margin_minimises_the_weighted_loss(name, rng):
    obj, _, _ = OBJECTIVES[name]
    _, y, sw = _problem(obj, rng, n=300)
    base = obj.base_margin(y, sw)
    margins = np.broadcast_to(base, (len(y),) + np.shape(base))
    grad, _ = obj.grad_hess(margins, y, sw)
    assert np.max(np.abs(grad.sum(axis=0))) < 1e-7 * sw.sum()


@given(st.lists(st.integers(0, 2), min_size=3, max_size=60),
       st.floats(0.1, 10.0), st.floats(0.1, 10.0))
def test_property_base_margin_scale_invariant_and_stationary(labels, w1, w2):
    y = np.array(labels)
    if len(np.unique(y)) < 2:
        y[:2] = [0, 1]
    obj = XGBObjective.multiclass(class_weight=[1.0, w1, w2])
    base = obj.base_margin(y)
    np.testing.assert_allclose(obj.base_margin(y, np.full(len(y), 7.0)), base, atol=1e-9)
    present = np.bincount(y, minlength=3) > 0
    grad, _ = obj.grad_hess(np.tile(base, (len(y), 1)), y)
    assert np.max(np.abs(grad.sum(0)[present])) < 1e-6 * len(y)


# ---------------------------------------------------------------------------------------------
# training against XGBoost's built-in objectives
# ---------------------------------------------------------------------------------------------

COMMON = {"tree_method": "hist", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0}


def _binary_data(rng, n=1500):
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + rng.normal(size=n) > 1.5).astype(float)
    return X, y


def test_binary_objective_matches_scale_pos_weight(rng):
    """Same trees as binary:logistic + scale_pos_weight when both start at the weighted prior."""
    X, y = _binary_data(rng)
    pw = float((y == 0).sum() / (y == 1).sum())
    obj = XGBObjective.binary(pos_weight=pw)
    base = obj.base_margin(y)
    d = xgb.DMatrix(X, label=y)
    custom = xgb.train({**COMMON, "base_score": base, "disable_default_eval_metric": True},
                       d, 15, obj=obj)
    native = xgb.train({**COMMON, "objective": "binary:logistic", "scale_pos_weight": pw,
                        "base_score": float(1 / (1 + np.exp(-base)))}, d, 15)
    np.testing.assert_allclose(obj.predict_proba(custom.predict(d, output_margin=True)),
                               native.predict(d), atol=1e-6)
    # XGBoost's own intercept estimate for this objective is the same weighted prior
    auto = xgb.train({**COMMON, "objective": "binary:logistic", "scale_pos_weight": pw}, d, 1)
    fitted = json.loads(json.loads(auto.save_config())["learner"]["learner_model_param"]
                        ["base_score"])
    assert np.ravel(fitted)[0] == pytest.approx(1 / (1 + np.exp(-base)), abs=1e-5)


def test_multiclass_objective_matches_softprob_with_sample_weights(rng):
    """class_weight inside the objective == softprob with per-sample weights s·w[y].

    The features are discretised so that every distinct value gets its own histogram bin:
    XGBoost's quantile sketch is weighted by the DMatrix weights, which the objective's class
    weights never reach, so with continuous features the bin edges (not the boosting) differ.
    """
    n = 1500
    X = np.round(rng.normal(size=(n, 4)), 1)
    y = np.minimum((X[:, 1] + rng.normal(size=n) * 0.5 > 0).astype(int) + (X[:, 2] > 1), 2)
    sw = rng.uniform(0.5, 2.0, n)
    cw = np.array([1.0, 2.0, 5.0])
    obj = XGBObjective.multiclass(class_weight=cw)
    base = obj.base_margin(y, sw).tolist()
    params = {**COMMON, "num_class": 3, "base_score": base}
    custom = xgb.train({**params, "disable_default_eval_metric": True},
                       xgb.DMatrix(X, label=y, weight=sw), 15, obj=obj)
    native = xgb.train({**params, "objective": "multi:softprob"},
                       xgb.DMatrix(X, label=y, weight=sw * cw[y]), 15)
    d = xgb.DMatrix(X)
    np.testing.assert_allclose(obj.predict_proba(custom.predict(d, output_margin=True)),
                               native.predict(d), atol=1e-6)


def test_trap14_custom_objective_starts_from_base_score_margin(rng):
    """Without base_score XGBoost starts a custom objective at margin 0.5 (p = 0.62)."""
    X, y = _binary_data(rng, n=300)
    obj = XGBObjective.binary()
    d = xgb.DMatrix(X, label=y)
    frozen = {**COMMON, "eta": 0.0}
    untouched = xgb.train(frozen, d, 1, obj=obj).predict(d, output_margin=True)
    np.testing.assert_allclose(untouched, 0.5)
    base = obj.base_margin(y)
    started = xgb.train({**frozen, "base_score": base}, d, 1, obj=obj)
    np.testing.assert_allclose(started.predict(d, output_margin=True), base, rtol=1e-6)
    np.testing.assert_allclose(obj.predict_proba(base), y.mean(), rtol=1e-6)


def test_trap14_multiclass_custom_predict_returns_classes_not_probabilities(rng):
    """xgboost#11373: with num_class and a custom objective, predict() gives class indices."""
    X, _ = _binary_data(rng, n=300)
    y = rng.integers(0, 3, 300)
    obj = XGBObjective.multiclass()
    d = xgb.DMatrix(X, label=y)
    booster = xgb.train({**COMMON, "num_class": 3, "base_score": obj.base_margin(y).tolist()},
                        d, 3, obj=obj)
    plain = booster.predict(d)
    assert plain.ndim == 1 and set(np.unique(plain)) <= {0.0, 1.0, 2.0}
    proba = obj.predict_proba(booster.predict(d, output_margin=True))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(np.argmax(proba, axis=1), plain)


def test_metric_is_reference_weighted_mean_and_drives_early_stopping(rng):
    X, y = _binary_data(rng, n=800)
    sw = rng.uniform(0.5, 2.0, 800)
    obj = XGBObjective.binary(pos_weight=5.0)
    margin = rng.normal(size=800)
    d = xgb.DMatrix(X, label=y, weight=sw)
    name, value = obj.metric(margin, d)
    assert name == "weighted_logloss"
    stored = d.get_weight()  # XGBoost keeps weights in float32
    assert value == pytest.approx(binary_cross_entropy(margin, y, pos_weight=5.0,
                                                       sample_weight=stored,
                                                       reduction="weighted_mean"), rel=1e-12)
    history: dict = {}
    train, valid = xgb.DMatrix(X[:600], label=y[:600]), xgb.DMatrix(X[600:], label=y[600:])
    xgb.train({**COMMON, "base_score": obj.base_margin(y[:600]),
               "disable_default_eval_metric": True}, train, 5, obj=obj,
              evals=[(valid, "valid")], custom_metric=obj.metric, evals_result=history,
              verbose_eval=False)
    assert list(history["valid"]) == ["weighted_logloss"] and len(history["valid"]["weighted_logloss"]) == 5


# ---------------------------------------------------------------------------------------------
# scikit-learn estimator
# ---------------------------------------------------------------------------------------------


def test_classifier_binary_matches_objective_and_labels(rng):
    X, y01 = _binary_data(rng, n=600)
    y = np.where(y01 == 1, "rare", "common")
    clf = WeightedXGBClassifier(class_weight="balanced", n_estimators=8, max_depth=3, n_jobs=1)
    clf.fit(X, y)
    assert clf.classes_.tolist() == ["common", "rare"]
    pw = (y01 == 0).sum() / (y01 == 1).sum()
    assert clf.init_margin_ == pytest.approx(np.log(pw * (y01 == 1).sum() / (y01 == 0).sum()))
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-clf.decision_function(X))), rtol=1e-6)
    assert set(clf.predict(X)) <= {"common", "rare"}
    # balanced weights lift the rare class's recall above the unweighted model's
    plain = WeightedXGBClassifier(n_estimators=8, max_depth=3, n_jobs=1).fit(X, y)
    rare = y == "rare"
    assert (clf.predict(X)[rare] == "rare").mean() > (plain.predict(X)[rare] == "rare").mean()


@pytest.mark.parametrize("loss", ["cross_entropy", "focal", "cost_sensitive"])
def test_classifier_multiclass_losses_in_pipeline_and_cross_val(loss, rng):
    X = rng.normal(size=(300, 4))
    y = np.digitize(X[:, 0] + 0.3 * rng.normal(size=300), [-0.5, 1.0])
    clf = WeightedXGBClassifier(loss=loss, class_weight="balanced", cost_matrix=COST,
                                n_estimators=5, max_depth=2, n_jobs=1)
    scores = cross_val_score(make_pipeline(StandardScaler(), clf), X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)
    fitted = clf.fit(X, y)
    proba = fitted.predict_proba(X)
    assert proba.shape == (300, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_classifier_get_set_params_and_early_stopping(rng):
    X, y = _binary_data(rng, n=800)
    clf = WeightedXGBClassifier(n_estimators=200, learning_rate=0.5, early_stopping_rounds=3,
                                n_jobs=1, params={"max_depth": 2})
    assert clf.get_params()["early_stopping_rounds"] == 3
    clf.set_params(class_weight={0.0: 1.0, 1.0: 4.0}, loss="focal", gamma=1.0)
    clf.fit(X[:600], y[:600], eval_set=[(X[600:], y[600:])])
    assert clf.booster_.best_iteration < 199
    assert clf.predict_proba(X).shape == (800, 2)


def test_sklearn_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(WeightedXGBClassifier(n_estimators=3, n_jobs=1), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results
              if r["status"] == "failed"
              # XGBoost computes in float32: weighted and repeated rows agree to float32
              # rounding (3e-8 here), not to the check's atol of 1e-9; checked below at 1e-6.
              and r["check_name"] != "check_sample_weight_equivalence_on_dense_data"]
    assert failed == []


def test_sample_weight_equals_repeated_rows_to_float32_rounding(rng):
    X = rng.normal(size=(60, 4))
    y = rng.integers(0, 3, size=60)
    sw = rng.integers(0, 3, size=60)
    clf = WeightedXGBClassifier(n_estimators=3, n_jobs=1)
    weighted = clf.fit(X, y, sample_weight=sw).decision_function(X)
    repeated = clf.fit(np.repeat(X, sw, axis=0), np.repeat(y, sw)).decision_function(X)
    np.testing.assert_allclose(weighted, repeated, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------


def test_bad_labels_and_weights_raise_clear_errors():
    obj = XGBObjective.multiclass(class_weight=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"integer class indices in \[0, 2\]. Got \[3.0\]"):
        obj.grad_hess(np.zeros((3, 3)), np.array([0, 1, 3]))
    with pytest.raises(ValueError, match=r"Got \[-1.0\]"):
        obj.base_margin(np.array([0, -1, 2]))
    with pytest.raises(ValueError, match=r"integer class indices in \[0, 1\]. Got \[0.5\]"):
        XGBObjective.binary().grad_hess(np.zeros(2), np.array([0.0, 0.5]))
    with pytest.raises(ValueError, match=r"one weight per sample \(3\). Got shape \(2,\)"):
        obj.grad_hess(np.zeros((3, 3)), np.array([0, 1, 2]), np.ones(2))
    d = xgb.DMatrix(np.zeros((3, 1)), label=[0, 1, 4])
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\]"):
        obj(np.zeros((3, 3)), d)


def test_trap1_and_trap12_bad_parameters_raise():
    with pytest.raises(ValueError, match="alpha.*range \\[0, 1\\]. Got 9.*pos_weight"):
        XGBObjective.binary(alpha=9)
    with pytest.raises(ValueError, match="per-class vector.*TRAPS 12"):
        XGBObjective.focal_multiclass(alpha=0.25)
    with pytest.raises(ValueError, match="multiclass only"):
        XGBObjective("cost_sensitive", multiclass=False, cost_matrix=COST)
    with pytest.raises(ValueError, match="must be one of 'cross_entropy'"):
        XGBObjective("hinge", multiclass=True)
    with pytest.raises(ValueError, match="cost_matrix"):
        WeightedXGBClassifier(loss="cost_sensitive").fit(np.zeros((4, 1)), [0, 1, 2, 0])


def test_class_weight_as_dict_array_or_scheme_resolves_to_the_same_objective(rng):
    """One resolver (wce.weights.resolve_class_weight) for the objectives and the classifier."""
    by_index = XGBObjective.multiclass(class_weight={2: 5.0, 0: 1.0, 1: 2.0})
    assert by_index.params["class_weight"].tolist() == [1.0, 2.0, 5.0]
    assert XGBObjective.focal_multiclass(alpha={0: 0.2, 1: 0.8}).params["alpha"].tolist() == [0.2, 0.8]
    assert XGBObjective.binary(class_weight={1: 3.0, 0: 1.0}).params["class_weight"].tolist() == [1, 3]
    with pytest.raises(ValueError, match=r"The 'class_weight' parameter of wce.xgboost objective "
                                         r"must be a dict with the class indices 0\.\.K-1"):
        XGBObjective.multiclass(class_weight={0: 1.0, 2: 5.0})
    with pytest.raises(ValueError, match=r"'class_weight' parameter of wce.xgboost objective is the "
                                         r"scheme 'balanced'.*class_weights\(y, scheme='balanced'\)"):
        XGBObjective.binary(class_weight="balanced")
    X, y = _binary_data(rng, n=400)
    labels = np.where(y == 1, "rare", "common")
    balanced = compute_class_weight("balanced", classes=np.array(["common", "rare"]), y=labels)
    fits = [WeightedXGBClassifier(class_weight=cw, n_estimators=3, n_jobs=1).fit(X, labels)
            for cw in ("balanced", dict(zip(["common", "rare"], balanced)), balanced)]
    for clf in fits:
        np.testing.assert_allclose(clf.objective_.params["class_weight"], balanced, rtol=1e-12)
    np.testing.assert_allclose(fits[0].predict_proba(X), fits[1].predict_proba(X))
    with pytest.raises(ValueError, match=r"The 'class_weight' parameter of WeightedXGBClassifier "
                                         r"must have an entry for every class\. Got no entry for "
                                         r"class\(es\) \['rare'\] instead"):
        WeightedXGBClassifier(class_weight={"common": 1.0}).fit(X, labels)
    with pytest.raises(ValueError, match=r"The 'class_weight' parameter of WeightedXGBClassifier "
                                         r"must be None, a dict.*Got 'balance' instead"):
        WeightedXGBClassifier(class_weight="balance").fit(X, labels)
    with pytest.raises(ValueError, match=r"one weight per class \(2\)\. Got shape \(3,\)"):
        WeightedXGBClassifier(class_weight=[1.0, 2.0, 3.0]).fit(X, labels)


def test_unsupported_xgboost_version_raises(monkeypatch):
    monkeypatch.setattr(xgb, "__version__", "2.1.4")
    with pytest.raises(ImportError, match=r"wce.xgboost needs xgboost >= 3.1. Found xgboost "
                                          r"2.1.4.*pip install -U 'xgboost>=3.1'"):
        _library.check_version(xgb, (3, 1), what="wce.xgboost")
    monkeypatch.delitem(sys.modules, "wce.xgboost")
    with pytest.raises(ImportError, match="xgboost >= 3.1"):
        import wce.xgboost  # noqa: F401


def test_multiclass_objective_refuses_a_single_margin_column():
    obj = XGBObjective.multiclass()
    for call in (lambda: obj.grad_hess(np.zeros((4, 1)), [0, 0, 0, 0]),
                 lambda: obj.value(np.zeros((4, 1)), [0, 0, 0, 0])):
        with pytest.raises(ValueError, match=r"K >= 2 columns.*Got shape \(4, 1\).*"
                                             r"XGBObjective.binary"):
            call()


def test_classifier_accepts_every_xgbclassifier_keyword(rng):
    import inspect

    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    X, y = _binary_data(rng, n=400)
    # every keyword the native classifier names is accepted and listed by get_params
    native = [k for k, p in inspect.signature(xgb.XGBModel.__init__).parameters.items()
              if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
              and k not in ("self", "objective")]
    clf = WeightedXGBClassifier(**{k: None for k in native})
    assert set(native) <= set(clf.get_params())
    clf = WeightedXGBClassifier(n_estimators=8, n_jobs=1, subsample=0.7, colsample_bytree=0.5,
                                min_child_weight=3, reg_lambda=2.0)
    copy = clone(clf)
    assert copy.get_params()["subsample"] == 0.7 and copy.get_params()["min_child_weight"] == 3
    assert "subsample=0.7" in repr(copy)
    # the keywords reach the booster: same model as with params={...}
    as_params = WeightedXGBClassifier(n_estimators=8, n_jobs=1, params={
        "subsample": 0.7, "colsample_bytree": 0.5, "min_child_weight": 3, "reg_lambda": 2.0})
    np.testing.assert_allclose(clf.fit(X, y).predict_proba(X), as_params.fit(X, y).predict_proba(X))
    plain = WeightedXGBClassifier(n_estimators=8, n_jobs=1).fit(X, y)
    assert not np.allclose(plain.predict_proba(X), clf.predict_proba(X))
    # set_params of a keyword, and None restores the library default
    clf.set_params(subsample=None, colsample_bytree=None, min_child_weight=None, reg_lambda=None)
    np.testing.assert_allclose(clf.fit(X, y).predict_proba(X), plain.predict_proba(X))
    # fitted attributes of the native classifier
    assert clf.feature_importances_.shape == (X.shape[1],)
    np.testing.assert_allclose(clf.feature_importances_.sum(), 1.0, rtol=1e-6)
    assert clf.n_features_in_ == X.shape[1] and clf.classes_.tolist() == [0.0, 1.0]
    weight = clf.set_params(importance_type="weight").feature_importances_
    assert not np.allclose(weight, plain.feature_importances_)
    grid = GridSearchCV(WeightedXGBClassifier(n_estimators=5, n_jobs=1),
                        {"subsample": [0.6, 1.0], "max_depth": [2, 4]}, cv=3).fit(X, y)
    assert grid.best_params_["subsample"] in (0.6, 1.0) and len(grid.cv_results_["params"]) == 4
    assert grid.best_estimator_.get_params()["subsample"] == grid.best_params_["subsample"]
    scores = cross_val_score(WeightedXGBClassifier(n_estimators=5, n_jobs=1, subsample=0.8,
                                                   class_weight="balanced"),
                             X, y, cv=3, scoring="balanced_accuracy")
    assert scores.shape == (3,) and np.all(scores > 0.5)


def test_classifier_best_iteration_and_wrapper_keywords(rng):
    X, y = _binary_data(rng, n=600)
    clf = WeightedXGBClassifier(n_estimators=200, learning_rate=0.5, early_stopping_rounds=3,
                                n_jobs=1, missing=-999.0, callbacks=[])
    clf.fit(X[:400], y[:400], eval_set=[(X[400:], y[400:])])
    assert clf.best_iteration == clf.best_iteration_ < 199
    assert np.isfinite(clf.best_score)
    assert clf.get_booster() is clf.booster_
    with pytest.raises(AttributeError):
        WeightedXGBClassifier(n_estimators=3).fit(X, y).best_iteration
    with pytest.raises(ValueError, match=r"sets the objective itself.*'objective'.*loss="):
        WeightedXGBClassifier(objective="binary:logistic").fit(X, y)


def test_objective_in_native_xgbclassifier_trains_like_the_wrapper(rng):
    """xgboost.XGBClassifier calls obj(y_true, y_pred[, sample_weight=w]): same model as
    WeightedXGBClassifier when started from the same base_score."""
    X, y = _binary_data(rng, n=500)
    sw = rng.uniform(0.5, 2.0, len(y))
    common = {"n_estimators": 10, "n_jobs": 1, "tree_method": "hist", "learning_rate": 0.1,
              "random_state": 0}
    # trivial weighting: the built-in binary:logistic, from the same start
    plain = xgb.XGBClassifier(objective=XGBObjective.binary(), base_score=0.3, **common).fit(X, y)
    builtin = xgb.XGBClassifier(objective="binary:logistic", base_score=0.3, **common).fit(X, y)
    np.testing.assert_allclose(plain.predict_proba(X), builtin.predict_proba(X), atol=1e-6)
    # weighted binary, with sample weights (passed as sample_weight=)
    ours = WeightedXGBClassifier(class_weight=(1.0, 3.0), n_estimators=10, n_jobs=1,
                                 learning_rate=0.1).fit(X, y, sample_weight=sw)
    start = float(1.0 / (1.0 + np.exp(-ours.init_margin_)))  # binary:logistic takes a probability
    native = xgb.XGBClassifier(objective=XGBObjective.binary(pos_weight=3.0), base_score=start,
                               **common).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(native.predict_proba(X), ours.predict_proba(X), atol=1e-6)
    # multiclass: XGBoost hands (n, K) margins
    y3 = np.minimum((X[:, 1] > 0).astype(int) + (X[:, 2] > 1), 2)
    ours = WeightedXGBClassifier(class_weight=[1.0, 2.0, 5.0], n_estimators=10, n_jobs=1,
                                 learning_rate=0.1).fit(X, y3)
    native = xgb.XGBClassifier(objective=XGBObjective.multiclass(class_weight=[1.0, 2.0, 5.0]),
                               base_score=ours.init_margin_.tolist(), **common).fit(X, y3)
    np.testing.assert_allclose(native.predict_proba(X), ours.predict_proba(X), atol=1e-6)
    # the arrays form checks its labels like the DMatrix form
    with pytest.raises(ValueError, match="integer class indices"):
        XGBObjective.binary()(np.array([0.0, 2.0]), np.zeros(2))
