"""The ``wce`` command (also ``python -m wce``): class weights of a data set, and experiments.

Errors a user can fix print one line to stderr and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import Sequence

from .reporting.console import console
from .weights import NORMALIZATIONS, SCHEMES

DESCRIPTION = (
    "wce: weighted cross-entropy for imbalanced classification. Compute the class counts and "
    "class weights of a data set, or compare ways of handling class imbalance (class weights, "
    "focal and other losses, threshold moving, resampling) by cross-validation and write a "
    "report. Run 'wce COMMAND --help' for the options of a command."
)

# Modules that add sub-commands: each defines register(subparsers).
COMMAND_MODULES = ("wce.experiments.cli", "wce.experiments.longtail_cli")


class UsageError(Exception):
    """A problem with the user's input: reported as one line, exit code 2."""


def _looks_like_path(spec: str) -> bool:
    return (os.sep in spec or "/" in spec or spec.startswith((".", "~"))
            or os.path.splitext(spec)[1].lower() in (".csv", ".tsv", ".txt", ".parquet", ".pq"))


def _count(args) -> "object":
    from .weights import ClassCounts

    if args.db is not None:
        if args.data is not None:
            raise UsageError(f"pass either a file or data set ({args.data!r}) or --db URL, not both.")
        if args.target is None:
            raise UsageError("--db needs --target COLUMN to name the label column.")
        if (args.table is None) == (args.query is None):
            raise UsageError("--db needs either --table NAME (a table, or for DuckDB a Parquet/CSV "
                             "path or glob) or --query SQL.")
        if args.engine != "local":
            raise UsageError("--engine is for files; with --db the database counts.")
        return ClassCounts.from_sql(args.db, table=args.table, query=args.query,
                                    target=args.target, null=args.null)
    if args.table is not None or args.query is not None:
        raise UsageError("--table and --query need --db URL (e.g. --db duckdb:///data.db).")
    path = args.data
    if path is None:
        raise UsageError("pass a CSV/Parquet file or a data set (e.g. keel:yeast4), or --db URL.")
    if os.path.exists(path):
        if args.target is None:
            raise UsageError(f"{path}: pass --target COLUMN to name the label column.")
        if args.engine != "local":
            from .weights import engines

            return engines.count_file(path, args.target, engine=args.engine, null=args.null)
        if os.path.isdir(path):
            raise UsageError(f"{path!r} is a folder: pass one CSV or Parquet file, or --engine "
                             "duckdb, dask or spark to count every Parquet file under it.")
        if path.endswith((".parquet", ".pq")):
            return ClassCounts.from_parquet(path, args.target, null=args.null, progress=args.progress)
        return ClassCounts.from_csv(path, args.target, null=args.null, progress=args.progress)
    if _looks_like_path(path):
        raise FileNotFoundError(f"No such file: {path!r}.")
    from .experiments.datasets import load_dataset

    data = load_dataset(path, target=args.target)
    return ClassCounts.from_labels(data.y)


def _positive(counts, wanted: str | None):
    """The positive class: ``--positive`` (matched by its printed form), else the minority."""
    if wanted is None:
        return counts.positive_class()
    matches = [c for c in counts.classes if str(c) == wanted
               or (isinstance(c, bool) and str(c).lower() == wanted.lower())]
    if not matches:  # 1 and 1.0 name the same class
        try:
            number = float(wanted)
        except ValueError:
            number = None
        matches = [c for c in counts.classes if isinstance(c, int) and not isinstance(c, bool)
                   and c == number]
    if len(matches) != 1:
        shown = ", ".join(repr(str(c)) for c in counts.classes[:20])
        raise UsageError(f"--positive {wanted!r} is not one of the classes: {shown}.")
    return counts.positive_class(matches[0])


def _weights_command(args) -> int:
    from .weights import class_weights

    counts = _count(args)
    if args.db is None:
        source = args.data
    else:
        from .weights._db import redact

        source = f"{redact(args.db)} {args.table or 'query'}"
    if counts.total == 0:
        raise UsageError(f"{source}: no labels to count (the data is empty).")
    weights = class_weights(counts, scheme=args.scheme, normalize=args.normalize, beta=args.beta,
                            zero_count=args.zero_count)
    positive = pw = None
    if counts.n_classes == 2 or args.positive is not None:
        positive = _positive(counts, args.positive)
        n_pos = int(counts.counts[counts.classes.index(positive)])
        pw = (counts.total - n_pos) / n_pos if n_pos else None
    rows = [
        {"class": c, "count": int(n), "frequency": float(f), "weight": float(w)}
        for c, n, f, w in zip(counts.classes, counts.counts, counts.frequencies, weights)
    ]
    if args.format == "json":
        print(json.dumps({"data": source, "scheme": args.scheme, "normalize": args.normalize,
                          "n_rows": counts.n_rows, "classes": rows, "positive": positive,
                          "pos_weight": pw}, indent=2, default=str))
        return 0
    from rich.table import Table

    table = Table(title=f"{source}: scheme={args.scheme}, normalize={args.normalize}")
    for col in ("class", "count", "frequency", "weight"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for r in rows:
        mark = " (positive)" if positive is not None and r["class"] == positive \
            and type(r["class"]) is type(positive) else ""
        table.add_row(str(r["class"]) + mark, f"{r['count']:,}", f"{r['frequency']:.4f}",
                      f"{r['weight']:.6g}")
    out = console()
    out.print(table)
    if positive is not None:
        rest = "the other class" if counts.n_classes == 2 else "all other classes"
        how = "--positive" if args.positive is not None else "the minority class; --positive to change"
        value = f"{pw:.6g}" if pw is not None else "undefined (no positive example)"
        out.print(f"positive = {positive!r} ({how})")
        out.print(f"pos_weight (n_neg / n_pos, negative = {rest}): {value}")
    return 0


def version() -> str:
    """The installed distribution's version, else (a source tree not installed) ``wce.__version__``."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as distribution_version

    try:
        return distribution_version("wce")
    except PackageNotFoundError:
        # The package is always loaded before its submodules, so no import is needed here.
        return str(getattr(sys.modules.get("wce"), "__version__", "unknown"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wce", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"wce {version()}",
                        help="print the version of wce and exit")
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    w = sub.add_parser(
        "weights", help="class counts and class weights of a data set, file or database table",
        description="Count the classes of a labelled CSV or Parquet file, of a bundled data set, "
                    "or of a database table (GROUP BY in the database: --db), and print the class "
                    "weights of a scheme. For two classes (or with --positive) it also prints "
                    "pos_weight = n_neg / n_pos; the positive class is the minority class (on a "
                    "tie, the one that sorts last) unless --positive names it.")
    w.add_argument("data", nargs="?",
                   help="CSV/Parquet path, or a data set spec such as keel:yeast4 (not with --db)")
    w.add_argument("--target", help="label column (required for files and --db)")
    w.add_argument("--db", metavar="URL",
                   help="count in a database: duckdb:///file.db, duckdb:// (in memory: reads "
                        "Parquet/CSV files named by --table), sqlite:///file.db, or any SQLAlchemy "
                        "URL")
    w.add_argument("--table", help="with --db: the table (schema.table), or for DuckDB a "
                                   "Parquet/CSV path, glob ('data/*.parquet') or folder")
    w.add_argument("--query", metavar="SQL", help="with --db: count the result of this query "
                                                  "instead of a table")
    w.add_argument("--positive", metavar="LABEL",
                   help="the positive class of pos_weight (default: the minority class)")
    w.add_argument("--scheme", default="balanced", choices=SCHEMES[:5],
                   help="how weights follow from counts (default balanced: n / (k * n_c))")
    w.add_argument("--normalize", default="none", choices=NORMALIZATIONS,
                   help="rescale the weights (default none)")
    w.add_argument("--beta", type=float, default=0.999,
                   help="beta of effective_number (default 0.999)")
    w.add_argument("--zero-count", default="error", choices=("error", "zero", "max"),
                   help="a class with no examples: refuse (default), weight 0, or the largest "
                        "weight of the present classes")
    w.add_argument("--null", default="error", choices=("error", "skip"),
                   help="missing labels: refuse (default) or leave out of the counts")
    w.add_argument("--engine", default="local", choices=("local", "duckdb", "dask", "spark"),
                   help="where to count the file (default local; duckdb needs wce[db])")
    w.add_argument("--format", default="table", choices=("table", "json"),
                   help="output format (default table)")
    w.add_argument("--no-progress", dest="progress", action="store_false",
                   help="hide the progress bar shown while counting files")
    w.set_defaults(func=_weights_command)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, ValueError, TypeError, FileNotFoundError, IsADirectoryError,
            ImportError, ConnectionError) as exc:
        print(f"wce {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wce {args.command}: interrupted; finished results are kept.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
