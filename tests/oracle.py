"""Naive oracle: the textbook formulas, written independently of wce with plain Python loops.

Nothing here imports wce. Every function takes nested lists or NumPy arrays,
walks them element by element with the ``math`` module, and returns a float
(or, for ``reduction="none"``, a NumPy array shaped like the targets). It is
slow on purpose and meant for small inputs.

Shared conventions (the definitions the reference promises in its docstrings):

* multiclass inputs are ``(N, C, d1, ..., dk)``; an "element" is one position
  ``(n, d1, ..., dk)`` with a row of C scores;
* each element has a weighted loss ``w_i * l_i`` and a weight ``w_i`` taken
  from the *unsmoothed* target; ignored elements have both equal to 0 and do
  not count as samples;
* reductions: ``none`` (per element), ``sum``, ``weighted_mean`` = Σ w·l / Σ w,
  ``mean_per_sample`` = Σ w·l / (number of non-ignored elements); ``mean`` is
  ``weighted_mean`` for multiclass losses (PyTorch's ``CrossEntropyLoss``) and
  ``mean_per_sample`` for binary ones (PyTorch's ``BCEWithLogitsLoss``); a zero
  denominator gives 0.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

EPS = 1e-7


# ----------------------------------------------------------------------------- helpers
def _softmax(row):
    m = max(row)
    exps = [math.exp(v - m) for v in row]
    s = sum(exps)
    return [e / s for e in exps]


def _log_softmax(row):
    m = max(row)
    lse = m + math.log(sum(math.exp(v - m) for v in row))
    return [v - lse for v in row]


def _log_sigmoid(z):
    # log(1 / (1 + e^-z)), branch-wise so that no exp overflows
    if z >= 0:
        return -math.log1p(math.exp(-z))
    return z - math.log1p(math.exp(z))


def _clip(p):
    return min(max(p, EPS), 1.0 - EPS)


def _elements(x):
    """Yield (index of the element in the targets, row of C values) for (N, C, d...)."""
    x = np.asarray(x, dtype=float)
    spatial = x.shape[2:]
    for n in range(x.shape[0]):
        for pos in itertools.product(*[range(d) for d in spatial]):
            row = [float(x[(n, c) + pos]) for c in range(x.shape[1])]
            yield (n,) + pos, row


def _target_row(targets, index, n_classes, soft):
    """Target distribution q of one element (one-hot for an index target)."""
    t = np.asarray(targets)
    if soft:
        n, pos = index[0], index[1:]
        return [float(t[(n, c) + pos]) for c in range(n_classes)]
    label = int(t[index])
    return [1.0 if c == label else 0.0 for c in range(n_classes)]


def _sample_weight_at(sample_weight, index, shape):
    if sample_weight is None:
        return 1.0
    return float(np.broadcast_to(np.asarray(sample_weight, dtype=float), shape)[index])


def _reduce(wl, w, counted, shape, reduction):
    """wl, w, counted: dicts keyed by element index."""
    if reduction == "none":
        out = np.zeros(shape)
        for index, value in wl.items():
            out[index] = value
        return out
    numerator = sum(wl.values())
    if reduction == "sum":
        return numerator
    if reduction in ("mean", "weighted_mean"):
        denominator = sum(w.values())
    elif reduction == "mean_per_sample":
        denominator = sum(1 for v in counted.values() if v)
    else:
        raise ValueError(reduction)
    return numerator / denominator if denominator > 0 else 0.0


def _multiclass(logits, targets, element_loss, *, ignore_index, sample_weight, label_smoothing,
                weight_of, reduction):
    """Generic multiclass driver.

    element_loss(row, q_smoothed, q) -> unweighted-by-sample loss of the element;
    weight_of(q) -> class part of the element's weight.
    """
    x = np.asarray(logits, dtype=float)
    C = x.shape[1]
    out_shape = (x.shape[0],) + x.shape[2:]
    soft = np.ndim(targets) == x.ndim
    wl, w, counted = {}, {}, {}
    for index, row in _elements(x):
        if not soft and ignore_index is not None and int(np.asarray(targets)[index]) == ignore_index:
            wl[index], w[index], counted[index] = 0.0, 0.0, False
            continue
        q = _target_row(targets, index, C, soft)
        qs = [(1.0 - label_smoothing) * v + label_smoothing / C for v in q]
        s = _sample_weight_at(sample_weight, index, out_shape)
        wl[index] = s * element_loss(row, qs, q)
        w[index] = s * weight_of(q)
        counted[index] = True
    return _reduce(wl, w, counted, out_shape, reduction)


# ----------------------------------------------------------------------------- multiclass
def weighted_cross_entropy(logits, targets, *, class_weight=None, ignore_index=None,
                           label_smoothing=0.0, sample_weight=None, from_logits=True,
                           reduction="mean"):
    """l = -Σ_c w_c q'_c log p_c, weight = Σ_c w_c q_c (times the sample weight)."""
    C = np.shape(logits)[1]
    cw = [1.0] * C if class_weight is None else [float(v) for v in class_weight]

    def loss(row, qs, q):
        logp = _log_softmax(row) if from_logits else [math.log(_clip(v)) for v in row]
        return -sum(cw[c] * qs[c] * logp[c] for c in range(C))

    return _multiclass(logits, targets, loss, ignore_index=ignore_index,
                       sample_weight=sample_weight, label_smoothing=label_smoothing,
                       weight_of=lambda q: sum(cw[c] * q[c] for c in range(C)),
                       reduction=reduction)


def focal_loss(logits, targets, *, gamma=2.0, alpha=None, ignore_index=None, label_smoothing=0.0,
               sample_weight=None, reduction="mean"):
    """l = -Σ_c α_c q'_c (1 - p_c)^γ log p_c (Lin et al. 2017, softmax form)."""
    C = np.shape(logits)[1]
    a = [1.0] * C if alpha is None else [float(v) for v in alpha]

    def loss(row, qs, q):
        p = _softmax(row)
        logp = _log_softmax(row)
        return -sum(a[c] * qs[c] * (1.0 - p[c]) ** gamma * logp[c] for c in range(C))

    return _multiclass(logits, targets, loss, ignore_index=ignore_index,
                       sample_weight=sample_weight, label_smoothing=label_smoothing,
                       weight_of=lambda q: sum(a[c] * q[c] for c in range(C)), reduction=reduction)


def class_balanced_loss(logits, targets, *, samples_per_class, beta=0.9999, loss_type="softmax",
                        gamma=2.0, ignore_index=None, sample_weight=None, reduction="mean"):
    """Cui et al. 2019: w_c = (1 - β) / (1 - β^n_c), rescaled to sum to C."""
    raw = []
    for n in samples_per_class:
        raw.append(1.0 if beta == 0 else (1.0 - beta) / (1.0 - beta ** float(n)))
    total = sum(raw)
    w = [len(raw) * v / total for v in raw]
    if loss_type == "softmax":
        return weighted_cross_entropy(logits, targets, class_weight=w, ignore_index=ignore_index,
                                      sample_weight=sample_weight, reduction=reduction)
    return focal_loss(logits, targets, gamma=gamma, alpha=w, ignore_index=ignore_index,
                      sample_weight=sample_weight, reduction=reduction)


def cost_sensitive_cross_entropy(logits, targets, *, cost_matrix, class_weight=None,
                                 ignore_index=None, sample_weight=None, reduction="mean"):
    """Ho & Wookey 2020: l = Σ_c q_c [-w_c log p_c - Σ_{k≠c} M[c, k] log(1 - p_k)], weight = Σ w_c q_c."""
    C = np.shape(logits)[1]
    cw = [1.0] * C if class_weight is None else [float(v) for v in class_weight]
    M = [[float(v) for v in r] for r in cost_matrix]

    def loss(row, qs, q):
        p = _softmax(row)
        total = 0.0
        for c in range(C):
            if q[c] == 0:
                continue
            term = -cw[c] * math.log(p[c])
            for k in range(C):
                if k != c and M[c][k] != 0:
                    term -= M[c][k] * math.log(1.0 - p[k])
            total += q[c] * term
        return total

    return _multiclass(logits, targets, loss, ignore_index=ignore_index,
                       sample_weight=sample_weight, label_smoothing=0.0,
                       weight_of=lambda q: sum(cw[c] * q[c] for c in range(C)), reduction=reduction)


def logit_adjusted_cross_entropy(logits, targets, *, class_prior, tau=1.0, class_weight=None,
                                 ignore_index=None, label_smoothing=0.0, sample_weight=None,
                                 reduction="mean"):
    """Menon et al. 2021: CE of z_c + τ log π_c with π the normalised prior."""
    total = float(sum(class_prior))
    shift = [tau * math.log(float(v) / total) for v in class_prior]
    x = np.array(logits, dtype=float)
    for c in range(x.shape[1]):
        x[:, c] += shift[c]
    return weighted_cross_entropy(x, targets, class_weight=class_weight,
                                  ignore_index=ignore_index, label_smoothing=label_smoothing,
                                  sample_weight=sample_weight, reduction=reduction)


# ----------------------------------------------------------------------------- binary
def _binary_weights(class_weight, alpha, pos_weight):
    if alpha is not None:
        return 1.0 - alpha, alpha
    if pos_weight is not None:
        return 1.0, float(pos_weight)
    if class_weight is not None:
        return float(class_weight[0]), float(class_weight[1])
    return 1.0, 1.0


def _binary(logits, targets, element_loss, *, class_weight, alpha, pos_weight, sample_weight,
            ignore_index, reduction):
    x = np.asarray(logits, dtype=float)
    y = np.asarray(targets, dtype=float)
    w_neg, w_pos = _binary_weights(class_weight, alpha, pos_weight)
    wl, w, counted = {}, {}, {}
    for index in itertools.product(*[range(d) for d in x.shape]):
        t = float(y[index])
        if ignore_index is not None and t == ignore_index:
            wl[index], w[index], counted[index] = 0.0, 0.0, False
            continue
        s = _sample_weight_at(sample_weight, index, x.shape)
        wl[index] = s * element_loss(float(x[index]), t, w_neg, w_pos)
        w[index] = s * (w_pos * t + w_neg * (1.0 - t))
        counted[index] = True
    # BCEWithLogitsLoss' and sigmoid_focal_loss' "mean" divides by the number of elements.
    return _reduce(wl, w, counted, x.shape, "mean_per_sample" if reduction == "mean" else reduction)


def binary_cross_entropy(logits, targets, *, class_weight=None, alpha=None, pos_weight=None,
                         sample_weight=None, ignore_index=None, label_smoothing=0.0,
                         from_logits=True, reduction="mean"):
    """l = -[w+ y' log p + w- (1 - y') log(1 - p)], y' = y (1 - ε) + ε / 2; weight from y."""

    def loss(z, t, w_neg, w_pos):
        ts = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
        if from_logits:
            log_p, log_1mp = _log_sigmoid(z), _log_sigmoid(-z)
        else:
            p = _clip(z)
            log_p, log_1mp = math.log(p), math.log(1.0 - p)
        return -(w_pos * ts * log_p + w_neg * (1.0 - ts) * log_1mp)

    return _binary(logits, targets, loss, class_weight=class_weight, alpha=alpha,
                   pos_weight=pos_weight, sample_weight=sample_weight, ignore_index=ignore_index,
                   reduction=reduction)


def binary_focal_loss(logits, targets, *, gamma=2.0, alpha=None, class_weight=None,
                      pos_weight=None, sample_weight=None, ignore_index=None, reduction="mean"):
    """torchvision's sigmoid_focal_loss: α_t (1 - p_t)^γ BCE(z, y), p_t = p y + (1 - p)(1 - y)."""

    def loss(z, t, w_neg, w_pos):
        p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
        ce = -(t * _log_sigmoid(z) + (1.0 - t) * _log_sigmoid(-z))
        p_t = p * t + (1.0 - p) * (1.0 - t)
        alpha_t = w_pos * t + w_neg * (1.0 - t)
        return alpha_t * ce * (1.0 - p_t) ** gamma

    return _binary(logits, targets, loss, class_weight=class_weight, alpha=alpha,
                   pos_weight=pos_weight, sample_weight=sample_weight, ignore_index=ignore_index,
                   reduction=reduction)


# ----------------------------------------------------------------------------- weights
def balanced_weights(labels, classes):
    """N / (K n_c), by counting with a loop."""
    counts = {c: 0 for c in classes}
    for v in labels:
        counts[v] += 1
    n, k = len(labels), len(classes)
    return [n / (k * counts[c]) for c in classes]


def textbook_alpha_bce(p, y, alpha):
    """The tutorial formula -[α y log p + (1 - α)(1 - y) log(1 - p)], mean over samples (TRAPS 1)."""
    total = 0.0
    for pi, yi in zip(p, y):
        total += -(alpha * yi * math.log(pi) + (1 - alpha) * (1 - yi) * math.log(1 - pi))
    return total / len(p)


def finite_difference_grad(f, x, h=1e-6):
    """Central differences of a scalar function, one coordinate at a time."""
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for index in itertools.product(*[range(d) for d in x.shape]):
        old = x[index]
        x[index] = old + h
        up = f(x)
        x[index] = old - h
        down = f(x)
        x[index] = old
        grad[index] = (up - down) / (2 * h)
    return grad
