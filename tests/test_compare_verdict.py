"""The per-data-set verdict of `wce compare`: paired corrected t-tests, Holm, the plain-language
answer, recommended.json, recalibration inside the training fold, and the plots."""

import json
import math
import re

import numpy as np
import pytest
from scipy import stats

from wce.cli import main
from wce.experiments import statistics as S
from wce.experiments import verdict as V
from wce.experiments.methods import METHODS, Options
from wce.experiments.metrics import fit_platt, recalibrated_metrics
from wce.experiments.models import recalibration_metrics
from wce.weights import class_weights

SMALL = "make_classification:n_samples=300,n_features=5,n_informative=3,weights=0.85,seed=1"


# --------------------------------------------------------------------------- statistics

@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5])
def test_corrected_paired_t_test_matches_an_independent_scipy_oracle(fraction):
    rng = np.random.default_rng(3)
    d = rng.normal(0.02, 0.05, size=10)  # 5 folds x 2 repeats
    got = S.corrected_paired_t_test(d, test_fraction=fraction)
    J = d.size
    se = math.sqrt((1 / J + fraction) * np.var(d, ddof=1))  # Nadeau & Bengio (2003)
    t = d.mean() / se
    low, high = stats.t.interval(0.95, J - 1, loc=d.mean(), scale=se)
    assert got["mean"] == pytest.approx(d.mean())
    assert got["t"] == pytest.approx(t)
    assert got["p"] == pytest.approx(2 * stats.t.sf(abs(t), J - 1))
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((low, high))
    assert got["df"] == J - 1
    if fraction == 0.0:  # without the correction it is the ordinary one-sample t-test
        assert got["p"] == pytest.approx(stats.ttest_1samp(d, 0.0).pvalue)


def test_corrected_paired_t_test_edge_cases():
    assert S.corrected_paired_t_test([0.0, 0.0, 0.0], test_fraction=0.5)["p"] == 1.0
    same = S.corrected_paired_t_test([0.1, 0.1, 0.1], test_fraction=0.5)
    assert same["p"] == 0.0 and same["ci_low"] == same["ci_high"] == pytest.approx(0.1)
    assert math.isnan(S.corrected_paired_t_test([0.1], test_fraction=0.5)["p"])
    assert S.corrected_paired_t_test([0.1, float("nan"), 0.3], test_fraction=0.5)["n"] == 2


def test_holm_matches_a_hand_computation_and_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> max so far 0.06
    np.testing.assert_allclose(S.holm(p), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(S.holm([0.5, float("nan"), 0.01]), [0.5, np.nan, 0.02])
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    rng = np.random.default_rng(0)
    q = rng.uniform(0, 0.2, size=12)
    np.testing.assert_allclose(S.holm(q), multitest.multipletests(q, method="holm")[1])


def _units(values: dict, folds: int = 5, dataset: str = "d") -> list:
    """Fake unit results: ``values[method][metric]`` = one number per fold."""
    out = []
    for method, metrics in values.items():
        for k in range(folds):
            out.append({"dataset": dataset, "method": method, "repeat": 0, "fold": k, "n_train": 80, "n_test": 20,
                        "threshold": 0.3 if method == "ce+threshold" else 0.5,
                        "metrics": {m: v[k] for m, v in metrics.items()}})
    return out


def test_dataset_tests_pair_the_same_folds_and_holm_correct_per_metric():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.4, 0.6, size=5)
    values = {"ce": {"f1": base}, "ce+threshold": {"f1": base + 0.01 * rng.normal(size=5)},
              "wce-balanced": {"f1": base + 0.10 + 0.01 * rng.normal(size=5)},
              "smote": {"f1": base + 0.002 * rng.normal(size=5)}}
    folds = V._folds(_units(values))["d"]
    families = {"ce": "plain", "ce+threshold": "threshold", "wce-balanced": "weighting", "smote": "resampling"}
    rows = V.dataset_tests(folds, "d", families, ["f1"])
    pairs = {(r["method"], r["reference"]) for r in rows}
    assert ("ce", "ce+threshold") not in pairs and ("ce+threshold", "ce") in pairs
    assert len(rows) == 5  # 2 methods vs ce+threshold, 3 vs ce
    for r in rows:
        d = values[r["method"]]["f1"] - values[r["reference"]]["f1"]
        oracle = stats.t.sf(abs(d.mean() / math.sqrt((1 / 5 + 20 / 80) * d.var(ddof=1))), 4) * 2
        assert r["p"] == pytest.approx(oracle)
    np.testing.assert_allclose([r["p_holm"] for r in rows], S.holm([r["p"] for r in rows]))
    best = next(r for r in rows if r["method"] == "wce-balanced" and r["reference"] == "ce+threshold")
    assert best["outcome"] == "better"


def test_lower_is_better_metrics_count_a_drop_as_better():
    rng = np.random.default_rng(2)
    base = rng.uniform(0.05, 0.06, size=5)
    values = {"ce+threshold": {"brier": base}, "wce-balanced": {"brier": base + 0.1 + 0.001 * rng.normal(size=5)}}
    rows = V.dataset_tests(V._folds(_units(values))["d"], "d", {}, ["brier"])
    assert rows[0]["difference"] > 0 and rows[0]["outcome"] == "worse"


def test_answer_recommends_a_significant_winner_and_otherwise_the_tuned_threshold():
    rng = np.random.default_rng(4)
    base = rng.uniform(0.4, 0.6, size=5)
    families = {"ce": "plain", "ce+threshold": "threshold", "wce-balanced": "weighting"}
    for lift, expected in ((0.15, "wce-balanced"), (0.0, "ce+threshold")):
        values = {"ce": {m: base for m in V.TESTED}, "ce+threshold": {m: base for m in V.TESTED},
                  "wce-balanced": {m: base + lift + 0.005 * rng.normal(size=5) for m in V.TESTED}}
        folds = V._folds(_units(values))["d"]
        rows = V.dataset_tests(folds, "d", families, V.TESTED)
        answer = V.dataset_answer("d", rows, folds, families, "f1")
        assert answer["recommended"] == expected
        assert answer["weighting_recommended"] == (expected == "wce-balanced")
        r = next(t for t in rows if t["metric"] == "f1" and t["method"] == "wce-balanced"
                 and t["reference"] == "ce+threshold")
        # Every number in the sentence is the table's, formatted.
        assert f"{r['difference']:+.3f}".replace("-", "−") in answer["text"]
        assert f"{r['ci_low']:+.3f}".replace("-", "−") in answer["text"]
        assert answer["text"].startswith("On d, weighting " + ("beat" if lift else "did not beat"))


# --------------------------------------------------------------------------- recommended.json

def _labels(n_neg=170, n_pos=30):
    return np.r_[np.zeros(n_neg, np.int64), np.ones(n_pos, np.int64)]


@pytest.mark.parametrize("name", ["wce-balanced", "wce-inverse_sqrt", "pos_weight", "class_balanced",
                                  "cost_sensitive", "ce+threshold", "ce", "smote", "wce-balanced+smote",
                                  "logit_adjusted"])
def test_scikit_learn_line_runs_and_carries_the_wce_weights(name):
    rng = np.random.default_rng(0)
    y = _labels()
    X = rng.normal(size=(len(y), 3)) + y[:, None]
    method = METHODS[name]
    params = V.parameters(method, y, Options(), thresholds=[0.2, 0.3, 0.25])
    code = V.snippets(method, params, C=1.0)["scikit-learn"]
    namespace = {"X": X, "y": y, "X_new": X[:7]}
    exec(code, namespace)  # noqa: S102 - the line a user pastes
    assert namespace["y_pred"].shape == (7,)
    if method.scheme is not None and method.resampler is None:
        expected = class_weights(y, scheme=method.scheme, classes=[0, 1])
        assert params["class_weight"] == expected.tolist()
        # the same ratio, scaled to a mean row weight of 1: scikit-learn's C·Σ w·l is then the
        # weighted mean that wce compare trains, and the two fits agree
        cw = namespace["model"][-1].class_weight
        assert cw[1] / cw[0] == pytest.approx(expected[1] / expected[0])
        assert cw[0] * np.sum(y == 0) + cw[1] * np.sum(y == 1) == pytest.approx(len(y))
        from sklearn.preprocessing import StandardScaler

        from wce.experiments.models import LinearModel

        ours = LinearModel(C=1.0).fit(StandardScaler().fit_transform(X), y, method.plan(y, Options()))
        np.testing.assert_allclose(namespace["model"][-1].coef_[0], ours.coef_, rtol=2e-3, atol=1e-4)
    if name == "pos_weight":
        assert namespace["model"][-1].class_weight == {0: 1.0, 1: 170 / 30}
    if name == "ce+threshold":
        assert params["threshold"] == 0.25 and "0.25" in code  # median of the fold thresholds


def test_every_framework_line_names_the_same_weights():
    y = _labels()
    params = V.parameters(METHODS["wce-balanced"], y, Options())
    w = class_weights(y, scheme="balanced", classes=[0, 1])
    lines = V.snippets(METHODS["wce-balanced"], params, C=1.0)
    for framework in ("pytorch", "keras", "xgboost", "lightgbm", "scikit-learn"):
        numbers = [float(x) for x in re.findall(r"\d+\.\d+(?:e-?\d+)?", lines[framework])]
        assert w[0] in numbers and w[1] in numbers, framework
    focal = V.snippets(METHODS["focal"], V.parameters(METHODS["focal"], y, Options(gamma=3.0)), C=1.0)
    assert focal["scikit-learn"] is None and "gamma=3.0" in focal["pytorch"] and "loss='focal'" in focal["xgboost"]


def test_probability_advice_follows_the_weights():
    y = _labels()
    m = METHODS["wce-balanced"]
    params = V.parameters(m, y, Options())
    advice = V.probabilities(m, params, None)
    assert advice["correct"] and advice["log_odds_shift"] == pytest.approx(math.log(170 / 30))
    assert not V.probabilities(METHODS["ce+threshold"], V.parameters(METHODS["ce+threshold"], y, Options()),
                               None)["correct"]
    rus = V.parameters(METHODS["rus"], y, Options())
    assert V.probabilities(METHODS["rus"], rus, None)["log_odds_shift"] == pytest.approx(math.log(170 / 30))


# --------------------------------------------------------------------------- recalibration

def test_platt_scaling_undoes_an_inflated_log_odds():
    rng = np.random.default_rng(0)
    z = rng.normal(-1.5, 1.5, size=4000)
    y = (rng.uniform(size=z.size) < 1 / (1 + np.exp(-z))).astype(np.int64)
    a, b = fit_platt(z + 2.0, y)  # a model trained with w_pos/w_neg = e^2
    assert a == pytest.approx(1.0, abs=0.1) and b == pytest.approx(-2.0, abs=0.15)
    calibration = pytest.importorskip("sklearn.calibration")
    if hasattr(calibration, "_sigmoid_calibration"):  # scikit-learn's own Platt fit: p = 1/(1+exp(A f + B))
        A, B = calibration._sigmoid_calibration(z + 2.0, y)
        assert (a, b) == pytest.approx((-A, -B), rel=1e-3, abs=1e-3)
    m = recalibrated_metrics(y[:2000], z[:2000] + 2.0, y[2000:], z[2000:] + 2.0)
    raw = np.mean((1 / (1 + np.exp(-(z[2000:] + 2.0))) - y[2000:]) ** 2)
    assert m["brier_sigmoid"] < raw and m["brier_isotonic"] < raw


def test_recalibration_is_fitted_on_training_rows_with_their_class_ratio():
    rng = np.random.default_rng(1)
    y = _labels(150, 30)
    X = rng.normal(size=(len(y), 3)) + y[:, None]
    seen = []

    def resample(method, X_a, y_a, options, seed):
        seen.append((len(y_a), int(y_a.sum())))
        return X_a, y_a

    z_test = rng.normal(size=20)
    y_test = np.r_[np.zeros(16, np.int64), np.ones(4, np.int64)]
    out = recalibration_metrics("logreg", 0, C=1.0, method=METHODS["wce-balanced"], options=Options(), X_train=X,
                                y_train=y, y_test=y_test, z_test=z_test, resample=resample)
    assert seen == [(135, 23)]  # the model trains on 75% of the training fold, stratified (30 · 0.75)
    assert set(out) >= {"brier_sigmoid", "ece_sigmoid", "brier_isotonic", "ece_isotonic",
                        "balanced_accuracy_sigmoid"}
    assert all(0 <= v <= 1 for v in out.values())


# --------------------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """One real run on one data set; the protocol computes the recalibration columns."""
    out = tmp_path_factory.mktemp("verdict") / "report"
    code = main(["compare", SMALL, "--methods", "ce,ce+threshold,wce-balanced,smote", "--folds", "3",
                 "--repeats", "2", "--out", str(out), "--no-progress"])
    assert code == 0
    return out


def test_answer_comes_first_in_report_and_its_numbers_are_the_tables(single):
    summary = json.loads((single / "results.json").read_text())
    verdict = summary["dataset_verdict"]
    answer = verdict["datasets"][0]
    report = (single / "report.md").read_text()
    assert report.index("## Answer") < report.index("## Results")
    assert answer["text"] in report
    row = next(t for t in verdict["tests"] if t["metric"] == "f1" and t["method"] == answer["best_weighting"]
               and t["reference"] == "ce+threshold")
    assert f"{row['difference']:+.3f}".replace("-", "−") in answer["text"]
    assert f"{row['mean']:.3f}" in answer["text"]
    assert answer["text"].endswith(").") and "Recommended: " in answer["text"]


def test_recommended_json_is_written_and_consistent(single):
    rec = json.loads((single / "recommended.json").read_text())
    summary = json.loads((single / "results.json").read_text())
    assert rec["method"] == summary["dataset_verdict"]["datasets"][0]["recommended"]
    assert rec["metric"] == "f1" and rec["recommendations"][0]["method"] == rec["method"]
    assert set(rec["snippets"]) == {"scikit-learn", "pytorch", "keras", "xgboost", "lightgbm"}
    assert rec["parameters"]["n_positive"] + rec["parameters"]["n_negative"] == 300
    assert not list(single.glob(".tmp-*"))  # atomic writes leave no temporary file


def test_recalibration_columns_are_reported_for_weighted_methods(single):
    summary = json.loads((single / "results.json").read_text())
    rows = summary["dataset_verdict"]["recalibration"]
    assert {r["method"] for r in rows} == {"ce", "ce+threshold", "wce-balanced", "smote"}
    report = (single / "report.md").read_text()
    assert "Calibration repair" in report and "Brier Platt" in report
    text = summary["dataset_verdict"]["datasets"][0]["text"]
    assert re.search(r"(restores|does not restore) plain CE's calibration|Its calibration needs no repair", text)
    # the repair sentence agrees with the Brier sentence before it
    assert ("worsened calibration" in text) == ("needs no repair" not in text)


@pytest.mark.parametrize("raw_offset, needed", [(0.05, True), (-0.01, False)])
def test_recalibration_text_says_restores_only_when_a_repair_was_needed(raw_offset, needed):
    """"Restores plain CE's calibration: Brier 0.004 → 0.005 (reference 0.014)" misreads a weighted
    model that was better calibrated to begin with: that case says the calibration needs no repair.
    Whether a repair was needed is the data set's Holm-adjusted Brier test, the one the answer
    reports just before ("worsened calibration" / "left the Brier score within noise")."""
    from wce.experiments.verdict import recalibration_summary

    rng = np.random.default_rng(0)

    def unit(brier, recalibrated=None):
        metrics = {"brier": brier, "ece": 0.02, "balanced_accuracy": 0.8}
        if recalibrated is not None:
            metrics.update(brier_sigmoid=recalibrated, ece_sigmoid=0.02, brier_isotonic=recalibrated + 0.001,
                           ece_isotonic=0.02, balanced_accuracy_sigmoid=0.7)
        return {"metrics": metrics, "n_train": 80, "n_test": 20}

    ref = {(r, f): 0.1 + 0.002 * rng.normal() for r in range(2) for f in range(5)}
    folds = {"ce+threshold": {k: unit(v) for k, v in ref.items()},
             "wce-balanced": {k: unit(v + raw_offset + 0.001 * rng.normal(), v + 0.001 * rng.normal())
                              for k, v in ref.items()}}
    out = recalibration_summary("wce-balanced", "ce+threshold", folds, brier_worse=needed)
    assert out["needed"] is needed and out["restored"]
    if needed:
        assert "Platt scaling fitted inside each training fold restores plain CE's calibration" in out["text"]
    else:
        assert out["text"].startswith("Its calibration needs no repair") and "restores" not in out["text"]


def test_recalibration_metrics_reach_results_csv_for_weighted_methods_only(single):
    import csv

    from wce.experiments.metrics import RECALIBRATED_METRICS

    with open(single / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    have = {(r["method"], r["metric"]) for r in rows if r["mean"] not in ("", "nan")}
    for metric in RECALIBRATED_METRICS:
        assert ("wce-balanced", metric) in have and ("smote", metric) in have
        assert ("ce", metric) not in have and ("ce+threshold", metric) not in have
    units = list((single / "units").rglob("wce-balanced/r*-f*.json"))
    assert len(units) == 6
    assert all(set(RECALIBRATED_METRICS) <= set(json.loads(u.read_text())["metrics"]) for u in units)


def test_one_data_set_note_agrees_with_the_answer(single):
    summary = json.loads((single / "results.json").read_text())
    note = " ".join(summary["verdict"])
    assert "paired tests on this data set's folds" in note and "instead" not in note


def test_python_api_recalibrate_reaches_the_protocol():
    import wce

    X, y = _small_xy()
    on = wce.compare(X, y, methods="ce,wce-balanced", folds=3, repeats=1)
    off = wce.compare(X, y, methods="ce,wce-balanced", folds=3, repeats=1, recalibrate=False)
    assert on.folds.loc[on.folds.method == "wce-balanced", "brier_sigmoid"].notna().all()
    assert "brier_sigmoid" not in off.folds.columns
    assert on.verdict["recalibration"] and not off.verdict["recalibration"]


def test_recommendation_names_an_estimator_by_its_class():
    from sklearn.linear_model import LogisticRegression

    import wce
    from wce.experiments.api import _datasets
    from wce.experiments.runner import Config, validate
    from wce.experiments.verdict import build

    X, y = _small_xy()
    kw = dict(methods="ce,ce+threshold,wce-balanced", folds=3, repeats=1)
    result = wce.compare(X, y, model=LogisticRegression(), recalibrate=False, **kw)
    assert result.recommendation["model"] == "LogisticRegression"
    plan = validate(Config(datasets=_datasets(X, y, None), model=LogisticRegression(), out=None,
                           options=Options(recalibrate=False), **kw))
    built = build(plan, result.units)  # JSON-ready as built, not only after wce.compare renames it
    assert built["recommendations"][0]["model"] == "LogisticRegression"
    json.dumps(built)


def _small_xy():
    from sklearn.datasets import make_classification

    return make_classification(n_samples=240, n_features=5, n_informative=3, weights=[0.85], random_state=0)




def test_console_prints_the_answer_before_the_table(tmp_path, capsys):
    assert main(["compare", SMALL, "--methods", "ce,ce+threshold,wce-balanced", "--folds", "3", "--repeats", "1",
                 "--metric", "mcc", "--no-recalibrate", "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert printed.index("On make_classification") < printed.index("mean over")
    assert "on MCC" in printed
    rec = json.loads((tmp_path / "r" / "recommended.json").read_text())
    assert rec["metric"] == "mcc"


def test_unknown_metric_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", SMALL, "--metric", "accuracy", "--out", str(tmp_path / "r")])
    assert exc.value.code == 2 and not (tmp_path / "r").exists()


def test_several_data_sets_count_where_weighting_is_recommended(tmp_path, capsys):
    sets = [SMALL, SMALL.replace("seed=1", "seed=2")]
    assert main(["compare", *sets, "--methods", "ce,ce+threshold,wce-balanced", "--folds", "3", "--repeats", "1",
                 "--no-recalibrate", "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    summary = json.loads((tmp_path / "r" / "results.json").read_text())
    v = summary["dataset_verdict"]
    assert v["n_datasets"] == 2 and len(v["datasets"]) == 2
    assert v["headline"][0].startswith(f"Weighting recommended on {v['weighting_recommended']} of 2 data sets")
    assert summary["verdict"][0].startswith("**Bottom line")  # the across-data-set tests stay
    assert len(json.loads((tmp_path / "r" / "recommended.json").read_text())["recommendations"]) == 2


# --------------------------------------------------------------------------- plots

def test_plot_styles_never_repeat_and_shared_scores_are_drawn_once():
    from wce.reporting import plots

    styles = [plots._style(i) for i in range(17)]
    assert len({s["color"] for s in styles}) == 17
    pooled = {"ce": [{"digest": "a"}, {"digest": "b"}], "ce+threshold": [{"digest": "a"}, {"digest": "b"}],
              "wce-balanced": [{"digest": "a"}, {"digest": "c"}]}
    assert plots._groups(pooled, ["ce", "ce+threshold", "wce-balanced"]) == [["ce", "ce+threshold"],
                                                                           ["wce-balanced"]]


def test_pr_curves_show_only_the_methods_that_matter(single, monkeypatch):
    from wce.reporting import compare

    summary = json.loads((single / "results.json").read_text())
    focus = compare.focus_methods(summary["dataset_verdict"], ["ce", "ce+threshold", "wce-balanced", "smote",
                                                               "ros"])
    answer = summary["dataset_verdict"]["datasets"][0]
    assert set(focus[answer["dataset"]]) == {"ce", "ce+threshold", answer["recommended"], answer["best_weighting"]}


def test_rich_table_shows_a_title_with_brackets_as_it_is():
    from rich.console import Console

    from wce.reporting.tables import rich_table

    console = Console(record=True, width=120, color_system=None)
    console.print(rich_table(["method", "F1"], [["[b]x", "0.5"]], "[red]data[/red].csv: mean over folds"))
    text = "".join(console.export_text().split())  # the title may wrap
    assert "[red]data[/red].csv:meanoverfolds" in text and "[b]x" in text


@pytest.mark.parametrize("name", ["ce", "wce-balanced", "pos_weight", "focal", "logit_adjusted",
                                  "cost_sensitive"])
def test_pytorch_and_keras_lines_build_their_losses(name):
    """The pasted loss expressions construct (Keras' logits-only losses need from_logits=True)."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    import wce.keras  # noqa: F401
    import wce.torch  # noqa: F401

    y = _labels()
    lines = V.snippets(METHODS[name], V.parameters(METHODS[name], y, Options()), C=1.0)
    torch_expr = re.search(r"loss_fn = (wce\.torch\.\w+\(.*?\))(?:\s|$)", lines["pytorch"]).group(1)
    keras_expr = re.search(r"loss=(wce\.keras\.\w+\(.*?\))\)", lines["keras"]).group(1)
    assert "from_logits=True" in keras_expr
    for expr in (torch_expr, keras_expr):
        eval(expr, {"wce": wce})
