"""Same name, same meaning: wce names that mirror a framework's give the native value by default.

Each check is marked with the ``mirrors`` marker and the wce name; ``docs/same-names.md`` lists the same names
with "same by default: yes", and a test keeps the two lists equal. The Keras rows are in
``test_keras_same_names.py`` (run once per Keras backend).
"""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "same-names.md"
CHECK_FILES = [ROOT / "tests" / "test_same_names.py", ROOT / "tests" / "test_keras_same_names.py"]


def mirrors(name: str):
    """Mark a test as the check of one row of docs/same-names.md."""
    return pytest.mark.mirrors(name)


def _table_rows() -> dict:
    rows = {}
    for line in TABLE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`wce."):
            rows[re.match(r"`([^`]+)`", cells[0]).group(1)] = cells[2]
        if line.startswith("## "):  # only the first table lists the mirrored names
            if rows:
                break
    return rows


def test_the_table_lists_exactly_the_checked_names():
    checked = set()
    for path in CHECK_FILES:
        checked |= set(re.findall(r'@mirrors\("([^"]+)"\)', path.read_text()))
    rows = _table_rows()
    assert rows, "docs/same-names.md has no table"
    assert set(rows) == checked
    assert set(rows.values()) == {"yes"}


# ----------------------------------------------------------------------------- PyTorch

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import wce.torch as wt  # noqa: E402


def _close(a, b, scale=1.0):
    """float32 agreement; ``scale`` is the largest weight, which scales float32 rounding."""
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6 * scale)


def _value_and_grad(loss_fn, x, *args):
    x = x.detach().clone().requires_grad_(True)
    value = loss_fn(x, *args)
    value.sum().backward()
    return value.detach(), x.grad


@mirrors("wce.torch.WeightedCrossEntropyLoss")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("target", ["index", "index_nd", "ignored", "probability"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_weighted_cross_entropy_loss_is_cross_entropy_loss(reduction, target, smoothing):
    g = torch.Generator().manual_seed(0)
    shape = (8, 5, 3, 2) if target == "index_nd" else (16, 5)
    x = torch.randn(shape, generator=g) * 3
    w = torch.rand(5, generator=g) + 0.1
    if target == "probability":
        t = torch.softmax(torch.randn(shape, generator=g), 1)
    else:
        t = torch.randint(0, 5, (shape[0],) + shape[2:], generator=g)
        if target == "ignored":
            t[::3] = -100  # PyTorch's default ignore_index
    for kwargs in ({}, {"weight": w}):
        options = dict(kwargs, reduction=reduction, label_smoothing=smoothing)
        ours = _value_and_grad(wt.WeightedCrossEntropyLoss(**options), x, t)
        native = _value_and_grad(torch.nn.CrossEntropyLoss(**options), x, t)
        _close(ours[0], native[0])
        _close(ours[1], native[1])
    # class_weight= is the same argument under wce's name; positional too, like PyTorch.
    _close(wt.WeightedCrossEntropyLoss(w)(x, t), torch.nn.CrossEntropyLoss(w)(x, t))
    _close(wt.WeightedCrossEntropyLoss(class_weight=w)(x, t), torch.nn.CrossEntropyLoss(w)(x, t))
    assert torch.equal(wt.WeightedCrossEntropyLoss(weight=w).weight, w)


def test_weighted_cross_entropy_loss_refuses_weight_twice():
    with pytest.raises(TypeError, match="both 'weight' and 'class_weight'"):
        wt.WeightedCrossEntropyLoss(torch.ones(3), weight=torch.ones(3))


@mirrors("wce.torch.BinaryCrossEntropyLoss")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_loss_is_bce_with_logits_loss(reduction):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 3, generator=g) * 2
    y = (torch.rand(64, 3, generator=g) < 0.1).float()
    weight = torch.rand(64, 3, generator=g)
    cases = [{}, {"pos_weight": torch.tensor(31.0)}, {"pos_weight": torch.tensor([1.0, 5.0, 2.0])},
             {"weight": weight, "pos_weight": torch.tensor(3.0)}, {"weight": weight[0]}]
    for kwargs in cases:
        ours = _value_and_grad(wt.BinaryCrossEntropyLoss(reduction=reduction, **kwargs), x, y)
        native = _value_and_grad(torch.nn.BCEWithLogitsLoss(reduction=reduction, **kwargs), x, y)
        # 31 * (1 - sigmoid(x)) carries 31 times float32's rounding of sigmoid, in both.
        scale = float(kwargs.get("pos_weight", torch.tensor(1.0)).max())
        _close(ours[0], native[0], scale)
        _close(ours[1], native[1], scale)


def test_binary_cross_entropy_loss_default_mean_is_pytorchs_not_the_weighted_mean():
    """pos_weight=31 with PyTorch's mean is ~10x wce's weighted mean on an imbalanced batch."""
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(256, generator=g), (torch.rand(256, generator=g) < 0.1).float()
    pytorch = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(31.0))(x, y)
    _close(wt.BinaryCrossEntropyLoss(pos_weight=31.0)(x, y), pytorch)
    weighted = wt.BinaryCrossEntropyLoss(pos_weight=31.0, reduction="weighted_mean")(x, y)
    total_weight = (31.0 * y + (1 - y)).sum()
    _close(weighted, pytorch * len(y) / total_weight)
    assert weighted < pytorch / 2


@mirrors("wce.torch.binary_cross_entropy")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_is_f_binary_cross_entropy_with_logits(reduction):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(32, 4, generator=g) * 2
    y = (torch.rand(32, 4, generator=g) < 0.2).float()
    for kwargs in ({}, {"pos_weight": torch.tensor([1.0, 9.0, 2.0, 4.0])},
                   {"weight": torch.rand(32, 4, generator=g), "pos_weight": torch.tensor(5.0)}):
        ours = _value_and_grad(lambda z: wt.binary_cross_entropy(z, y, reduction=reduction,
                                                                 **kwargs), x)
        native = _value_and_grad(lambda z: F.binary_cross_entropy_with_logits(
            z, y, reduction=reduction, **kwargs), x)
        _close(ours[0], native[0])
        _close(ours[1], native[1])
    # F.binary_cross_entropy of probabilities is from_logits=False.
    p = torch.sigmoid(x)
    _close(wt.binary_cross_entropy(p, y, from_logits=False, reduction=reduction),
           F.binary_cross_entropy(p, y, reduction=reduction))


# ----------------------------------------------------------------------------- scikit-learn

sklearn_class_weight = pytest.importorskip("sklearn.utils.class_weight")


@mirrors("wce.weights.class_weights")
@pytest.mark.parametrize("labels", [[0] * 90 + [1] * 9 + [2], ["b"] * 7 + ["a"] * 3])
def test_balanced_class_weights_are_compute_class_weight(labels):
    import wce

    y = np.asarray(labels)
    native = sklearn_class_weight.compute_class_weight("balanced", classes=np.unique(y), y=y)
    np.testing.assert_allclose(wce.weights.class_weights(y, scheme="balanced"), native,
                               rtol=1e-15)
    np.testing.assert_allclose(wce.weights.class_weights(y), native, rtol=1e-15)  # the default


# ----------------------------------------------------------------------------- XGBoost, LightGBM


def _gbdt_data(n_classes):
    from sklearn.datasets import make_classification

    return make_classification(400, n_features=6, n_informative=4, n_classes=n_classes,
                               weights=[0.85] + [0.15 / (n_classes - 1)] * (n_classes - 1),
                               random_state=0)


@mirrors("wce.xgboost.WeightedXGBClassifier")
@pytest.mark.parametrize("n_classes", [2, 3])
def test_weighted_xgb_classifier_defaults_are_xgb_classifier(n_classes):
    xgb = pytest.importorskip("xgboost")
    from wce.xgboost import WeightedXGBClassifier

    X, y = _gbdt_data(n_classes)
    ours = WeightedXGBClassifier(n_estimators=30, n_jobs=1).fit(X, y)
    native = xgb.XGBClassifier(n_estimators=30, n_jobs=1).fit(X, y)
    # XGBoost computes in float32: the same trees, probabilities to float32 rounding.
    np.testing.assert_allclose(ours.predict_proba(X), native.predict_proba(X), atol=1e-6)
    assert (ours.predict(X) == native.predict(X)).all()


@mirrors("wce.lightgbm.WeightedLGBMClassifier")
@pytest.mark.parametrize("n_classes", [2, 3])
def test_weighted_lgbm_classifier_defaults_are_lgbm_classifier(n_classes):
    lgb = pytest.importorskip("lightgbm")
    from wce.lightgbm import WeightedLGBMClassifier

    X, y = _gbdt_data(n_classes)
    ours = WeightedLGBMClassifier(n_estimators=30, n_jobs=1, verbose=-1).fit(X, y)
    native = lgb.LGBMClassifier(n_estimators=30, n_jobs=1, verbose=-1).fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), native.predict_proba(X), atol=1e-6)
    assert (ours.predict(X) == native.predict(X)).all()
