"""Shared numerics and input preparation for the NumPy reference losses.

Everything is computed in float64. Multiclass inputs are laid out as
``(N, C, d1, ..., dk)`` like PyTorch; internally the class axis is moved last
and the rest flattened to ``(M, C)`` with ``M = N * d1 * ... * dk``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .. import _validation as V

#: Probabilities given instead of logits are clipped to [EPS, 1 - EPS] (Keras' epsilon).
EPS = 1e-7


@dataclass
class Terms:
    """Per-element pieces from which every reduction is formed (see ``_reduction``).

    ``weighted_loss[i]`` is element i's contribution to the numerator ``Σ w·l``;
    ``weight[i]`` its contribution to the denominator of ``mean``; ``valid[i]``
    says whether it counts for ``mean_per_sample``. ``grad`` is the gradient of
    ``weighted_loss`` with respect to the input, laid out like the input, and
    ``hess`` (binary losses only) its diagonal second derivative, or a function
    returning it, computed only when asked for (:func:`wce.losses.value_grad_hess`).
    """

    weighted_loss: np.ndarray
    weight: np.ndarray
    valid: np.ndarray
    grad: np.ndarray
    out_shape: tuple
    hess: np.ndarray | Callable[[], np.ndarray] | None = None


def log_softmax(z: np.ndarray) -> np.ndarray:
    m = np.max(z, axis=-1, keepdims=True)
    shifted = z - m
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def log1m_softmax(z: np.ndarray) -> np.ndarray:
    """log(1 - softmax(z)) along the last axis, stable for logits of any size.

    Computed as ``logsumexp_{j != k} z_j - logsumexp_j z_j`` so that a class
    holding almost all the mass still gets a finite, accurate value.
    """
    C = z.shape[-1]
    if C == 1:
        return np.full_like(z, -np.inf)
    lse = _logsumexp(z)
    order = np.argsort(z, axis=-1)
    top = np.take_along_axis(z, order[..., -1:], axis=-1)  # max
    # For k != argmax the maximum of the others is the global max: S1 - e_k >= 1, no cancellation.
    e = np.exp(z - top)
    s1 = np.sum(e, axis=-1, keepdims=True)
    out = top + np.log(np.maximum(s1 - e, 1.0)) - lse
    # For k == argmax, sum the others directly, shifted by the second largest logit.
    arg = order[..., -1:]
    second = np.take_along_axis(z, order[..., -2:-1], axis=-1)
    # The max itself is left out (exp(-inf) = 0) before exponentiating: z_max - second may
    # be huge and would overflow.
    shifted = z - second
    np.put_along_axis(shifted, arg, -np.inf, axis=-1)
    e2 = np.exp(shifted)
    at_max = second + np.log(np.sum(e2, axis=-1, keepdims=True)) - lse
    np.put_along_axis(out, arg, at_max, axis=-1)
    return np.minimum(out, 0.0)


def _logsumexp(z: np.ndarray) -> np.ndarray:
    m = np.max(z, axis=-1, keepdims=True)
    return m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): stable for large |x|, and about
    4× faster than ``np.logaddexp(0, x)`` (it runs every boosting round in the GBDT objectives)."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) from exp(-|x|), which never overflows."""
    e = np.exp(-np.abs(x))
    r = 1.0 / (1.0 + e)
    return np.where(x >= 0, r, e * r)


def pow0(u: np.ndarray, e: float) -> np.ndarray:
    """``u ** e`` for u >= 0, with 0 where u == 0 and e < 0.

    Used for focal modulating factors: every term where a negative power of a
    vanishing ``u`` appears is multiplied by a factor that vanishes faster, so
    its limit is 0.
    """
    if e == 0:
        return np.ones_like(u)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.where(u > 0, np.power(np.where(u > 0, u, 1.0), e), 0.0)
    return out


# ---------------------------------------------------------------------------
# multiclass preparation
# ---------------------------------------------------------------------------


@dataclass
class Multiclass:
    z: np.ndarray  # (M, C) logits, or probabilities when from_logits=False
    target: np.ndarray  # (M, C) target distribution after label smoothing (zero rows where ignored)
    base_weight: np.ndarray  # (M,) sample_weight * Σ_c class_weight_c * q_c, q unsmoothed
    sample_weight: np.ndarray  # (M,)
    class_weight: np.ndarray  # (C,)
    valid: np.ndarray  # (M,) bool
    out_shape: tuple  # shape of the 'none' reduction
    restore: Callable[[np.ndarray], np.ndarray]  # (M, C) -> input layout


def _to_rows(x: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """(N, C, d...) -> (M, C) and the inverse map."""
    shape = x.shape
    moved = np.moveaxis(x, 1, -1)
    rows = moved.reshape(-1, shape[1])

    def restore(g: np.ndarray) -> np.ndarray:
        return np.moveaxis(g.reshape(moved.shape), -1, 1)

    return rows, restore


def prepare_multiclass(
    inputs: Any,
    targets: Any,
    *,
    caller: str,
    class_weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    from_logits: bool = True,
) -> Multiclass:
    name = "logits" if from_logits else "probs"
    x = V.as_float_array(inputs, name, caller=caller).astype(np.float64, copy=False)
    if x.ndim < 2:
        raise ValueError(
            f"The '{name}' parameter of {caller} must have shape (N, C) or (N, C, d1, ...). "
            f"Got shape {x.shape} instead. For a single binary output use binary_cross_entropy."
        )
    C = x.shape[1]
    ignore_index = V.check_ignore_index(ignore_index, caller=caller)
    label_smoothing = V.check_float(
        label_smoothing, "label_smoothing", caller=caller, low=0.0, high=1.0
    )
    cw = V.check_class_weight(class_weight, C, caller=caller)
    cw = np.ones(C) if cw is None else cw.astype(np.float64)

    t = np.asarray(targets)
    if t.size == 0:
        raise ValueError(f"The 'targets' parameter of {caller} is empty. Pass at least one sample.")
    rows, restore = _to_rows(x)
    M = rows.shape[0]

    if t.ndim == x.ndim:  # probability (soft / one-hot) targets
        if t.shape != x.shape:
            raise ValueError(
                f"Soft targets of {caller} must have the same shape as {name} {x.shape}. "
                f"Got shape {t.shape} instead."
            )
        if ignore_index is not None:
            raise ValueError(
                f"The 'ignore_index' parameter of {caller} applies to class-index targets only; "
                "with probability targets, give ignored elements sample_weight=0 instead."
            )
        q = V.as_float_array(t, "targets", caller=caller).astype(np.float64)
        q, _ = _to_rows(q)
        sums = q.sum(-1)
        V.check_probability_rows(float(q.min()), float(sums.min()), float(sums.max()),
                                 caller=caller)
        valid = np.ones(M, dtype=bool)
    elif t.ndim == x.ndim - 1:  # class indices
        expected = (x.shape[0],) + x.shape[2:]
        if t.shape != expected:
            raise ValueError(
                f"Class-index targets of {caller} must have shape {expected} to match {name} "
                f"of shape {x.shape}. Got shape {t.shape} instead."
            )
        if not (np.issubdtype(t.dtype, np.integer) or t.dtype == np.bool_):
            raise TypeError(
                f"Class-index targets of {caller} must be integers. Got dtype {t.dtype} instead. "
                "Cast them with targets.astype(int), or pass probability targets with the "
                f"same shape as {name}."
            )
        idx = t.astype(np.int64).reshape(-1)
        valid = np.ones(M, dtype=bool) if ignore_index is None else idx != ignore_index
        bad = valid & ((idx < 0) | (idx >= C))
        if np.any(bad):
            V.raise_bad_class_indices(idx[bad], C, caller=caller, ignore_index=ignore_index)
        q = np.zeros((M, C))
        q[np.nonzero(valid)[0], idx[valid]] = 1.0
    else:
        raise ValueError(
            f"Targets of {caller} must be class indices of shape {(x.shape[0],) + x.shape[2:]} "
            f"or probabilities of shape {x.shape}. Got shape {t.shape} instead."
        )

    out_shape = (x.shape[0],) + x.shape[2:]
    sw = V.check_sample_weight(sample_weight, out_shape, caller=caller)
    sw = np.ones(M) if sw is None else np.asarray(sw, dtype=np.float64).reshape(-1)
    base_weight = sw * (q @ cw)
    if label_smoothing > 0:
        q = np.where(valid[:, None], (1.0 - label_smoothing) * q + label_smoothing / C, 0.0)
    if not from_logits:
        sums = rows.sum(-1)
        V.check_probability_inputs(float(rows.min()), float(rows.max()), caller=caller,
                                   row_sums=(float(sums.min()), float(sums.max())))
    return Multiclass(rows, q, base_weight, sw, cw, valid, out_shape, restore)


def check_from_logits(from_logits: Any, *, caller: str) -> bool:
    if not isinstance(from_logits, (bool, np.bool_)):
        raise TypeError(
            f"The 'from_logits' parameter of {caller} must be a bool. Got {from_logits!r} instead."
        )
    return bool(from_logits)
