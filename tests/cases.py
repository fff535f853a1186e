"""ONE case grid for every backend: each loss, target kind, reduction, weighting, ignore_index,
extreme logits and dtype, as a list of readable :class:`Case` objects.

Every backend test (``tests/test_grid.py`` for wce.torch and wce.jax,
``tests/test_keras_grid.py`` for wce.keras on the active Keras backend) runs
every case its backend supports and compares the value and the gradient with
respect to the scores with the NumPy reference ``wce.losses.value_and_grad`` in
float64, computed on the scores *as rounded to the case's dtype*, so the only
error left is the backend's own arithmetic. The reference itself is checked
against the naive loops of ``tests/oracle.py`` on the same cases.

The grid is not the full cartesian product. It covers every value of every axis
and the pairs that matter:

* every loss x every target kind it accepts (float32, ``mean``, class weights);
* every loss x every reduction (flat and N-d targets, sample and class weights);
* every loss x every weighting form (none, class, sample, both; alpha and
  pos_weight for the binary losses);
* every loss with class-index targets x ``ignore_index`` (flat and N-d, every reduction);
* label smoothing, for the losses that take it;
* every loss on scores of the logits x extreme logits (±1e4; a margin of 89 and
  of 800 between the top logit and the rest) in float32 and float64;
* every loss x float64 on several target kinds; float16 and bfloat16 on torch.

Layout follows the reference: class axis 1, ``(N, C, d1, ..., dk)``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import wce.losses as reference

C = 3  # classes (and the side of the square spatial case, where d == C)
N = 5  # samples of the flat cases

REDUCTIONS = ("none", "sum", "mean", "weighted_mean", "mean_per_sample")
MULTICLASS_TARGETS = ("index", "soft", "onehot", "nd_index", "nd_soft", "square_index",
                      "square_soft")
BINARY_TARGETS = ("labels", "probabilities", "nd_labels")
FLAT_TARGETS = ("index", "soft", "onehot", "labels", "probabilities")
INDEX_TARGETS = ("index", "nd_index", "square_index", "labels", "nd_labels")
LOGITS = ("normal", "extreme", "margin89", "margin800")
DTYPES = ("float32", "float64", "float16", "bfloat16")

# Shapes of the scores, class axis 1 for the multiclass kinds. "nd" has two spatial axes
# different from C; "square" has one spatial axis equal to C, so a wrongly chosen class axis
# gives a shape that still fits.
SHAPES = {
    "index": (N, C), "soft": (N, C), "onehot": (N, C),
    "nd_index": (2, C, 4, 2), "nd_soft": (2, C, 4, 2),
    "square_index": (2, C, C), "square_soft": (2, C, C),
    "labels": (N, C), "probabilities": (N, C), "nd_labels": (2, 3, 4),
}

IGNORE_INDEX = {False: -1, True: 255}  # by binary-ness: a class index, a binary target value

# Weights are multiples of 1/4: exact in every dtype, so rounding them changes nothing.
CLASS_WEIGHT = [1.0, 4.0, 0.5]
FOCAL_ALPHA = [0.25, 1.0, 2.0]
BINARY_CLASS_WEIGHT = [0.5, 2.0]  # (w_neg, w_pos)
BINARY_ALPHA = 0.25
POS_WEIGHT = [2.0, 5.0, 1.0, 0.5]  # per label: the first d of them for scores (..., d)
SAMPLES_PER_CLASS = [300, 30, 5]


@dataclass(frozen=True)
class Loss:
    """One loss as the grid uses it: a function of wce.losses/wce.torch/wce.jax with fixed options."""

    function: str
    keras_class: str
    binary: bool = False
    options: dict = field(default_factory=dict)
    weight_forms: tuple = ("class",)  # "class" means the loss's own class-weight argument
    class_weight_argument: str = "class_weight"
    targets: tuple = MULTICLASS_TARGETS
    smoothing: bool = False

    @property
    def from_logits(self) -> bool:
        return self.options.get("from_logits", True)


LOSSES = {
    "weighted_cross_entropy": Loss("weighted_cross_entropy", "WeightedCrossEntropy",
                                   smoothing=True),
    "weighted_cross_entropy_from_probabilities": Loss(
        "weighted_cross_entropy", "WeightedCrossEntropy", options={"from_logits": False},
        smoothing=True),
    "focal_loss": Loss("focal_loss", "FocalLoss", options={"gamma": 2.0},
                       class_weight_argument="alpha", smoothing=True),
    "class_balanced_softmax": Loss(
        "class_balanced_loss", "ClassBalancedLoss",
        options={"samples_per_class": SAMPLES_PER_CLASS, "beta": 0.99}, weight_forms=()),
    "class_balanced_focal": Loss(
        "class_balanced_loss", "ClassBalancedLoss",
        options={"samples_per_class": SAMPLES_PER_CLASS, "beta": 0.999, "loss_type": "focal",
                 "gamma": 1.0}, weight_forms=()),
    "cost_sensitive_cross_entropy": Loss(
        "cost_sensitive_cross_entropy", "CostSensitiveCrossEntropy",
        options={"cost_matrix": [[0.0, 1.0, 2.0], [5.0, 0.0, 1.0], [1.0, 3.0, 0.0]]}),
    "logit_adjusted_cross_entropy": Loss(
        "logit_adjusted_cross_entropy", "LogitAdjustedCrossEntropy",
        options={"class_prior": [0.8, 0.15, 0.05], "tau": 1.0}, smoothing=True),
    "balanced_softmax_cross_entropy": Loss(
        "balanced_softmax_cross_entropy", "BalancedSoftmaxCrossEntropy",
        options={"samples_per_class": SAMPLES_PER_CLASS}, smoothing=True),
    "ldam_loss": Loss("ldam_loss", "LDAMLoss",
                      options={"samples_per_class": SAMPLES_PER_CLASS, "scale": 10.0},
                      targets=("index", "nd_index", "square_index"), smoothing=True),
    "binary_cross_entropy": Loss("binary_cross_entropy", "BinaryCrossEntropy", binary=True,
                                 weight_forms=("class", "alpha", "pos_weight"),
                                 targets=BINARY_TARGETS, smoothing=True),
    "binary_cross_entropy_from_probabilities": Loss(
        "binary_cross_entropy", "BinaryCrossEntropy", binary=True,
        options={"from_logits": False}, weight_forms=("pos_weight",), targets=BINARY_TARGETS),
    "binary_focal_loss": Loss("binary_focal_loss", "BinaryFocalLoss", binary=True,
                              options={"gamma": 2.0},
                              weight_forms=("alpha", "class", "pos_weight"),
                              targets=BINARY_TARGETS),
}


@dataclass(frozen=True)
class Data:
    """Inputs of one case in the reference layout, and the reference's answer."""

    scores: np.ndarray  # float64; logits, or probabilities for the from_probabilities losses
    targets: np.ndarray
    kwargs: dict  # keyword arguments of the loss besides reduction (hyper-parameters, weights)


@dataclass(frozen=True)
class Case:
    loss: str  # key of LOSSES
    target: str
    reduction: str = "mean"
    weights: str = "none"  # "none", "sample", a weight form ("class", "alpha", ...), or form+"+sample"
    ignore_index: bool = False
    logits: str = "normal"
    dtype: str = "float32"
    label_smoothing: float = 0.0

    def __post_init__(self):
        spec = LOSSES[self.loss]
        assert self.target in spec.targets, (self.loss, self.target)
        assert self.reduction in REDUCTIONS and self.logits in LOGITS and self.dtype in DTYPES
        assert self.weights.replace("+sample", "") in ("none", "sample") + spec.weight_forms
        assert not self.ignore_index or self.target in INDEX_TARGETS
        assert self.logits == "normal" or spec.from_logits
        assert not self.label_smoothing or spec.smoothing

    @property
    def spec(self) -> Loss:
        return LOSSES[self.loss]

    @property
    def id(self) -> str:
        parts = [self.loss, self.target, self.reduction, f"{self.weights}_weights"]
        if self.ignore_index:
            parts.append("ignore_index")
        if self.label_smoothing:
            parts.append(f"smoothing{self.label_smoothing}")
        if self.logits != "normal":
            parts.append(f"{self.logits}_logits")
        parts.append(self.dtype)
        return "-".join(parts)

    def data(self, round_scores=None) -> Data:
        """Deterministic inputs; ``round_scores`` maps float64 scores to the values the backend sees."""
        spec = self.spec
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        shape = SHAPES[self.target]
        targets = _targets(rng, self.target, shape)
        element_shape = shape if spec.binary else targets.shape[:1] + shape[2:]
        if self.ignore_index:
            flat = targets.reshape(-1)  # a view: marks two elements as ignored
            flat[[1, flat.size - 2]] = IGNORE_INDEX[spec.binary]
        logits = _logits(rng, self.logits, shape, targets, spec.binary)
        if not spec.from_logits:
            logits = _sigmoid(logits) if spec.binary else _softmax(logits)
        if round_scores is not None:
            logits = round_scores(logits)
        kwargs = dict(spec.options)
        form = self.weights.replace("+sample", "").replace("sample", "none")
        if form == "class":
            if spec.binary:
                kwargs["class_weight"] = np.array(BINARY_CLASS_WEIGHT)
            else:
                cw = FOCAL_ALPHA if spec.class_weight_argument == "alpha" else CLASS_WEIGHT
                kwargs[spec.class_weight_argument] = np.array(cw)
        elif form == "alpha":
            kwargs["alpha"] = BINARY_ALPHA
        elif form == "pos_weight":
            kwargs["pos_weight"] = np.array(POS_WEIGHT[: shape[-1]])
        if "sample" in self.weights:
            kwargs["sample_weight"] = rng.integers(1, 9, size=element_shape) / 4.0
        if self.ignore_index:
            kwargs["ignore_index"] = IGNORE_INDEX[spec.binary]
        if self.label_smoothing:
            kwargs["label_smoothing"] = self.label_smoothing
        return Data(logits, targets, kwargs)

    def expected(self, data: Data):
        """(value, gradient w.r.t. the scores) of the NumPy reference, in float64."""
        function = reference.LOSSES[self.spec.function]
        return reference.value_and_grad(function, data.scores, data.targets,
                                        reduction=self.reduction, **data.kwargs)


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _targets(rng, kind, shape):
    if kind in ("labels", "nd_labels"):
        return (rng.random(shape) < 0.4).astype(np.float64)
    if kind == "probabilities":
        return rng.integers(0, 9, size=shape) / 8.0  # exact in every dtype
    labels = rng.integers(0, C, size=shape[:1] + shape[2:])
    labels.reshape(-1)[0] = 0  # every class appears (with N * d >= 5 elements, almost surely)
    if kind.endswith("index"):
        return labels
    if kind == "onehot":
        return np.moveaxis(np.eye(C)[labels], -1, 1)
    # soft: every row a distribution of sixteenths (exact in float16), none of them zero
    counts = 1 + np.stack([rng.multinomial(16 - C, np.full(C, 1.0 / C)) for _ in
                           range(int(np.prod(labels.shape)))])
    return np.moveaxis(counts.reshape(labels.shape + (C,)) / 16.0, -1, 1)


EXTREME_ROWS = ({0: 1e4, 1: -1e4}, {0: 1e4, 1: 1e4}, {0: -1e4, 2: -1e4}, {1: -1e4, 2: 1e4})


def _logits(rng, kind, shape, targets, binary):
    x = rng.normal(scale=2.0, size=shape)
    if kind == "normal":
        return x
    if kind == "extreme":
        if binary:  # ±1e4 on every other element
            flat = x.reshape(-1)
            flat[::2] = 1e4 * np.sign(flat[::2])
            return x
        # element by element, in turn: one class holds all the mass; two tie for it; an
        # ordinary logit holds it against two at -1e4; the mass at the last class
        rows = np.moveaxis(x, 1, -1).reshape(-1, C)
        for i, row in enumerate(rows):
            for c, v in EXTREME_ROWS[i % len(EXTREME_ROWS)].items():
                row[c] = v
        return np.moveaxis(rows.reshape(np.moveaxis(x, 1, -1).shape), -1, 1)
    margin = float(kind.removeprefix("margin"))
    if binary:  # confidently right, except for the last element (confidently wrong)
        sign = np.where(targets >= 0.5, 1.0, -1.0)
        sign.reshape(-1)[-1] *= -1
        return margin * sign
    # The top logit is `margin` above all the others (0), as in [[89., 0., 0.]]; it is the
    # target class except for the last element.
    top = targets if targets.ndim == len(shape) - 1 else np.argmax(targets, axis=1)
    top = np.array(top) % C
    top.reshape(-1)[-1] = (top.reshape(-1)[-1] + 1) % C
    return margin * np.moveaxis(np.eye(C)[top], -1, 1)


# ----------------------------------------------------------------------------- tolerances
# float32/float64: the backend's arithmetic against the float64 reference on the same rounded
# scores. Half precision is computed in float32 and rounded once to the input dtype (TRAPS 11):
# the tolerance is about two units of that rounding. Two scales widen it:
# * the inputs': a float32 logit of 1e4 is itself known only to ulp(1e4) ~ 1e-3, so shifting it
#   by a log prior or a margin (or computing log-sum-exp - z_y) rounds at that size whatever the
#   implementation; the relative tolerance grows to 4 eps |z|max where that exceeds it;
# * the outputs': ``atol`` is relative to the largest entry of the expected array (a loss of 2e4
#   next to one of 0.7, a gradient of 17 next to one of 1e-5).
# Neither widens float64 on these inputs (4 eps64 * 1e4 ~ 1e-11).
TOLERANCE = {
    "float64": dict(rtol=1e-10, atol=1e-10),
    "float32": dict(rtol=1e-5, atol=1e-6),
    "float16": dict(rtol=2e-3, atol=1e-5),
    "bfloat16": dict(rtol=1.6e-2, atol=1e-4),
}


def tolerance(case: Case, scores: np.ndarray, expected) -> dict:
    """rtol and atol for one expected array (see above)."""
    tol = dict(TOLERANCE[case.dtype])
    resolution = 4 * float(np.finfo(np.float32 if case.dtype == "bfloat16" else case.dtype).eps)
    widen = max(1.0, resolution * float(np.max(np.abs(scores))) / tol["rtol"])
    tol["rtol"] *= widen
    tol["atol"] *= widen * max(1.0, float(np.max(np.abs(expected))))
    return tol


def assert_matches_reference(case: Case, data: Data, value, grad, expected_value, expected_grad):
    """Value and gradient against the reference; a non-finite gradient is reported as such."""
    value = np.asarray(value, dtype=np.float64)
    grad = np.asarray(grad, dtype=np.float64)
    bad = ~np.isfinite(grad)
    assert not bad.any(), (
        f"{case.id}: the gradient w.r.t. the scores has {int(bad.sum())} non-finite entries "
        f"(at {np.argwhere(bad)[:4].tolist()}); the reference's is finite: "
        f"{np.asarray(expected_grad)[bad][:4].tolist()}")
    for got, expected, what in ((value, expected_value, "loss value"),
                                (grad, expected_grad, "gradient w.r.t. the scores")):
        tol = tolerance(case, data.scores, expected)
        np.testing.assert_allclose(got, expected, **tol, err_msg=f"{case.id}: {what}")


# ----------------------------------------------------------------------------- the grid


def _default_weights(spec: Loss) -> str:
    return spec.weight_forms[0] if spec.weight_forms else "none"


def _with_sample(spec: Loss) -> str:
    return f"{spec.weight_forms[0]}+sample" if spec.weight_forms else "sample"


def _nd_index(spec: Loss) -> str:
    return "nd_labels" if spec.binary else "nd_index"


def _build() -> list[Case]:
    cases: list[Case] = []
    for name, spec in LOSSES.items():
        flat, nd = spec.targets[0], _nd_index(spec)
        default, both = _default_weights(spec), _with_sample(spec)
        # every target kind the loss accepts
        cases += [Case(name, t, "mean", default) for t in spec.targets]
        # every reduction, with class and sample weights together (mean: in the next block)
        cases += [Case(name, flat, r, both) for r in ("none", "sum", "weighted_mean", "mean_per_sample")]
        cases += [Case(name, nd, r, both) for r in ("none", "mean_per_sample")]
        # every weighting form: none, sample weights, each class-weight form alone and with them
        forms = ("none", "sample") + spec.weight_forms + tuple(f"{f}+sample" for f in spec.weight_forms)
        cases += [Case(name, flat, "mean", w) for w in forms]
        # ignore_index on every kind of index target; the two means count it differently
        if flat in INDEX_TARGETS:
            cases += [Case(name, flat, r, both, ignore_index=True)
                      for r in ("none", "mean_per_sample")]
            cases += [Case(name, t, "mean", default, ignore_index=True)
                      for t in spec.targets if t in INDEX_TARGETS]
        if spec.smoothing:
            cases += [Case(name, t, r, both, label_smoothing=0.1)
                      for t, r in zip(spec.targets[:2], ("none", "mean"))]
            if flat in INDEX_TARGETS:
                cases.append(Case(name, flat, "mean", default, ignore_index=True,
                                  label_smoothing=0.2))
        # extreme logits (losses on logits): per element in float32 on index and probability
        # targets, reduced in float64 on index targets
        if spec.from_logits:
            cases += [Case(name, t, "none", default, logits=kind)
                      for kind in LOGITS[1:] for t in spec.targets[:2]]
            cases += [Case(name, flat, "mean", default, logits=kind, dtype="float64")
                      for kind in LOGITS[1:]]
        # float64 on every flat target kind and every reduction (the N-d kinds run the same
        # arithmetic, and each new shape costs JAX seconds of compilation)
        cases += [Case(name, t, "mean", both, dtype="float64")
                  for t in spec.targets if t in FLAT_TARGETS]
        cases += [Case(name, flat, r, both, dtype="float64") for r in ("none", "sum",
                                                                       "mean_per_sample")]
        # half precision (torch): index targets (half-precision probability rows do not sum to 1)
        if flat in INDEX_TARGETS and spec.from_logits:
            cases += [Case(name, t, r, both, dtype=dtype)
                      for dtype in ("float16", "bfloat16") for t, r in ((flat, "none"), (nd, "mean"))]
    unique = {case.id: case for case in cases}  # blocks overlap; keep one of each
    # Grouped by dtype: switching JAX's x64 mode back and forth makes it recompile every op.
    return sorted(unique.values(), key=lambda case: DTYPES.index(case.dtype))


CASES = _build()


def cases_for(dtypes) -> list:
    """pytest params of every case in the given dtypes, with readable ids."""
    import pytest

    return [pytest.param(c, id=c.id) for c in CASES if c.dtype in dtypes]
