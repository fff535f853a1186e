"""Where the units of `wce compare` run: ``local`` (this process, or a pool of ``--jobs`` worker
processes) or ``dask`` (the workers of a Dask cluster).

With ``engine="dask"`` each data set is scattered to the cluster once (``Client.scatter``;
a worker that needs it fetches it from a peer and keeps it) and every (data set, method,
repeat, fold) unit is one task. Results travel back to the client, which writes each unit
file atomically as it arrives, exactly as the local engine does: an interrupted run keeps its
finished units and a rerun computes only the rest. A unit computes the same numbers wherever
it runs (its seeds depend on the seed, repeat and fold only), so both engines give identical
results.

Without a scheduler address the engine starts a ``LocalCluster`` of ``jobs`` worker processes
(one thread each) and closes it at the end; with an address (``tcp://host:8786``) it connects
within ``scheduler_timeout`` seconds or fails with one line. The workers need wce installed.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
import uuid
from typing import Any, Callable, Iterator

ENGINES = ("local", "dask")
DEFAULT_TIMEOUT = 10.0
INSTALL = "pip install 'wce[dask]'"


def check(engine: str, scheduler: Any, timeout: Any) -> None:
    """Refuse a bad engine, scheduler or timeout, or a missing ``distributed``, in one line
    (before anything is written)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}.")
    if scheduler is not None and engine != "dask":
        raise ValueError("a scheduler is for engine 'dask' (--engine dask).")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) \
            or timeout <= 0:
        raise ValueError(f"scheduler timeout must be a positive number of seconds; got {timeout!r}.")
    if engine != "dask":
        return
    if scheduler is not None and not isinstance(scheduler, str) and not _is_client(scheduler) \
            and not hasattr(scheduler, "scheduler_address"):
        raise ValueError("scheduler must be a Dask scheduler address such as 'tcp://host:8786', "
                         f"a distributed.Client or a cluster; got {type(scheduler).__name__}.")
    if isinstance(scheduler, str) and not scheduler.strip():
        raise ValueError("scheduler address is empty; give one such as 'tcp://host:8786'.")
    _distributed()


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ImportError(f"engine 'dask' needs dask.distributed, which is not installed. Install it with: "
                          f"{INSTALL}") from None
    return distributed


def _is_client(obj) -> bool:
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")


@contextlib.contextmanager
def client(scheduler: Any, *, workers: int, timeout: float) -> Iterator[Any]:
    """A ``distributed.Client``: the one given (left open), one connected to an address or a
    cluster object, or one on a new ``LocalCluster`` of ``workers`` processes (closed after)."""
    distributed = _distributed()
    if _is_client(scheduler):
        yield scheduler
        return
    if scheduler is None:
        # The worker processes start with Ctrl-C ignored (a disposition they inherit): a terminal
        # sends SIGINT to the whole process group, and stopping the workers is this process's job.
        with _sigint_ignored():
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                               dashboard_address=":0", silence_logs=logging.ERROR)
        made = None
        try:
            made = distributed.Client(cluster, set_as_default=False)
            yield made
        except BaseException:
            # Interrupted or failed: stop the workers now, not after their unit, and quietly (the
            # in-process scheduler would log every task it loses with them).
            quiet = logging.getLogger("distributed")
            level = quiet.level
            with _sigint_ignored():
                quiet.setLevel(logging.CRITICAL + 1)
                try:
                    _kill_workers(cluster)
                    _close(made, cluster)
                finally:
                    quiet.setLevel(level)
            raise
        _close(made, cluster)
        return
    address = scheduler if isinstance(scheduler, str) else scheduler.scheduler_address
    try:
        made = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConnectionError(f"Cannot reach the Dask scheduler at {address!r} within {timeout:g} s "
                              f"({reason}). Start the scheduler, or check the address and "
                              "--scheduler-timeout.") from None
    with made:
        yield made


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _kill_workers(cluster) -> None:
    for nanny in list(getattr(cluster, "workers", {}).values()):
        with contextlib.suppress(Exception):
            pid = nanny.pid
            if pid:
                os.kill(pid, signal.SIGKILL)


def _close(made, cluster) -> None:
    for thing in (made, cluster):
        if thing is not None:
            with contextlib.suppress(Exception):
                thing.close()


def run_dask(pending: list, problems: dict, work: Callable, done: Callable, *, scheduler: Any,
             workers: int, timeout: float) -> None:
    """Run the ``pending`` units, ``[(path, args)]`` (``args[0]`` names a problem of
    ``problems``), on a Dask cluster; ``done(path, result)`` is called in this process as each
    one finishes. Ctrl-C or a failed unit cancels what is still queued."""
    distributed = _distributed()
    with client(scheduler, workers=workers, timeout=timeout) as c:
        own = scheduler is None  # a cluster of our own is stopped as a whole when interrupted
        run = uuid.uuid4().hex[:8]
        needed = {args[0] for _, args in pending}
        data = {name: c.scatter(problems[name], hash=False) for name in needed}
        futures = {}
        try:
            for i, (path, args) in enumerate(pending):
                future = c.submit(work, args, data[args[0]], key=f"wce-unit-{run}-{i}", pure=False)
                futures[future] = path
            for future, result in distributed.as_completed(futures, loop=c.loop, with_results=True):
                done(futures.pop(future), result)
        finally:
            if futures and not own:  # interrupted or failed: no worker keeps computing for us
                with contextlib.suppress(Exception):
                    c.cancel(list(futures), force=True)
            if not (futures and own):
                with contextlib.suppress(Exception):
                    c.cancel(list(data.values()), force=True)


__all__ = ["DEFAULT_TIMEOUT", "ENGINES", "check", "client", "run_dask"]
