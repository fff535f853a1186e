"""The one registry of methods that `wce compare` and `wce longtail` put side by side.

A method has one name in both commands (``wce-balanced`` is weighted CE with
``class_weights(scheme='balanced')``, ``N / (C n_c)``, whether the problem has
two classes or a hundred), a description, the hyper-parameters it reads from
the command's options, and two ways to be trained:

* :meth:`Method.plan` for the binary problems of `wce compare`;
* :meth:`Method.multiclass_loss` for the long-tailed multiclass problems of
  `wce longtail` (torch losses).

``COMPARE_METHODS`` and ``LONG_TAIL_METHODS`` list the methods each command
runs; the old `wce longtail` names (``inverse_frequency``, ``cb_ce``,
``cb_focal``, ``posthoc_la``) are accepted as aliases.

Every method is computed from the *training fold only* (TRAPS 16): the class
weights come from the training labels after any resampling, the threshold from
an inner split of the training fold.

In `wce compare` a method turns the training labels into a :class:`FoldPlan`:

* a reference loss from :mod:`wce.losses` with its options, minimised by the
  ``logreg`` model (every loss-based method shares one model and optimiser);
* the equivalent per-sample weights for models that only accept sample weights
  (``mlp``, scikit-learn estimators), or ``None`` where no exact equivalent
  exists (focal loss, logit adjustment);
* the same loss as the keyword arguments of wce's GBDT classifiers
  (``lightgbm``, ``xgboost``): ``loss="focal"`` with ``gamma``,
  ``loss="cost_sensitive"`` with the cost matrix, the class-balanced loss as
  ``class_weight`` (its effective-number weights), weighted CE as sample
  weights;
* ``log_weight_ratio`` = ``log(w_pos / w_neg)``, the factor by which the
  training inflated the posterior odds of the positive class, used for prior
  correction (Saerens et al. 2002; King & Zeng 2001): a model trained with
  class weights estimates ``odds_w = odds · w_pos / w_neg``, so the corrected
  logit is ``z − log(w_pos / w_neg)``. Resampling multiplies the class
  frequencies and is corrected the same way; focal loss has no closed form
  (``None``).

Reductions: the weighted schemes use ``weighted_mean`` (``Σ w·l / Σ w``, PyTorch's
weighted mean for class targets), so only the ratio ``w_pos / w_neg`` matters and a
scheme whose weights sum to 2 (``inverse``) trains the model that ``balanced`` does;
``pos_weight`` and ``cost_sensitive`` use ``mean_per_sample`` (``Σ w·l / n``), what
``BCEWithLogitsLoss(pos_weight=r)`` computes (TRAPS 2, 6) and what a cost matrix
means. With L2 regularisation the two differ: the second scales the data term up by
the average weight. The per-sample weights given to models that sum ``Σ w·l`` are
scaled to a mean of 1 for the weighted-mean losses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..losses import (binary_cross_entropy, binary_focal_loss, class_balanced_loss,
                      cost_sensitive_cross_entropy, logit_adjusted_cross_entropy)
from ..weights import ClassCounts, class_weights
from ..weights._schemes import effective_number_weights

WEIGHT_SCHEMES = ("balanced", "inverse", "inverse_sqrt", "effective_number", "median_frequency")
RESAMPLERS = ("ros", "smote", "rus")


@dataclass
class Options:
    """Hyper-parameters shared by the methods of `wce compare` (command-line options)."""

    cost_fn: float | None = None  # cost of a false negative; None: n_neg / n_pos of the fold
    cost_fp: float = 1.0
    gamma: float = 2.0
    beta: float = 0.9999  # class_balanced (Cui et al.'s largest beta)
    tau: float = 1.0
    smote_ratio: float = 0.5  # minority / majority after SMOTE in weighting + SMOTE
    recalibrate: bool = True  # Platt / isotonic recalibration columns for weighted methods


@dataclass
class FoldPlan:
    """What a model trains with on one training fold."""

    loss: Callable
    loss_kwargs: dict
    two_column: bool  # the loss is a softmax loss: logits [0, z] (softmax([0, z])[1] = sigmoid(z))
    reduction: str
    sample_weight: np.ndarray | None  # per-sample weights equivalent to the loss, or None
    log_weight_ratio: float | None  # log(w_pos / w_neg) for prior correction, None: no closed form
    # The same loss as keyword arguments of wce's GBDT classifiers (wce.xgboost.WeightedXGBClassifier,
    # wce.lightgbm.WeightedLGBMClassifier): loss, and class_weight / gamma / cost_matrix. None: no
    # objective there (logit adjustment). Without class_weight the sample weights go to fit.
    gbdt: dict | None = None
    # A softmax loss on the logits [0, z] is exactly a binary loss of z: (loss, kwargs, reduction,
    # logit offset), what the linear model minimises (the same value and gradient, an n × 2 softmax
    # less per step; tests/test_compare.py checks the equality). None: the loss is used as it is.
    binary: tuple | None = None


@dataclass(frozen=True)
class Method:
    """One method; ``name`` is what the user types."""

    name: str
    family: str  # plain | threshold | weighting | loss | resampling | weighting+resampling
    description: str
    parameters: tuple = ()  # names of the options the method reads
    scheme: str | None = None  # class-weight scheme (weighting family)
    # cross_entropy | pos_weight | focal | class_balanced | class_balanced_focal | cost_sensitive
    # | logit_adjusted | ldam_drw | balanced_softmax
    loss: str = "cross_entropy"
    resampler: str | None = None
    tune_threshold: bool = False
    posthoc_adjustment: bool = False  # trains like ce, predicts from logits − tau log(prior)
    value: float | None = None  # explicit pos_weight (pos_weight:R)
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def weighted(self) -> bool:
        """True if the training objective re-weights the classes (prior correction applies)."""
        return self.family not in ("plain", "threshold")

    def plan(self, y: np.ndarray, options: Options) -> FoldPlan:
        """The loss and weights for binary training labels ``y`` (0/1, after any resampling)."""
        y = np.asarray(y, dtype=np.int64)
        n_pos = int(y.sum())
        n_neg = int(y.size - n_pos)
        ratio = n_neg / n_pos  # refused earlier if a fold has no positive
        bce = binary_cross_entropy
        if self.loss == "cross_entropy" and self.scheme is None:
            return _plan(bce, {}, (1.0, 1.0), y, "mean")
        if self.loss == "cross_entropy":
            w = class_weights(y, scheme=self.scheme, classes=[0, 1])
            return _plan(bce, {"class_weight": w}, (w[0], w[1]), y, "weighted_mean", normalize=True)
        if self.loss == "pos_weight":
            r = ratio if self.value is None else self.value
            return _plan(bce, {"pos_weight": r}, (1.0, r), y, "mean_per_sample")
        if self.loss == "focal":
            return FoldPlan(binary_focal_loss, {"gamma": options.gamma}, False, "mean", None, None,
                            {"loss": "focal", "gamma": float(options.gamma)})
        if self.loss == "class_balanced":
            counts = [n_neg, n_pos]
            w = effective_number_weights(np.array(counts, dtype=float), options.beta)
            plan = _plan(class_balanced_loss, {"samples_per_class": counts, "beta": options.beta},
                         (w[0], w[1]), y, "mean", normalize=True)
            plan.two_column = True
            # softmax CE on [0, z] with class weights w = weighted BCE, weighted mean Σ w·l / Σ w
            plan.binary = (bce, {"class_weight": [float(w[0]), float(w[1])]}, "weighted_mean", 0.0)
            # A GBDT objective is a sum over rows, where the scale of the weights counts (against
            # min_child_weight and the L2 penalty): scaled to a mean row weight of 1, as the
            # weighted mean of the reference loss is.
            scale = y.size / (n_neg * w[0] + n_pos * w[1])
            plan.gbdt = {"loss": "cross_entropy", "class_weight": [float(w[0] * scale), float(w[1] * scale)]}
            return plan
        if self.loss == "cost_sensitive":
            fn = ratio if options.cost_fn is None else options.cost_fn
            M = np.array([[0.0, options.cost_fp], [fn, 0.0]])
            # Binary case: -M[y, other] log(1 - p_other) = -M[y, other] log p_y, so the loss is
            # CE weighted by (1 + M[0,1], 1 + M[1,0]): exact sample weights and prior correction.
            plan = _plan(cost_sensitive_cross_entropy, {"cost_matrix": M},
                         (1.0 + M[0, 1], 1.0 + M[1, 0]), y, "mean")
            plan.two_column = True
            plan.binary = (bce, {"class_weight": [1.0 + M[0, 1], 1.0 + M[1, 0]]}, "mean_per_sample", 0.0)
            plan.gbdt = {"loss": "cost_sensitive", "cost_matrix": M.tolist()}
            return plan
        if self.loss == "logit_adjusted":
            prior = [n_neg, n_pos]
            # Trained on z + tau log(pi); the raw z is shifted by -tau log(pi_1/pi_0).
            shift = options.tau * math.log(n_neg / n_pos)
            return FoldPlan(logit_adjusted_cross_entropy, {"class_prior": prior, "tau": options.tau},
                            True, "mean", None, shift, None, (bce, {}, "mean", -shift))
        raise ValueError(f"Method {self.name!r} has no binary form; it runs in wce longtail.")

    def multiclass_loss(self, counts: np.ndarray, options, losses: dict) -> Callable:
        """``loss(logits, targets, epoch)`` for training class counts ``counts`` (torch).

        ``options`` has the attributes named in :attr:`parameters` (and ``epochs`` for
        LDAM-DRW); ``losses`` maps the :mod:`wce.torch` function names to the functions
        to call. A post-hoc method trains like ``ce``.
        """
        counts = np.asarray(counts, dtype=np.float64)
        if self.loss == "cross_entropy" and self.scheme is None:
            return lambda z, y, epoch: losses["weighted_cross_entropy"](z, y)
        if self.loss == "cross_entropy":
            w = weights_from_counts(counts, scheme=self.scheme)
            return lambda z, y, epoch: losses["weighted_cross_entropy"](z, y, class_weight=w)
        if self.loss in ("class_balanced", "class_balanced_focal"):
            kw = dict(samples_per_class=counts, beta=options.beta, gamma=options.gamma,
                      loss_type="softmax" if self.loss == "class_balanced" else "focal")
            return lambda z, y, epoch: losses["class_balanced_loss"](z, y, **kw)
        if self.loss == "focal":
            return lambda z, y, epoch: losses["focal_loss"](z, y, gamma=options.gamma)
        if self.loss == "ldam_drw":
            drw = weights_from_counts(counts, scheme="effective_number", beta=options.beta_drw,
                                      normalize="sum_to_k")
            start = int(round(options.drw_fraction * options.epochs))
            kw = dict(samples_per_class=counts, max_margin=options.ldam_max_margin,
                      scale=options.ldam_scale)
            return lambda z, y, epoch: losses["ldam_loss"](
                z, y, class_weight=drw if epoch >= start else None, **kw)
        if self.loss == "logit_adjusted":
            return lambda z, y, epoch: losses["logit_adjusted_cross_entropy"](
                z, y, class_prior=counts, tau=options.tau)
        if self.loss == "balanced_softmax":
            return lambda z, y, epoch: losses["balanced_softmax_cross_entropy"](
                z, y, samples_per_class=counts)
        raise ValueError(f"Method {self.name!r} has no multiclass form; it runs in wce compare.")


def _plan(loss, kwargs, w, y, reduction, *, normalize: bool = False) -> FoldPlan:
    """``normalize``: the loss is a weighted mean ``Σ w·l / Σ w``, which does not depend on the scale
    of the weights; the per-sample weights for models that take them (and sum ``Σ w·l``, as
    scikit-learn's estimators and the GBDT objectives do) are then scaled to a mean of 1, so
    ``Σ w·l`` is ``n`` times the weighted mean, as for plain CE."""
    w_neg, w_pos = float(w[0]), float(w[1])
    sample_weight = np.where(y == 1, w_pos, w_neg)
    if normalize:
        scale = y.size / float(sample_weight.sum())
        if not math.isclose(scale, 1.0, rel_tol=1e-12):
            sample_weight = sample_weight * scale
    # Weighted CE: the trees get the per-sample weights (a sum over rows, as any GBDT objective).
    return FoldPlan(loss, kwargs, False, reduction, sample_weight, math.log(w_pos / w_neg),
                    {"loss": "cross_entropy"})


def weights_from_counts(counts: np.ndarray, **kwargs) -> np.ndarray:
    """:func:`wce.weights.class_weights` of classes ``0..C-1`` with these counts."""
    counts = np.asarray(counts)
    return class_weights(ClassCounts(tuple(range(len(counts))), counts.astype(np.int64),
                                     n_rows=int(counts.sum())), **kwargs)


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
        Method("focal", "loss", "binary focal loss (gamma, no alpha)", ("gamma",), loss="focal"),
        Method("class_balanced", "weighting", "class-balanced loss, effective number (Cui et al. 2019)",
               ("beta",), loss="class_balanced"),
        Method("logit_adjusted", "loss", "logit-adjusted CE (Menon et al. 2021), tau", ("tau",),
               loss="logit_adjusted"),
        Method("cost_sensitive", "weighting", "cost-sensitive CE, cost matrix [[0, cost_fp], [cost_fn, 0]]",
               ("cost_fn", "cost_fp"), loss="cost_sensitive"),
        Method("ros", "resampling", "random over-sampling (imbalanced-learn) + plain CE", resampler="ros"),
        Method("smote", "resampling", "SMOTE (imbalanced-learn) + plain CE", resampler="smote"),
        Method("rus", "resampling", "random under-sampling (imbalanced-learn) + plain CE", resampler="rus"),
        Method("wce-balanced+smote", "weighting+resampling",
               "SMOTE to smote_ratio, then balanced weights on the resampled fold", ("smote_ratio",),
               scheme="balanced", resampler="smote"),
        Method("class_balanced_focal", "loss",
               "class-balanced focal loss, softmax form (Cui et al. 2019), beta and gamma",
               ("beta", "gamma"), loss="class_balanced_focal"),
        Method("ldam_drw", "loss",
               "LDAM with a cosine last layer and deferred re-weighting by effective-number weights "
               "(Cao et al. 2019)", ("ldam_max_margin", "ldam_scale", "beta_drw", "drw_fraction"),
               loss="ldam_drw"),
        Method("posthoc_logit_adjusted", "threshold",
               "the ce model, predicting from logits − tau log(prior) (Menon et al. 2021)", ("tau",),
               posthoc_adjustment=True),
        Method("balanced_softmax", "loss", "balanced softmax CE, CE on z + log n_c (Ren et al. 2020)",
               loss="balanced_softmax"),
    ]
    return {m.name: m for m in methods}


METHODS = _build()
COMPARE_METHODS = ("ce", "ce+threshold", *(f"wce-{s}" for s in WEIGHT_SCHEMES), "pos_weight", "focal",
                   "class_balanced", "logit_adjusted", "cost_sensitive", *RESAMPLERS, "wce-balanced+smote")
# The default set leaves out schemes that train the *same* binary model as another
# default under the weighted mean (only the ratio w_pos / w_neg matters there):
# wce-inverse and wce-median_frequency (global frequencies) have the ratio of
# wce-balanced, n_neg / n_pos; wce-effective_number is class_balanced with another beta.
DEFAULT_METHODS = tuple(
    m for m in COMPARE_METHODS if m not in ("wce-inverse", "wce-median_frequency", "wce-effective_number")
)
LONG_TAIL_METHODS = ("ce", "wce-balanced", "class_balanced", "class_balanced_focal", "focal", "ldam_drw",
                     "logit_adjusted", "posthoc_logit_adjusted", "balanced_softmax")
# Which methods each command runs, and which it runs when asked for 'default'.
COMMANDS = {"wce compare": (COMPARE_METHODS, DEFAULT_METHODS),
            "wce longtail": (LONG_TAIL_METHODS, LONG_TAIL_METHODS)}
# Names `wce longtail` used before both commands shared this registry.
ALIASES = {"inverse_frequency": "wce-balanced", "cb_ce": "class_balanced",
           "cb_focal": "class_balanced_focal", "posthoc_la": "posthoc_logit_adjusted"}


def get_method(name: str, *, command: str = "wce compare") -> Method:
    """A method of ``command`` by name or alias; in `wce compare`, ``pos_weight:R`` is BCE with
    a fixed positive weight R (used by sweep)."""
    available, _ = COMMANDS[command]
    name = ALIASES.get(name, name)
    if name in available:
        return METHODS[name]
    base, _, value = name.partition(":")
    if base == "pos_weight" and value and base in available:
        try:
            r = float(value)
        except ValueError:
            r = float("nan")
        if not (r > 0 and math.isfinite(r)):
            raise ValueError(f"pos_weight:R needs a positive number R; got {value!r}.")
        return Method(f"pos_weight:{r:g}", "weighting", f"BCE with pos_weight = {r:g}",
                      loss="pos_weight", value=r)
    known = ", ".join(available) + (", pos_weight:R" if "pos_weight" in available else "")
    if name in METHODS:
        elsewhere = [c for c, (names, _) in COMMANDS.items() if name in names]
        raise ValueError(f"Method {name!r} does not run in {command} (it runs in "
                         f"{', '.join(elsewhere)}). Known: {known}.")
    close = [m for m in available if name.lower() in m or m in name.lower()][:4]
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"Unknown method {name!r}.{hint} Known: {known}.")


def parse_methods(text: Any, *, command: str = "wce compare") -> list:
    """Methods of ``command`` from a list or comma-separated string; ``all`` and ``default``
    are accepted."""
    available, default = COMMANDS[command]
    items = text if isinstance(text, (list, tuple)) else [text]
    names = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if part == "all":
                names += list(available)
            elif part == "default":
                names += list(default)
            elif part:
                names.append(part)
    if not names:
        raise ValueError("No method given: pass --methods NAME[,NAME...].")
    methods = [get_method(n, command=command) for n in names]
    unique = list({m.name: m for m in methods}.values())
    return unique
