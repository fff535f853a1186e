"""Fast path of the GBDT objectives: weighted binary and softmax cross-entropy.

A boosting library calls the objective once per round on every training row,
so its cost is added to every round. The general path
(:meth:`wce.gbdt._objective.Objective.grad_hess`) evaluates the NumPy reference, which
also builds the loss value and ``(n, K)`` one-hot and weight arrays. For the
two common objectives, weighted binary cross-entropy (``pos_weight``,
``class_weight`` or ``alpha``) and weighted softmax cross-entropy
(``class_weight``) on integer labels, the functions here compute the same
gradient and Hessian directly:

* the per-row weights are prepared once per data set (the objective caches
  them with the labels), never per round;
* the rows are processed in blocks of about :data:`BLOCK_ELEMENTS` values,
  a few in-place NumPy passes per block on buffers that stay in cache, with
  no loss value and no one-hot array;
* the blocks are shared among up to :data:`MAX_THREADS` threads (NumPy
  releases the GIL inside its loops, and the library waits while the
  objective runs). Rows are independent, so the result does not depend on
  the number of threads.

Binary: the same operations as the reference in the same order, so the
gradient and Hessian are bitwise those of the general path. Softmax:
``p = exp(z - max z) / Σ exp(z - max z)`` instead of the reference's
``exp(log_softmax(z))``, equal to a few ulps. The softmax arrays are laid out
class-major, ``(K, n)``, and returned as ``(n, K)`` views (transposes):
XGBoost reads the strides, and LightGBM's class-major flattening
(``ravel(order="F")``) then needs no copy.

A block whose margins are not all finite stops the fast path (the functions
return ``None``) and the caller falls back to the reference, which raises its
usual error.
"""

from __future__ import annotations

import os
import threading
from typing import Callable

import numpy as np

#: Most threads a single objective call uses (never more than the usable cores).
MAX_THREADS = 4
#: Margins per block: a few float64 buffers of this size stay in a core's L2 cache.
BLOCK_ELEMENTS = 1 << 16

_local = threading.local()


def n_threads() -> int:
    """Threads for one call: the usable cores, at most :data:`MAX_THREADS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, cores))


def _scratch(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A float64 work buffer of this thread, reused across blocks and calls."""
    size = int(np.prod(shape))
    buf = getattr(_local, name, None)
    if buf is None or buf.size < size:
        buf = np.empty(max(size, 1))
        setattr(_local, name, buf)
    return buf[:size].reshape(shape)


def run_blocks(n: int, rows: int, block: Callable[[int, int], bool]) -> bool:
    """Call ``block(start, stop)`` on consecutive row blocks, on up to :func:`n_threads` threads.

    Returns False if any block returned False (it may then skip the others).
    """
    starts = range(0, n, max(rows, 1))
    threads = min(n_threads(), len(starts))
    if threads <= 1:
        return all(block(s, min(s + rows, n)) for s in starts)
    pending = iter(starts)
    lock = threading.Lock()
    ok = [True]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while ok[0] and not errors:
                with lock:
                    start = next(pending, None)
                if start is None:
                    return
                if not block(start, min(start + rows, n)):
                    ok[0] = False
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)

    helpers = [threading.Thread(target=work, name="wce-gbdt", daemon=True)
               for _ in range(threads - 1)]
    for t in helpers:
        t.start()
    work()
    for t in helpers:
        t.join()
    if errors:
        raise errors[0]
    return ok[0]


def _finite(block: np.ndarray) -> bool:
    return bool(np.isfinite(block).all())


def binary_cross_entropy(margin: np.ndarray, weight: np.ndarray, target: np.ndarray,
                         floor: np.ndarray, *, dtype: type = np.float64
                         ) -> tuple[np.ndarray, np.ndarray] | None:
    """Gradient and Hessian of ``Σ_i w_i l_i`` for a sigmoid margin ``(n,)``.

    ``weight`` is each row's element weight ``w_i = s_i w_{y_i}``, ``target`` is
    ``w_i y_i`` and ``floor`` the Hessian floor ``1e-16 w_i``. With the
    reference's ``p = sigmoid(x)`` (from ``e = exp(-|x|)``):
    gradient ``w p - w y``, Hessian ``max(w p (1 - p), floor)``, computed in
    float64 and rounded once to ``dtype``.
    """
    n = margin.shape[0]
    grad = np.empty(n, dtype)
    hess = np.empty(n, dtype)

    def block(s: int, e: int) -> bool:
        x = margin[s:e]
        if not _finite(x):
            return False
        p = _scratch("p", (e - s,))
        r = _scratch("r", (e - s,))
        np.abs(x, out=p)
        np.negative(p, out=p)
        np.exp(p, out=p)  # e = exp(-|x|)
        np.add(p, 1.0, out=r)
        np.divide(1.0, r, out=r)  # r = 1 / (1 + e)
        np.multiply(p, r, out=p)  # e r = sigmoid(x) for x < 0
        np.copyto(p, r, where=x >= 0)  # p = sigmoid(x)
        np.multiply(weight[s:e], p, out=r)  # w p
        np.subtract(r, target[s:e], out=grad[s:e], casting="same_kind")  # w p - w y
        np.subtract(1.0, p, out=p)
        np.multiply(r, p, out=r)  # w p (1 - p)
        np.maximum(r, floor[s:e], out=hess[s:e], casting="same_kind")
        return True

    if not run_blocks(n, BLOCK_ELEMENTS, block):
        return None
    return grad, hess


def softmax_cross_entropy(margin: np.ndarray, labels: np.ndarray, weight: np.ndarray,
                          hess_weight: np.ndarray, floor: np.ndarray, *,
                          dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray] | None:
    """Gradient and diagonal Hessian of ``Σ_i w_i l_i`` for softmax margins ``(n, K)``.

    ``labels`` are the class indices ``y_i`` (int64, in range), ``weight`` the
    element weights ``w_i``, ``hess_weight`` ``factor · w_i`` and ``floor``
    ``1e-16 w_i``. Gradient ``w_i p_ij - w_i [j = y_i]``, Hessian
    ``max(factor w_i p_ij (1 - p_ij), floor)``, computed in float64 and rounded
    once to ``dtype``. Both are returned as ``(n, K)`` transposes of ``(K, n)``
    arrays.
    """
    n, k = margin.shape
    grad_t = np.empty((k, n), dtype)
    hess_t = np.empty((k, n), dtype)
    rows = max(1, BLOCK_ELEMENTS // max(k, 1))

    def block(s: int, e: int) -> bool:
        m = margin[s:e]
        if not _finite(m):
            return False
        c = e - s
        z = _scratch("z", (k, c))
        t = _scratch("t", (k, c))
        v = _scratch("v", (c,))
        np.copyto(z, m.T)
        np.maximum.reduce(z, axis=0, out=v)
        z -= v
        np.exp(z, out=z)
        np.add.reduce(z, axis=0, out=v)
        np.divide(1.0, v, out=v)
        z *= v  # p
        w = weight[s:e]
        np.subtract(1.0, z, out=t)
        t *= z
        t *= hess_weight[s:e]
        np.maximum(t, floor[s:e], out=hess_t[:, s:e], casting="same_kind")
        z *= w  # w p
        at = labels[s:e] * c
        at += _arange(c)
        flat = z.reshape(-1)
        flat[at] = flat[at] - w  # the one-hot term, on the true class only
        np.copyto(grad_t[:, s:e], z, casting="same_kind")
        return True

    if not run_blocks(n, rows, block):
        return None
    return grad_t.T, hess_t.T


def _arange(c: int) -> np.ndarray:
    a = getattr(_local, "arange", None)
    if a is None or a.size < c:
        a = _local.arange = np.arange(max(c, 1), dtype=np.int64)
    return a[:c]
