"""The Keras examples run and show what their docstrings claim (torch backend in the main run)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("keras")
pytest.importorskip("sklearn")

import wce.losses as reference  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def run_example(name: str) -> dict:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main()


def test_weighted_categorical_crossentropy_recipe_equals_wce():
    r = run_example("keras_weighted_ce_recipe")
    np.testing.assert_allclose(r["keras_recipe"], r["wce_default"], rtol=1e-6)
    np.testing.assert_allclose(r["keras_mean_with_sample_weight"], r["wce_weighted_mean"], rtol=1e-6)
    assert not np.isclose(r["wce_weighted_mean"], r["wce_default"], rtol=1e-3)


def test_trap1_textbook_weight_positive_9_is_negative_and_pos_weight_fixes_it():
    r = run_example("keras_pos_weight_trap")
    assert r["broken_loss"] < 0
    assert np.all(np.diff(r["broken_on_negative"]) < 0)  # rewarded for confident wrong answers
    assert r["fixed_loss"] > 0 and np.all(np.diff(r["fixed_on_negative"]) > 0)
    y = np.array([1, 0, 1, 0, 1])
    p = np.array([0.8, 0.2, 0.6, 0.9, 0.95])
    np.testing.assert_allclose(r["fixed_loss"], reference.binary_cross_entropy(
        p, y, pos_weight=9, from_logits=False, reduction="mean_per_sample"), rtol=1e-6)
    np.testing.assert_allclose(r["broken_loss"], -np.mean(
        9 * y * np.log(p) + (1 - 9) * (1 - y) * np.log(1 - p)), rtol=1e-5)
    assert "pos_weight" in r["alpha_9_error"]


def test_fit_class_weight_balanced_equals_wce_scheme_balanced():
    r = run_example("keras_fit_class_weight")
    np.testing.assert_allclose(r["wce_weights"], r["sklearn_weights"], rtol=1e-12)
    np.testing.assert_allclose(r["wce_sum_over_batch_size_loss"], r["keras_loss"], rtol=1e-5)
    assert r["max_weight_difference_sum_over_batch_size"] < 1e-5
    assert r["max_weight_difference_weighted_mean"] > 1e-4  # another reduction trains differently


def test_yeast4_end_to_end_weighting_raises_minority_recall():
    results = run_example("keras_imbalanced_yeast4")
    plain, weighted = results.values()
    for r in (plain, weighted):
        assert all(0.0 <= v <= 1.0 for v in r.values())
    assert weighted["recall"] > plain["recall"]
