"""How the kernels are compiled and cached (crowd_model.compiling).

The cache test works on a small package of its own in a temporary folder, laid out like the
kernels (an inner function in one file, called by a compiled function in another), and runs
each step in a new process, as a user's next run would."""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from numba.core import event
from numba.core.caching import FunctionCache
from numba.core.registry import CPUDispatcher

from crowd_model import compiling

PACKAGE = {
    "__init__.py": """
        from pathlib import Path

        from crowd_model.compiling import cache_by_dependencies

        cache_by_dependencies(Path(__file__).parent)
    """,
    "leaf.py": """
        from crowd_model.compiling import inner

        SCALE = 1
        UNUSED = 0


        @inner
        def scaled(x):
            return x * SCALE


        @inner
        def other(x):
            return x + UNUSED
    """,
    "top.py": """
        from numba import njit

        from cachepkg import leaf

        OFFSET = 0


        @njit(cache=True)
        def run(x):
            return leaf.scaled(x) + OFFSET
    """,
    "unrelated.py": """
        VALUE = 0
    """,
}

SCRIPT = """
import json
from cachepkg import leaf, top
value = top.run(2)
print(json.dumps({
    "value": int(value),
    "top_loaded": sum(top.run.stats.cache_hits.values()),
    "leaf_loaded": sum(leaf.scaled.stats.cache_hits.values()),
}))
"""


def _run(root):
    env = dict(os.environ, PYTHONPATH=str(root), NUMBA_CACHE_DIR=str(root / "cache"))
    env.pop("NUMBA_DISABLE_JIT", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _edit(root, name, old, new):
    path = root / "cachepkg" / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_change_to_a_callee_in_another_file_recompiles_its_callers_only(tmp_path):
    package = tmp_path / "cachepkg"
    package.mkdir()
    for name, text in PACKAGE.items():
        (package / name).write_text(textwrap.dedent(text).lstrip())

    assert _run(tmp_path) == {"value": 2, "top_loaded": 0, "leaf_loaded": 0}
    # Nothing changed: the caller comes from the cache (and needs no callee).
    assert _run(tmp_path) == {"value": 2, "top_loaded": 1, "leaf_loaded": 0}
    # The callee's file changed: the caller, in another file, is compiled afresh with it.
    _edit(tmp_path, "leaf.py", "SCALE = 1", "SCALE = 3")
    assert _run(tmp_path) == {"value": 6, "top_loaded": 0, "leaf_loaded": 0}
    # The caller's file changed: it is compiled afresh, and links the callee from the cache.
    _edit(tmp_path, "top.py", "OFFSET = 0", "OFFSET = 1")
    assert _run(tmp_path) == {"value": 7, "top_loaded": 0, "leaf_loaded": 1}
    # A file neither uses changed: both stay cached.
    _edit(tmp_path, "unrelated.py", "VALUE = 0", "VALUE = 1")
    assert _run(tmp_path) == {"value": 7, "top_loaded": 1, "leaf_loaded": 0}
    # Lines added above both, and a change to what neither reads: both stay cached.
    _edit(tmp_path, "leaf.py", "SCALE = 3", "# a comment\n\nSCALE = 3")
    _edit(tmp_path, "top.py", "OFFSET = 1", "# a comment\nOFFSET = 1")
    _edit(tmp_path, "leaf.py", "UNUSED = 0", "UNUSED = 5")
    assert _run(tmp_path) == {"value": 7, "top_loaded": 1, "leaf_loaded": 0}
    # The callee's code changed (not a constant): the caller is compiled afresh.
    _edit(tmp_path, "leaf.py", "return x * SCALE", "return x * SCALE - 1")
    assert _run(tmp_path) == {"value": 6, "top_loaded": 0, "leaf_loaded": 0}


def test_source_stamp_covers_the_files_a_module_imports(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg import b\nfrom pkg.c import thing\n")
    (package / "b.py").write_text("from . import d\n")
    (package / "c.py").write_text("thing = 1\n")
    (package / "d.py").write_text("import numpy\n")
    (package / "e.py").write_text("")
    assert [p.name for p in compiling._dependencies(package / "a.py")] == ["a.py", "b.py", "c.py", "d.py"]
    before = compiling.source_stamp(package / "a.py")
    (package / "e.py").write_text("x = 1\n")
    assert compiling.source_stamp(package / "a.py") == before
    (package / "d.py").write_text("import numpy\nx = 1\n")
    assert compiling.source_stamp(package / "a.py") != before


@pytest.mark.parametrize("module", ["world", "rules", "epstein", "riot", "render"])
def test_every_kernel_is_cached_by_its_dependencies(module):
    """Every compiled function of the package gets the dependency-aware cache (which it gets
    only if crowd_model.compiling was imported before it was defined)."""
    mod = __import__(f"crowd_model.{module}", fromlist=["_"])
    dispatchers = [f for f in vars(mod).values() if isinstance(f, CPUDispatcher) and f.__module__ == mod.__name__]
    assert dispatchers
    for f in dispatchers:
        assert isinstance(f, compiling._TypeDispatcher) and f._cache_wanted, f
        assert isinstance(FunctionCache(f.py_func)._impl.locator, compiling._DependencyLocator), f


def test_a_function_stamp_follows_what_the_code_reads(tmp_path):
    """The stamp changes with the function's code, the constants and compiled functions it
    reads (also as module attributes), and not with anything else."""
    from crowd_model import riot, rules, world

    import crowd_model.model  # noqa: F401  (every global of the kernels defined)

    before = compiling.function_stamp(riot.civilian_step.py_func)
    assert compiling.function_stamp(riot.civilian_step.py_func) == before
    try:
        compiling._STAMPS.clear()
        rules.WATCHED_BY_NOBODY = 1
        assert compiling.function_stamp(riot.civilian_step.py_func) == before
        compiling._STAMPS.clear()
        riot.WANDER_SHARE, old = riot.WANDER_SHARE + 0.01, riot.WANDER_SHARE
        assert compiling.function_stamp(riot.civilian_step.py_func) != before
        riot.WANDER_SHARE = old
        compiling._STAMPS.clear()
        world.ARRESTED, old_arrested = world.ARRESTED + 100, world.ARRESTED  # read by a callee: world._counts
        assert compiling.function_stamp(riot.civilian_step.py_func) != before
        world.ARRESTED = old_arrested
    finally:
        del rules.WATCHED_BY_NOBODY
        compiling._STAMPS.clear()
    assert compiling.function_stamp(riot.civilian_step.py_func) == before


def test_a_compiled_function_called_with_constants_is_compiled_once_per_type():
    """Numba would compile ``add`` afresh for each constant (Literal[int](1), (2), (3)) and
    for each integer width: a fifth of the kernels' cold start. ``compiled`` / ``inner``
    compile it once for int64."""
    import numpy as np

    @compiling.compiled
    def add(x, k):
        return x + k

    @compiling.compiled
    def caller(x, small):
        return add(x, 1) + add(x, 2) + add(x, -3) + add(x, x) + add(small[0], small[1]) + add(x, np.int8(-1))

    assert caller(5, np.array([3, -4], np.int32)) == 6 + 7 + 2 + 10 - 1 + 4
    assert len(add.overloads) == 1
    assert [str(t) for t in add.signatures[0]] == ["int64", "int64"]


COMPILES_SCRIPT = """
import json
from numba.core import event
compiled = []
class Listener(event.Listener):
    def on_start(self, ev):
        f = ev.data["dispatcher"].py_func
        compiled.append(f.__module__ + "." + f.__qualname__ + str(ev.data["args"]))
    def on_end(self, ev):
        pass
event.register("numba:compile", Listener())
from crowd_model.cli import main
for scenario in ("kpu-riot", "breach", "peaceful-rally", "epstein"):
    main(["run", "--scenario", scenario, "--steps", "3"])
main(["run", "--scenario", "{withdrawal}", "--steps", "5"])
print(json.dumps([m for m in compiled if m.startswith("crowd_model")]))
"""


@pytest.mark.slow
def test_crowd_model_compile_fills_the_cache_for_every_run(tmp_path):
    """After ``crowd-model compile`` (what set-up runs), no preset run and no run with an
    officer schedule (Epstein's Run 5) compiles any of the package's kernels."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("NUMBA_DISABLE_JIT", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-m", "crowd_model", "compile"], capture_output=True, text=True, env=env,
                          timeout=900, cwd=root)
    assert done.returncode == 0, done.stderr
    assert "kernels compiled and cached" in done.stdout
    withdrawal = tmp_path / "withdrawal.toml"
    withdrawal.write_text('[parameters]\nofficer_density = { schedule = "ramp", start = 1, end = 4, from = 0.04, to = 0.0 }\n')
    script = COMPILES_SCRIPT.replace("{withdrawal}", str(withdrawal))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=900, cwd=root)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


# --- two processes sharing a cache split the work (crowd_model.compiling._compiling) ----

SHARED_PACKAGE = {
    "__init__.py": PACKAGE["__init__.py"],
    "kernel.py": """
        from crowd_model.compiling import compiled, inner


        @inner
        def scaled(x, k):
            return x * k


        @inner
        def shifted(x, k):
            return x + k


        @compiled
        def total(x, k):
            return shifted(scaled(x, k), k)


        @inner
        def halved(x, k):
            return x // (2 * k)


        @inner
        def doubled(x, k):
            return halved(x, k) * 2


        @inner
        def negated(x):
            return -x


        @inner
        def moved(x, step):
            return x + step


        @compiled
        def combined(x, k):
            return doubled(x, k) + negated(x) + moved(x, 1)


        @inner
        def tripled(x, k):
            return 3 * x + k


        @inner
        def squared(x, k):
            return x * x + k


        @compiled
        def summed(x, k):
            return tripled(x, k) + squared(x, k)


        @inner
        def quartered(x, k):
            return x // 4 + k


        @compiled
        def loaded(x, k):
            return 2 * quartered(x, k)
    """,
}

WAITER = """
import json, sys
from numba import types
from sharedpkg import kernel
print("ready", flush=True)
kernel.total.compile((types.int64, types.int64))
print(json.dumps({
    "value": int(kernel.total(2, 3)),
    "loaded": sum(kernel.total.stats.cache_hits.values()),
    "compiled": sum(kernel.total.stats.cache_misses.values()),
}))
"""


@pytest.fixture(scope="module")
def shared_package(tmp_path_factory):
    """A small package imported in this process and compiled into a cache a second process
    uses too."""
    root = tmp_path_factory.mktemp("shared")
    package = root / "sharedpkg"
    package.mkdir()
    for name, text in SHARED_PACKAGE.items():
        (package / name).write_text(textwrap.dedent(text).lstrip())
    sys.path.insert(0, str(root))
    try:
        from sharedpkg import kernel
    finally:
        sys.path.remove(str(root))
    return root, kernel


def test_a_function_compiled_by_another_process_is_waited_for_and_loaded(shared_package):
    """While this process holds the function (compiling it), a second process that needs it
    waits, then loads what this one saved instead of compiling it again."""
    from numba import types

    root, kernel = shared_package
    env = dict(os.environ, PYTHONPATH=str(root))
    env.pop("NUMBA_DISABLE_JIT", None)
    with compiling._compiling(kernel.total):
        waiter = subprocess.Popen([sys.executable, "-c", WAITER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env)
        assert waiter.stdout.readline().strip() == "ready"
        time.sleep(1.0)  # the waiter is at the lock by now (without it, it would be compiling)
        kernel.total.compile((types.int64, types.int64))
    out, err = waiter.communicate(timeout=300)
    assert waiter.returncode == 0, err
    assert json.loads(out) == {"value": 9, "loaded": 1, "compiled": 0}


LOADER = """
import json
from numba import types
from numba.core import base
refreshes = []
refresh = base.BaseContext.refresh
base.BaseContext.refresh = lambda self: refreshes.append(1) or refresh(self)
from sharedpkg import kernel
value = int(kernel.loaded(8, 3))
print(json.dumps({
    "value": value,
    "loaded": sum(kernel.loaded.stats.cache_hits.values()),
    "refreshed": len(refreshes),
}))
"""


def test_cached_code_is_loaded_without_setting_up_the_compiler(shared_package):
    """A process that only loads cached code does not refresh numba's typing and lowering
    registries (0.3-0.8 s of a warm start): the runtime is enough to run it."""
    from numba import types

    root, kernel = shared_package
    kernel.loaded.compile((types.int64, types.int64))
    env = dict(os.environ, PYTHONPATH=str(root))
    env.pop("NUMBA_DISABLE_JIT", None)
    done = subprocess.run([sys.executable, "-c", LOADER], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"value": 10, "loaded": 1, "refreshed": 0}


def _compiled_by(call):
    compiled = []
    listener = _CompileListener(compiled)
    event.register("numba:compile", listener)
    try:
        call()
    finally:
        event.unregister("numba:compile", listener)
    return compiled


def test_compile_ahead_walks_the_calls_from_either_end(shared_package):
    """``compile_ahead`` compiles each function after those it calls and skips a function
    with an argument it has no type for; from the end, it takes the last call first and then
    the root; from the start, the first call first and not the root. It compiles nothing
    once told to stop, and skips what is cached already."""
    from numba import types

    _, kernel = shared_package
    assert compiling.callees(kernel.combined) == [kernel.doubled, kernel.negated, kernel.moved]
    int64 = {"x": types.int64, "k": types.int64}
    compiling.compile_ahead(kernel.combined, int64, from_the_end=True, keep_going=lambda: False)
    assert not kernel.doubled.overloads and not kernel.negated.overloads

    from_the_end = _compiled_by(lambda: compiling.compile_ahead(kernel.combined, int64, from_the_end=True))
    assert from_the_end == ["negated", "halved", "doubled", "combined", "moved"]  # moved: as combined's callee
    assert compiling.is_cached(kernel.halved, (types.int64, types.int64))
    assert not compiling.is_cached(kernel.halved, (types.float64, types.int64))

    from_the_start = _compiled_by(lambda: compiling.compile_ahead(kernel.summed, int64, from_the_end=False))
    assert from_the_start == ["tripled", "squared"]
    assert not kernel.summed.overloads
    assert _compiled_by(lambda: compiling.compile_ahead(kernel.summed, int64, from_the_end=True)) == ["summed"]


class _CompileListener(event.Listener):
    def __init__(self, names):
        self.names = names

    def on_start(self, ev):
        self.names.append(ev.data["dispatcher"].py_func.__name__)

    def on_end(self, ev):
        pass


def test_the_riot_step_calls_its_phases_in_order():
    """What ``compile_ahead`` walks: the compiled functions a kernel calls, in code order."""
    from crowd_model import riot

    assert [f.py_func.__name__ for f in compiling.callees(riot.step)] == [
        "shuffled_living", "begin_step", "officer_step", "civilian_step", "serve_jail_terms", "serve_evacuations",
        "census",
    ]


def test_the_process_compiling_ahead_types_the_kernel_as_every_preset_does():
    """The second process of a cold start types the riot's arguments from the default
    parameters; every preset must give the same types, or it compiles the wrong code."""
    from crowd_model.ahead import argument_types
    from crowd_model.parameters import Parameters
    from crowd_model.scenario import load_scenario, preset_names

    default = argument_types(Parameters())
    for name in preset_names():
        assert argument_types(load_scenario(name).parameters) == default, name


def _processes_running(text: bytes) -> list:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            pass
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads processes from /proc")
def test_a_cold_run_compiled_by_two_processes_gives_the_files_of_a_warm_run(tmp_path):
    """With the cache empty, ``run`` compiles the riot kernel with a second process
    (crowd_model.ahead); the files are those of the next run, which loads everything, and
    the second process is gone when the run ends."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("NUMBA_DISABLE_JIT", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for name in ("cold", "warm"):
        run = [sys.executable, "-m", "crowd_model", "run", "--scenario", "kpu-riot", "--steps", "3", "--seed", "5",
               "--out", str(tmp_path / name)]
        done = subprocess.run(run, capture_output=True, text=True, env=env, timeout=900, cwd=root)
        assert done.returncode == 0, done.stderr
        assert not _processes_running(b"crowd_model.ahead"), "the second process outlived the run"
    for name in ("timeseries.csv", "outcomes.csv", "events.csv"):
        assert (tmp_path / "cold" / name).read_bytes() == (tmp_path / "warm" / name).read_bytes(), name
    assert list((tmp_path / "cache").rglob("*.lock"))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads processes from /proc")
def test_the_second_process_started_before_the_scenario_ends_with_a_run_that_does_not_need_it(tmp_path):
    """``run`` starts the second process of a cold start before it reads the scenario
    (``start_compiling_ahead``), and none is left behind: not by a process that ends without
    a run, nor by a run refused for bad input, nor by a run without a site (no riot kernel)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("NUMBA_DISABLE_JIT", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    started = subprocess.run(
        [sys.executable, "-c", "from crowd_model import ahead\nahead.start_compiling_ahead()\n"
                               "assert ahead._early[0].poll() is None, 'not started'"],
        capture_output=True, text=True, env=env, timeout=300, cwd=root,
    )
    assert started.returncode == 0, started.stderr
    assert not _processes_running(b"crowd_model.ahead"), "the second process outlived a process without a run"
    run = [sys.executable, "-m", "crowd_model", "run", "--steps", "2"]
    refused = subprocess.run(run + ["--scenario", "kpu-riot", "--set", "crowd_size=many"],
                             capture_output=True, text=True, env=env, timeout=300, cwd=root)
    assert refused.returncode == 2 and "crowd_size" in refused.stderr, refused.stderr
    assert not _processes_running(b"crowd_model.ahead"), "the second process outlived a refused run"
    epstein = subprocess.run(run + ["--scenario", "epstein"], capture_output=True, text=True, env=env, timeout=600, cwd=root)
    assert epstein.returncode == 0, epstein.stderr
    assert not _processes_running(b"crowd_model.ahead"), "the second process outlived a run without a site"
