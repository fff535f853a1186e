"""TensorFlow's weighted cross-entropy recipes give wce's numbers (examples/tensorflow_recipes.py).

Each recipe is checked against the wce.keras loss and the NumPy reference in
wce.losses. float32 throughout, compared with rtol = atol = 1e-6 unless a
comment says why not. Needs Keras on the TensorFlow backend in this process:
``make test`` runs this file in its TensorFlow pass (KERAS_BACKEND=tensorflow,
WCE_REQUIRE_TENSORFLOW=1, which turns the skips below into failures); in the
main run, where Keras is on torch, it is skipped.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REQUIRED = os.environ.get("WCE_REQUIRE_TENSORFLOW") == "1"
if REQUIRED:
    import keras  # noqa: E402
    import sklearn  # noqa: E402,F401
    import tensorflow as tf  # noqa: E402
else:
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    pytest.importorskip("sklearn")
if keras.backend.backend() != "tensorflow":
    message = (f"Keras runs on {keras.backend.backend()} in this process; the TensorFlow recipes "
               "need KERAS_BACKEND=tensorflow (make test runs them in its TensorFlow pass)")
    if REQUIRED:
        raise RuntimeError(message)
    pytest.skip(message, allow_module_level=True)

import wce.keras  # noqa: E402
import wce.losses as reference  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOL = {"rtol": 1e-6, "atol": 1e-6}


@pytest.fixture(scope="module")
def recipes():
    spec = importlib.util.spec_from_file_location("tensorflow_recipes",
                                                  ROOT / "examples" / "tensorflow_recipes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def results(recipes) -> dict:
    """Each recipe's numbers, computed once (one failing recipe does not hide the others)."""

    class Lazy(dict):
        def __missing__(self, key):
            self[key] = {"binary": recipes.binary_pos_weight, "categorical": recipes.categorical,
                         "closure": recipes.keras_closure, "class_weight": recipes.fit_class_weight,
                         "alpha": recipes.alpha_trap}[key]()
            return self[key]

    return Lazy()


def test_example_runs_and_prints_every_recipe(recipes, capsys):
    out = recipes.main(epochs=1)
    printed = capsys.readouterr().out
    assert set(out) == {"binary", "categorical", "closure", "class_weight", "alpha"}
    for number in ("1.", "2.", "3.", "4.", "5."):
        assert f"\n{number} " in printed or printed.startswith(f"{number} ")
    assert "on tensorflow" in printed


def test_weighted_cross_entropy_with_logits_is_wce_pos_weight(results):
    r = results["binary"]
    np.testing.assert_allclose(r["wce"], r["tf"], **TOL)
    # per element, against the float64 NumPy reference (reduced by hand: robust to what
    # a binary "mean" means) -- the recipe divides by N, as reduction="mean_per_sample"
    elements = reference.binary_cross_entropy(r["logits"].astype(np.float64), r["y"],
                                              pos_weight=r["pos_weight"], from_logits=True,
                                              reduction="none")
    np.testing.assert_allclose(r["tf_elements"], elements, **TOL)
    np.testing.assert_allclose(r["tf"], elements.sum() / elements.size, **TOL)
    assert r["pos_weight"] == pytest.approx((r["y"] == 0).sum() / (r["y"] == 1).sum())


def test_weighted_cross_entropy_with_logits_per_label_pos_weight(results):
    r = results["binary"]
    np.testing.assert_allclose(r["wce_multilabel"], r["tf_multilabel"], **TOL)
    elements = reference.binary_cross_entropy(
        r["multilabel_logits"].astype(np.float64), r["multilabel_y"],
        pos_weight=r["label_pos_weight"], from_logits=True, reduction="none")
    assert elements.shape == r["multilabel_y"].shape
    np.testing.assert_allclose(r["tf_multilabel"], elements.mean(), **TOL)


def test_reduce_sum_weighted_categorical_crossentropy_is_wce(results):
    r = results["categorical"]
    np.testing.assert_allclose(r["wce_index_targets"], r["tf"], **TOL)
    np.testing.assert_allclose(r["wce_onehot_targets"], r["tf"], **TOL)
    np.testing.assert_allclose(r["wce_elements"], r["tf_elements"], **TOL)
    elements = reference.weighted_cross_entropy(r["probs"].astype(np.float64), r["y"],
                                                class_weight=r["class_weight"],
                                                from_logits=False, reduction="none")
    np.testing.assert_allclose(r["tf_elements"], elements, **TOL)
    # The recipe divides by N; the weighted mean Σ w·l / Σ w is another number here
    # (inverse_sqrt weights do not average to 1 over the samples).
    weighted_mean = elements.sum() / r["class_weight"][r["y"]].sum()
    assert not np.isclose(r["tf"], weighted_mean, rtol=1e-3)


def test_keras_custom_loss_closure_trains_like_wce(results):
    r = results["closure"]
    np.testing.assert_allclose(r["wce_loss"], r["closure_loss"], **TOL)
    assert r["max_weight_difference"] <= 1e-6


def test_fit_class_weight_balanced_is_wce_class_weight_dict_and_sample_weights(results):
    r = results["class_weight"]
    assert r["wce_dict"].keys() == r["sklearn_weights"].keys()
    np.testing.assert_allclose(list(r["wce_dict"].values()), list(r["sklearn_weights"].values()),
                               rtol=1e-12)
    np.testing.assert_allclose(r["sample_weights_loss"], r["class_weight_loss"], **TOL)
    np.testing.assert_allclose(r["wce_loss"], r["class_weight_loss"], **TOL)
    assert r["max_weight_difference_sample_weights"] <= 1e-6
    assert r["max_weight_difference_wce"] <= 1e-6


def test_textbook_alpha_9_rewards_wrong_answers_and_wce_refuses_it(results):
    r = results["alpha"]
    assert r["broken_loss"] < 0
    assert np.all(np.diff(r["broken_on_negative"]) < 0)  # lower loss for a more confident mistake
    assert r["fixed_loss"] > 0 and np.all(np.diff(r["fixed_on_negative"]) > 0)
    y, p = r["y"], r["p"].astype(np.float64)
    np.testing.assert_allclose(r["broken_loss"], -np.mean(
        9 * y * np.log(p) + (1 - 9) * (1 - y) * np.log(1 - p)), **TOL)
    np.testing.assert_allclose(r["fixed_loss"], reference.binary_cross_entropy(
        p, y, pos_weight=9, from_logits=False, reduction="none").mean(), **TOL)
    # TensorFlow's pos_weight on the logits log(p / (1 - p)): the float32 round trip
    # p -> logit -> sigmoid costs a few ulps of p, relative 1e-6 of the loss at most.
    np.testing.assert_allclose(r["tf_pos_weight_9"], r["fixed_loss"], rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(r["wce_alpha_0.9"], r["textbook_alpha_0.9"], **TOL)
    assert "pos_weight" in r["alpha_9_error"]
    with pytest.raises(ValueError, match=r"alpha.*pos_weight=9"):
        wce.keras.BinaryCrossEntropy(alpha=9.0, from_logits=False)
    with pytest.raises(ValueError, match="pos_weight"):
        reference.binary_cross_entropy(p, y, alpha=9.0, from_logits=False)


def test_docs_page_runs_on_tensorflow(tmp_path, monkeypatch):
    """docs/tensorflow.md also runs in the main suite (tests/test_docs.py), where Keras is on torch."""
    from test_docs import python_blocks

    page = ROOT / "docs" / "tensorflow.md"
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "docs_tensorflow"}
    for line, source in blocks:
        exec(compile("\n" * (line - 1) + source, str(page), "exec"), namespace)
