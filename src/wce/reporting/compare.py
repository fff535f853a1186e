"""The report of `wce compare`: report.md, results.csv, results.json and PNG plots.

Takes the summary that :func:`wce.experiments.analysis.summarise` builds and the unit
results, all plain data; imports nothing from :mod:`wce.experiments`.
"""

from __future__ import annotations

import html
import io
import json
import math
import os
import re

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

**Paired tests on one data set** (Nadeau & Bengio 2003). Every method is compared with
`ce+threshold` and with `ce` on the same folds: the fold differences d get the corrected
resampled t-test, t = mean(d) / sqrt((1/J + n_test/n_train)·s_d²) with J−1 degrees of freedom;
the p-values of one metric on one data set are Holm-adjusted together. A difference is
significant when the adjusted p-value is below 0.05.

**Recalibration.** For weighted and resampled methods a Platt (sigmoid) and an isotonic map
are fitted inside each training fold, on a stratified 25% inner split the model did not train
on (and that keeps the data's class ratio), then applied to the test logits of the model
trained on the whole fold (as scikit-learn's CalibratedClassifierCV with one split).

**Across data sets** (Demšar 2006). Mean ranks (1 = best), Friedman test, Nemenyi critical
difference, and Wilcoxon signed-rank tests of each weighting method against `ce+threshold` and
each resampling method, Holm-corrected within each metric.
"""


def _clean(x):
    """JSON-safe and compact: NaN -> None, floats to 6 significant digits."""
    if isinstance(x, float):
        return None if not math.isfinite(x) else float(f"{x:.6g}")
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


def focus_methods(verdict: dict | None, methods: list) -> dict:
    """``{data set: methods that matter for its verdict}``: ce, ce+threshold, the recommended
    method and the best weighting method, in the order of ``methods``."""
    out = {}
    for answer in (verdict or {}).get("datasets", []):
        keep = {"ce", "ce+threshold", answer.get("recommended"), answer.get("best_weighting")}
        out[answer["dataset"]] = [m for m in methods if m in keep]
    return out


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
    verdict = summary.get("dataset_verdict")
    focus = focus_methods(verdict, methods)
    with _names_as_plain_text():  # a '$' in a file name is not mathtext
        plots.pr_curves(units, datasets, methods, paths["pr_curves.png"], focus=focus)
        plots.reliability(units, methods, paths["reliability.png"],
                          focus=sorted({m for ms in focus.values() for m in ms}, key=methods.index))
        plots.weight_strength(units, methods, paths["weight_strength.png"], rows=summary["per_dataset"])
        if len(datasets) > 1:
            plots.ranks(summary["across_datasets"], paths["ranks.png"], len(datasets))
        else:
            del paths["ranks.png"]
    if summary.get("recommended"):
        paths["recommended.json"] = os.path.join(out, "recommended.json")
        files.write_json_atomic(paths["recommended.json"], _clean(summary["recommended"]), indent=2)
    files.write_text_atomic(paths["report.md"], markdown(
        summary, sorted(os.path.basename(p) for p in paths.values() if p.endswith(".png"))))
    return paths


def _names_as_plain_text():
    """A context in which plot titles and labels (file names among them) are drawn as given:
    matplotlib would otherwise read ``$...$`` in a file name as mathtext, and fail on bad TeX."""
    import contextlib

    try:
        import matplotlib
    except ImportError:
        return contextlib.nullcontext()
    if "text.parse_math" not in matplotlib.rcParams:
        return contextlib.nullcontext()
    return matplotlib.rc_context({"text.parse_math": False})


def escape_markdown(text: str) -> str:
    """``text`` (a file name, a label) safe inside Markdown and the HTML it becomes: ``<>&`` as
    entities, and the characters that make links, emphasis, code or table cells escaped."""
    text = html.escape(str(text), quote=False)
    return re.sub(r"([\\`*\[\]|])", r"\\\1", text).replace("\n", " ").replace("\r", " ")


def _code_span(text: str) -> str:
    """``text`` as one inline code span, whatever backticks it holds (CommonMark: a longer fence)."""
    text = str(text).replace("\n", " ").replace("\r", " ")
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def _escape_user_text(summary: dict) -> dict:
    """A copy of ``summary`` whose user-given text (data set names and sources, positive labels)
    is escaped by :func:`escape_markdown` wherever it appears, in values, keys and sentences."""
    unsafe = set()
    for d in summary.get("datasets", []):
        unsafe |= {str(d.get(k)) for k in ("dataset", "positive", "source") if d.get(k) is not None}
    pairs = sorted(((u, escape_markdown(u)) for u in unsafe if escape_markdown(u) != u),
                   key=lambda p: -len(p[0]))
    if not pairs:
        return summary

    def fix(x):
        if isinstance(x, str):
            for raw, safe in pairs:
                x = x.replace(raw, safe)
            return x
        if isinstance(x, dict):
            return {fix(k) if isinstance(k, str) else k: fix(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [fix(v) for v in x]
        return x

    command = summary.get("command")
    out = fix(summary)
    out["command"] = command  # shown as code, where nothing is interpreted
    return out


def markdown(summary: dict, images: list) -> str:
    summary = _escape_user_text(summary)  # file names and labels are user text: never markup
    s = summary["settings"]
    out = io.StringIO()
    w = out.write
    w("# wce compare report\n\n")
    w(f"Command: {_code_span(summary['command'])}\n\n")
    w(f"Model `{s['model']}`, {s['folds']}-fold stratified CV × {s['repeats']} repeat(s), seed {s['seed']}, "
      f"options {json.dumps(s['options'])}. Compute time {summary['seconds_computing']:.0f} s.\n\n")
    verdict = summary.get("dataset_verdict")
    if verdict:
        w("## Answer\n\n")
        for line in verdict["headline"]:
            w(f"{line}\n\n")
        if verdict["n_datasets"] > 1:
            for answer in verdict["datasets"]:
                w(f"- {answer['text']}\n")
            w("\n")
        if summary.get("recommended"):
            w("The recommended method, its parameters computed from the full data's class counts, how to "
              "correct its probabilities, and lines for PyTorch, Keras, scikit-learn, XGBoost and LightGBM "
              "are in [recommended.json](recommended.json).\n\n")
    w("## Verdict across data sets: does weighting beat plain CE + threshold moving, and resampling?\n\n"
      if verdict else "## Verdict: does weighting beat plain CE + threshold moving, and resampling?\n\n")
    for line in summary["verdict"]:
        w(f"- {line}\n")
    header, cells, title = main_table(summary)
    w(f"\n## Results\n\n{title}.\n\n{tables.markdown(header, cells)}\n\n")
    if verdict:
        w(tests_markdown(verdict))
        w(recalibration_markdown(verdict))
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


def _signed(x) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:+.4f}"


def _p(p) -> str:
    return "–" if p is None or (isinstance(p, float) and math.isnan(p)) else f"{p:.3g}"


def tests_markdown(verdict: dict) -> str:
    """Paired corrected t-tests of the verdict's metric per data set; for one data set also the
    best weighting method against the reference on every tested metric."""
    metric = verdict["metric"]
    rows = [t for t in verdict["tests"] if t["metric"] == metric]
    if not rows:
        return ""
    out = io.StringIO()
    w = out.write
    w(f"### Paired tests on each data set: {metric} (corrected resampled t-test, Holm-adjusted per data "
      "set and metric)\n\n")
    cells = [[t["dataset"], t["method"], t["reference"], f"{t['mean']:.4f}", f"{t['reference_mean']:.4f}",
              _signed(t["difference"]), f"{_signed(t['ci_low'])} to {_signed(t['ci_high'])}", _p(t["p"]),
              _p(t["p_holm"]), t["outcome"]] for t in rows]
    header = ["data set", "method", "reference", "mean", "ref. mean", "difference", "95% CI", "p", "p Holm",
              "outcome"]
    if verdict["n_datasets"] == 1:
        header, cells = header[1:], [c[1:] for c in cells]
    w(tables.markdown(header, cells) + "\n\n")
    if verdict["n_datasets"] == 1 and verdict["datasets"]:
        answer = verdict["datasets"][0]
        best, ref = answer.get("best_weighting"), answer.get("reference")
        side = [t for t in verdict["tests"] if t["method"] == best and t["reference"] == ref]
        if side:
            w(f"### {best} against {ref} on every tested metric\n\n")
            cells = [[t["metric"], f"{t['mean']:.4f}", f"{t['reference_mean']:.4f}", _signed(t["difference"]),
                      f"{_signed(t['ci_low'])} to {_signed(t['ci_high'])}", _p(t["p_holm"]), t["outcome"]]
                     for t in side]
            w(tables.markdown(["metric", best, ref, "difference", "95% CI", "p Holm", "outcome"], cells) + "\n\n")
    return out.getvalue()


def recalibration_markdown(verdict: dict) -> str:
    """Brier score, ECE and balanced accuracy before and after recalibration, per weighted method."""
    rows = verdict.get("recalibration") or []
    if not rows:
        return ""

    def cell(r, key):
        v = r.get(key) or {}
        mean = v.get("mean")
        if mean is None or (isinstance(mean, float) and math.isnan(mean)):
            return "–"
        low, high = v.get("ci_low"), v.get("ci_high")
        if low is None or (isinstance(low, float) and math.isnan(low)):
            return f"{mean:.3f}"
        return f"{mean:.3f}±{(high - low) / 2:.3f}"

    keys = (("brier", "Brier"), ("brier_sigmoid", "Brier Platt"), ("brier_isotonic", "Brier isotonic"),
            ("ece", "ECE"), ("ece_sigmoid", "ECE Platt"), ("ece_isotonic", "ECE isotonic"),
            ("balanced_accuracy", "bal. acc"), ("balanced_accuracy_sigmoid", "bal. acc of Platt p >= 0.5"))
    several = len({r["dataset"] for r in rows}) > 1
    header = (["data set"] if several else []) + ["method"] + [label for _, label in keys]
    cells = [([r["dataset"]] if several else []) + [r["method"]] + [cell(r, k) for k, _ in keys] for r in rows]
    text = ("### Calibration repair: recalibration fitted inside the training fold\n\n"
            "Mean over folds ± 95% half-width. Platt scaling is monotone, so the weighted model's ranking "
            "(PR-AUC, ROC-AUC) and, if its raw output is still thresholded at 0.5, its decisions (F1, "
            "balanced accuracy) are unchanged; the last column shows what thresholding the recalibrated "
            "probability at 0.5 would give instead.\n\n")
    return text + tables.markdown(header, cells) + "\n\n"
