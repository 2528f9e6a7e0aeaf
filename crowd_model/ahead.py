"""A cold start on two cores: while a run compiles the riot kernel into numba's cache, a
second process compiles it from the other end.

With numba's cache empty (after install, an upgrade of numba, a change to the kernel), a
run would compile the riot step's whole call tree, some 35 s of CPU, on one core.
:func:`compiling_ahead` starts ``python -m crowd_model.ahead PARENT_PID`` (``run`` starts it
sooner: :func:`start_compiling_ahead`), which compiles the functions the step calls from its
last call back and then the step itself, while the run compiles them from the first call on
and then builds the world; each skips what the other has compiled or is compiling
(:func:`crowd_model.compiling.compile_ahead`). The second process imports only what the
kernel needs (not Mesa), and stops when its parent is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from numba import config, typeof, types

from crowd_model import riot
from crowd_model import world as world_
from crowd_model.compiling import compile_ahead, fcntl, is_cached
from crowd_model.parameters import Parameters, kernel_parameters

_started: list = []  # the second process, while this one's compiling_ahead block runs
_early: list = []  # what start_compiling_ahead found: the process it started, or None (the kernel was cached)


def argument_types(parameters: Parameters) -> dict:
    """The numba type of each argument of the riot's compiled functions, by its name (the
    kernels name them alike)."""
    return {
        "world": world_.STRUCT_TYPE,
        "p": typeof(kernel_parameters(parameters.at_step(0))),
        "rng": typeof(np.random.default_rng(0)),
        "i": types.int64,
        "t": types.int64,
    }


def _step_types(parameters: Parameters) -> tuple:
    known = argument_types(parameters)
    return tuple(known[name] for name in ("world", "p", "rng", "t"))


def _kernel_missing(parameters: Parameters) -> bool:
    return not config.DISABLE_JIT and fcntl is not None and not is_cached(riot.step, _step_types(parameters))


def _start() -> subprocess.Popen:
    package_parent = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, (package_parent, os.environ.get("PYTHONPATH"))))
    return subprocess.Popen(
        [sys.executable, "-m", "crowd_model.ahead", str(os.getpid())],
        env=dict(os.environ, PYTHONPATH=path),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _stop(helper: subprocess.Popen) -> None:
    helper.terminate()
    helper.wait()


def _stop_early() -> None:
    while _early:
        helper = _early.pop()
        if helper is not None:
            _stop(helper)


def start_compiling_ahead() -> None:
    """Start the second process now if the riot kernel is not in numba's cache, before the
    run has read its scenario (reading a site takes some 0.4 s): the kernel's argument types
    are the same for every scenario with a site. The next :func:`compiling_ahead` block takes
    the process over, or ends it if the run has no site; the end of this process ends it too."""
    if not _started and not _early:
        _early.append(_start() if _kernel_missing(Parameters()) else None)
        atexit.register(_stop_early)


@contextlib.contextmanager
def compiling_ahead(parameters: Parameters):
    """If ``parameters`` use the riot kernel and it is not in numba's cache yet, start the
    second process (or take over the one :func:`start_compiling_ahead` started), compile this
    process's half, and run the block (which builds the model and steps it: by the first step
    the other half is compiled or being compiled); the second process is ended with the block
    (what it saved in the cache stays there). Within another such block, just runs the block."""
    helper = None
    if not _started:
        if _early:
            helper = _early.pop()
            if helper is not None and parameters.site == "none":
                _stop(helper)
                helper = None
        elif parameters.site != "none" and _kernel_missing(parameters):
            helper = _start()
    if helper is not None:
        _started.append(helper)
    try:
        if helper is not None:
            compile_ahead(riot.step, argument_types(parameters), from_the_end=False)
        yield
    finally:
        if helper is not None:
            _started.remove(helper)
            _stop(helper)


def main(parent: int) -> None:
    compile_ahead(riot.step, argument_types(Parameters()), from_the_end=True, keep_going=lambda: os.getppid() == parent)


if __name__ == "__main__":
    main(int(sys.argv[1]))
