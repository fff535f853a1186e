"""The benchmark tables the docs include are generated from the committed CSVs, not typed."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _tables():
    spec = importlib.util.spec_from_file_location("bench_tables", ROOT / "benchmarks" / "tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TABLES = _tables()


@pytest.mark.parametrize("name", sorted(TABLES.TABLES))
def test_committed_table_is_generated_from_its_csv(name):
    assert (RESULTS / f"{name}.csv").exists()
    committed = (RESULTS / f"{name}.md").read_text(encoding="utf-8")
    assert committed == TABLES.render(name), (
        f"benchmarks/results/{name}.md is stale or edited by hand: "
        f"run `.venv/bin/python benchmarks/tables.py {name}`")


def test_the_docs_include_every_table_and_type_none():
    included = set()
    for page in (ROOT / "docs").glob("*.md"):
        included |= set(re.findall(r'--8<-- "benchmarks/results/(\w+)\.md"', page.read_text()))
    assert included == set(TABLES.TABLES)


def test_a_changed_csv_changes_the_table(tmp_path, monkeypatch):
    import csv

    with (RESULTS / "gbdt.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    custom = next(r for r in rows if r["implementation"] == "custom")
    custom["ratio_to_builtin"] = "7.654"
    with (tmp_path / "gbdt.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    monkeypatch.setattr(TABLES, "RESULTS", tmp_path)
    table = TABLES.render("gbdt")
    assert "| 7.65 |" in table
    assert table != (RESULTS / "gbdt.md").read_text(encoding="utf-8")


def test_compare_benchmark_meets_its_goals_and_the_docs_claim():
    """docs/compare.md says `wce compare` (no recalibration) is no slower than the scikit-learn
    script at every size measured; bench_compare.py's goals at a million rows hold in the CSV."""
    import csv

    with (RESULTS / "compare.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    wce = {int(r["rows"]): r for r in rows if r["tool"] == "wce"}
    assert set(wce) == {10_000, 100_000, 1_000_000}
    assert all(float(r["time_ratio_vs_sklearn"]) <= 1.0 for r in wce.values())
    docs = " ".join((ROOT / "docs" / "compare.md").read_text().split())
    assert "no slower than the script at any size measured" in docs
    million = wce[1_000_000]
    assert float(million["peak_rss_mb"]) <= 1500 and float(million["unit_files_mb"]) <= 50
    assert float(million["time_ratio_vs_sklearn"]) <= 1.2
