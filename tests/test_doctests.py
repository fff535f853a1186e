"""The examples in the docstrings of every public module, and in README.md, run and are right."""

from __future__ import annotations

import doctest
import importlib
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "wce"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
MODULES = sorted(
    f"wce.{package}.{path.stem}" if path.stem != "__init__" else f"wce.{package}"
    for package in ("losses", "weights")
    for path in (SRC / package).glob("*.py")
)


# Backends need their framework: each is skipped when it is not installed.
BACKENDS = ["wce.torch", "wce.torch._chunked", "wce.jax", "wce.keras", "wce.xgboost",
            "wce.lightgbm", "wce.sklearn", "wce.huggingface", "wce.gbdt._objective",
            "wce.gbdt.dask", "wce.experiments.api"]
# What a module's examples use beyond what its import needs: skipped without it.
NEEDS = {"wce.gbdt.dask": ["lightgbm"], "wce.experiments.api": ["sklearn", "pandas"]}


def test_modules_were_found():
    assert "wce.losses._cross_entropy" in MODULES and "wce.weights._schemes" in MODULES


@pytest.mark.parametrize("name", MODULES + BACKENDS)
def test_docstring_examples(name):
    if name == "wce.keras":  # as the Keras suites do; the Makefile reruns them under JAX
        os.environ.setdefault("KERAS_BACKEND", "torch")
    for requirement in NEEDS.get(name, []):
        pytest.importorskip(requirement)
    module = pytest.importorskip(name) if name in BACKENDS else importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples failed in {name}"


def test_readme_examples():
    readme = ROOT / "README.md"
    if not readme.exists():
        pytest.skip("no README.md")
    result = doctest.testfile(str(readme), module_relative=False, optionflags=FLAGS, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} README examples failed"
