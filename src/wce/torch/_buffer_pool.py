"""Reuse of the fused kernel's gradient buffers between steps (CPU).

On the CPU most of the cost of a large gradient is the page faults of touching
a fresh buffer (PyTorch has no caching allocator for host memory, so every step
gets newly mapped pages). The fused kernel therefore keeps the gradient
buffers it handed out and reuses one at the next call *when nothing else refers
to it any more* (the previous step's gradient has been consumed and freed:
``optimizer.zero_grad()``, or non-leaf logits whose gradient went on into the
model). A buffer still referenced anywhere is never reused: by a tensor
(``logits.grad`` kept, a saved ``torch.autograd.grad`` result, a second loss in
the same graph, any view), by its storage object (``grad.untyped_storage()``
held, a saved-tensor hook keyed on storage), or after its storage was moved to
shared memory (sent to another process). Buffers are handed out as tensors of
their own (never views of a pooled tensor), only to plain CPU tensors outside
inference mode and outside any dispatch/function mode (fake tensors,
``torch.export`` tracing), and only when the pooled buffer is at most
:data:`MAX_SLACK` times the size needed. The cost is that up to
:data:`POOL_SIZE` gradient-sized buffers stay allocated between steps;
:func:`empty_cache` frees them and :func:`set_buffer_reuse` turns reuse off.
(The opt-in :data:`USE_HUGE_PAGES` advises fresh buffers into transparent huge
pages instead, which also cuts the page faults but stalls for hundreds of
milliseconds at times while the kernel compacts memory.)

Knowing that nothing refers to a buffer needs a private PyTorch API
(:mod:`wce.torch._private`); without it, buffers are simply not reused.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading

import torch

from ._private import HAS_STORAGE_USE_COUNT, plain_eager_mode, storage_references

#: Advise the gradient buffer into transparent huge pages (Linux, CPU); see the module docstring.
USE_HUGE_PAGES = False
_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14
_libc = None


def _advise_huge_pages(t: torch.Tensor) -> None:
    """Ask Linux to back a large fresh CPU buffer with huge pages (a hint; errors ignored)."""
    global _libc
    nbytes = t.numel() * t.element_size()
    if (not USE_HUGE_PAGES or t.device.type != "cpu" or not sys.platform.startswith("linux")
            or nbytes < 2 * _HUGE_PAGE):
        return
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        ptr = t.data_ptr()
        start = -(-ptr // _HUGE_PAGE) * _HUGE_PAGE
        end = (ptr + nbytes) // _HUGE_PAGE * _HUGE_PAGE
        if end > start:
            _libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), _MADV_HUGEPAGE)
    except (OSError, AttributeError):  # pragma: no cover - non-glibc systems
        pass


#: Reuse freed gradient buffers on the CPU (see the module docstring).
REUSE_BUFFERS = True
#: Gradient buffers kept per dtype for reuse.
POOL_SIZE = 2
#: Smaller buffers come from malloc's own free lists; only larger ones are pooled.
MIN_POOLED_BYTES = 1 << 20
#: A pooled buffer serves a request of at least 1/MAX_SLACK of its size (so a small
#: gradient never pins, pickles or saves a much larger buffer).
MAX_SLACK = 1.25


class _Pooled:
    """A pooled gradient buffer: its storage's Python object and its reference counts when idle."""

    __slots__ = ("storage", "numel", "idle")

    def __init__(self, storage: torch.UntypedStorage, numel: int):
        self.storage = storage
        self.numel = numel
        self.idle = None

    def references(self) -> tuple[int, int]:
        """(C++ users of the storage, Python references to its storage object)."""
        return storage_references(self.storage)

    def free(self) -> bool:
        """Nothing but the pool refers to the buffer (shared ones are dropped before asking)."""
        return self.references() == self.idle


_pool: dict[torch.dtype, list[_Pooled]] = {}
_pool_lock = threading.Lock()


def set_buffer_reuse(enabled: bool) -> None:
    """Turn reuse of gradient buffers between calls on (the default) or off; off also frees them."""
    global REUSE_BUFFERS
    REUSE_BUFFERS = bool(enabled)
    if not REUSE_BUFFERS:
        empty_cache()


def empty_cache() -> None:
    """Free the gradient buffers kept for reuse (like ``torch.cuda.empty_cache``)."""
    with _pool_lock:
        _pool.clear()


def _poolable(x: torch.Tensor, nbytes: int) -> bool:
    """Only plain CPU tensors, in plain eager mode, get pooled buffers."""
    return (REUSE_BUFFERS and HAS_STORAGE_USE_COUNT and nbytes >= MIN_POOLED_BYTES
            and type(x) is torch.Tensor and x.device.type == "cpu"
            and not torch.is_inference_mode_enabled() and plain_eager_mode())


def _tensor_on(entry: _Pooled, x: torch.Tensor) -> torch.Tensor:
    """A tensor of its own (no ``_base``) over the pooled storage, shaped like ``x``."""
    return torch.empty(0, dtype=x.dtype, device=x.device).set_(entry.storage, 0, x.shape)


def empty_like(x: torch.Tensor) -> torch.Tensor:
    """An uninitialised gradient buffer shaped like ``x``: a free pooled one when there is one."""
    n = x.numel()
    if not _poolable(x, n * x.element_size()):
        out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
        _advise_huge_pages(out)
        return out
    with _pool_lock:
        entries = _pool.setdefault(x.dtype, [])
        entries[:] = [e for e in entries if not e.storage.is_shared()]  # given away: forget it
        free = [e for e in entries if e.free()]
        fit = [e for e in free if n <= e.numel <= MAX_SLACK * n]
        if fit:
            return _tensor_on(min(fit, key=lambda e: e.numel), x)
        if free:  # unused but the wrong size: drop one, the new buffer replaces it
            entries.remove(max(free, key=lambda e: e.numel))
        fresh = torch.empty(n, dtype=x.dtype, device=x.device)
        _advise_huge_pages(fresh)
        entry = _Pooled(fresh.untyped_storage(), n)
        del fresh
        entry.idle = entry.references()
        entries.insert(0, entry)
        del entries[POOL_SIZE:]
        return _tensor_on(entry, x)
