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


def _count(args) -> "object":
    from .weights import ClassCounts

    path = args.data
    if os.path.exists(path):
        if args.engine != "local":
            from .weights import engines

            return engines.count_file(path, args.target, engine=args.engine, null=args.null)
        if args.target is None:
            raise UsageError(f"{path}: pass --target COLUMN to name the label column.")
        if path.endswith((".parquet", ".pq")):
            return ClassCounts.from_parquet(path, args.target, null=args.null, progress=args.progress)
        return ClassCounts.from_csv(path, args.target, null=args.null, progress=args.progress)
    from .experiments.datasets import load_dataset

    data = load_dataset(path, target=args.target)
    return ClassCounts.from_labels(data.y)


def _weights_command(args) -> int:
    from .weights import class_weights, pos_weight

    counts = _count(args)
    weights = class_weights(counts, scheme=args.scheme, normalize=args.normalize, beta=args.beta,
                            zero_count=args.zero_count)
    pw = pos_weight(counts, positive=counts.classes[-1]) if counts.n_classes == 2 else None
    rows = [
        {"class": c, "count": int(n), "frequency": float(f), "weight": float(w)}
        for c, n, f, w in zip(counts.classes, counts.counts, counts.frequencies, weights)
    ]
    if args.format == "json":
        print(json.dumps({"data": args.data, "scheme": args.scheme, "normalize": args.normalize,
                          "n_rows": counts.n_rows, "classes": rows, "pos_weight": pw}, indent=2,
                         default=str))
        return 0
    from rich.table import Table

    table = Table(title=f"{args.data}: scheme={args.scheme}, normalize={args.normalize}")
    for col in ("class", "count", "frequency", "weight"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for r in rows:
        table.add_row(str(r["class"]), f"{r['count']:,}", f"{r['frequency']:.4f}", f"{r['weight']:.6g}")
    out = console()
    out.print(table)
    if pw is not None:
        out.print(f"pos_weight (n_neg / n_pos, positive = {counts.classes[-1]!r}): {pw:.6g}")
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
        "weights", help="class counts and class weights of a data set or file",
        description="Count the classes of a labelled CSV or Parquet file, or of a bundled data "
                    "set, and print the class weights of a scheme (and, for two classes, the "
                    "pos_weight n_neg / n_pos).")
    w.add_argument("data", help="CSV/Parquet path, or a data set spec such as keel:yeast4")
    w.add_argument("--target", help="label column (required for files)")
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
    w.add_argument("--engine", default="local", choices=("local", "dask", "spark"),
                   help="where to count the file (default local)")
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
    except (UsageError, ValueError, TypeError, FileNotFoundError, ImportError) as exc:
        print(f"wce {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wce {args.command}: interrupted; finished results are kept.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
