"""Griffe extension: render the reST-flavoured parts of wce's docstrings as Markdown.

The docstrings follow Google style with a few reST habits (doctest examples,
``.. math::`` blocks, ``:func:`name``` roles, ``==== ====`` tables, ``text::``
literal blocks). mkdocstrings renders docstrings as Markdown, where ``>>>``
is a nested quote and the rest shows literally. This extension rewrites each
docstring before it is parsed:

- doctest blocks (``>>>`` ... up to a blank line) -> fenced ``pycon`` code;
- ``.. math::`` + indented block -> ``$$ ... $$`` (rendered by MathJax);
- ``:func:`x``` and the other roles -> inline code ``x``;
- reST simple tables -> fenced text blocks (monospace, as written);
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
            out += [f"{pad}```text", *lines[i: j + 1], f"{pad}```"]  # as written: columns stay aligned
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
