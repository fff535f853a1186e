"""The private PyTorch APIs wce relies on, in one place, each feature-detected with a plain fallback.

PyTorch may rename or remove any of these between releases. When one is
missing, wce keeps working and only loses an optimisation: no buffer reuse in
the fused kernel, or the native path instead of the fused one.
"""

from __future__ import annotations

import sys

import torch

_use_count = getattr(torch._C, "_storage_Use_Count", None)
_dispatch_stack = getattr(torch._C, "_len_torch_dispatch_stack", None)
_function_stack = getattr(torch._C, "_len_torch_function_stack", None)
_functorch_active = getattr(torch._C, "_are_functorch_transforms_active", None)
_functorch = getattr(torch._C, "_functorch", None)
_is_wrapped = getattr(_functorch, "is_functorch_wrapped_tensor", None)

#: Whether the use count of a storage can be read: the buffer pool needs it to know that
#: nothing refers to a buffer any more.
HAS_STORAGE_USE_COUNT = _use_count is not None


def storage_references(storage: torch.UntypedStorage) -> tuple[int, int]:
    """(C++ users of a storage, Python references to its storage object)."""
    return _use_count(storage._cdata), sys.getrefcount(storage) - 1


def plain_eager_mode() -> bool:
    """No ``TorchDispatchMode``/``TorchFunctionMode`` is active (fake tensors, ``torch.export``).

    False when that cannot be told, so that callers take the conservative path.
    """
    if _dispatch_stack is None or _function_stack is None:
        return False
    return _dispatch_stack() == 0 and _function_stack() == 0


def functorch_transforms_active() -> bool:
    """A ``torch.func`` transform (``vmap``, ``grad``, ...) is running; True when unknown."""
    return True if _functorch_active is None else bool(_functorch_active())


def is_traced(x) -> bool:
    """A tensor whose values cannot be read now: fake/meta, or wrapped by ``torch.func``."""
    if not torch.is_tensor(x):
        return False
    if x.device.type == "meta" or type(x).__name__ == "FakeTensor":
        return True
    if _functorch_active is not None and _functorch_active():
        return True  # even a closed-over tensor is wrapped once an operation touches it
    return bool(_is_wrapped(x)) if _is_wrapped is not None else False
