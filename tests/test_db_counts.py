"""Class counts computed in a database (GROUP BY): SQLite, DuckDB and SQLAlchemy URLs."""

from __future__ import annotations

import json
import sqlite3
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wce.cli import main
from wce.weights import ClassCounts
from wce.weights._db import looks_like_path, quote_identifier, quote_literal

ODD_COLUMNS = ["select", 'say "hi"', "two words"]
ROWS = [("fraud", 1, 0), ("ok", 0, 1), ("ok", 0, 1), ("ok", 2, 1), ("fraud", 1, 0), ("ok", 0, 1)]


@pytest.fixture
def sqlite_db(tmp_path):
    """A SQLite file with a table whose name and columns need quoting."""
    path = tmp_path / "labels.db"
    con = sqlite3.connect(path)
    cols = ", ".join(quote_identifier(c) for c in ODD_COLUMNS)
    con.execute(f'CREATE TABLE "the ""events"" table" ({cols})')
    con.executemany(f'INSERT INTO "the ""events"" table" VALUES (?, ?, ?)', ROWS)
    con.execute('CREATE TABLE "with nulls" (y TEXT)')
    con.executemany('INSERT INTO "with nulls" VALUES (?)', [("a",), (None,), ("b",), ("a",)])
    con.execute("CREATE TABLE empty (y INTEGER)")
    con.execute("CREATE TABLE scores (y REAL)")
    con.executemany("INSERT INTO scores VALUES (?)", [(0.0,), (1.5,), (1.0,)])
    con.execute("CREATE TABLE mixed (y)")
    con.executemany("INSERT INTO mixed VALUES (?)", [(1,), ("a",)])
    con.commit()
    con.close()
    return path


TABLE = 'the "events" table'


def test_identifiers_and_literals_are_quoted():
    assert quote_identifier("select") == '"select"'
    assert quote_identifier('a"b') == '"a""b"'
    assert quote_literal("it's.parquet") == "'it''s.parquet'"
    with pytest.raises(ValueError, match="non-empty string"):
        quote_identifier("")
    assert looks_like_path("data/*.parquet") and looks_like_path("x.csv")
    assert not looks_like_path("events") and not looks_like_path("main.events")


@pytest.mark.parametrize("column, expected", [
    ("select", {"fraud": 2, "ok": 4}),
    ('say "hi"', {0: 3, 1: 2, 2: 1}),
    ("two words", {0: 2, 1: 4}),
])
def test_sqlite_odd_names(sqlite_db, column, expected):
    counts = ClassCounts.from_sql(f"sqlite:///{sqlite_db}", table=TABLE, target=column)
    assert counts.as_dict() == expected and counts.n_rows == len(ROWS)


def test_sqlite_counts_with_group_by_in_the_database(sqlite_db):
    """Only a LIMIT 0 probe and the GROUP BY run; one row per class comes back."""
    con = sqlite3.connect(sqlite_db)
    statements = []
    con.set_trace_callback(statements.append)
    counts = ClassCounts.from_sql(con, table=TABLE, target="select")
    assert counts.as_dict() == {"fraud": 2, "ok": 4}
    assert len(statements) == 2
    assert statements[0].endswith("LIMIT 0")
    assert statements[1] == ('SELECT "select", count(*) FROM "the ""events"" table" '
                             'GROUP BY "select"')
    con.execute("SELECT 1")  # a connection we were given stays open


def test_sqlite_query_nulls_empty_and_bad_names(sqlite_db):
    url = f"sqlite:///{sqlite_db}"
    query = 'SELECT "select" AS y FROM "the ""events"" table" WHERE "two words" = 1;'
    assert ClassCounts.from_sql(url, query=query, target="y").as_dict() == {"ok": 4}
    with pytest.raises(ValueError, match=r"Column 'y' of table 'with nulls' in sqlite:///.* has 1 "
                                         r"missing label\(s\)"):
        ClassCounts.from_sql(url, table="with nulls", target="y")
    skipped = ClassCounts.from_sql(url, table="with nulls", target="y", null="skip")
    assert skipped.as_dict() == {"a": 2, "b": 1} and skipped.n_rows == 3
    with pytest.raises(ValueError, match=r"Table 'empty' in sqlite:///.* has no rows"):
        ClassCounts.from_sql(url, table="empty", target="y")
    with pytest.raises(ValueError, match=r"Table 'nope' could not be read in .*no such table"):
        ClassCounts.from_sql(url, table="nope", target="y")
    with pytest.raises(ValueError, match=r"Column 'label' is not in table 'the \"events\" table'.* "
                                         r"Columns: select, say \"hi\", two words\."):
        ClassCounts.from_sql(url, table=TABLE, target="label")
    with pytest.raises(ValueError, match=r"The query failed in .*syntax error"):
        ClassCounts.from_sql(url, query="SELEC y FROM empty", target="y")
    with pytest.raises(ValueError, match=r"Column 'y' of table 'scores'.* holds the label 1\.5"):
        ClassCounts.from_sql(url, table="scores", target="y")
    with pytest.raises(TypeError, match=r"Column 'y' of table 'mixed'.*mix types"):
        ClassCounts.from_sql(url, table="mixed", target="y")
    with pytest.raises(ValueError, match="only DuckDB reads files"):
        ClassCounts.from_sql(url, table="data/*.parquet", target="y")
    with pytest.raises(ValueError, match="either table= .* or query="):
        ClassCounts.from_sql(url, target="y")
    with pytest.raises(FileNotFoundError, match="No such database file"):
        ClassCounts.from_sql(f"sqlite:///{sqlite_db}.missing", table="t", target="y")
    with pytest.raises(ValueError, match="is not a database URL"):
        ClassCounts.from_sql(str(sqlite_db), table="t", target="y")


def test_declared_classes_and_ignore_index(sqlite_db):
    url = f"sqlite:///{sqlite_db}"
    counts = ClassCounts.from_sql(url, table=TABLE, target='say "hi"', ignore_index=2,
                                  classes=[2, 1, 0, 3])
    assert counts.classes == (2, 1, 0, 3) and counts.counts.tolist() == [0, 2, 3, 0]


def test_sqlalchemy_url_and_engine(sqlite_db):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    url = f"sqlite+pysqlite:///{sqlite_db}"
    for column, expected in (("select", {"fraud": 2, "ok": 4}), ('say "hi"', {0: 3, 1: 2, 2: 1})):
        assert ClassCounts.from_sql(url, table=TABLE, target=column).as_dict() == expected
    engine = sqlalchemy.create_engine(url)
    assert ClassCounts.from_sql(engine, table=TABLE, target="two words").as_dict() == {0: 2, 1: 4}
    with engine.connect() as con:
        assert ClassCounts.from_sql(con, query="SELECT y FROM \"with nulls\"", target="y",
                                    null="skip").as_dict() == {"a": 2, "b": 1}
        assert not con.closed
    with pytest.raises(ValueError, match=r"Table 'nope' could not be read in sqlite\+pysqlite"):
        ClassCounts.from_sql(url, table="nope", target="y")


# ------------------------------------------------------------------------------- DuckDB
@pytest.fixture
def duckdb():
    return pytest.importorskip("duckdb")


def test_duckdb_file_schema_table_bools_and_nulls(tmp_path, duckdb):
    path = tmp_path / "d.duckdb"
    con = duckdb.connect(str(path))
    con.execute('CREATE SCHEMA s; CREATE TABLE s."my table" ("is fraud" BOOLEAN, "select" INTEGER)')
    con.execute("INSERT INTO s.\"my table\" VALUES (true, -1), (false, 3), (false, 3), (NULL, NULL)")
    con.close()
    url = f"duckdb:///{path}"
    counts = ClassCounts.from_sql(url, table="s.my table", target="is fraud", null="skip")
    assert counts.as_dict() == {False: 2, True: 1} and all(type(c) is bool for c in counts.classes)
    assert ClassCounts.from_sql(url, table="s.my table", target="select",
                                null="skip").as_dict() == {-1: 1, 3: 2}
    with pytest.raises(ValueError, match=r"has 1 missing label\(s\)"):
        ClassCounts.from_sql(url, table="s.my table", target="select")
    with pytest.raises(ValueError, match=r"Table 'nope' could not be read in duckdb:///.*"):
        ClassCounts.from_sql(url, table="nope", target="y")


def test_duckdb_reads_parquet_globs_csv_and_hive_folders(tmp_path, duckdb):
    rng = np.random.default_rng(0)
    folder = tmp_path / "it's data"  # a quote in the path: passed as a quoted literal
    parts = []
    for region in ("eu", "us"):
        part = folder / f"region={region}"
        part.mkdir(parents=True)
        y = rng.choice(["a", "b", "c"], size=500, p=[0.7, 0.2, 0.1])
        pq.write_table(pa.table({"label": y, "x": rng.normal(size=y.size)}), part / "p0.parquet")
        parts.append(y)
    y_all = np.concatenate(parts)
    expected = ClassCounts.from_labels(y_all)
    assert ClassCounts.from_sql("duckdb://", table=f"{folder}/*/*.parquet", target="label") == expected
    assert ClassCounts.from_sql("duckdb://", table=str(folder), target="label") == expected
    by_region = ClassCounts.from_sql("duckdb://", table=str(folder), target="region")
    assert by_region.as_dict() == {"eu": 500, "us": 500}  # the Hive partition column
    one = folder / "region=eu" / "p0.parquet"
    assert ClassCounts.from_sql("duckdb://", table=str(one), target="label") == \
        ClassCounts.from_parquet(one, "label")
    csv = tmp_path / "labels.csv"
    csv.write_text("label\n1\n0\n1\n")
    assert ClassCounts.from_sql("duckdb:///:memory:", table=str(csv),
                                target="label").as_dict() == {0: 1, 1: 2}
    with pytest.raises(ValueError, match=r"could not be read in duckdb://"):
        ClassCounts.from_sql("duckdb://", table=str(tmp_path / "none*.parquet"), target="label")


def test_duckdb_connection_and_query(duckdb):
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT (i % 3) AS y FROM range(10) r(i)")
    assert ClassCounts.from_sql(con, table="t", target="y").as_dict() == {0: 4, 1: 3, 2: 3}
    assert ClassCounts.from_sql(con, query="SELECT y FROM t WHERE y > 0", target="Y").as_dict() \
        == {1: 3, 2: 3}  # a column found case-insensitively (as DuckDB resolves names)
    con.execute("SELECT 1")  # still open


def test_missing_drivers_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "duckdb", None)
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(ImportError, match=r"duckdb is required .* pip install 'wce\[db\]'"):
        ClassCounts.from_sql("duckdb://", table="t", target="y")
    with pytest.raises(ImportError, match=r"sqlalchemy is required .* pip install 'wce\[db\]'"):
        ClassCounts.from_sql("postgresql://localhost/db", table="t", target="y")


# ------------------------------------------------------------------------ command line
def test_cli_db_table_and_query(sqlite_db, capsys):
    url = f"sqlite:///{sqlite_db}"
    assert main(["weights", "--db", url, "--table", TABLE, "--target", "select",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["count"] for r in out["classes"]] == [2, 4]
    assert out["positive"] == "fraud" and out["pos_weight"] == pytest.approx(2.0)
    assert main(["weights", "--db", url, "--query", 'SELECT y FROM "with nulls"', "--target", "y",
                 "--null", "skip"]) == 0
    assert "pos_weight" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--table", "nope", "--target", "y"], "Table 'nope' could not be read"),
    (["--table", TABLE, "--target", "nope"], "Column 'nope' is not in table"),
    (["--query", "SELEC 1", "--target", "y"], "The query failed"),
    (["--table", "empty", "--target", "y"], "has no rows"),
    (["--table", "with nulls", "--target", "y"], "missing label(s)"),
    (["--table", TABLE], "--db needs --target"),
    (["--target", "y"], "--db needs either --table"),
    (["--table", "t", "--query", "SELECT 1", "--target", "y"], "--db needs either --table"),
    (["--table", "data/*.parquet", "--target", "y"], "only DuckDB reads files"),
])
def test_cli_db_errors_are_one_line_exit_2(sqlite_db, capsys, argv, message):
    rc = main(["weights", "--db", f"sqlite:///{sqlite_db}", *argv])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("wce weights: error: ")
    assert message in err and len(err.strip().splitlines()) == 1


def test_cli_table_without_db_is_an_error(capsys):
    assert main(["weights", "x.csv", "--table", "t", "--target", "y"]) == 2
    assert "--table and --query need --db URL" in capsys.readouterr().err


def test_count_file_with_the_duckdb_engine(tmp_path, capsys, duckdb):
    from wce.weights.engines import count_file

    y = np.array([2, 0, 1, 1, 2, 2, 2])
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(pa.table({"y": y[:3]}), folder / "a.parquet")
    pq.write_table(pa.table({"y": y[3:]}), folder / "b.parquet")
    expected = ClassCounts.from_labels(y)
    assert count_file(folder, "y", engine="duckdb") == expected
    assert count_file(folder / "a.parquet", "y", engine="duckdb") == ClassCounts.from_labels(y[:3])
    with pytest.raises(ValueError, match="engine='duckdb' counts one label per row"):
        count_file(folder, "y", engine="duckdb", kind="mask")
    assert main(["weights", str(folder), "--target", "y", "--engine", "duckdb",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_rows"] == y.size


def test_passwords_are_not_shown():
    from wce.weights._db import redact

    assert redact("postgresql://me:s3cret@db.example:5432/prod") == \
        "postgresql://me:***@db.example:5432/prod"
    assert redact("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(ValueError) as err:
        ClassCounts.from_sql("nosuchdialect://me:s3cret@host/db", table="t", target="y")
    assert "s3cret" not in str(err.value)
