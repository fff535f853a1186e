"""`wce compare` and `wce sweep` end to end: outputs, no leakage, determinism, resume, bad input."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from wce.cli import main
from wce.experiments import methods as methods_module
from wce.experiments import protocol
from wce.experiments.datasets import Dataset
from wce.experiments.methods import METHODS, Options
from wce.experiments.protocol import make_problem, run_unit, splits

SMALL = "make_classification:n_samples=240,n_features=5,n_informative=3,weights=0.85,seed=1"
FAST = "ce,ce+threshold,wce-balanced,smote"


def _run(tmp_path, *args, out="out"):
    return main(["compare", *args, "--out", str(tmp_path / out), "--no-progress"])


def test_compare_writes_report_csv_json_and_plots(tmp_path, capsys):
    assert _run(tmp_path, SMALL, "--methods", "default", "--folds", "3", "--repeats", "1") == 0
    out = tmp_path / "out"
    for name in ("report.md", "results.csv", "results.json", "pr_curves.png", "reliability.png",
                 "weight_strength.png"):
        assert (out / name).stat().st_size > 0, name
    printed = capsys.readouterr().out
    assert "Report:" in printed and "report.md" in printed and "ce+threshold" in printed
    summary = json.loads((out / "results.json").read_text())
    assert {m["name"] for m in summary["methods"]} == set(methods_module.DEFAULT_METHODS)
    rows = list(csv.DictReader(open(out / "results.csv")))
    f1 = [r for r in rows if r["metric"] == "f1" and r["method"] == "ce"][0]
    assert float(f1["ci_low"]) <= float(f1["mean"]) <= float(f1["ci_high"])
    report = (out / "report.md").read_text()
    assert "Nadeau & Bengio" in report and "Saerens" in report


def test_compare_across_datasets_gives_ranks_tests_and_verdict(tmp_path, capsys):
    sets = [SMALL, SMALL.replace("seed=1", "seed=2").replace("240", "250"),
            SMALL.replace("seed=1", "seed=3").replace("240", "260")]
    assert _run(tmp_path, *sets, "--methods", "ce,ce+threshold,wce-balanced,ros", "--folds", "3",
                "--repeats", "1") == 0
    summary = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(summary["datasets"]) == 3
    assert (tmp_path / "out" / "ranks.png").exists()
    ranks = summary["across_datasets"]["f1"]["mean_ranks"]
    assert sum(ranks.values()) == pytest.approx(4 * 5 / 2)  # ranks of 4 methods sum to 10
    pairs = {(c["method"], c["reference"]) for c in summary["comparisons"]}
    assert pairs == {("wce-balanced", "ce+threshold"), ("wce-balanced", "ros")}
    assert any("vs ce+threshold" in line for line in summary["verdict"])
    assert summary["verdict"][0].startswith("**Bottom line, plain CE + threshold moving:**")


def test_fixed_seed_gives_identical_results_with_one_or_two_workers(tmp_path):
    for out, jobs in (("a", "1"), ("b", "2")):
        assert _run(tmp_path, SMALL, "--methods", FAST, "--folds", "3", "--repeats", "2", "--seed", "7",
                    "--jobs", jobs, out=out) == 0
    assert (tmp_path / "a" / "results.csv").read_text() == (tmp_path / "b" / "results.csv").read_text()


def test_trap16_no_leakage_scaler_resampler_weights_see_training_rows_only(monkeypatch):
    """TRAPS 16: scaling, resampling, weights and threshold use the training fold only."""
    rng = np.random.default_rng(0)
    n = 120
    y = np.array(["neg"] * 100 + ["pos"] * 20)
    # Column 0 is the row id: every row the scaler sees can be traced back.
    X = np.column_stack([np.arange(n), rng.normal(size=(n, 2)) + (y == "pos")[:, None]])
    problem = make_problem(Dataset("ids", X, y, ["id", "a", "b"]), folds=4)
    seen_scaler, seen_weights = [], []

    class RecordingScaler(protocol.StandardScaler):
        def fit(self, X, y=None):
            seen_scaler.append(np.asarray(X)[:, 0].astype(int))
            return super().fit(X, y)

    real_class_weights = methods_module.class_weights

    def recording_class_weights(labels, **kw):
        seen_weights.append(len(labels))
        return real_class_weights(labels, **kw)

    real_resample = protocol.resample

    def recording_resample(method, X, y, options, seed):
        seen_resample.append(len(y))
        return real_resample(method, X, y, options, seed)

    seen_resample = []
    monkeypatch.setattr(protocol, "StandardScaler", RecordingScaler)
    monkeypatch.setattr(methods_module, "class_weights", recording_class_weights)
    monkeypatch.setattr(protocol, "resample", recording_resample)
    for repeat, fold, train, test in splits(problem.y, folds=4, repeats=1, seed=0):
        for name, recalibrate in [(m, r) for m in ("wce-balanced", "wce-balanced+smote", "ce+threshold")
                                  for r in (False, True)]:
            seen_scaler.clear(), seen_weights.clear(), seen_resample.clear()
            run_unit(problem, METHODS[name], "logreg", repeat, fold, train, test,
                     options=Options(recalibrate=recalibrate), seed=0)
            assert len(seen_scaler) == 1
            assert set(seen_scaler[0]) == set(train.tolist())  # exactly the training rows
            assert not set(seen_scaler[0]) & set(test.tolist())
            if not recalibrate or name == "ce+threshold":
                assert seen_resample == [len(train)]
                # balanced weights: on the (resampled) training labels, never on all n rows
                assert all(k != n and k >= len(train) for k in seen_weights) or name == "ce+threshold"
            else:  # the recalibration model: 75% of the training fold, resampled like the method
                assert seen_resample == [len(train), len(train) - int(np.ceil(0.25 * len(train)))]
                assert all(k != n for k in seen_weights)


def test_compare_creditcard_layout_csv(tmp_path, capsys):
    """The Kaggle credit-card fraud file layout (Time, V1..V28, Amount, Class) works by path."""
    rng = np.random.default_rng(0)
    n = 300
    cls = (rng.random(n) < 0.08).astype(int)
    cls[:6] = 1
    cols = {"Time": np.arange(n, dtype=float)}
    for i in range(1, 29):
        cols[f"V{i}"] = rng.normal(size=n) + (i <= 3) * cls
    cols["Amount"] = rng.exponential(50, size=n)
    cols["Class"] = cls
    path = tmp_path / "creditcard.csv"
    with open(path, "w") as f:
        f.write(",".join(cols) + "\n")
        for i in range(n):
            f.write(",".join(str(cols[c][i]) for c in cols) + "\n")
    assert _run(tmp_path, str(path), "--target", "Class", "--methods", "ce,wce-balanced,pos_weight",
                "--folds", "3", "--repeats", "1") == 0
    summary = json.loads((tmp_path / "out" / "results.json").read_text())
    assert summary["datasets"][0]["positive"] == "1" and summary["datasets"][0]["n_features"] == 30


def _bad_csv(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("case, match", [
    ("missing_target", "target column 'label' not found"),
    ("single_class", "single class"),
    ("non_numeric", "non-numeric feature column"),
    ("nan_features", "missing feature value"),
    ("unknown_method", "Unknown method 'smoot'"),
    ("unknown_dataset", "Unknown KEEL imbalanced data set 'nosuchset'"),
    ("too_few_minority", "fewer than --folds 5"),
    ("bad_folds", "'folds' parameter of wce compare must be an int >= 2"),
    ("unsupported_only", "needs a custom loss"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, case, match):
    good = "a,b,label\n" + "\n".join(f"{i},{i % 7},{int(i % 5 == 0)}" for i in range(40))
    args = {
        "missing_target": [_bad_csv(tmp_path, "m.csv", good.replace("label", "y")), "--target", "label"],
        "single_class": [_bad_csv(tmp_path, "s.csv", "a,label\n" + "\n".join(f"{i},1" for i in range(20))),
                         "--target", "label"],
        "non_numeric": [_bad_csv(tmp_path, "t.csv", good.replace("\n1,", "\nx,")), "--target", "label"],
        "nan_features": [_bad_csv(tmp_path, "n.csv", good.replace("\n3,", "\n,")), "--target", "label"],
        "unknown_method": [SMALL, "--methods", "ce,smoot"],
        "unknown_dataset": ["keel:nosuchset"],
        "too_few_minority": [_bad_csv(tmp_path, "f.csv", good.replace(",1\n", ",0\n", 6)), "--target", "label"],
        "bad_folds": [SMALL, "--folds", "1"],
        "unsupported_only": [SMALL, "--model", "mlp", "--methods", "focal"],
    }[case]
    assert _run(tmp_path, *args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("wce compare: error:")
    assert match in err
    assert not (tmp_path / "out").exists()


def test_bad_input_exit_code_from_the_installed_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "wce.cli", "compare", "keel:nosuchset", "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "nosuchset" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("model", ["mlp", "lightgbm", "xgboost", "torch-mlp"])
def test_other_models_run_and_skip_unsupported_pairs(tmp_path, capsys, model):
    pytest.importorskip({"mlp": "sklearn", "lightgbm": "lightgbm", "xgboost": "xgboost", "torch-mlp": "torch"}[model])
    # torch-mlp supports every method; two keep its test short (one sigmoid, one softmax loss).
    methods = "ce,logit_adjusted" if model == "torch-mlp" else "ce,wce-balanced,focal,logit_adjusted"
    assert _run(tmp_path, SMALL, "--model", model, "--methods", methods, "--folds", "2", "--repeats", "1") == 0
    printed = capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / "results.json").read_text())
    expected_skips = {"mlp": ["focal", "logit_adjusted"], "lightgbm": ["logit_adjusted"],
                      "xgboost": ["logit_adjusted"], "torch-mlp": []}[model]
    assert [s["method"] for s in summary["skipped"]] == expected_skips
    assert [m["name"] for m in summary["methods"]] == [m for m in methods.split(",") if m not in expected_skips]
    for name in expected_skips:
        assert f"'{name}'" in printed and "use --model logreg" in printed


@pytest.mark.parametrize("model", ["xgboost", "lightgbm"])
def test_gbdt_models_train_every_loss_through_wce_objectives(tmp_path, monkeypatch, model):
    """Focal, cost-sensitive and class-balanced losses reach the trees as wce objectives, not as
    sample weights: each unit records the fitted estimator and its loss."""
    pytest.importorskip(model)
    from wce.experiments import models

    few = {**models.GBDT_PARAMS[model], "n_estimators": 4}
    monkeypatch.setitem(models.GBDT_PARAMS, model, few)
    methods = "ce,wce-balanced,focal,cost_sensitive,class_balanced"
    assert _run(tmp_path, SMALL, "--model", model, "--methods", methods, "--folds", "2", "--repeats", "1",
                "--no-recalibrate") == 0
    cls = {"xgboost": "WeightedXGBClassifier", "lightgbm": "WeightedLGBMClassifier"}[model]
    units = {}
    for path in (tmp_path / "out" / "units").rglob("r0-f0.json"):
        u = json.loads(path.read_text())
        units[u["method"]] = u["estimator"]
    assert set(units) == set(methods.split(","))
    assert all(e.startswith(cls + "(") for e in units.values()), units
    assert units["ce"] == f"{cls}(loss='cross_entropy')"
    assert units["wce-balanced"] == f"{cls}(loss='cross_entropy', sample_weight)"
    assert units["focal"] == f"{cls}(loss='focal', gamma=2.0)"
    assert units["cost_sensitive"].startswith(f"{cls}(loss='cost_sensitive', cost_matrix=[[0.0, 1.0], [")
    assert re.fullmatch(rf"{cls}\(loss='cross_entropy', class_weight=\[[0-9.e-]+, [0-9.e-]+\]\)",
                        units["class_balanced"])


def test_gbdt_class_balanced_weights_have_a_mean_row_weight_of_one():
    from wce.experiments.methods import METHODS, Options

    y = np.r_[np.zeros(90, np.int64), np.ones(10, np.int64)]
    w = METHODS["class_balanced"].plan(y, Options()).gbdt["class_weight"]
    assert 90 * w[0] + 10 * w[1] == pytest.approx(100)
    assert w[1] / w[0] == pytest.approx(9.0, rel=0.01)  # beta near 1: close to n_neg / n_pos


@pytest.mark.parametrize("name", ["class_balanced", "cost_sensitive", "logit_adjusted"])
def test_binary_form_of_a_softmax_loss_has_the_reference_value_and_gradient(name):
    """The linear model minimises these softmax losses on [0, z] in an exact binary form."""
    from wce.experiments.models import LinearModel
    from wce.losses import value_and_grad

    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    y = (rng.uniform(size=400) < 0.15).astype(np.int64)
    plan = METHODS[name].plan(y, Options(cost_fp=0.5))
    assert plan.binary is not None and plan.two_column
    model = LinearModel(C=0.7)
    for _ in range(3):
        theta = rng.normal(size=4)
        value, grad = model.objective(theta, X, y, plan)
        z = X @ theta[:3] + theta[3]
        ref, g = value_and_grad(plan.loss, np.column_stack([np.zeros(400), z]), y, reduction=plan.reduction,
                                **plan.loss_kwargs)
        lam = 1.0 / (0.7 * 400)
        assert value == pytest.approx(ref + 0.5 * lam * theta[:3] @ theta[:3], rel=1e-12)
        expected = np.r_[X.T @ g[:, 1] + lam * theta[:3], g[:, 1].sum()]
        np.testing.assert_allclose(grad, expected, rtol=1e-10, atol=1e-14)


def test_weight_schemes_with_the_same_ratio_train_the_same_linear_model():
    """Under the weighted mean only w_pos / w_neg matters: inverse (weights summing to 2) and
    median_frequency train the model balanced does, and the sample weights have a mean of 1."""
    from wce.experiments.models import LinearModel

    rng = np.random.default_rng(0)
    y = (rng.uniform(size=500) < 0.1).astype(np.int64)
    X = rng.normal(size=(500, 3)) + y[:, None]
    fits = {}
    for name in ("wce-balanced", "wce-inverse", "wce-median_frequency"):
        plan = METHODS[name].plan(y, Options())
        assert plan.sample_weight.mean() == pytest.approx(1.0)
        fits[name] = LinearModel().fit(X, y, plan).coef_
    np.testing.assert_allclose(fits["wce-inverse"], fits["wce-balanced"], rtol=1e-5)
    np.testing.assert_allclose(fits["wce-median_frequency"], fits["wce-balanced"], rtol=1e-5)


def test_unit_files_stay_small_whatever_the_size_of_the_test_fold(tmp_path):
    big = "make_classification:n_samples=20000,n_features=5,n_informative=3,weights=0.9,seed=0"
    assert _run(tmp_path, big, "--methods", "ce,wce-balanced", "--folds", "2", "--repeats", "1",
                "--no-recalibrate") == 0
    units = list((tmp_path / "out" / "units").rglob("r0-f*.json"))
    assert len(units) == 4
    for path in units:
        u = json.loads(path.read_text())
        assert "y" not in u and "z" not in u  # 10000 test rows are not kept
        assert len(u["curves"]["pr_precision"]) <= 200
        assert path.stat().st_size < 6000
    assert (tmp_path / "out" / "pr_curves.png").stat().st_size > 0
    assert (tmp_path / "out" / "reliability.png").stat().st_size > 0


def test_curve_summary_keeps_what_the_plots_need():
    from sklearn.metrics import precision_recall_curve

    from wce.experiments.metrics import PR_GRID, curve_summary, expected_calibration_error

    rng = np.random.default_rng(0)
    y = (rng.uniform(size=3000) < 0.1).astype(np.int64)
    z = rng.normal(size=3000) + 2.0 * y - 2.0
    c = curve_summary(y, z, threshold=0.3, log_weight_ratio=1.0)
    p = 1 / (1 + np.exp(-z))
    precision, recall, _ = precision_recall_curve(y, p)
    for k, r in enumerate(np.linspace(0, 1, PR_GRID)):  # the best precision at recall >= r
        assert c["pr_precision"][k] == pytest.approx(precision[recall >= r - 1e-12].max(), abs=1e-5)
    pred = p >= 0.3
    assert c["confusion"] == {"tp": int((pred & (y == 1)).sum()), "fp": int((pred & (y == 0)).sum()),
                              "fn": int((~pred & (y == 1)).sum()), "tn": int((~pred & (y == 0)).sum())}
    bins = c["reliability"]
    assert sum(bins["count"]) == 3000 and sum(bins["sum_y"]) == y.sum()
    ece = sum(abs(sy - sp) for sy, sp in zip(bins["sum_y"], bins["sum_p"])) / 3000
    assert ece == pytest.approx(expected_calibration_error(y, p), abs=1e-5)
    pc = 1 / (1 + np.exp(-(z - 1.0)))
    assert sum(c["reliability_corrected"]["sum_p"]) == pytest.approx(pc.sum(), abs=1e-3)
    assert curve_summary(y, z, threshold=0.5, log_weight_ratio=None)["reliability_corrected"] is None
    assert c["digest"] == curve_summary(y, z.copy(), threshold=0.5, log_weight_ratio=None)["digest"]


def test_sweep_table_csv_and_plot(tmp_path, capsys):
    rc = main(["sweep", SMALL, "--folds", "3", "--repeats", "1", "--out", str(tmp_path / "sw"), "--no-progress"])
    assert rc == 0
    data = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    weights = [r["pos_weight"] for r in data["rows"]]
    assert weights[0] == 1.0 and max(weights) > data["imbalance_ratio"]
    assert any(abs(w - data["imbalance_ratio"]) < 1e-3 for w in weights)
    assert data["best_f1_pos_weight"] in weights
    assert (tmp_path / "sw" / "sweep.png").stat().st_size > 0
    assert "Best mean F1 at pos_weight" in capsys.readouterr().out
    assert main(["sweep", SMALL, "--weights", "1,x", "--out", str(tmp_path / "sw2")]) == 2
    assert not (tmp_path / "sw2").exists()


def test_resume_after_kill_recomputes_nothing_finished(tmp_path):
    """Kill a run mid-way, start it again: finished unit files are untouched, only the rest is computed."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "wce.cli", "compare", SMALL, "--methods", "ce,ce+threshold,wce-balanced,ros,smote",
           "--folds", "4", "--repeats", "2", "--out", str(out), "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)

    def unit_files():
        return sorted(p for p in out.glob("units/*/*/*/*.json") if not p.name.startswith(".tmp"))

    deadline = time.time() + 120
    while len(unit_files()) < 8 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in unit_files()}
    total = 5 * 4 * 2
    assert 8 <= len(before) < total, "the run finished before it could be killed; make it longer"
    log = next(out.glob("units/*/computed.log"))
    logged_before = len(log.read_text().splitlines())
    assert subprocess.run(cmd, env=env, capture_output=True, timeout=300).returncode == 0
    after = unit_files()
    assert len(after) == total
    for p, (mtime, content) in before.items():
        assert p.stat().st_mtime_ns == mtime and p.read_bytes() == content
    computed_again = len(log.read_text().splitlines()) - logged_before
    assert computed_again == total - len(before)
    assert (out / "report.md").exists()


def test_weighting_plus_smote_leaves_a_fold_already_above_the_ratio_alone():
    """A nearly balanced fold (minority/majority >= smote_ratio) is not resampled, not an error."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(55, 2)), np.array([0] * 30 + [1] * 25)
    X2, y2 = protocol.resample(METHODS["wce-balanced+smote"], X, y, Options(smote_ratio=0.5), 0)
    assert len(y2) == len(y)
    X3, y3 = protocol.resample(METHODS["wce-balanced+smote"], X[:40], y[:40].copy() * 0 + (np.arange(40) < 6),
                               Options(smote_ratio=0.5), 0)
    assert int(y3.sum()) == round(0.5 * 34)


def test_distinct_data_sets_with_the_same_name_are_all_kept(tmp_path):
    from wce.experiments.runner import Config, validate

    for d, k in (("a", 0), ("b", 1)):  # distinct content: the same data twice is refused
        (tmp_path / d).mkdir()
        (tmp_path / d / "data.csv").write_text("x,label\n" + "\n".join(f"{i},{int(i % 4 == k)}" for i in range(40)))
    plan = validate(Config(datasets=[str(tmp_path / "a/data.csv"), str(tmp_path / "b/data.csv"),
                                     str(tmp_path / "a/data.csv")], target="label", methods=["ce"], folds=3))
    assert [p.name for p in plan.problems] == ["data", "data#2"]
    gen = validate(Config(datasets=[SMALL, SMALL.replace("seed=1", "seed=2")], methods=["ce"], folds=3))
    assert len({p.name for p in gen.problems}) == 2
