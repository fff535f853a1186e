"""Metrics, statistics, the logreg model and methods of `wce compare`, against independent oracles."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import check_grad
from scipy.special import expit

from wce.experiments import statistics as S
from wce.experiments.methods import (COMMANDS, COMPARE_METHODS, LONG_TAIL_METHODS, METHODS, Options,
                                     get_method, parse_methods)
from wce.experiments.metrics import best_f1_threshold, expected_calibration_error, fold_metrics
from wce.experiments.models import LinearModel
from wce.losses import binary_cross_entropy, cost_sensitive_cross_entropy


def _scores(seed=0, n=400, pos=0.15):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < pos).astype(int)
    z = rng.normal(size=n) + 1.5 * y - 1.0
    return y, z


def naive_ece(y, p, n_bins=10):
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        inside = [(yi, pi) for yi, pi in zip(y, p) if lo <= pi < hi or (b == n_bins - 1 and pi == 1.0)]
        if inside:
            ys, ps = zip(*inside)
            total += len(inside) / len(y) * abs(sum(ys) / len(ys) - sum(ps) / len(ps))
    return total


def test_fold_metrics_match_scikit_learn_and_imbalanced_learn():
    from imblearn.metrics import geometric_mean_score
    from sklearn import metrics as M

    y, z = _scores()
    p = expit(z)
    for threshold in (0.5, 0.3):
        got = fold_metrics(y, z, threshold=threshold)
        pred = (p >= threshold).astype(int)
        assert got["precision"] == pytest.approx(M.precision_score(y, pred, zero_division=0))
        assert got["recall"] == pytest.approx(M.recall_score(y, pred))
        assert got["f1"] == pytest.approx(M.f1_score(y, pred))
        assert got["mcc"] == pytest.approx(M.matthews_corrcoef(y, pred))
        assert got["balanced_accuracy"] == pytest.approx(M.balanced_accuracy_score(y, pred))
        assert got["g_mean"] == pytest.approx(geometric_mean_score(y, pred))
    assert got["pr_auc"] == pytest.approx(M.average_precision_score(y, p))
    assert got["roc_auc"] == pytest.approx(M.roc_auc_score(y, p))
    assert got["brier"] == pytest.approx(M.brier_score_loss(y, p))
    assert got["ece"] == pytest.approx(naive_ece(y, p))
    assert math.isnan(got["brier_corrected"])


def test_no_positive_prediction_gives_zero_precision_not_nan():
    y = np.array([0, 0, 1, 1])
    got = fold_metrics(y, np.full(4, -5.0))
    assert got["precision"] == 0.0 and got["f1"] == 0.0 and got["mcc"] == 0.0


def test_trap15_prior_correction_shifts_logits_by_log_weight_ratio():
    """TRAPS 15: corrected probabilities are sigmoid(z - log(w_pos/w_neg))."""
    y, z = _scores(1)
    got = fold_metrics(y, z, log_weight_ratio=math.log(9.0))
    pc = expit(z - math.log(9.0))
    assert got["brier_corrected"] == pytest.approx(np.mean((pc - y) ** 2))
    assert got["ece_corrected"] == pytest.approx(naive_ece(y, pc))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1)), min_size=2, max_size=30))
def test_best_f1_threshold_beats_every_cut(pairs):
    y = np.array([a for a, _ in pairs])
    p = np.array([b for _, b in pairs])
    t = best_f1_threshold(y, p)

    def f1(thr):
        pred = p >= thr
        tp = np.sum(pred & (y == 1))
        return 2 * tp / (pred.sum() + y.sum()) if pred.sum() + y.sum() else 0.0

    best = max(f1(c) for c in np.unique(p))
    assert f1(t) == pytest.approx(best) or y.sum() == 0
    assert 0.0 <= expected_calibration_error(y, p) <= 1.0


def test_corrected_t_interval_formula():
    v = np.array([0.2, 0.4, 0.35, 0.3, 0.25])
    mean, low, high = S.corrected_t_interval(v, test_fraction=0.25)
    from scipy import stats

    half = stats.t.ppf(0.975, 4) * math.sqrt((1 / 5 + 0.25) * v.var(ddof=1))
    assert (mean, low, high) == pytest.approx((v.mean(), v.mean() - half, v.mean() + half))
    # Wider than the naive interval that treats folds as independent.
    naive = stats.t.ppf(0.975, 4) * v.std(ddof=1) / math.sqrt(5)
    assert half > naive


@pytest.mark.parametrize("k, q", [(2, 1.960), (3, 2.343), (5, 2.728), (10, 3.164)])
def test_nemenyi_critical_value_matches_demsar_table(k, q):
    """Demšar (2006), Table 5(a): q_0.05 for the Nemenyi test."""
    assert S.nemenyi_cd(k, 6) == pytest.approx(q * math.sqrt(k * (k + 1) / 36), abs=2e-3)


def test_holm_matches_step_down_definition():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    order = np.argsort(p)
    expected = np.empty(4)
    running = 0
    for i, j in enumerate(order):
        running = max(running, min(1, (4 - i) * p[j]))
        expected[j] = running
    assert S.holm(p) == pytest.approx(expected)


def test_mean_ranks_average_ties_and_respect_direction():
    table = np.array([[0.9, 0.8, 0.8], [0.5, 0.7, 0.6]])
    assert S.mean_ranks(table).tolist() == [2.0, 1.75, 2.25]
    assert S.mean_ranks(table, higher_is_better=False).tolist() == [2.0, 2.25, 1.75]
    stat, p = S.friedman(np.array([[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 3, 2]], dtype=float))
    assert 0 < p < 1


def _linear_data(n=600, seed=0, intercept=-2.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (rng.random(n) < expit(X @ np.array([1.0, -2.0, 0.5]) + intercept)).astype(int)
    return X, y


def test_logreg_plain_ce_is_sklearn_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    X, y = _linear_data()
    # the same minimiser (both solved tightly)...
    ours = LinearModel(C=0.5, tol=1e-10).fit(X, y, get_method("ce").plan(y, Options()))
    ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=1000).fit(X, y)
    assert ours.coef_ == pytest.approx(ref.coef_[0], abs=1e-6)
    assert ours.intercept_ == pytest.approx(ref.intercept_[0], abs=1e-6)
    # ...and by default the same stopping rule: L-BFGS with gtol = tol = 1e-4 on the mean loss
    ours = LinearModel(C=0.5).fit(X, y, get_method("ce").plan(y, Options()))
    ref = LogisticRegression(C=0.5).fit(X, y)
    assert ours.n_iter_ == ref.n_iter_[0]
    assert ours.coef_ == pytest.approx(ref.coef_[0], abs=1e-4)


def test_logreg_balanced_weights_are_sklearn_class_weight_balanced():
    """The weighted mean with balanced weights (mean weight 1) equals sklearn's weighted sum objective."""
    from sklearn.linear_model import LogisticRegression

    X, y = _linear_data(seed=1)
    ours = LinearModel(tol=1e-10).fit(X, y, get_method("wce-balanced").plan(y, Options()))
    ref = LogisticRegression(class_weight="balanced", tol=1e-10, max_iter=1000).fit(X, y)
    assert ours.coef_ == pytest.approx(ref.coef_[0], abs=1e-6)
    assert ours.intercept_ == pytest.approx(ref.intercept_[0], abs=1e-6)


@pytest.mark.parametrize("name", sorted(COMPARE_METHODS))
def test_logreg_objective_gradient_matches_finite_differences(name):
    method = METHODS[name]
    X, y = _linear_data(n=80, seed=2)
    model = LinearModel(C=2.0)
    theta = np.random.default_rng(3).normal(size=4) * 0.5
    plan = method.plan(y, Options())
    err = check_grad(lambda t: model.objective(t, X, y, plan)[0], lambda t: model.objective(t, X, y, plan)[1],
                     theta)
    assert err < 1e-5


def test_binary_cost_sensitive_is_weighted_ce_with_one_plus_costs():
    """The sample weights and prior correction used for cost_sensitive rest on this identity."""
    rng = np.random.default_rng(4)
    z, y = rng.normal(size=50), rng.integers(0, 2, 50)
    M = np.array([[0.0, 2.0], [7.0, 0.0]])
    a = cost_sensitive_cross_entropy(np.column_stack([np.zeros(50), z]), y, cost_matrix=M, reduction="sum")
    b = binary_cross_entropy(z, y, class_weight=(3.0, 8.0), reduction="sum")
    assert a == pytest.approx(b)
    plan = get_method("cost_sensitive").plan(y, Options(cost_fn=7.0, cost_fp=2.0))
    assert plan.log_weight_ratio == pytest.approx(math.log(8.0 / 3.0))


def test_trap15_weighted_logreg_intercept_moves_by_log_pos_weight():
    """King & Zeng: weighting by r shifts the fitted log-odds by log r; correction undoes it."""
    X, y = _linear_data(n=20000, seed=5)
    plain = LinearModel(C=1e4).fit(X, y, get_method("ce").plan(y, Options()))
    plan = get_method("pos_weight:5").plan(y, Options())
    weighted = LinearModel(C=1e4).fit(X, y, plan)
    assert plan.log_weight_ratio == pytest.approx(math.log(5))
    assert weighted.intercept_ - plan.log_weight_ratio == pytest.approx(plain.intercept_, abs=0.1)
    assert weighted.coef_ == pytest.approx(plain.coef_, abs=0.1)


def test_weight_schemes_come_from_training_labels():
    y = np.array([0] * 90 + [1] * 10)
    plan = get_method("wce-balanced").plan(y, Options())
    assert set(plan.sample_weight.tolist()) == {100 / 180, 100 / 20}
    assert get_method("pos_weight").plan(y, Options()).reduction == "mean_per_sample"
    assert get_method("logit_adjusted").plan(y, Options()).log_weight_ratio == pytest.approx(math.log(9))


def test_parse_methods_errors_and_expansions():
    assert [m.name for m in parse_methods("ce, smote")] == ["ce", "smote"]
    assert len(parse_methods("all")) == len(COMPARE_METHODS)
    assert [m.name for m in parse_methods("all", command="wce longtail")] == list(LONG_TAIL_METHODS)
    with pytest.raises(ValueError, match="Unknown method 'smoot'"):
        parse_methods("smoot")
    with pytest.raises(ValueError, match="pos_weight:R needs a positive number"):
        parse_methods("pos_weight:-1")
    with pytest.raises(ValueError, match="No method given"):
        parse_methods(" , ")


def test_every_method_parameter_is_an_option_of_each_command_that_runs_it():
    from wce.experiments.longtail import LongTailConfig

    options = {"wce compare": set(vars(Options())), "wce longtail": set(vars(LongTailConfig()))}
    for command, (names, default) in COMMANDS.items():
        assert set(default) <= set(names) <= set(METHODS)
        for name in names:
            missing = set(METHODS[name].parameters) - options[command]
            assert not missing, f"{name} reads {missing}, which {command} does not have"


def test_a_method_of_the_other_command_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"^Method 'balanced_softmax' does not run in wce compare \(it runs in "
                                         r"wce longtail\)\. Known: ce, ce\+threshold, .*pos_weight:R\.$"):
        parse_methods("ce,balanced_softmax")
    with pytest.raises(ValueError, match="has no binary form"):
        METHODS["ldam_drw"].plan(np.array([0, 1, 1]), Options())


def _wce_imports() -> dict:
    """``{module: {wce modules it imports}}`` over src/wce, function-level imports included."""
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1] / "src"
    modules = {}
    for path in (root / "wce").rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        package = parts[:-1]  # what a relative import of level 1 starts from
        modules[".".join(package if parts[-1] == "__init__" else parts)] = (path, package)
    graph = {}
    for name, (path, package) in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package[:len(package) - node.level + 1] if node.level else []
                prefix = ".".join(base + ([node.module] if node.module else []))
                targets = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in modules else prefix for a in node.names]
            else:
                continue
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def test_layers_import_downward_only_and_never_in_a_circle():
    """reporting imports nothing from experiments or cli; experiments nothing from cli; no cycles."""
    graph = _wce_imports()
    assert "wce.reporting.compare" in graph and "wce.experiments.longtail" in graph

    def inside(module, package):
        return module == package or module.startswith(package + ".")

    for module, imported in graph.items():
        if inside(module, "wce.reporting"):
            bad = {m for m in imported if inside(m, "wce.experiments") or m == "wce.cli"}
            assert not bad, f"{module} imports {sorted(bad)}"
        if inside(module, "wce.experiments"):
            assert "wce.cli" not in imported, f"{module} imports wce.cli"
    # Cycles (strongly connected components) through the experiment, reporting and cli layers.
    ours = [m for m in graph if inside(m, "wce.experiments") or inside(m, "wce.reporting") or m == "wce.cli"]

    def reachable(start):
        seen, stack = set(), [start]
        while stack:
            for nxt in graph[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    reach = {m: reachable(m) for m in graph}
    cycles = sorted(m for m in ours if m in reach[m])
    assert not cycles, f"import cycles through {cycles}: " + ", ".join(
        f"{m} -> {sorted(n for n in graph[m] if m in reach[n])}" for m in cycles)
