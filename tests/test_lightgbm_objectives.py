"""wce.lightgbm: objectives against the NumPy reference and LightGBM's built-in objectives."""

from __future__ import annotations

import copy
import pickle
import sys

import numpy as np
import pytest

lgb = pytest.importorskip("lightgbm")
pytest.importorskip("sklearn")

from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from wce.gbdt import _objective  # noqa: E402
from wce.lightgbm import LGBMObjective, WeightedLGBMClassifier  # noqa: E402
from wce.losses import binary_focal_loss, focal_loss, value_and_grad, value_grad_hess  # noqa: E402

COMMON = {"num_leaves": 7, "learning_rate": 0.3, "num_threads": 1, "verbose": -1,
          "deterministic": True, "force_row_wise": True, "seed": 0}


def _binary_data(rng, n=1200):
    X = rng.normal(size=(n, 4))
    return X, (X[:, 0] + rng.normal(size=n) > 1.5).astype(float)


def _multiclass_data(rng, n=1200):
    X = rng.normal(size=(n, 4))
    y = np.minimum((X[:, 1] + rng.normal(size=n) * 0.5 > 0).astype(int) + (X[:, 2] > 1), 2)
    return X, y


@pytest.mark.parametrize("native", [{"scale_pos_weight": "ratio"}, {"is_unbalance": True}])
def test_binary_objective_matches_scale_pos_weight_and_is_unbalance(native, rng):
    """Same model as objective='binary' with scale_pos_weight / is_unbalance from the same start.

    The built-in's boost_from_average would start at the *unweighted* prior log-odds, so it is
    switched off and both get the weighted prior as init_score.
    """
    X, y = _binary_data(rng)
    pw = float((y == 0).sum() / (y == 1).sum())
    native = {k: (pw if v == "ratio" else v) for k, v in native.items()}
    obj = LGBMObjective.binary(pos_weight=pw)
    init = obj.init_score(y)
    custom = lgb.train({**COMMON, "objective": obj, "metric": "None"},
                       lgb.Dataset(X, label=y, init_score=init), 15)
    builtin = lgb.train({**COMMON, "objective": "binary", "boost_from_average": False, **native},
                        lgb.Dataset(X, label=y, init_score=init), 15)
    base = obj.base_margin(y)
    np.testing.assert_allclose(obj.predict_proba(custom.predict(X, raw_score=True) + base),
                               obj.predict_proba(builtin.predict(X, raw_score=True) + base),
                               atol=1e-6)
    np.testing.assert_allclose(custom.predict(X, raw_score=True),
                               builtin.predict(X, raw_score=True), atol=1e-6)


def test_multiclass_objective_matches_builtin_with_sample_weights(rng):
    """class_weight in the objective == objective='multiclass' with weights s·w[y]; LightGBM's
    multiclass Hessian factor is K / (K - 1), the default here."""
    X, y = _multiclass_data(rng)
    sw = rng.uniform(0.5, 2.0, len(y))
    cw = np.array([1.0, 2.0, 5.0])
    obj = LGBMObjective.multiclass(class_weight=cw)
    init = obj.init_score(y, sw)
    custom = lgb.train({**COMMON, "objective": obj, "num_class": 3, "metric": "None"},
                       lgb.Dataset(X, label=y, weight=sw, init_score=init), 15)
    builtin = lgb.train({**COMMON, "objective": "multiclass", "num_class": 3,
                         "boost_from_average": False},
                        lgb.Dataset(X, label=y, weight=sw * cw[y], init_score=init), 15)
    np.testing.assert_allclose(custom.predict(X, raw_score=True),
                               builtin.predict(X, raw_score=True), atol=1e-6)
    margin = rng.normal(size=(5, 3))
    _, hess = obj.grad_hess(margin, y[:5], sw[:5])
    p = _objective.softmax(margin)
    np.testing.assert_allclose(hess, 1.5 * (sw[:5] * cw[y[:5]])[:, None] * p * (1 - p))


def test_focal_objectives_use_reference_gradients(rng):
    margin, y = rng.normal(size=50) * 3, rng.integers(0, 2, 50).astype(float)
    obj = LGBMObjective.focal_binary(gamma=2.0, alpha=0.25)
    grad, hess = obj.grad_hess(margin, y)
    _, expected, exact = value_grad_hess(binary_focal_loss, margin, y, gamma=2.0, alpha=0.25,
                                         reduction="sum")
    np.testing.assert_allclose(grad, expected, rtol=1e-12)
    assert np.all(hess > 0) and np.all(hess >= exact)
    m3, y3 = rng.normal(size=(50, 3)), rng.integers(0, 3, 50)
    obj3 = LGBMObjective.focal_multiclass(gamma=2.0, alpha=[0.2, 0.3, 0.5])
    grad3, hess3 = obj3.grad_hess(m3, y3)
    _, expected3 = value_and_grad(focal_loss, m3, y3, gamma=2.0, alpha=[0.2, 0.3, 0.5],
                                  reduction="sum")
    np.testing.assert_allclose(grad3, expected3, rtol=1e-12)
    assert np.all(hess3 > 0)


def test_focal_multiclass_trains_and_metric_tracks_it(rng):
    """LightGBM#3706 (no focal objective in LightGBM): the focal objective trains, and its
    metric, the reference focal loss, decreases on the training data."""
    X, y = _multiclass_data(rng, n=600)
    obj = LGBMObjective.focal_multiclass(gamma=2.0, alpha=[0.2, 0.3, 0.5])
    history: dict = {}
    train = lgb.Dataset(X, label=y, init_score=obj.init_score(y))
    lgb.train({**COMMON, "objective": obj, "num_class": 3, "metric": "None"}, train, 10,
              valid_sets=[train], valid_names=["train"], feval=obj.metric,
              callbacks=[lgb.record_evaluation(history)])
    curve = history["train"]["focal_loss"]
    assert len(curve) == 10 and curve[-1] < curve[0]
    start = obj.value(np.tile(obj.base_margin(y), (len(y), 1)), y)
    assert curve[0] < start


def test_trap14_predict_excludes_init_score_and_classifier_adds_it(rng):
    """LightGBM#3312: a custom objective starts at 0 without init_score, and predict() never
    includes the init_score; WeightedLGBMClassifier adds its start back."""
    X, y = _binary_data(rng, n=400)
    obj = LGBMObjective.binary(pos_weight=3.0)
    frozen = {**COMMON, "objective": obj, "learning_rate": 1e-12, "metric": "None"}
    no_init = lgb.train(frozen, lgb.Dataset(X, label=y), 1)
    np.testing.assert_allclose(no_init.predict(X, raw_score=True), 0.0, atol=1e-9)
    with_init = lgb.train(frozen, lgb.Dataset(X, label=y, init_score=obj.init_score(y)), 1)
    np.testing.assert_allclose(with_init.predict(X, raw_score=True), 0.0, atol=1e-9)
    clf = WeightedLGBMClassifier(class_weight={0.0: 1.0, 1.0: 3.0}, n_estimators=1,
                                 learning_rate=1e-12, params={"num_leaves": 3}).fit(X, y)
    expected = np.log(3.0 * (y == 1).sum() / (y == 0).sum())
    assert clf.init_margin_ == pytest.approx(expected)
    np.testing.assert_allclose(clf.decision_function(X), expected, atol=1e-9)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-expected)))


def test_objective_deepcopies_and_pickles_without_data(rng):
    X, y = _binary_data(rng, n=50)
    obj = LGBMObjective.binary(pos_weight=2.0)
    data = lgb.Dataset(X, label=y).construct()
    obj(np.zeros(50), data)
    assert obj._cache is not None
    for clone in (copy.deepcopy(obj), pickle.loads(pickle.dumps(obj))):
        assert clone._cache is None and clone.params == {"pos_weight": 2.0}
        np.testing.assert_allclose(clone(np.zeros(50), data)[0], obj(np.zeros(50), data)[0])


@pytest.mark.parametrize("loss", ["cross_entropy", "focal", "cost_sensitive"])
def test_classifier_pipeline_cross_val_and_early_stopping(loss, rng):
    X, y = _multiclass_data(rng, n=600)
    cost = np.array([[0, 1, 4], [2, 0, 1], [8, 1, 0]], dtype=float)
    clf = WeightedLGBMClassifier(loss=loss, class_weight="balanced", cost_matrix=cost,
                                 n_estimators=8, learning_rate=0.5, params={"num_leaves": 7},
                                 n_jobs=1)
    scores = cross_val_score(make_pipeline(StandardScaler(), clf), X, y, cv=3,
                             scoring="balanced_accuracy")
    assert np.all(scores > 0.4)  # chance is 1/3
    stopped = clf.set_params(n_estimators=300, learning_rate=0.5, early_stopping_rounds=3)
    stopped.fit(X[:450], y[:450], eval_set=[(X[450:], y[450:])])
    assert 0 < stopped.best_iteration_ < 300
    proba = stopped.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(stopped.predict(X), np.argmax(proba, axis=1))


def test_sklearn_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    est = WeightedLGBMClassifier(n_estimators=3, n_jobs=1,
                                 params={"min_child_samples": 1, "min_data_in_bin": 1})
    results = check_estimator(est, on_fail=None, expected_failed_checks={
        # LightGBM's min_child_samples counts rows, not weight: a weight of 2 is not 2 rows.
        "check_sample_weight_equivalence_on_dense_data": "LightGBM counts rows in leaves",
    })
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results
              if r["status"] == "failed"]
    assert failed == []


def test_bad_input_raises_clear_errors(rng):
    obj = LGBMObjective.multiclass()
    data = lgb.Dataset(np.zeros((3, 1)), label=[0, 1, 3]).construct()
    with pytest.raises(ValueError, match=r"integer class indices in \[0, 2\]. Got \[3.0\]"):
        obj(np.zeros((3, 3)), data)
    with pytest.raises(ValueError, match=r"one weight per sample \(3\). Got shape \(4,\)"):
        obj.grad_hess(np.zeros((3, 3)), [0, 1, 2], np.ones(4))
    with pytest.raises(ValueError, match="must be non-negative and not all zero"):
        obj.base_margin([0, 1, 2], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"hessian_factor.*range \(0, inf\]"):
        LGBMObjective.multiclass(hessian_factor=0.0)
    with pytest.raises(ValueError, match="at least 2 classes"):
        WeightedLGBMClassifier().fit(np.zeros((3, 1)), [1, 1, 1])


def test_unsupported_lightgbm_version_raises(monkeypatch):
    monkeypatch.setattr(lgb, "__version__", "3.3.5")
    monkeypatch.delitem(sys.modules, "wce.lightgbm")
    with pytest.raises(ImportError, match=r"wce.lightgbm needs lightgbm >= 4.0. Found lightgbm "
                                          r"3.3.5.*pip install -U 'lightgbm>=4.0'"):
        import wce.lightgbm  # noqa: F401


def test_multiclass_objective_refuses_a_single_margin_column():
    obj = LGBMObjective.multiclass()
    data = lgb.Dataset(np.zeros((4, 1)), label=[0, 0, 0, 0]).construct()
    for call in (lambda: obj.grad_hess(np.zeros((4, 1)), [0, 0, 0, 0]),
                 lambda: obj(np.zeros((4, 1)), data),
                 lambda: obj.value(np.zeros((4, 1)), [0, 0, 0, 0])):
        with pytest.raises(ValueError, match=r"K >= 2 columns.*Got shape \(4, 1\).*"
                                             r"LGBMObjective.binary"):
            call()


def test_classifier_accepts_every_lgbmclassifier_keyword(rng):
    import inspect

    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    X, y = _binary_data(rng, n=400)
    native = [k for k, p in inspect.signature(lgb.LGBMModel.__init__).parameters.items()
              if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
              and k not in ("self", "objective")]
    assert set(native) <= set(WeightedLGBMClassifier(**{k: None for k in native}).get_params())
    keywords = {"subsample": 0.7, "subsample_freq": 1, "colsample_bytree": 0.5,
                "min_child_samples": 5, "reg_lambda": 2.0, "num_leaves": 7}
    clf = WeightedLGBMClassifier(n_estimators=8, n_jobs=1, **keywords)
    copy = clone(clf)
    assert {k: copy.get_params()[k] for k in keywords} == keywords
    # LightGBM resolves the scikit-learn names: same model as the native names in params
    as_params = WeightedLGBMClassifier(n_estimators=8, n_jobs=1, params={
        "bagging_fraction": 0.7, "bagging_freq": 1, "feature_fraction": 0.5,
        "min_data_in_leaf": 5, "lambda_l2": 2.0, "num_leaves": 7})
    np.testing.assert_allclose(clf.fit(X, y).predict_proba(X), as_params.fit(X, y).predict_proba(X))
    plain = WeightedLGBMClassifier(n_estimators=8, n_jobs=1).fit(X, y)
    assert not np.allclose(plain.predict_proba(X), clf.predict_proba(X))
    clf.set_params(**{k: None for k in keywords})
    np.testing.assert_allclose(clf.fit(X, y).predict_proba(X), plain.predict_proba(X))
    assert clf.feature_importances_.shape == (X.shape[1],)
    np.testing.assert_array_equal(clf.feature_importances_, clf.booster_.feature_importance())
    gain = clf.set_params(importance_type="gain").feature_importances_
    np.testing.assert_allclose(gain, clf.booster_.feature_importance(importance_type="gain"))
    assert clf.n_features_in_ == X.shape[1] and clf.classes_.tolist() == [0.0, 1.0]
    grid = GridSearchCV(WeightedLGBMClassifier(n_estimators=5, n_jobs=1, subsample_freq=1),
                        {"subsample": [0.6, 1.0], "max_depth": [2, 4]}, cv=3).fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert grid.best_estimator_.get_params()["subsample"] == grid.best_params_["subsample"]
    scores = cross_val_score(WeightedLGBMClassifier(n_estimators=5, n_jobs=1, subsample=0.8,
                                                    subsample_freq=1, class_weight="balanced"),
                             X, y, cv=3, scoring="balanced_accuracy")
    assert scores.shape == (3,) and np.all(scores > 0.5)
    with pytest.raises(ValueError, match=r"sets the objective itself.*'objective'.*loss="):
        WeightedLGBMClassifier(objective="binary").fit(X, y)


def test_classifier_best_score_after_early_stopping(rng):
    X, y = _binary_data(rng, n=600)
    clf = WeightedLGBMClassifier(n_estimators=200, learning_rate=0.5, early_stopping_rounds=3,
                                 n_jobs=1, num_leaves=7)
    clf.fit(X[:400], y[:400], eval_set=[(X[400:], y[400:])])
    assert 0 < clf.best_iteration_ < 200
    assert np.isfinite(clf.best_score_["valid_0"]["weighted_logloss"])


def test_objective_in_native_lgbmclassifier_trains_like_the_wrapper(rng):
    """lightgbm.LGBMClassifier calls obj(y_true, y_pred, weight, group): same raw scores as
    WeightedLGBMClassifier when started from the same init_score."""
    X, y = _binary_data(rng, n=500)
    sw = rng.uniform(0.5, 2.0, len(y))
    common = {"n_estimators": 10, "n_jobs": 1, "verbose": -1, "random_state": 0}
    obj = LGBMObjective.binary(pos_weight=3.0)
    ours = WeightedLGBMClassifier(class_weight=(1.0, 3.0), n_estimators=10, n_jobs=1).fit(
        X, y, sample_weight=sw)
    native = lgb.LGBMClassifier(objective=obj, **common).fit(
        X, y, sample_weight=sw, init_score=obj.init_score(y, sw))
    raw = native.predict(X, raw_score=True) + obj.base_margin(y, sw)  # LightGBM#3312
    np.testing.assert_allclose(raw, ours.decision_function(X), atol=1e-9)
    y3 = np.minimum((X[:, 1] > 0).astype(int) + (X[:, 2] > 1), 2)
    obj = LGBMObjective.multiclass(class_weight=[1.0, 2.0, 5.0])
    ours = WeightedLGBMClassifier(class_weight=[1.0, 2.0, 5.0], n_estimators=10, n_jobs=1).fit(X, y3)
    native = lgb.LGBMClassifier(objective=obj, **common).fit(X, y3, init_score=obj.init_score(y3))
    raw = native.predict(X, raw_score=True) + obj.base_margin(y3)
    np.testing.assert_allclose(raw, ours.decision_function(X), atol=1e-9)
    # trivial weighting: the built-in binary objective, from the same start
    obj = LGBMObjective.binary()
    init = obj.init_score(y)
    custom = lgb.LGBMClassifier(objective=obj, **common).fit(X, y, init_score=init)
    builtin = lgb.LGBMClassifier(objective="binary", **common).fit(X, y, init_score=init)
    np.testing.assert_allclose(custom.predict(X, raw_score=True), builtin.predict(X, raw_score=True),
                               atol=1e-6)


@pytest.mark.parametrize("X_kind", ["too_few_rows", "constant"])
def test_no_usable_feature_predicts_the_best_constant_like_lgbmclassifier(X_kind, rng):
    """With no feature a split could use (fewer rows than 2 × min_child_samples, or constant
    columns) LightGBM drops every feature and fails on a custom objective ("Check failed:
    num_features() > 0") where LGBMClassifier predicts the prior: the wrapper trains and predicts
    its start, the weighted loss's best constant."""
    X = rng.normal(size=(30, 3)) if X_kind == "too_few_rows" else np.ones((30, 3))
    y = np.r_[np.zeros(21, dtype=int), np.ones(9, dtype=int)]
    native = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y).predict_proba(X)
    ours = WeightedLGBMClassifier(n_estimators=5).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(ours, native, rtol=1e-12)
    np.testing.assert_allclose(ours[:, 1], 9 / 30, rtol=1e-12)
    balanced = WeightedLGBMClassifier(n_estimators=5, class_weight="balanced").fit(X, y).predict_proba(X)
    np.testing.assert_allclose(balanced[:, 1], 0.5, rtol=1e-9)
    focal = WeightedLGBMClassifier(n_estimators=5, loss="focal", gamma=2.0).fit(X, y)
    z = focal.decision_function(X)
    assert np.ptp(z) == 0  # one constant
    grid = np.linspace(-3, 3, 6001)
    values = [binary_focal_loss(np.full(30, g), y, gamma=2.0) for g in grid]
    assert abs(z[0] - grid[int(np.argmin(values))]) < 2e-3
