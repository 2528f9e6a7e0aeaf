"""How the kernels are compiled and cached (crowd_model.compiling).

The cache test works on a small package of its own in a temporary folder, laid out like the
kernels (an inner function in one file, called by a compiled function in another), and runs
each step in a new process, as a user's next run would."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
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
    """Numba would compile ``add`` afresh for each constant (Literal[int](1), (2), (3)): a
    fifth of the kernels' cold start. ``compiled`` / ``inner`` compile it once for int64."""

    @compiling.compiled
    def add(x, k):
        return x + k

    @compiling.compiled
    def caller(x):
        return add(x, 1) + add(x, 2) + add(x, -3) + add(x, x)

    assert caller(5) == 6 + 7 + 2 + 10
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
