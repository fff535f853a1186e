"""wce.torch: against the NumPy reference, PyTorch's native losses, and the traps."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import wce.losses as ref  # noqa: E402
import wce.torch as wt  # noqa: E402
from wce import ClassCounts  # noqa: E402

REDUCTIONS = ("none", "sum", "mean", "mean_per_sample")


def _data(seed, shape=(6, 4), soft=False, ignore=None, binary=False):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=shape)
    if binary:
        targets = rng.integers(0, 2, size=shape).astype(np.float64)
        if ignore is not None:
            targets[0, ...] = ignore
        return logits, targets
    C = shape[1]
    if soft:
        q = rng.random(shape)
        return logits, q / q.sum(axis=1, keepdims=True)
    targets = rng.integers(0, C, size=(shape[0],) + shape[2:])
    if ignore is not None:
        targets.reshape(-1)[[0, 3]] = ignore
    return logits, targets


def _tensorize(kwargs):
    return {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


# name, data options, keyword arguments (NumPy; passed as tensors to wce.torch)
CASES = [
    ("weighted_cross_entropy", {}, {}),
    ("weighted_cross_entropy", {}, {"class_weight": np.array([1.0, 3.0, 0.5, 2.0])}),
    ("weighted_cross_entropy", {"ignore": 7}, {"class_weight": np.array([1.0, 3.0, 0.5, 2.0]),
                                                "ignore_index": 7, "label_smoothing": 0.2}),
    ("weighted_cross_entropy", {"shape": (3, 4, 2, 5)},
     {"class_weight": np.array([1.0, 3.0, 0.5, 2.0]), "sample_weight": np.arange(30.0).reshape(3, 2, 5) % 4}),
    ("weighted_cross_entropy", {"soft": True}, {"class_weight": np.array([1.0, 3.0, 0.5, 2.0]),
                                                "label_smoothing": 0.1}),
    ("binary_cross_entropy", {"binary": True}, {}),
    ("binary_cross_entropy", {"binary": True}, {"pos_weight": np.array([3.0, 1.0, 0.5, 2.0])}),
    ("binary_cross_entropy", {"binary": True}, {"alpha": 0.25, "label_smoothing": 0.1}),
    ("binary_cross_entropy", {"binary": True, "ignore": 255},
     {"class_weight": np.array([0.4, 2.5]), "ignore_index": 255, "sample_weight": np.arange(1.0, 5.0)}),
    ("focal_loss", {}, {"gamma": 2.0, "alpha": np.array([0.25, 1.0, 0.5, 2.0])}),
    ("focal_loss", {"ignore": -1, "shape": (3, 4, 5)},
     {"gamma": 0.5, "ignore_index": -1, "label_smoothing": 0.1}),
    ("focal_loss", {"soft": True}, {"gamma": 1.5}),
    ("binary_focal_loss", {"binary": True}, {"gamma": 2.0, "alpha": 0.25}),
    ("binary_focal_loss", {"binary": True, "ignore": -1},
     {"gamma": 1.0, "pos_weight": 4.0, "ignore_index": -1}),
    ("class_balanced_loss", {}, {"samples_per_class": [500, 40, 9, 120], "beta": 0.99}),
    ("class_balanced_loss", {}, {"samples_per_class": [500, 40, 9, 120], "beta": 0.999,
                                 "loss_type": "focal", "gamma": 1.0}),
    ("cost_sensitive_cross_entropy", {}, {"cost_matrix": np.array(
        [[0, 1, 2, 1], [5, 0, 1, 1], [1, 1, 0, 3], [0, 2, 1, 0]], dtype=float)}),
    ("cost_sensitive_cross_entropy", {"soft": True, "shape": (3, 4, 2)}, {
        "cost_matrix": np.ones((4, 4)), "class_weight": np.array([1.0, 3.0, 0.5, 2.0])}),
    ("logit_adjusted_cross_entropy", {"ignore": 9}, {
        "class_prior": [0.7, 0.2, 0.05, 0.05], "tau": 1.5, "ignore_index": 9,
        "class_weight": np.array([1.0, 3.0, 0.5, 2.0]), "label_smoothing": 0.05}),
    ("weighted_cross_entropy", {}, {"from_logits": False}),
    ("binary_cross_entropy", {"binary": True}, {"from_logits": False, "pos_weight": 2.0}),
]


MODULES = {
    "weighted_cross_entropy": lambda kw: wt.WeightedCrossEntropyLoss(**kw),
    "binary_cross_entropy": lambda kw: wt.BinaryCrossEntropyLoss(**kw),
    "focal_loss": lambda kw: wt.FocalLoss(**kw),
    "binary_focal_loss": lambda kw: wt.BinaryFocalLoss(**kw),
    "class_balanced_loss": lambda kw: wt.ClassBalancedLoss(**kw),
    "cost_sensitive_cross_entropy": lambda kw: wt.CostSensitiveCrossEntropyLoss(**kw),
    "logit_adjusted_cross_entropy": lambda kw: wt.LogitAdjustedCrossEntropyLoss(**kw),
}


@pytest.mark.parametrize("case", range(len(CASES)))
def test_modules_equal_functions(case):
    name, data, kwargs = CASES[case]
    logits, targets = _data(case, **data)
    if kwargs.get("from_logits") is False:
        return  # covered by the functional test; modules share the code path
    kwargs = _tensorize(kwargs)
    sample_weight = kwargs.pop("sample_weight", None)
    x = torch.tensor(logits, requires_grad=True)
    t = torch.as_tensor(targets)
    # "mean" of WeightedCrossEntropyLoss follows nn.CrossEntropyLoss for probability targets
    # (÷ N, TRAPS 6); the explicit reductions mean the same in both forms.
    for reduction in ("weighted_mean", "mean_per_sample", "sum"):
        module = MODULES[name](dict(kwargs, reduction=reduction))
        expected = getattr(wt, name)(x, t, sample_weight=sample_weight, reduction=reduction,
                                     **kwargs)
        torch.testing.assert_close(module(x, t, sample_weight=sample_weight), expected)


# ---------------------------------------------------------------------------
# PyTorch's native losses
# ---------------------------------------------------------------------------


def _pair(shape, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype) * 2
    y = torch.randint(0, shape[1], (shape[0],) + tuple(shape[2:]), generator=g)
    return x, y


@pytest.mark.parametrize("shape", [(64, 7), (8, 5, 3, 4)], ids=["2d", "nd"])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("ignore", [None, 2])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_matches_native_cross_entropy(shape, smoothing, ignore, reduction):
    """Class weights, ignore_index, label smoothing, N-d targets: F.cross_entropy to 1e-6."""
    x, y = _pair(shape)
    w = torch.linspace(0.2, 3.0, shape[1])
    native_x = x.clone().requires_grad_()
    ours_x = x.clone().requires_grad_()
    native = F.cross_entropy(native_x, y, weight=w, ignore_index=-100 if ignore is None else ignore,
                             label_smoothing=smoothing, reduction=reduction)
    ours = wt.weighted_cross_entropy(ours_x, y, class_weight=w, ignore_index=ignore,
                                     label_smoothing=smoothing, reduction=reduction)
    torch.testing.assert_close(ours, native, rtol=1e-6, atol=1e-6)
    native.sum().backward()
    ours.sum().backward()
    torch.testing.assert_close(ours_x.grad, native_x.grad, rtol=1e-6, atol=1e-6)


def test_trap8_label_smoothing_with_class_weights_matches_native_and_oracle():
    """TRAPS 8: ℓ_i = -Σ_c w_c q'_ic log p_ic, mean divides by Σ w[y_i] (unsmoothed)."""
    x, y = _pair((32, 5), seed=3, dtype=torch.float64)
    w = torch.tensor([0.5, 1.0, 2.0, 4.0, 0.1], dtype=torch.float64)
    eps = 0.3
    ours = wt.weighted_cross_entropy(x, y, class_weight=w, label_smoothing=eps)
    native = F.cross_entropy(x, y, weight=w, label_smoothing=eps)
    q = (1 - eps) * F.one_hot(y, 5).double() + eps / 5
    oracle = -(q * w * torch.log_softmax(x, 1)).sum() / w[y].sum()
    torch.testing.assert_close(ours, native, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours, oracle, rtol=1e-12, atol=1e-12)


def test_trap6_probability_targets_mean_divides_by_total_weight_not_n():
    """TRAPS 6: PyTorch's weighted mean for soft targets divides by N; wce's by Σ w."""
    x, y = _pair((50, 4), seed=1)
    w = torch.tensor([1.0, 5.0, 0.5, 2.0])
    onehot = F.one_hot(y, 4).float()
    native_soft = F.cross_entropy(x, onehot, weight=w)
    native_index = F.cross_entropy(x, y, weight=w)
    assert not torch.allclose(native_soft, native_index)  # PyTorch changes meaning
    ours_soft = wt.weighted_cross_entropy(x, onehot, class_weight=w)
    ours_index = wt.weighted_cross_entropy(x, y, class_weight=w)
    torch.testing.assert_close(ours_soft, ours_index, rtol=1e-6, atol=1e-6)  # wce does not
    torch.testing.assert_close(ours_index, native_index, rtol=1e-6, atol=1e-6)
    # PyTorch's soft-target number is wce's mean_per_sample.
    q = torch.softmax(torch.randn(50, 4), 1)
    torch.testing.assert_close(
        wt.weighted_cross_entropy(x, q, class_weight=w, reduction="mean_per_sample"),
        F.cross_entropy(x, q, weight=w), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(
        wt.weighted_cross_entropy(x, q, class_weight=w),
        F.cross_entropy(x, q, weight=w, reduction="sum") / (q * w).sum(), rtol=1e-6, atol=1e-6)
    # with label smoothing too: same numerator as PyTorch, the weight from the unsmoothed q
    torch.testing.assert_close(
        wt.weighted_cross_entropy(x, q, class_weight=w, label_smoothing=0.2, reduction="sum"),
        F.cross_entropy(x, q, weight=w, label_smoothing=0.2, reduction="sum"), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(
        wt.weighted_cross_entropy(x, q, class_weight=w, label_smoothing=0.2, reduction="none"),
        F.cross_entropy(x, q, weight=w, label_smoothing=0.2, reduction="none"), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["weighted_cross_entropy", "focal_loss",
                                  "logit_adjusted_cross_entropy", "binary_cross_entropy"])
@pytest.mark.parametrize("reduction", ["mean", "mean_per_sample", "global"])
def test_trap7_all_targets_ignored_gives_zero_with_zero_gradient(name, reduction):
    """TRAPS 7: PyTorch returns NaN when every target is ignored; wce returns 0 and grad 0."""
    if name == "binary_cross_entropy":
        x = torch.randn(4, 3, requires_grad=True)
        y = torch.full((4, 3), 255.0)
    else:
        x = torch.randn(4, 3, requires_grad=True)
        y = torch.full((4,), 255)
        assert torch.isnan(F.cross_entropy(x, y, ignore_index=255))
    extra = {"class_prior": [0.5, 0.3, 0.2]} if name.startswith("logit") else {}
    out = getattr(wt, name)(x, y, ignore_index=255, reduction=reduction, **extra)
    out.backward()
    assert out.item() == 0.0
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_zero_total_weight_with_label_smoothing_gives_zero():
    """Weights all zero on the true classes: the numerator is not 0 (smoothing), the loss is."""
    x = torch.randn(3, 3, requires_grad=True)
    out = wt.weighted_cross_entropy(x, torch.tensor([0, 0, 0]),
                                    class_weight=torch.tensor([0.0, 1.0, 1.0]), label_smoothing=0.3)
    out.backward()
    assert out.item() == 0.0 and not x.grad.any()
    assert ref.weighted_cross_entropy(x.detach().numpy(), np.array([0, 0, 0]), class_weight=[0, 1, 1],
                                      label_smoothing=0.3) == 0.0


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_trap2_bce_with_logits_weight_is_sample_weight_and_pos_weight_is_class_weight(reduction):
    """TRAPS 2: BCEWithLogitsLoss(weight=s, pos_weight=r) = sample_weight=s, pos_weight=r."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(16, 3, generator=g)
    y = torch.randint(0, 2, (16, 3), generator=g).float()
    s = torch.rand(16, 1, generator=g)
    r = torch.tensor([4.0, 1.0, 0.25])
    native = F.binary_cross_entropy_with_logits(x, y, weight=s, pos_weight=r, reduction=reduction)
    ours_reduction = "mean_per_sample" if reduction == "mean" else reduction
    ours = wt.binary_cross_entropy(x, y, sample_weight=s, pos_weight=r, reduction=ours_reduction)
    torch.testing.assert_close(ours, native, rtol=1e-6, atol=1e-6)
    # Equivalent forms: pos_weight=r is class_weight=(1, r); alpha=a is class_weight=(1-a, a).
    cw = torch.stack([torch.ones(3), r], -1)
    torch.testing.assert_close(
        wt.binary_cross_entropy(x, y, class_weight=cw, reduction=reduction),
        wt.binary_cross_entropy(x, y, pos_weight=r, reduction=reduction))
    torch.testing.assert_close(
        wt.binary_cross_entropy(x, y, alpha=0.2, reduction=reduction),
        wt.binary_cross_entropy(x, y, class_weight=(0.8, 0.2), reduction=reduction))
    # weight= alone rescales every element; it is not a class weight.
    torch.testing.assert_close(
        F.binary_cross_entropy_with_logits(x, y, weight=s, reduction="sum"),
        wt.binary_cross_entropy(x, y, sample_weight=s, reduction="sum"), rtol=1e-6, atol=1e-6)


def _torchvision_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """torchvision.ops.sigmoid_focal_loss, transcribed (torchvision is not installed here)."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_binary_focal_matches_torchvision_sigmoid_focal_loss(reduction):
    try:
        from torchvision.ops import sigmoid_focal_loss as native
    except ImportError:
        native = _torchvision_sigmoid_focal_loss
    g = torch.Generator().manual_seed(4)
    x = (torch.randn(40, 3, generator=g) * 3).requires_grad_()
    y = torch.randint(0, 2, (40, 3), generator=g).float()
    expected = native(x, y, alpha=0.25, gamma=2.0, reduction=reduction)
    ours = wt.binary_focal_loss(x, y, alpha=0.25, gamma=2.0,
                                reduction="mean_per_sample" if reduction == "mean" else reduction)
    torch.testing.assert_close(ours, expected, rtol=1e-6, atol=1e-6)
    (ga,) = torch.autograd.grad(expected.sum(), x)
    (gb,) = torch.autograd.grad(ours.sum(), x)
    torch.testing.assert_close(gb, ga, rtol=1e-6, atol=1e-6)


def test_focal_with_gamma_zero_is_weighted_cross_entropy_native():
    x, y = _pair((20, 6), seed=5)
    w = torch.rand(6) + 0.1
    torch.testing.assert_close(wt.focal_loss(x, y, gamma=0.0, alpha=w),
                               F.cross_entropy(x, y, weight=w), rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------
# traps on inputs, validation
# ---------------------------------------------------------------------------


def test_trap1_alpha_above_one_is_refused_and_points_to_pos_weight():
    x, y = torch.zeros(5), torch.tensor([1.0, 0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"'alpha' parameter of binary_cross_entropy must be a "
                                         r"float in the range \[0, 1\]\. Got 9 instead.*pos_weight"):
        wt.binary_cross_entropy(x, y, alpha=9)
    with pytest.raises(ValueError, match="alpha"):
        wt.BinaryCrossEntropyLoss(alpha=9)


def test_trap12_focal_alpha_scalar_or_above_one_is_refused():
    with pytest.raises(ValueError, match="per-class vector.*TRAPS 12"):
        wt.focal_loss(torch.zeros(2, 3), torch.tensor([0, 1]), alpha=0.25)
    with pytest.raises(ValueError, match=r"'alpha' parameter of binary_focal_loss.*Got 10"):
        wt.binary_focal_loss(torch.zeros(2), torch.tensor([0.0, 1.0]), alpha=10)


def test_validation_messages():
    x = torch.zeros(3, 4)
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\].*Got \[4, 7\]"):
        wt.weighted_cross_entropy(x, torch.tensor([4, 7, 0]))
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\] \(ignore_index=-100 is exempt\)"):
        wt.weighted_cross_entropy(x, torch.tensor([-1, -100, 0]), ignore_index=-100)
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\]\. Got \[-100\]"):
        wt.weighted_cross_entropy(x, torch.tensor([0, -100, 1]))  # PyTorch would skip -100
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\]\. Got \[9\]"):
        wt.weighted_cross_entropy(torch.zeros(2, 4, 3), torch.tensor([[0, 9, 1], [1, 1, 1]]),
                                  label_smoothing=0.1, reduction="none")
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\]\. Got \[5\]"):
        wt.weighted_cross_entropy(x, torch.tensor([0, 5, 1]), sample_weight=torch.ones(3),
                                  class_weight=torch.ones(4))
    with pytest.raises(TypeError, match="must be integers"):
        wt.weighted_cross_entropy(x, torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"class indices of shape \(3,\)"):
        wt.weighted_cross_entropy(x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"one weight per class \(4\)"):
        wt.weighted_cross_entropy(x, torch.tensor([0, 1, 2]), class_weight=torch.ones(3))
    with pytest.raises(ValueError, match=r"one weight per class \(4\)"):
        wt.WeightedCrossEntropyLoss(class_weight=torch.ones(3))(x, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="must be non-negative"):
        wt.WeightedCrossEntropyLoss(class_weight=torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="'reduction' parameter.*Got 'avg'.*also accepts 'global'"):
        wt.weighted_cross_entropy(x, torch.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match="takes at most one of"):
        wt.binary_cross_entropy(torch.zeros(2), torch.zeros(2), alpha=0.5, pos_weight=2.0)
    with pytest.raises(ValueError, match="ignore_index.*applies to class-index targets only"):
        wt.weighted_cross_entropy(x, torch.full((3, 4), 0.25), ignore_index=0)
    with pytest.raises(ValueError, match=r"targets of binary_cross_entropy must lie in \[0, 1\]"):
        wt.binary_cross_entropy(torch.zeros(3), torch.tensor([0.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="label_smoothing"):
        wt.weighted_cross_entropy(x, torch.tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        wt.weighted_cross_entropy(np.zeros((3, 4)), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="sample_weight.*broadcast"):
        wt.weighted_cross_entropy(x, torch.tensor([0, 1, 2]), sample_weight=torch.ones(4))
    with pytest.raises(ValueError, match="class_prior.*2 entries but the logits have 4"):
        wt.logit_adjusted_cross_entropy(x, torch.tensor([0, 1, 2]), class_prior=[1, 2])
    with pytest.raises(ValueError, match="zero|absent|0"):
        wt.class_balanced_loss(x, torch.tensor([0, 1, 2]), samples_per_class=[5, 0, 3, 1])
    with pytest.raises(ValueError, match=r"cost_matrix.*\(4, 4\)"):
        wt.cost_sensitive_cross_entropy(x, torch.tensor([0, 1, 2]), cost_matrix=np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"'class_weight' parameter of focal_loss.*\(4\)"):
        wt.FocalLoss(alpha=torch.ones(3))(x, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"'samples_per_class' parameter.*\(4\)"):
        wt.class_balanced_loss(x, torch.tensor([0, 1, 2]), samples_per_class=[5, 3, 1])
    with pytest.raises(TypeError, match="'logits' parameter of focal_loss must be a torch.Tensor"):
        wt.focal_loss(np.zeros((3, 4)), torch.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="'ignore_index' parameter of weighted_cross_entropy must be an int"):
        wt.weighted_cross_entropy(x, torch.tensor([0, 1, 2]), ignore_index=1.5)
    with pytest.raises(TypeError, match="'ignore_index' parameter of focal_loss must be an int"):
        wt.FocalLoss(ignore_index="void")(x, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="from_logits=False"):
        wt.weighted_cross_entropy(x + 2.0, torch.tensor([0, 1, 2]), from_logits=False)


# ---------------------------------------------------------------------------
# half precision (TRAPS 11)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["f16", "bf16"])
@pytest.mark.parametrize("name", ["weighted_cross_entropy", "focal_loss", "binary_cross_entropy",
                                  "binary_focal_loss", "cost_sensitive_cross_entropy"])
def test_trap11_half_precision_computed_in_float32_returned_in_input_dtype(dtype, name):
    g = torch.Generator().manual_seed(6)
    if name.startswith("binary"):
        z = torch.randn(64, 8, generator=g) * 4
        y = torch.randint(0, 2, (64, 8), generator=g).float()
        kwargs = {"pos_weight": 3.0}
    else:
        z = torch.randn(64, 300, generator=g) * 4
        y = torch.randint(0, 300, (64,), generator=g)
        kwargs = ({"cost_matrix": torch.ones(300, 300)} if name.startswith("cost") else {})
    half = z.to(dtype).requires_grad_()
    full = half.detach().float().requires_grad_()
    out = getattr(wt, name)(half, y.to(dtype) if y.is_floating_point() else y, **kwargs)
    expected = getattr(wt, name)(full, y, **kwargs)
    assert out.dtype == dtype
    # Computed in float32: the only error is the final rounding to the input dtype
    # (within 1e-3 relative for float16; bfloat16 itself keeps only 8 bits).
    assert torch.equal(out, expected.to(dtype))
    if dtype == torch.float16:
        torch.testing.assert_close(out.float(), expected, rtol=1e-3, atol=0)
    out.backward()
    expected.backward()
    assert half.grad.dtype == dtype and torch.isfinite(half.grad).all()
    torch.testing.assert_close(half.grad.float(), full.grad, rtol=1e-2, atol=1e-4)


def test_trap11_float16_logits_up_to_6e4_stay_finite():
    """Logits near float16's maximum (6e4): the loss and gradient are finite and accurate."""
    g = torch.Generator().manual_seed(7)
    z = (torch.rand(32, 50, generator=g) * 6e4).to(torch.float16)
    y = z.float().argsort(1, descending=True)[:, 3]  # a class near the top: loss < 6e4
    w = torch.rand(50, generator=g) + 0.5
    naive = -torch.log(torch.softmax(z, 1)).gather(1, y[:, None]).mean()  # the trap
    assert not torch.isfinite(naive)
    x = z.clone().requires_grad_()
    out = wt.weighted_cross_entropy(x, y, class_weight=w)
    out.backward()
    assert out.dtype == torch.float16 and torch.isfinite(out)
    assert torch.isfinite(x.grad).all()
    expected = wt.weighted_cross_entropy(z.float(), y, class_weight=w)
    assert expected.item() > 0
    torch.testing.assert_close(out.float(), expected, rtol=1e-3, atol=0)


# ---------------------------------------------------------------------------
# modules: buffers, state_dict, torch.compile
# ---------------------------------------------------------------------------


def test_class_weights_are_buffers_saved_and_moved():
    loss = wt.WeightedCrossEntropyLoss(class_weight=torch.tensor([1.0, 2.0, 3.0]), reduction="sum")
    assert "class_weight" in dict(loss.named_buffers())
    assert torch.equal(loss.state_dict()["class_weight"], torch.tensor([1.0, 2.0, 3.0]))
    fresh = wt.WeightedCrossEntropyLoss(class_weight=torch.ones(3), reduction="sum")
    fresh.load_state_dict(loss.state_dict())
    assert torch.equal(fresh.class_weight, loss.class_weight)
    assert loss.to(torch.float64).class_weight.dtype == torch.float64
    assert loss.to("meta").class_weight.device.type == "meta"  # .to(device) moves it
    bce = wt.BinaryCrossEntropyLoss(pos_weight=torch.tensor([2.0, 5.0]))
    assert set(bce.state_dict()) == {"w_neg", "w_pos"}
    cs = wt.CostSensitiveCrossEntropyLoss(np.ones((3, 3)))
    assert "cost_matrix" in cs.state_dict()
    la = wt.LogitAdjustedCrossEntropyLoss([0.5, 0.25, 0.25])
    assert "log_prior" in la.state_dict()
    assert "class_weight" in wt.ClassBalancedLoss([10, 5, 1]).state_dict()


@pytest.mark.slow
def test_torch_compile_module_matches_eager():
    """torch.compile on CPU (kept tiny; the compile itself takes a few seconds)."""
    torch._dynamo.reset()
    loss = wt.WeightedCrossEntropyLoss(class_weight=torch.tensor([1.0, 2.0, 0.5]),
                                       ignore_index=-1)
    compiled = torch.compile(loss)
    x = torch.randn(8, 3, requires_grad=True)
    y = torch.tensor([0, 1, 2, -1, 1, 0, 2, 2])
    eager = loss(x, y)
    (ge,) = torch.autograd.grad(eager, x)
    out = compiled(x, y)
    (gc,) = torch.autograd.grad(out, x)
    torch.testing.assert_close(out, eager)
    torch.testing.assert_close(gc, ge)
    bce = wt.BinaryCrossEntropyLoss(pos_weight=torch.tensor([3.0, 0.5]))
    z, t = torch.randn(6, 2, requires_grad=True), torch.randint(0, 2, (6, 2)).float()
    (ge,) = torch.autograd.grad(bce(z, t), z)
    out = torch.compile(bce)(z, t)
    (gc,) = torch.autograd.grad(out, z)
    torch.testing.assert_close(out, bce(z, t))
    torch.testing.assert_close(gc, ge)


# ---------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------


@given(
    n=st.integers(1, 8),
    c=st.integers(2, 5),
    scale=st.floats(0.01, 100.0),
    seed=st.integers(0, 2**16),
)
def test_property_mean_invariant_to_class_weight_scale_and_global_equals_mean(n, c, scale, seed):
    """mean is Σw·l/Σw: scaling every class weight changes sum, not mean; 'global' = 'mean'."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, generator=g, dtype=torch.float64)
    y = torch.randint(0, c, (n,), generator=g)
    w = torch.rand(c, generator=g, dtype=torch.float64) + 0.05
    base = wt.weighted_cross_entropy(x, y, class_weight=w)
    torch.testing.assert_close(wt.weighted_cross_entropy(x, y, class_weight=w * scale), base)
    torch.testing.assert_close(wt.weighted_cross_entropy(x, y, class_weight=w, reduction="global"),
                               base)
    torch.testing.assert_close(
        wt.weighted_cross_entropy(x, y, class_weight=w * scale, reduction="sum"),
        scale * wt.weighted_cross_entropy(x, y, class_weight=w, reduction="sum"))
    # a one-hot probability target is the class index under every reduction
    onehot = F.one_hot(y, c).double()
    for reduction in REDUCTIONS:
        torch.testing.assert_close(
            wt.weighted_cross_entropy(x, onehot, class_weight=w, reduction=reduction),
            wt.weighted_cross_entropy(x, y, class_weight=w, reduction=reduction))


@given(gamma=st.floats(0.0, 5.0), seed=st.integers(0, 2**16))
def test_property_binary_focal_gradient_matches_reference(gamma, seed):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(12, generator=g, dtype=torch.float64) * 5).requires_grad_()
    y = torch.randint(0, 2, (12,), generator=g).double()
    out = wt.binary_focal_loss(x, y, gamma=gamma, alpha=0.3)
    out.backward()
    value, grad = ref.value_and_grad(ref.binary_focal_loss, x.detach().numpy(), y.numpy(),
                                     gamma=gamma, alpha=0.3)
    np.testing.assert_allclose(out.item(), value, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), grad, rtol=1e-9, atol=1e-12)


def test_gradcheck_focal_and_cost_sensitive():
    """Autograd against finite differences (float64), independently of the reference."""
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 3, 1, 2, 2])
    assert torch.autograd.gradcheck(
        lambda z: wt.focal_loss(z, y, gamma=1.5, alpha=torch.tensor([1.0, 2.0, 0.5, 1.0])), (x,))
    assert torch.autograd.gradcheck(
        lambda z: wt.cost_sensitive_cross_entropy(z, y, cost_matrix=torch.ones(4, 4) * 2), (x,))


# ---------------------------------------------------------------------------
# ClassCounts from a real DataLoader
# ---------------------------------------------------------------------------


def test_class_counts_from_torch_dataloader():
    from torch.utils.data import DataLoader, TensorDataset

    labels = torch.tensor([0] * 50 + [1] * 7 + [2] * 13)
    features = torch.randn(len(labels), 3)
    loader = DataLoader(TensorDataset(features, labels), batch_size=16, shuffle=True)
    counts = ClassCounts.from_dataloader(loader, progress=False)
    assert counts == ClassCounts.from_labels(labels.numpy())
    assert counts.as_dict() == {0: 50, 1: 7, 2: 13}
    dict_loader = DataLoader([{"x": f, "labels": y} for f, y in zip(features, labels)],
                             batch_size=10)
    assert ClassCounts.from_dataloader(dict_loader, progress=False).as_dict() == counts.as_dict()
    from wce.weights import class_weights

    w = torch.as_tensor(class_weights(counts), dtype=torch.float32)
    loss = wt.WeightedCrossEntropyLoss(class_weight=w)
    assert torch.isfinite(loss(torch.randn(4, 3), torch.tensor([0, 1, 2, 1])))


def test_import_without_torch_names_the_extra(tmp_path):
    """wce.torch raises an ImportError naming pip install 'wce[torch]' when torch is missing."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None\n"
            "try:\n    import wce.torch\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'wce[torch]'" in out.stdout
