"""``wce.compare``: the Python API of `wce compare` (arrays, DataFrames, specs; any scikit-learn
classifier or Pipeline as the model)."""

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")

import wce  # noqa: E402
from wce.cli import main  # noqa: E402

FAST = dict(methods="ce,ce+threshold,wce-balanced,ros", folds=3, repeats=1)


def _data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 5 == 0).astype(int)
    X = rng.normal(size=(n, 4)) + y[:, None] * np.array([1.0, 0.5, 0.0, 0.0])
    return X, y


def test_import_wce_stays_light_and_exposes_compare():
    code = ("import sys, wce; assert 'sklearn' not in sys.modules and 'pandas' not in sys.modules; "
            "from wce.experiments.api import compare; assert wce.compare is compare; print('ok')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "ok"


def test_arrays_give_folds_summary_verdict_and_a_report(tmp_path):
    X, y = _data()
    result = wce.compare(X, y, **FAST)
    assert isinstance(result, wce.CompareResult)
    assert len(result.folds) == 4 * 3
    assert {"dataset", "method", "repeat", "fold", "f1", "pr_auc", "brier"} <= set(result.folds.columns)
    f1 = result.summary[result.summary.metric == "f1"].set_index("method")
    assert list(f1.index) == ["ce", "ce+threshold", "wce-balanced", "ros"]
    assert (f1.ci_low <= f1["mean"]).all() and (f1["mean"] <= f1.ci_high).all()
    assert result.verdict["metric"] == "f1" and result.headline and isinstance(result.headline[0], str)
    assert result.recommendation["method"] in f1.index
    assert result.datasets[0]["positive"] == "1" and result.datasets[0]["n_positive"] == 48
    path = result.to_report(tmp_path / "report")
    assert path.endswith("report.md") and (tmp_path / "report" / "results.json").exists()
    assert "wce compare report" in open(path).read()


def test_dataframe_with_target_and_a_file_spec_agree_with_the_command(tmp_path, capsys):
    X, y = _data()
    frame = pd.DataFrame(X, columns=list("abcd")).assign(label=y)
    csv = tmp_path / "d.csv"
    frame.to_csv(csv, index=False)
    from_frame = wce.compare(frame, target="label", **FAST)
    from_file = wce.compare(str(csv), target="label", **FAST)
    assert list(from_frame.summary.method) == list(from_file.summary.method)
    np.testing.assert_allclose(from_frame.summary["mean"], from_file.summary["mean"], rtol=1e-6)
    assert main(["compare", str(csv), "--target", "label", "--methods", FAST["methods"], "--folds", "3",
                 "--repeats", "1", "--out", str(tmp_path / "cli"), "--no-progress"]) == 0
    cli = json.loads((tmp_path / "cli" / "results.json").read_text())
    f1_cli = {r["method"]: r["mean"] for r in cli["per_dataset"] if r["metric"] == "f1"}
    f1_api = from_file.summary[from_file.summary.metric == "f1"].set_index("method")["mean"].to_dict()
    assert f1_cli == pytest.approx(f1_api, rel=1e-5)


def test_several_data_sets_and_positive(tmp_path):
    a, b = _data(seed=0), _data(n=250, seed=1)
    result = wce.compare({"a": a, "b": b}, **FAST)
    assert [d["dataset"] for d in result.datasets] == ["a", "b"]
    assert result.across  # sentences of the tests across data sets
    chosen = wce.compare(*a, positive=0, **FAST)
    assert chosen.datasets[0]["positive"] == "0" and chosen.datasets[0]["n_positive"] == 192


def test_out_keeps_units_and_a_second_call_reuses_them(tmp_path):
    X, y = _data()
    first = wce.compare(X, y, out=tmp_path / "cache", **FAST)
    second = wce.compare(X, y, out=tmp_path / "cache", **FAST)
    assert first.reused == 0 and second.reused == 12
    assert first.summary.equals(second.summary)
    other = wce.compare(X[::-1].copy(), y[::-1].copy(), out=tmp_path / "cache", **FAST)
    assert other.reused == 0


# --------------------------------------------------------------------------- scikit-learn models

SEEN = []


def _recording(base):
    class Recording(base):
        def fit(self, X, y, sample_weight=None):
            SEEN.append(None if sample_weight is None else np.asarray(sample_weight).copy())
            return super().fit(X, y, sample_weight=sample_weight)

    Recording.__name__ = Recording.__qualname__ = f"Recording{base.__name__}"
    return Recording


RecordingLogisticRegression = _recording(__import__("sklearn.linear_model", fromlist=["x"]).LogisticRegression)


def test_a_pipeline_gets_sample_weights_in_its_final_step():
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data()
    pipe = Pipeline([("scale", StandardScaler()), ("clf", RecordingLogisticRegression())])
    SEEN.clear()
    # One fit per unit (no recalibration fits), so the recorded fits line up with the units.
    result = wce.compare(X, y, model=pipe, methods="ce,wce-balanced,ros,focal", folds=3, repeats=1,
                         recalibrate=False)
    assert [m for m, _ in result.skipped] == ["focal"]  # no sample-weight form
    assert result.report["settings"]["model"] == "Pipeline(StandardScaler, RecordingLogisticRegression)"
    by_method = {}
    for (method, _), w in zip([(m, f) for m in ("ce", "wce-balanced", "ros") for f in range(3)], SEEN):
        by_method.setdefault(method, []).append(w)
    assert all(w is None for w in by_method["ce"]) and all(w is None for w in by_method["ros"])
    for w in by_method["wce-balanced"]:
        assert w is not None and len(np.unique(w)) == 2 and w.max() / w.min() == pytest.approx(4.0, rel=0.05)
    f1 = result.summary[result.summary.metric == "f1"]
    assert f1["mean"].notna().all()


def test_an_estimator_without_sample_weight_names_the_methods_it_cannot_run():
    from sklearn.neighbors import KNeighborsClassifier

    X, y = _data()
    with pytest.raises(ValueError, match=r"KNeighborsClassifier does not take sample_weight.*wce-balanced, pos_weight"):
        wce.compare(X, y, model=KNeighborsClassifier(), methods="ce,wce-balanced,pos_weight,smote", folds=3, repeats=1)
    result = wce.compare(X, y, model=KNeighborsClassifier(), methods="ce,ce+threshold,smote,rus", folds=3, repeats=1)
    assert len(result.folds) == 12


def test_an_estimator_with_two_workers_matches_one(tmp_path):
    from sklearn.ensemble import RandomForestClassifier

    X, y = _data()
    model = RandomForestClassifier(n_estimators=10, random_state=0)
    one = wce.compare(X, y, model=model, jobs=1, **FAST)
    two = wce.compare(X, y, model=model, jobs=2, **FAST)
    assert one.summary.equals(two.summary)


@pytest.mark.parametrize("bad, match", [
    (dict(X=np.zeros((10, 2)), y=np.zeros(9)), "X has 10 rows but y has 9 labels"),
    (dict(X=np.zeros(10), y=np.zeros(10)), "X must be 2-D"),
    (dict(X=np.zeros((10, 2)), y=np.linspace(0, 1, 10)), "non-integer numbers"),
    (dict(X=np.zeros((10, 2))), "give labels y="),
    (dict(X="keel:yeast4", y=np.zeros(3)), "pass the label column as target="),
    (dict(X=np.zeros((10, 2)), y=np.zeros(10), model=object()), "scikit-learn classifier"),
])
def test_bad_arguments_are_value_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        wce.compare(**bad, methods="ce", folds=2, repeats=1)
