"""Where runs happen: any ``concurrent.futures.Executor``.

One process (``--workers 1``), a local process pool (``--workers N``), or a dask cluster
(``--scheduler ADDRESS``; ``Client.get_executor(pure=False)``, since with dask's default
``pure=True`` runs with identical arguments would be merged into one).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager

from crowd_model.errors import InputError


class SerialExecutor(Executor):
    """Runs each submitted call at once, in this process."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@contextmanager
def make_executor(workers: int | None = None, scheduler: str | None = None) -> Iterator[tuple[Executor, str, int]]:
    """The executor for ``--workers``/``--scheduler``, a label for the metadata, and how
    many runs to keep in flight (enough to keep every worker busy, few enough that a
    finished run is written at once)."""
    if scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise InputError(
                "--scheduler needs dask's distributed package: pip install 'crowd-model[distributed]'"
            ) from None
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
        try:
            threads = sum(client.nthreads().values()) or 1
            yield client.get_executor(pure=False), f"dask {scheduler}", 4 * threads
        finally:
            client.close()
        return
    workers = workers or default_workers()
    if workers == 1:
        yield SerialExecutor(), "serial", 1
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context(),
                             initializer=_exit_with, initargs=(os.getpid(),)) as pool:
        yield pool, f"process pool of {workers}", 4 * workers


def _context():
    """Fork when this process runs a single thread: workers then start at once with the
    model already imported and compiled. Otherwise (forking a threaded process can
    deadlock the child) workers come from a fork server that has imported the model."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and _threads() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["crowd_model.experiments.worker"])
        return context
    return multiprocessing.get_context(methods[0])


def _threads() -> int:
    """Threads of this process as the system counts them (native ones included)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _exit_with(sweep_pid: int, every: float = 1.0) -> None:
    """In a pool worker: end this process once the sweep's process is gone (a killed
    sweep would otherwise leave its workers waiting for work forever)."""

    def watch():
        while True:
            time.sleep(every)
            try:
                os.kill(sweep_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass

    threading.Thread(target=watch, daemon=True, name="exit-with-sweep").start()
