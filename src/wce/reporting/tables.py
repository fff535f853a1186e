"""Tables of a comparison: the rich table printed in the terminal and the Markdown of report.md."""

from __future__ import annotations

import math

SINGLE_COLUMNS = (("f1", "F1"), ("pr_auc", "PR-AUC"), ("roc_auc", "ROC-AUC"), ("balanced_accuracy", "bal. acc"),
                  ("g_mean", "G-mean"), ("mcc", "MCC"), ("brier", "Brier"), ("brier_corrected", "Brier corr."),
                  ("ece", "ECE"), ("ece_corrected", "ECE corr."))


def _fmt(x: float, digits: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _interval(r: dict) -> str:
    if math.isnan(r["mean"]):
        return "–"
    if math.isnan(r["ci_low"]):
        return _fmt(r["mean"])
    return f"{r['mean']:.3f}±{(r['ci_high'] - r['ci_low']) / 2:.3f}"


# The terminal shows fewer columns than report.md; intervals only for the first two.
COMPACT_COLUMNS = (("f1", "F1"), ("pr_auc", "PR-AUC"), ("mcc", "MCC"), ("balanced_accuracy", "bal.acc"),
                   ("brier", "Brier"), ("brier_corrected", "Brier corr."))


def single_dataset_rows(rows: list, dataset: str, methods: list, *, compact: bool = False) -> tuple:
    """Header and cells (mean ± 95% half-width) of one data set, one row per method."""
    index = {(r["method"], r["metric"]): r for r in rows if r["dataset"] == dataset}
    columns = COMPACT_COLUMNS if compact else SINGLE_COLUMNS
    header = ["method"] + [label for _, label in columns]
    cells = [[m] + [_interval(index[(m, key)]) if not compact or i < 2 else _fmt(index[(m, key)]["mean"])
                    for i, (key, _) in enumerate(columns)] for m in methods]
    return header, cells


def multi_dataset_rows(across: dict, methods: list) -> tuple:
    """Header and cells of mean ranks and means over data sets, methods sorted by F1 rank."""
    metrics = list(across)
    shown = metrics[:2]  # means of the first two metrics; ranks of all
    header = ["method"] + [f"rank {m}" for m in metrics] + [f"mean {m}" for m in shown]
    order = sorted(methods, key=lambda m: across[metrics[0]]["mean_ranks"][m])
    cells = [[m] + [_fmt(across[k]["mean_ranks"].get(m, math.nan), 2) for k in metrics]
             + [_fmt(across[k]["mean"].get(m, math.nan)) for k in shown] for m in order]
    return header, cells


def markdown(header: list, cells: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in cells]
    return "\n".join(lines)


def rich_table(header: list, cells: list, title: str):
    """A rich table; ``title``, headers and cells are plain text (a file name such as
    ``[red]x.csv`` is shown as it is, never read as rich markup)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(str(title)), box=box.SIMPLE_HEAD, pad_edge=False)
    for i, h in enumerate(header):
        table.add_column(escape(str(h)), justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in cells:
        table.add_row(*(escape(str(c)) for c in row))
    return table
