"""The methods `wce compare` puts side by side, and what each one trains with.

Every method is computed from the *training fold only* (TRAPS 16): the class
weights come from the training labels after any resampling, the threshold from
an inner split of the training fold.

A method turns the training labels into a :class:`FoldPlan`:

* a reference loss from :mod:`wce.losses` with its options, minimised by the
  ``logreg`` model (every loss-based method shares one model and optimiser);
* the equivalent per-sample weights for models that only accept sample weights
  (``mlp``, ``lightgbm``, ``xgboost``), or ``None`` where no exact equivalent
  exists (focal loss, logit adjustment);
* ``log_weight_ratio`` = ``log(w_pos / w_neg)``, the factor by which the
  training inflated the posterior odds of the positive class, used for prior
  correction (Saerens et al. 2002; King & Zeng 2001): a model trained with
  class weights estimates ``odds_w = odds · w_pos / w_neg``, so the corrected
  logit is ``z − log(w_pos / w_neg)``. Resampling multiplies the class
  frequencies and is corrected the same way; focal loss has no closed form
  (``None``).

Reductions: the weighted schemes use ``mean`` (``Σ w·l / Σ w``, PyTorch's
weighted mean for class targets); ``pos_weight`` uses ``mean_per_sample``
(``Σ w·l / n``) because that is what ``BCEWithLogitsLoss(pos_weight=r)``
computes (TRAPS 2, 6). With L2 regularisation the two differ: the second
scales the data term up by the average weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..losses import (binary_cross_entropy, binary_focal_loss, class_balanced_loss,
                      cost_sensitive_cross_entropy, logit_adjusted_cross_entropy)
from ..weights import class_weights
from ..weights._schemes import effective_number_weights

WEIGHT_SCHEMES = ("balanced", "inverse", "inverse_sqrt", "effective_number", "median_frequency")
RESAMPLERS = ("ros", "smote", "rus")


@dataclass
class Options:
    """Hyper-parameters shared by the methods (command-line options)."""

    cost_fn: float | None = None  # cost of a false negative; None: n_neg / n_pos of the fold
    cost_fp: float = 1.0
    gamma: float = 2.0
    beta: float = 0.9999  # class_balanced (Cui et al.'s largest beta)
    tau: float = 1.0
    smote_ratio: float = 0.5  # minority / majority after SMOTE in weighting + SMOTE


@dataclass
class FoldPlan:
    """What a model trains with on one training fold."""

    loss: Callable
    loss_kwargs: dict
    two_column: bool  # the loss is a softmax loss: logits [0, z] (softmax([0, z])[1] = sigmoid(z))
    reduction: str
    sample_weight: np.ndarray | None  # per-sample weights equivalent to the loss, or None
    log_weight_ratio: float | None  # log(w_pos / w_neg) for prior correction, None: no closed form


@dataclass(frozen=True)
class Method:
    """One method of the comparison; ``name`` is what the user types."""

    name: str
    family: str  # plain | threshold | weighting | loss | resampling | weighting+resampling
    description: str
    scheme: str | None = None  # class-weight scheme (weighting family)
    loss: str = "bce"  # bce | pos_weight | focal | class_balanced | cost_sensitive | logit_adjusted
    resampler: str | None = None
    tune_threshold: bool = False
    value: float | None = None  # explicit pos_weight (pos_weight:R)
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def weighted(self) -> bool:
        """True if the training objective re-weights the classes (prior correction applies)."""
        return self.family not in ("plain", "threshold")

    def plan(self, y: np.ndarray, options: Options) -> FoldPlan:
        """The loss and weights for training labels ``y`` (0/1, after any resampling)."""
        y = np.asarray(y, dtype=np.int64)
        n_pos = int(y.sum())
        n_neg = int(y.size - n_pos)
        ratio = n_neg / n_pos  # refused earlier if a fold has no positive
        bce = binary_cross_entropy
        if self.loss == "bce" and self.scheme is None:
            return _plan(bce, {}, (1.0, 1.0), y, "mean")
        if self.loss == "bce":
            w = class_weights(y, scheme=self.scheme, classes=[0, 1])
            return _plan(bce, {"class_weight": w}, (w[0], w[1]), y, "mean")
        if self.loss == "pos_weight":
            r = ratio if self.value is None else self.value
            return _plan(bce, {"pos_weight": r}, (1.0, r), y, "mean_per_sample")
        if self.loss == "focal":
            return FoldPlan(binary_focal_loss, {"gamma": options.gamma}, False, "mean", None, None)
        if self.loss == "class_balanced":
            counts = [n_neg, n_pos]
            w = effective_number_weights(np.array(counts, dtype=float), options.beta)
            plan = _plan(class_balanced_loss, {"samples_per_class": counts, "beta": options.beta},
                         (w[0], w[1]), y, "mean")
            plan.two_column = True
            return plan
        if self.loss == "cost_sensitive":
            fn = ratio if options.cost_fn is None else options.cost_fn
            M = np.array([[0.0, options.cost_fp], [fn, 0.0]])
            # Binary case: -M[y, other] log(1 - p_other) = -M[y, other] log p_y, so the loss is
            # CE weighted by (1 + M[0,1], 1 + M[1,0]): exact sample weights and prior correction.
            plan = _plan(cost_sensitive_cross_entropy, {"cost_matrix": M},
                         (1.0 + M[0, 1], 1.0 + M[1, 0]), y, "mean")
            plan.two_column = True
            return plan
        if self.loss == "logit_adjusted":
            prior = [n_neg, n_pos]
            # Trained on z + tau log(pi); the raw z is shifted by -tau log(pi_1/pi_0).
            return FoldPlan(logit_adjusted_cross_entropy, {"class_prior": prior, "tau": options.tau},
                            True, "mean", None, options.tau * math.log(n_neg / n_pos))
        raise AssertionError(self.loss)  # pragma: no cover - names are validated by get_method


def _plan(loss, kwargs, w, y, reduction) -> FoldPlan:
    w_neg, w_pos = float(w[0]), float(w[1])
    return FoldPlan(loss, kwargs, False, reduction, np.where(y == 1, w_pos, w_neg),
                    math.log(w_pos / w_neg))


def _build() -> dict:
    methods = [
        Method("ce", "plain", "plain cross-entropy"),
        Method("ce+threshold", "threshold",
               "plain CE, decision threshold tuned for F1 on an inner split of the training fold",
               tune_threshold=True),
    ]
    for s in WEIGHT_SCHEMES:
        methods.append(Method(f"wce-{s}", "weighting", f"weighted CE, class_weights(scheme={s!r})",
                              scheme=s))
    methods += [
        Method("pos_weight", "weighting", "BCE with pos_weight = n_neg / n_pos (PyTorch's mean over N)",
               loss="pos_weight"),
        Method("focal", "loss", "binary focal loss (gamma, no alpha)", loss="focal"),
        Method("class_balanced", "weighting", "class-balanced loss, effective number (Cui et al. 2019)",
               loss="class_balanced"),
        Method("logit_adjusted", "loss", "logit-adjusted CE (Menon et al. 2021), tau",
               loss="logit_adjusted"),
        Method("cost_sensitive", "weighting", "cost-sensitive CE, cost matrix [[0, cost_fp], [cost_fn, 0]]",
               loss="cost_sensitive"),
        Method("ros", "resampling", "random over-sampling (imbalanced-learn) + plain CE", resampler="ros"),
        Method("smote", "resampling", "SMOTE (imbalanced-learn) + plain CE", resampler="smote"),
        Method("rus", "resampling", "random under-sampling (imbalanced-learn) + plain CE", resampler="rus"),
        Method("wce-balanced+smote", "weighting+resampling",
               "SMOTE to smote_ratio, then balanced weights on the resampled fold",
               scheme="balanced", resampler="smote"),
    ]
    return {m.name: m for m in methods}


METHODS = _build()
# The default set leaves out schemes that train the *same* binary model as another
# default under the weighted mean (only the ratio w_pos / w_neg matters there):
# wce-inverse and wce-median_frequency (global frequencies) have the ratio of
# wce-balanced, n_neg / n_pos; wce-effective_number is class_balanced with another beta.
DEFAULT_METHODS = tuple(
    m for m in METHODS if m not in ("wce-inverse", "wce-median_frequency", "wce-effective_number")
)


def get_method(name: str) -> Method:
    """A method by name; ``pos_weight:R`` is BCE with a fixed positive weight R (used by sweep)."""
    if name in METHODS:
        return METHODS[name]
    base, _, value = name.partition(":")
    if base == "pos_weight" and value:
        try:
            r = float(value)
        except ValueError:
            r = float("nan")
        if not (r > 0 and math.isfinite(r)):
            raise ValueError(f"pos_weight:R needs a positive number R; got {value!r}.")
        return Method(f"pos_weight:{r:g}", "weighting", f"BCE with pos_weight = {r:g}",
                      loss="pos_weight", value=r)
    close = [m for m in METHODS if name.lower() in m or m in name.lower()][:4]
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"Unknown method {name!r}.{hint} Known: {', '.join(METHODS)}, pos_weight:R.")


def parse_methods(text: Any) -> list:
    """Methods from a list or comma-separated string; ``all`` and ``default`` are accepted."""
    items = text if isinstance(text, (list, tuple)) else [text]
    names = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if part == "all":
                names += list(METHODS)
            elif part == "default":
                names += list(DEFAULT_METHODS)
            elif part:
                names.append(part)
    if not names:
        raise ValueError("No method given: pass --methods NAME[,NAME...].")
    methods = [get_method(n) for n in names]
    unique = list({m.name: m for m in methods}.values())
    return unique
