"""wce.sklearn: ClassWeightedClassifier and sample_weight against scikit-learn's own weighting."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight  # noqa: E402

from wce.sklearn import ClassWeightedClassifier, sample_weight, sample_weight_from_dict  # noqa: E402
from wce.weights import class_weights  # noqa: E402


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3,
                               weights=[0.75, 0.18, 0.07], random_state=0)
    return X, y


@pytest.mark.parametrize("labels", [[0, 0, 0, 1, 2, 2], ["b", "a", "a", "a", "c"], [True, False, False]])
def test_sample_weight_equals_sklearn_balanced(labels):
    np.testing.assert_allclose(sample_weight(labels), compute_sample_weight("balanced", labels), rtol=1e-12)


def test_sample_weight_other_scheme_is_class_weight_of_each_label():
    y = np.array([2, 0, 0, 1, 0, 2, 0])
    w = class_weights(y, scheme="effective_number", beta=0.9, normalize="sum_to_k")
    np.testing.assert_allclose(
        sample_weight(y, scheme="effective_number", beta=0.9, normalize="sum_to_k"), w[y], rtol=1e-12
    )


def test_logistic_regression_balanced_equals_sklearn_class_weight_balanced(data):
    X, y = data
    ours = ClassWeightedClassifier(LogisticRegression(max_iter=500), scheme="balanced").fit(X, y)
    ref = LogisticRegression(max_iter=500, class_weight="balanced").fit(X, y)
    expected = compute_class_weight("balanced", classes=np.unique(y), y=y)
    assert ours.estimator_.class_weight == dict(zip(range(3), expected.tolist()))
    np.testing.assert_allclose(ours.estimator_.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-12)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    np.testing.assert_array_equal(ours.classes_, ref.classes_)


def test_logistic_regression_sample_weight_route_matches_class_weight_route(data):
    X, y = data
    by_cw = ClassWeightedClassifier(LogisticRegression(max_iter=2000, tol=1e-10), method="class_weight").fit(X, y)
    by_sw = ClassWeightedClassifier(LogisticRegression(max_iter=2000, tol=1e-10), method="sample_weight").fit(X, y)
    assert by_sw.estimator_.class_weight is None
    np.testing.assert_allclose(by_sw.estimator_.coef_, by_cw.estimator_.coef_, rtol=1e-4, atol=1e-6)


def test_svc_balanced_equals_sklearn_and_delegates_decision_function(data):
    X, y = data
    ours = ClassWeightedClassifier(SVC(), scheme="balanced").fit(X, y)
    ref = SVC(class_weight="balanced").fit(X, y)
    np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X), atol=1e-10)
    assert not hasattr(ours, "predict_proba")  # SVC(probability=False) has none: not faked


def test_gradient_boosting_gets_sample_weight(data):
    X, y = data
    gb = GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0)
    ours = ClassWeightedClassifier(gb, scheme="inverse_sqrt").fit(X, y)
    ref = clone(gb).fit(X, y, sample_weight=sample_weight(y, scheme="inverse_sqrt"))
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-12)
    unweighted = clone(gb).fit(X, y)
    assert not np.allclose(ours.predict_proba(X), unweighted.predict_proba(X))


def test_user_sample_weight_is_multiplied(data):
    X, y = data
    user = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    gb = GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0)
    ours = ClassWeightedClassifier(gb).fit(X, y, sample_weight=user)
    ref = clone(gb).fit(X, y, sample_weight=user * compute_sample_weight("balanced", y))
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-12)


def test_pipeline_last_step_receives_weights(data):
    X, y = data
    ours = ClassWeightedClassifier(make_pipeline(StandardScaler(), LogisticRegression())).fit(X, y)
    ref = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced")).fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-12)
    gb = make_pipeline(StandardScaler(), GradientBoostingClassifier(n_estimators=5, random_state=0))
    ours = ClassWeightedClassifier(gb).fit(X, y)
    ref = clone(gb).fit(X, y, gradientboostingclassifier__sample_weight=compute_sample_weight("balanced", y))
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-12)


def test_trap16_grid_search_over_schemes_fits_weights_on_training_folds_only(data):
    """TRAPS 16 (leakage): the weights in each fold come from that fold's training labels."""
    X, y = data
    seen = []

    class Recording(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            seen.append((len(y), dict(self.class_weight)))
            return super().fit(X, y, sample_weight=sample_weight)

    cv = KFold(n_splits=3, shuffle=True, random_state=0)  # unstratified: fold class mixes differ
    grid = GridSearchCV(
        ClassWeightedClassifier(Recording(max_iter=300)),
        {"scheme": ["balanced", "inverse_sqrt", "effective_number"], "normalize": ["none", "mean_one"]},
        cv=cv, scoring="balanced_accuracy",
    ).fit(X, y)
    assert grid.best_params_["scheme"] in ("balanced", "inverse_sqrt", "effective_number")
    assert len(grid.cv_results_["params"]) == 6
    fold_sizes = {len(train) for train, _ in cv.split(X, y)}
    # 6 candidates x 3 folds on training folds, then one refit on all data.
    assert [n for n, _ in seen[:-1]] and all(n in fold_sizes for n, _ in seen[:-1])
    assert seen[-1][0] == len(y)
    train0 = next(cv.split(X, y))[0]
    expected = class_weights(y[train0], scheme="balanced")
    assert any(np.allclose(list(w.values()), expected) for n, w in seen if n == len(train0))
    assert not np.allclose(expected, class_weights(y, scheme="balanced"))


def test_get_set_params_and_clone():
    clf = ClassWeightedClassifier(LogisticRegression(), scheme="effective_number", beta=0.99)
    params = clf.get_params()
    assert params["scheme"] == "effective_number" and params["beta"] == 0.99
    assert "estimator__C" in params
    clf.set_params(scheme="inverse", estimator__C=0.5)
    copy = clone(clf)
    assert copy.scheme == "inverse" and copy.estimator.C == 0.5


def test_string_labels_and_manual_scheme():
    X = np.arange(10.0).reshape(-1, 1)
    y = np.array(["neg"] * 7 + ["pos"] * 3)
    clf = ClassWeightedClassifier(LogisticRegression(), scheme="manual", manual={"neg": 1.0, "pos": 4.0}).fit(X, y)
    assert clf.class_weight_ == {"neg": 1.0, "pos": 4.0}
    assert set(clf.predict(X)) <= {"neg", "pos"}


def test_bad_method_and_incompatible_estimators(data):
    X, y = data
    with pytest.raises(ValueError, match="The 'method' parameter of ClassWeightedClassifier must be one of"):
        ClassWeightedClassifier(LogisticRegression(), method="both").fit(X, y)
    with pytest.raises(TypeError, match="neither a 'class_weight' parameter nor a 'sample_weight'"):
        ClassWeightedClassifier(KNeighborsClassifier()).fit(X, y)
    with pytest.raises(ValueError, match="has no 'class_weight' parameter. Use method='sample_weight'"):
        ClassWeightedClassifier(GradientBoostingClassifier(), method="class_weight").fit(X, y)
    with pytest.raises(ValueError, match="The 'scheme' parameter of ClassWeightedClassifier must "
                                         "be None, 'none' or one of"):
        ClassWeightedClassifier(LogisticRegression(), scheme="balance").fit(X, y)
    with pytest.raises(ValueError, match="takes 1-D class labels"):
        ClassWeightedClassifier(LogisticRegression()).fit(X, np.zeros((len(y), 2)))
    with pytest.raises(ValueError, match="missing values"):
        sample_weight(np.array(["a", None, "b"], dtype=object))


def test_sample_weight_from_dict_checks_the_weights_like_every_class_weight():
    y = np.array(["a", "b", "a", "c"])
    np.testing.assert_allclose(sample_weight_from_dict(y, {"a": 1.0, "b": 2.0, "c": 4.0, "d": 9.0}),
                               [1.0, 2.0, 1.0, 4.0])
    with pytest.raises(ValueError, match=r"The 'class_weight' parameter of sample_weight_from_dict "
                                         r"must have an entry for every class\. Got no entry for "
                                         r"class\(es\) \['c'\] instead"):
        sample_weight_from_dict(y, {"a": 1.0, "b": 2.0})
    with pytest.raises(ValueError, match=r"'class_weight' parameter of sample_weight_from_dict must "
                                         r"be non-negative"):
        sample_weight_from_dict(y, {"a": 1.0, "b": -2.0, "c": 1.0})


def test_unfitted_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        ClassWeightedClassifier(LogisticRegression()).predict(np.zeros((1, 2)))


def test_estimator_conventions_targets_features_and_sparse_input(data):
    """Checks scikit-learn's check_estimator makes (run in full once: only the documented
    sample_weight-equivalence check differs, because class counts are unweighted)."""
    X, y = data
    clf = ClassWeightedClassifier(LogisticRegression())
    with pytest.raises(ValueError, match="requires y to be passed"):
        clf.fit(X, None)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        clf.fit(X, y + 0.5)
    assert not hasattr(clf, "n_features_in_")
    assert clf.fit(X, y).n_features_in_ == X.shape[1]
    from scipy import sparse

    assert clf.__sklearn_tags__().input_tags.sparse
    np.testing.assert_allclose(ClassWeightedClassifier(LogisticRegression()).fit(sparse.csr_matrix(X), y)
                               .predict_proba(X), clf.predict_proba(X), atol=1e-6)
    assert not ClassWeightedClassifier(GradientBoostingClassifier()).__sklearn_tags__().input_tags.allow_nan


def test_docstring_examples_run():
    import doctest

    import wce.sklearn

    result = doctest.testmod(wce.sklearn, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("scheme", [None, "none", "None"])
def test_scheme_none_is_a_plain_unweighted_fit(data, scheme):
    X, y = data
    ours = ClassWeightedClassifier(LogisticRegression(max_iter=500), scheme=scheme).fit(X, y)
    ref = LogisticRegression(max_iter=500).fit(X, y)
    assert ours.class_weight_ is None and ours.estimator_.class_weight is None
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-12)
    # a sample_weight given to fit is still passed on, unchanged
    sw = np.linspace(0.5, 2.0, len(y))
    ours = ClassWeightedClassifier(GradientBoostingClassifier(n_estimators=5, random_state=0),
                                   scheme=scheme).fit(X, y, sample_weight=sw)
    ref = GradientBoostingClassifier(n_estimators=5, random_state=0).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-12)


def test_scheme_none_works_without_any_weight_support_and_refuses_unusable_sample_weight(data):
    X, y = data
    clf = ClassWeightedClassifier(KNeighborsClassifier(), scheme=None).fit(X, y)
    np.testing.assert_array_equal(clf.predict(X), KNeighborsClassifier().fit(X, y).predict(X))
    with pytest.raises(ValueError, match="takes no 'sample_weight'"):
        ClassWeightedClassifier(KNeighborsClassifier(), scheme=None).fit(X, y, sample_weight=np.ones(len(y)))


def test_grid_search_over_no_weighting_and_balanced(data):
    X, y = data
    cv = KFold(n_splits=3, shuffle=True, random_state=0)
    grid = GridSearchCV(ClassWeightedClassifier(LogisticRegression(max_iter=500)),
                        {"scheme": [None, "balanced"]}, cv=cv, scoring="balanced_accuracy").fit(X, y)
    assert [p["scheme"] for p in grid.cv_results_["params"]] == [None, "balanced"]
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    plain = GridSearchCV(LogisticRegression(max_iter=500), {"class_weight": [None, "balanced"]},
                         cv=cv, scoring="balanced_accuracy").fit(X, y)
    np.testing.assert_allclose(grid.cv_results_["mean_test_score"],
                               plain.cv_results_["mean_test_score"], atol=1e-12)


def test_unknown_scheme_is_refused_naming_the_choices(data):
    X, y = data
    with pytest.raises(ValueError, match=r"'scheme' parameter of ClassWeightedClassifier must be None"):
        ClassWeightedClassifier(LogisticRegression(), scheme="bogus").fit(X, y)
