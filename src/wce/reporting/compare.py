"""The report of `wce compare`: report.md, results.csv, results.json and PNG plots.

Takes the summary that :func:`wce.experiments.analysis.summarise` builds and the unit
results, all plain data; imports nothing from :mod:`wce.experiments`.
"""

from __future__ import annotations

import io
import json
import math
import os

from . import files, plots, tables

PROTOCOL_NOTES = """\
**Protocol.** Repeated stratified k-fold. Inside each training fold only: standard scaling,
resampling (imbalanced-learn), class weights from the training labels, and for
`ce+threshold` the F1-optimal threshold chosen on a stratified 25% inner split (then refit on
the whole fold). Other methods predict positive when p >= 0.5.

**Intervals.** Mean over the J test folds ± the 95% half-width of the corrected resampled
t-interval of Nadeau & Bengio (2003): variance (1/J + n_test/n_train)·s², J−1 degrees of
freedom. CV folds share training rows and are not independent; the plain t-interval would be
too narrow.

**Prior correction** (Saerens et al. 2002; King & Zeng 2001). A model trained with class
weights (or on resampled data) estimates odds inflated by w_pos/w_neg (times the resampling
change of the class ratio), so the corrected probability is sigmoid(z − log(w_pos/w_neg)).
"Brier corr." and "ECE corr." are computed on it; focal loss has no closed form (–).

**Across data sets** (Demšar 2006). Mean ranks (1 = best), Friedman test, Nemenyi critical
difference, and Wilcoxon signed-rank tests of each weighting method against `ce+threshold` and
each resampling method, Holm-corrected within each metric.
"""


def _clean(x):
    """JSON-safe and compact: NaN -> None, floats to 6 significant digits."""
    if isinstance(x, float):
        return None if math.isnan(x) else float(f"{x:.6g}")
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def main_table(summary: dict, *, compact: bool = False) -> tuple:
    datasets = [d["dataset"] for d in summary["datasets"]]
    methods = [m["name"] for m in summary["methods"]]
    if len(datasets) == 1:
        header, cells = tables.single_dataset_rows(summary["per_dataset"], datasets[0], methods,
                                                   compact=compact)
        return header, cells, f"{datasets[0]}: mean over folds ± 95% CI (Nadeau-Bengio)"
    header, cells = tables.multi_dataset_rows(summary["across_datasets"], methods)
    return header, cells, f"{len(datasets)} data sets: mean rank (1 = best) and mean over data sets"


def write(summary: dict, units: list, out: str) -> dict:
    """Write the report folder; returns ``{file name: path}``."""
    datasets = [d["dataset"] for d in summary["datasets"]]
    methods = [m["name"] for m in summary["methods"]]
    paths = {name: os.path.join(out, name) for name in
             ("report.md", "results.csv", "results.json", "pr_curves.png", "reliability.png",
              "weight_strength.png", "ranks.png")}
    files.write_json_atomic(paths["results.json"], _clean(summary))
    fields = ["dataset", "method", "family", "metric", "mean", "ci_low", "ci_high", "n_folds", "model"]
    model = summary["settings"]["model"]
    files.write_csv_atomic(paths["results.csv"], [{**r, "model": model} for r in _clean(summary["per_dataset"])],
                           fields)
    plots.pr_curves(units, datasets, methods, paths["pr_curves.png"])
    plots.reliability(units, methods, paths["reliability.png"])
    plots.weight_strength(units, methods, paths["weight_strength.png"])
    if len(datasets) > 1:
        plots.ranks(summary["across_datasets"], paths["ranks.png"], len(datasets))
    else:
        del paths["ranks.png"]
    files.write_text_atomic(paths["report.md"], markdown(
        summary, sorted(os.path.basename(p) for p in paths.values() if p.endswith(".png"))))
    return paths


def markdown(summary: dict, images: list) -> str:
    s = summary["settings"]
    out = io.StringIO()
    w = out.write
    w("# wce compare report\n\n")
    w(f"Command: `{summary['command']}`\n\n")
    w(f"Model `{s['model']}`, {s['folds']}-fold stratified CV × {s['repeats']} repeat(s), seed {s['seed']}, "
      f"options {json.dumps(s['options'])}. Compute time {summary['seconds_computing']:.0f} s.\n\n")
    w("## Verdict: does weighting beat plain CE + threshold moving, and resampling?\n\n")
    for line in summary["verdict"]:
        w(f"- {line}\n")
    header, cells, title = main_table(summary)
    w(f"\n## Results\n\n{title}.\n\n{tables.markdown(header, cells)}\n\n")
    if summary["comparisons"]:
        w("### Weighting vs references (Wilcoxon signed-rank over data sets, Holm-corrected per metric)\n\n")
        rows = [[c["metric"], c["method"], c["reference"], f"{c['wins']}/{c['ties']}/{c['losses']}",
                 f"{c['mean_difference']:+.4f}", f"{c['p']:.3g}", f"{c['p_holm']:.3g}", c["outcome"]]
                for c in summary["comparisons"]]
        w(tables.markdown(["metric", "method", "reference", "W/T/L", "mean diff.", "p", "p Holm", "outcome"],
                          rows) + "\n\n")
        w("### Friedman tests\n\n")
        rows = [[k, f"{v['friedman_statistic']:.2f}", f"{v['friedman_p']:.3g}", f"{v['nemenyi_cd']:.2f}"]
                for k, v in summary["across_datasets"].items()]
        w(tables.markdown(["metric", "chi²", "p", "Nemenyi CD (ranks)"], rows) + "\n\n")
        methods = [m["name"] for m in summary["methods"]]
        index = {(r["dataset"], r["method"]): r["mean"] for r in summary["per_dataset"] if r["metric"] == "f1"}
        rows = [[d["dataset"]] + [f"{index[(d['dataset'], m)]:.3f}" for m in methods] for d in summary["datasets"]]
        w("### Minority F1 per data set (mean over folds)\n\n" + tables.markdown(["data set"] + methods, rows) + "\n\n")
    w("## Data sets\n\n")
    rows = [[d["dataset"], d["n"], d["n_features"], d["n_positive"], f"{d['imbalance_ratio']:.1f}",
             d["positive"], d["note"]] for d in summary["datasets"]]
    w(tables.markdown(["data set", "rows", "features", "positives", "n_neg/n_pos", "positive label", "note"],
                      rows) + "\n\n")
    w("## Methods\n\n")
    for m in summary["methods"]:
        w(f"- `{m['name']}` ({m['family']}): {m['description']}\n")
    for sk in summary["skipped"]:
        w(f"- skipped `{sk['method']}`: {sk['reason']}\n")
    w("\n" + PROTOCOL_NOTES + "\n## Plots\n\n")
    for image in images:
        w(f"![{image}]({image})\n\n")
    env = summary["environment"]
    w("## Environment\n\n" + ", ".join(f"{k} {v}" for k, v in env.items()) + "\n")
    return out.getvalue()
