"""``torch`` under the NumPy-like names the shared loss definitions in :mod:`wce._array` use.

Layout is the caller's business (the shared math is class-last; ``wce.torch``
moves PyTorch's class axis 1 with :func:`wce._array.class_last`). New arrays
are made on the device of the data, in the dtype the shared math names.
"""

from __future__ import annotations

import numpy as np
import torch

from ._private import is_traced


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; half precision (and anything else) is computed in float32 (TRAPS 11)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _dtype(name) -> torch.dtype:
    return name if isinstance(name, torch.dtype) else getattr(torch, str(name))


class TorchOps:
    """The adapter; one per call, bound to the data's device."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    # --- conversion -------------------------------------------------------------
    def convert_to_tensor(self, x):
        if torch.is_tensor(x):
            return x if x.device == self.device else x.to(self.device)
        return torch.as_tensor(np.asarray(x), device=self.device)

    @staticmethod
    def convert_to_numpy(x):
        if not torch.is_tensor(x):
            return np.asarray(x)
        x = x.detach()
        return (x.float() if x.dtype == torch.bfloat16 else x).cpu().numpy()  # NumPy lacks bfloat16

    def cast(self, x, dtype):
        if isinstance(x, (int, float)):
            # The shared math's constants stay Python scalars: torch never lets a scalar change
            # a tensor's dtype, and no tensor is made for them (they run at every step).
            return x
        return self.convert_to_tensor(x).to(_dtype(dtype))

    @staticmethod
    def dtype_name(x) -> str:
        return str(x.dtype).removeprefix("torch.")

    is_tracer = staticmethod(is_traced)

    # --- creation ------------------------------------------------------------------
    def ones(self, shape, dtype="float32"):
        return torch.ones(shape, dtype=_dtype(dtype), device=self.device)

    def zeros(self, shape, dtype="float32"):
        return torch.zeros(shape, dtype=_dtype(dtype), device=self.device)

    def arange(self, n):
        return torch.arange(n, device=self.device)

    ones_like = staticmethod(torch.ones_like)
    zeros_like = staticmethod(torch.zeros_like)

    # --- elementwise -------------------------------------------------------------
    exp = staticmethod(torch.exp)
    log = staticmethod(torch.log)
    log1p = staticmethod(torch.log1p)
    floor = staticmethod(torch.floor)
    isfinite = staticmethod(torch.isfinite)
    logical_or = staticmethod(torch.logical_or)
    logical_and = staticmethod(torch.logical_and)
    maximum = staticmethod(torch.maximum)
    minimum = staticmethod(torch.minimum)
    matmul = staticmethod(torch.matmul)
    broadcast_to = staticmethod(torch.broadcast_to)
    stack = staticmethod(torch.stack)

    where = staticmethod(torch.where)
    power = staticmethod(torch.pow)
    equal = staticmethod(torch.eq)
    not_equal = staticmethod(torch.ne)
    less = staticmethod(torch.lt)
    greater_equal = staticmethod(torch.ge)
    clip = staticmethod(torch.clamp)

    @staticmethod
    def softplus(x):
        # logaddexp(x, 0): exact for every x (F.softplus switches to the identity above its
        # threshold, an error of e^-20 relative to float64).
        return torch.logaddexp(x, torch.zeros_like(x))

    @staticmethod
    def expand_dims(x, axis):
        return x.unsqueeze(axis)

    @staticmethod
    def moveaxis(x, source, destination):
        return torch.movedim(x, source, destination)

    # --- reductions ----------------------------------------------------------------
    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return x.sum() if axis is None else x.sum(dim=axis, keepdim=keepdims)

    @staticmethod
    def max(x, axis=None, keepdims=False):
        return x.amax() if axis is None else x.amax(dim=axis, keepdim=keepdims)

    @staticmethod
    def min(x, axis=None, keepdims=False):
        return x.amin() if axis is None else x.amin(dim=axis, keepdim=keepdims)

    @staticmethod
    def any(x):
        return x.any()

    @staticmethod
    def all(x):
        return x.all()

    @staticmethod
    def argmax(x, axis):
        return x.argmax(dim=axis)

    @staticmethod
    def logsumexp(x, axis, keepdims=False):
        return torch.logsumexp(x, dim=axis, keepdim=keepdims)

    @staticmethod
    def log_softmax(x, axis):
        return torch.log_softmax(x, dim=axis)
