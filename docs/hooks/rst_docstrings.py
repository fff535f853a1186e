"""Griffe extension: render the reST-flavoured parts of wce's docstrings as Markdown.

The docstrings follow Google style with a few reST habits (doctest examples,
``.. math::`` blocks, ``:func:`name``` roles, ``==== ====`` tables, ``text::``
literal blocks). mkdocstrings renders docstrings as Markdown, where ``>>>``
is a nested quote and the rest shows literally. This extension rewrites each
docstring before it is parsed:

- doctest blocks (``>>>`` ... up to a blank line) -> fenced ``pycon`` code;
- ``.. math::`` + indented block -> ``$$ ... $$`` (typeset by the vendored KaTeX);
- ``:func:`x``` and the other roles -> inline code ``x``;
- reST simple tables (``==== ====`` rules, an optional header, continuation
  lines with an empty first column) -> Markdown tables;
- a paragraph ending in ``::`` -> ``:`` (the indented block after it is code);
- reST section titles (a line underlined with ``---`` or ``===``) -> bold text.

Used from mkdocs.yml: ``extensions: [docs/hooks/rst_docstrings.py:RstDocstrings]``.
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|obj|exc|ref|py:\w+):`~?([^`]+)`")
TABLE_RULE = re.compile(r"^\s*=+(\s+=+)+\s*$")
SETEXT = re.compile(r"^\s*(-{3,}|={3,})\s*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _columns(rule: str) -> list[int]:
    """Start offsets of the columns of a ``==== ====`` rule line."""
    return [m.start() for m in re.finditer(r"=+", rule)]


def _cells(line: str, starts: list[int]) -> list[str]:
    """Split a table row at the column starts; a cell that overflows its column
    (text running past the next column's start) keeps its text up to the next space."""
    bounds = [starts[0]]
    for s in starts[1:]:
        cut = max(s, bounds[-1])
        if cut < len(line) and line[cut - 1: cut].strip():  # no gap just before the column
            while cut < len(line) and not line[cut].isspace():
                cut += 1
        bounds.append(cut)
    bounds.append(max(len(line), bounds[-1]))
    return [line[a:b].strip() for a, b in zip(bounds, bounds[1:])]


def _escape_pipes(cell: str) -> str:
    """Escape ``|`` outside code spans (inside them a Markdown table already ignores it)."""
    parts = re.split(r"(`+[^`]*`+)", cell)
    return "".join(part if part.startswith("`") else part.replace("|", "\\|") for part in parts)


def simple_table(block: list[str], pad: str = "") -> list[str]:
    """A reST simple table (its lines from the first rule to the last) as a Markdown table.

    A second rule before the last one closes a header; without it the Markdown
    table gets an empty header row. A line whose first column is blank continues
    the row above; blank lines and a separating rule between rows are dropped.
    Every line is indented by ``pad``.
    """
    starts = _columns(block[0])
    body = block[1:-1]
    header: list[str] | None = None
    inner = [k for k, row in enumerate(body) if TABLE_RULE.match(row)]
    if inner:
        head_rows = [_cells(r, starts) for r in body[: inner[0]]]
        header = [" ".join(filter(None, c)) for c in zip(*head_rows)]
        body = body[inner[0] + 1:]
    rows: list[list[str]] = []
    for row in body:
        if not row.strip() or TABLE_RULE.match(row):
            continue
        cells = _cells(row, starts)
        if rows and not cells[0]:
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells)]
        else:
            rows.append(cells)

    def fmt(cells: list[str]) -> str:
        return pad + "| " + " | ".join(map(_escape_pipes, cells)) + " |"

    head = header if header is not None else [""] * len(starts)
    return [fmt(head), pad + "|" + "|".join("---" for _ in starts) + "|", *map(fmt, rows)]


def rst_to_markdown(text: str) -> str:
    """Rewrite the reST constructs of one docstring as Markdown (see the module docstring)."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        pad = line[: _indent(line)]
        if stripped.startswith("```"):
            # an existing fence: copied as is (also makes the rewrite idempotent)
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            out += lines[i: j + 1]
            i = j + 1
            continue
        if stripped.startswith(">>>"):
            # doctest: prompts, continuations and expected output up to a blank line
            j = i
            while j < len(lines) and lines[j].strip() and _indent(lines[j]) >= len(pad):
                j += 1
            out += [f"{pad}```pycon", *lines[i:j], f"{pad}```"]
            i = j
            continue
        if stripped.startswith(".. math::"):
            j = i + 1
            body = []
            while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > len(pad)):
                body.append(lines[j])
                j += 1
            while body and not body[-1].strip():
                body.pop()
            body = [b for b in body if b.strip()]
            inner = min((_indent(b) for b in body), default=0)
            out += [f"{pad}$$", *(pad + b[inner:] for b in body), f"{pad}$$"]
            if j < len(lines):
                out.append("")
            i = j
            continue
        if TABLE_RULE.match(line):
            # a simple table: ends at a rule line followed by a blank line (or the end)
            j = i + 1
            while j < len(lines):
                if TABLE_RULE.match(lines[j]) and (j + 1 == len(lines) or not lines[j + 1].strip()):
                    break
                j += 1
            j = min(j, len(lines) - 1)
            if out and out[-1].strip():
                out.append("")  # a Markdown table is a block of its own
            out += simple_table(lines[i: j + 1], pad)
            if j + 1 < len(lines) and lines[j + 1].strip():
                out.append("")
            i = j + 1
            continue
        if SETEXT.match(line) and out and out[-1].strip():
            # a reST section title ("Reductions" + "----"): bold text, not a page-level heading
            out[-1] = f"{out[-1][: _indent(out[-1])]}**{out[-1].strip()}**"
            i += 1
            continue
        line = ROLE.sub(r"`\1`", line)
        if line.rstrip().endswith("::") and not line.strip() == "::":
            line = line.rstrip()[:-1]
        out.append(line)
        i += 1
    return "\n".join(out)


try:
    from griffe import Extension
except ImportError:  # griffe is only needed to build the site
    Extension = object  # type: ignore[assignment,misc]


class RstDocstrings(Extension):  # type: ignore[misc,valid-type]
    """Apply :func:`rst_to_markdown` to every docstring griffe loads."""

    def on_object(self, *, obj: Any, **kwargs: Any) -> None:
        if not getattr(obj, "is_alias", False) and obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)

    def on_package(self, *, pkg: Any, **kwargs: Any) -> None:
        # on_object is not called for the top-level package itself (``wce``)
        self.on_object(obj=pkg)
