"""The command line as a user meets it (``python -m wce``, run in a subprocess), and the
``Literal`` types of the string options, which must list what the runtime checks accept."""

from __future__ import annotations

import inspect
import subprocess
import sys
import typing
from importlib.metadata import PackageNotFoundError, version

import pytest

import wce
from wce import _types, _validation
from wce import losses as L
from wce import weights as W
from wce.losses import _class_balanced


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wce", *args], capture_output=True, text=True,
                          timeout=120)


def expected_version() -> str:
    try:
        return version("wce")
    except PackageNotFoundError:  # pragma: no cover - a source tree that is not installed
        return wce.__version__


# --------------------------------------------------------------------------- the command line


def test_version_prints_name_and_version_and_exits_0():
    result = run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wce {expected_version()}"
    assert expected_version() == wce.__version__


def test_help_says_what_wce_is_and_lists_its_commands():
    result = run("--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "weighted cross-entropy for imbalanced classification" in text
    for command in ("weights", "compare", "longtail"):
        assert f"    {command}" in text
    assert "--version" in text
    # No docstring markup or leftover notes in what a user reads.
    assert "``" not in text
    assert "Command line:" not in text


@pytest.mark.parametrize("command", ["weights", "compare", "longtail"])
def test_command_help_exits_0_and_reads_as_prose(command):
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: wce {command}")
    assert "TRAPS" not in result.stdout and "TODO" not in result.stdout


def test_every_option_of_wce_weights_has_help():
    import argparse

    from wce.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    weights = commands.choices["weights"]
    missing = [a.dest for a in weights._actions if not a.help]
    assert not missing, f"options of wce weights without help: {missing}"
    assert weights.description and "Count the classes" in weights.description


def test_no_command_is_a_usage_error():
    result = run()
    assert result.returncode == 2
    assert "usage: wce" in result.stderr
    assert result.stdout == ""


def test_unknown_command_is_a_usage_error():
    result = run("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_python_m_wce_runs_a_command_like_wce(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("label\n" + "\n".join(["a"] * 3 + ["b"]) + "\n")
    result = run("weights", str(data), "--target", "label", "--format", "json", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert '"weight": 2.0' in result.stdout


def test_a_user_error_is_one_line_and_exit_code_2(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("label\na\nb\n")
    result = run("weights", str(data), "--no-progress")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("wce weights: error:")


# --------------------------------------------------------------------------- Literal types


def literal_args(function, parameter: str) -> tuple:
    hint = typing.get_type_hints(function)[parameter]
    assert typing.get_origin(hint) is typing.Literal, f"{function.__qualname__}({parameter}=): {hint}"
    return typing.get_args(hint)


def test_reduction_literal_matches_the_runtime_check():
    assert literal_args(L.weighted_cross_entropy, "reduction") == _validation.REDUCTIONS
    assert typing.get_args(_types.Reduction) == _validation.REDUCTIONS


def test_scheme_and_normalization_literals_match_the_runtime_tuples():
    from wce.weights import _schemes

    assert literal_args(W.class_weights, "scheme") == W.SCHEMES
    assert literal_args(W.class_weights, "normalize") == W.NORMALIZATIONS
    assert literal_args(W.class_weights, "zero_count") == _schemes.ZERO_COUNT_POLICIES


def test_class_weight_dict_options_are_those_of_class_weights():
    hints = typing.get_type_hints(_types.ClassWeightOptions)
    params = inspect.signature(W.class_weights).parameters
    assert set(hints) == set(params) - {"counts_or_labels"}
    assert typing.get_args(hints["scheme"]) == W.SCHEMES
    assert typing.get_args(hints["normalize"]) == W.NORMALIZATIONS


def typed_string_options(module) -> int:
    """Check that every public function of ``module`` types reduction= and loss_type= with the
    shared Literal; return how many parameters were checked."""
    checked = 0
    for name in getattr(module, "__all__", dir(module)):
        function = getattr(module, name)
        if name.startswith("_") or not inspect.isfunction(function):
            continue
        params = inspect.signature(function).parameters
        for parameter, alias in (("reduction", _types.Reduction), ("loss_type", _types.LossType)):
            if parameter in params:
                assert typing.get_type_hints(function)[parameter] == alias, (module.__name__, name)
                checked += 1
    return checked


def test_numpy_losses_type_reduction_and_loss_type():
    assert typed_string_options(L) >= 8


def test_jax_losses_type_reduction_and_loss_type():
    pytest.importorskip("jax")
    import wce.jax

    assert typed_string_options(wce.jax) >= 8


def test_loss_type_literal_is_what_class_balanced_loss_accepts():
    assert literal_args(L.class_balanced_loss, "loss_type") == ("softmax", "focal")
    with pytest.raises(ValueError, match="loss_type"):
        _class_balanced.class_balanced_loss([[0.0, 1.0]], [0], samples_per_class=[1, 1],
                                            loss_type="other")
