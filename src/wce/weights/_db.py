"""Class counts computed inside a database: ``SELECT label, count(*) ... GROUP BY label``.

Only one row per class comes back; the rows themselves never leave the
database. Three ways in:

* DuckDB (``duckdb:///path.db``, ``duckdb://`` in memory, or a DuckDB
  connection). DuckDB also reads files: a ``table`` that looks like a path, a
  glob or a folder (``data/*.parquet``, ``events/``, ``labels.csv``) is read
  with ``read_parquet`` / ``read_csv`` / ``read_json`` (Hive-partitioned folders
  included), the path passed as a quoted string literal;
* SQLite from the standard library (``sqlite:///path.db``, ``sqlite://`` in
  memory, or a ``sqlite3`` connection), opened read-only;
* any SQLAlchemy URL (``postgresql://...``) or engine/connection, where
  SQLAlchemy (and the database's driver) is installed.

Table and column names are always quoted as identifiers (the driver's quoting
for SQLAlchemy, the SQL standard's double quotes, doubled inside, otherwise),
never pasted into the SQL. This module hands back plain ``(labels, counts,
rows, is_list)`` like the file readers; ``ClassCounts.from_sql`` builds the counts.
"""

from __future__ import annotations

import decimal
import importlib
import math
import os
import re
from typing import Any

import numpy as np

from ._labels import check_same_type, is_missing
from ._readers import BatchCounts, check_null, sorted_counts

EXTRA = "db"
_FILE_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".json", ".jsonl", ".ndjson",
                  ".csv.gz", ".tsv.gz", ".json.gz", ".jsonl.gz")


def _require(module: str, purpose: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{module} is required for {purpose} but is not installed. "
            f"Install it with: pip install 'wce[{EXTRA}]' (or pip install {module})"
        ) from exc


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's error
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def redact(url: str) -> str:
    """``url`` with the password, if any, replaced by ``***`` (for messages and output)."""
    return re.sub(r"(://[^/@:]*:)[^/]*@", r"\1***@", url)


def quote_identifier(name: str) -> str:
    """``name`` as an SQL-standard quoted identifier: in double quotes, a double quote doubled."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"A table or column name must be a non-empty string. Got {name!r}.")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as an SQL string literal: in single quotes, a single quote doubled."""
    if "\x00" in text:
        raise ValueError(f"A path must not contain a NUL character. Got {text!r}.")
    return "'" + text.replace("'", "''") + "'"


class _Database:
    """One connection and how to talk to it: run a statement, quote a name, close."""

    def __init__(self, kind: str, conn: Any, name: str, *, owned: bool, errors: tuple,
                 quote=quote_identifier):
        self.kind, self.conn, self.name, self.owned = kind, conn, name, owned
        self.errors, self.quote = errors, quote
        self.dispose = None  # releases what was created to open the connection

    def run(self, sql: str) -> tuple[list[str], list[tuple]]:
        """The column names and rows of a query."""
        if self.kind == "sqlalchemy":
            result = self.conn.exec_driver_sql(sql)
            return list(result.keys()), [tuple(r) for r in result.fetchall()]
        cursor = self.conn.cursor() if self.kind != "duckdb" else self.conn
        cursor = cursor.execute(sql) or cursor
        names = [d[0] for d in cursor.description or ()]
        return names, [tuple(r) for r in cursor.fetchall()]

    def close(self) -> None:
        if self.owned:
            self.conn.close()
        if self.dispose is not None:
            self.dispose()


def _path_of(url: str, scheme: str) -> str | None:
    """The database file of ``scheme://`` URLs, SQLAlchemy's way: ``///rel.db``, ``////abs.db``;
    None for an in-memory database."""
    rest = url[len(scheme) + 3:]
    if rest in ("", "/", "/:memory:", ":memory:"):
        return None
    if not rest.startswith("/"):
        raise ValueError(
            f"{url!r}: a {scheme} URL names a file after three slashes ({scheme}:///data.db, or "
            f"{scheme}:////absolute/path.db), or nothing for an in-memory database ({scheme}://)."
        )
    return rest[1:]


def _open(source: Any) -> _Database:
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, str):
        scheme = source.partition("://")[0].lower() if "://" in source else ""
        if scheme == "duckdb":
            duckdb = _require("duckdb", "duckdb:// URLs")
            path = _path_of(source, "duckdb")
            if path is not None and not os.path.exists(path):
                raise FileNotFoundError(f"No such database file: {path!r} (from {source!r}).")
            conn = duckdb.connect(path or ":memory:", read_only=path is not None)
            return _Database("duckdb", conn, source, owned=True, errors=(duckdb.Error,))
        if scheme == "sqlite":
            import sqlite3
            from pathlib import Path

            path = _path_of(source, "sqlite")
            if path is None:
                conn = sqlite3.connect(":memory:")
            else:
                if not os.path.exists(path):
                    raise FileNotFoundError(f"No such database file: {path!r} (from {source!r}).")
                conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
            return _Database("sqlite", conn, source, owned=True, errors=(sqlite3.Error,))
        if scheme:
            sqlalchemy = _require("sqlalchemy", f"{scheme}:// URLs")
            try:
                url = sqlalchemy.engine.make_url(source)
                name = url.render_as_string(hide_password=True)
                engine = sqlalchemy.create_engine(url)
            except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError) as exc:
                raise ValueError(f"{redact(source)!r} is not a database URL SQLAlchemy can open: "
                                 f"{_first_line(exc)}") from None
            except ImportError as exc:  # the dialect's driver
                raise ImportError(f"The driver for {scheme}:// URLs is not installed: "
                                  f"{_first_line(exc)}") from None
            return _sqlalchemy(engine, name, owned=True)
        raise ValueError(
            f"{redact(source)!r} is not a database URL: use duckdb:///path.db, duckdb:// (in "
            "memory, e.g. to read Parquet files), sqlite:///path.db, or any SQLAlchemy URL."
        )
    module = type(source).__module__.split(".")[0].lstrip("_")  # DuckDB's class is _duckdb's
    if module == "duckdb":
        import duckdb

        return _Database("duckdb", source, "the DuckDB connection", owned=False,
                         errors=(duckdb.Error,))
    if module == "sqlite3":
        import sqlite3

        return _Database("sqlite", source, "the SQLite connection", owned=False,
                         errors=(sqlite3.Error,))
    if module == "sqlalchemy":
        return _sqlalchemy(source, f"the SQLAlchemy {type(source).__name__}", owned=False)
    raise TypeError(
        "The source must be a database URL (duckdb:///path.db, sqlite:///path.db, a SQLAlchemy "
        f"URL) or a DuckDB, sqlite3 or SQLAlchemy connection. Got {type(source).__name__}."
    )


def _sqlalchemy(engine_or_connection: Any, name: str, *, owned: bool) -> _Database:
    import sqlalchemy

    engine = None
    conn = engine_or_connection
    if isinstance(conn, sqlalchemy.engine.Engine):
        engine = conn
        try:
            conn = engine.connect()
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise ValueError(f"Could not connect to {name}: {_first_line(exc)}") from None
    preparer = conn.dialect.identifier_preparer

    def quote(identifier: str) -> str:
        quote_identifier(identifier)  # the same checks (a non-empty name)
        return preparer.quote_identifier(identifier)

    db = _Database("sqlalchemy", conn, name, owned=engine is not None,
                   errors=(sqlalchemy.exc.SQLAlchemyError,), quote=quote)
    if engine is not None and owned:  # an engine we created from a URL: release its pool too
        db.dispose = engine.dispose
    return db


def looks_like_path(table: str) -> bool:
    """A ``table`` that names files for DuckDB to read rather than a table."""
    return ("/" in table or "\\" in table or any(ch in table for ch in "*?[")
            or table.lower().endswith(_FILE_SUFFIXES) or os.path.isdir(table))


def _file_source(table: str) -> str:
    """DuckDB's table function reading the file(s) ``table`` (a path, glob or folder)."""
    pattern = table
    if os.path.isdir(table):  # a folder, Hive-partitioned or not: every Parquet file under it
        pattern = table.rstrip("/\\") + "/**/*.parquet"
    lower = pattern.lower()
    if lower.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz")):
        return f"read_csv({quote_literal(pattern)})"
    if lower.endswith((".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz")):
        return f"read_json_auto({quote_literal(pattern)})"
    return f"read_parquet({quote_literal(pattern)}, hive_partitioning = true)"


def _table_source(db: _Database, table: str) -> tuple[str, str]:
    """The FROM clause of ``table`` and how messages name it."""
    if not isinstance(table, str) or not table.strip():
        raise ValueError(f"The 'table' parameter must be a non-empty string. Got {table!r}.")
    if looks_like_path(table):
        if db.kind != "duckdb":
            raise ValueError(
                f"Table {table!r} looks like a file path; only DuckDB reads files. Use "
                f"--db duckdb:// (DuckDB in memory) to count {table!r}."
            )
        return _file_source(table), f"{table!r}"
    # schema.table: each part quoted on its own; a name with a dot in it needs a query
    parts = table.split(".") if all(table.split(".")) else [table]
    return ".".join(db.quote(p) for p in parts), f"table {table!r}"


def _plain_label(value: Any, where: str) -> Any:
    """A database value as a class label (ints, strings, booleans; integral numbers as int)."""
    if isinstance(value, decimal.Decimal):
        value = float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, (float, np.floating)) and not math.isnan(value):
        if not float(value).is_integer():
            raise ValueError(
                f"{where} holds the label {value!r}; class labels must be integers, strings or "
                "booleans. Labels such as 0.5 look like probabilities or scores, not classes."
            )
        return int(value)
    if isinstance(value, (bool, int, str, np.integer, np.bool_)) or is_missing(value):
        return value.item() if isinstance(value, np.generic) else value
    raise TypeError(
        f"{where} has labels of type {type(value).__name__} (e.g. {value!r}); class labels must be "
        "integers, strings or booleans. Cast the column in a query (--query / query=)."
    )


def sql_counts(source: Any, *, target: str, table: str | None = None, query: str | None = None,
               null: str = "error", ignore_index: Any = None) -> BatchCounts:
    """``(labels, counts, rows, False)`` of column ``target`` of ``table`` (or of the result of
    ``query``), counted with ``GROUP BY`` in the database behind ``source``."""
    check_null(null)
    if (table is None) == (query is None):
        raise ValueError("Pass either table= (--table) or query= (--query), not both or neither.")
    if not isinstance(target, str) or not target:
        raise ValueError(f"Pass target=<column> (--target COLUMN) to name the label column. "
                         f"Got {target!r}.")
    db = _open(source)
    try:
        if query is not None:
            if not isinstance(query, str) or not query.strip():
                raise ValueError(f"The 'query' parameter must be an SQL query. Got {query!r}.")
            body = re.sub(r"[\s;]+$", "", query)
            src, what = f"({body}) AS wce_source", "the query"
        else:
            src, what = _table_source(db, table)
        try:
            columns, _ = db.run(f"SELECT * FROM {src} LIMIT 0")
        except db.errors as exc:
            verb = "failed" if query is not None else "could not be read"
            raise ValueError(f"{what[0].upper() + what[1:]} {verb} in {db.name}: "
                             f"{_first_line(exc)}") from None
        if target not in columns:
            folded = [c for c in columns if c.lower() == target.lower()]
            if len(folded) != 1:
                raise ValueError(f"Column {target!r} is not in {what} in {db.name}. "
                                 f"Columns: {', '.join(map(str, columns))}.")
            target = folded[0]
        column = db.quote(target)
        sql = f"SELECT {column}, count(*) FROM {src} GROUP BY {column}"
        try:
            _, rows = db.run(sql)
        except db.errors as exc:
            raise ValueError(f"Counting column {target!r} of {what} in {db.name} failed: "
                             f"{_first_line(exc)}") from None
    finally:
        db.close()
    where = f"Column {target!r} of {what} in {db.name}"
    merged: dict = {}
    n_null = total = 0
    for value, n in rows:
        n = int(n)
        total += n
        label = _plain_label(value, where)
        if is_missing(label):
            n_null += n
            continue
        merged[label] = merged.get(label, 0) + n
    if total == 0:
        raise ValueError(f"{what[0].upper() + what[1:]} in {db.name} has no rows: there is "
                         "nothing to count.")
    if n_null and null == "error":
        raise ValueError(f"{where} has {n_null} missing label(s). Drop them first, or pass "
                         "null='skip' (--null skip) to leave them out of the counts.")
    if not merged:
        raise ValueError(f"{where} has only missing labels ({n_null}): there is nothing to count.")
    try:
        check_same_type(list(merged))
    except TypeError as exc:
        raise TypeError(f"{where}: {exc}") from None
    rows_counted = total - n_null
    values, counts = sorted_counts(merged, ignore_index)
    return values, counts, rows_counted, False
