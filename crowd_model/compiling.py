"""How the kernels are compiled: cheaper compilation of the functions only kernels call.

Numba compiles each function into its own LLVM module. A function that calls others
links their modules into its own, then optimises the whole and generates machine code for
it. With the kernels' call tree several levels deep, the code of a rule at the bottom is
optimised and turned into machine code once for every function above it, although only
the top (the functions Python calls: ``riot.step``, ``world.place_many``, ...) ever runs.

:data:`inner` compiles a function that only other compiled functions call. Its module is
kept as it is after numba's per-function passes, with its callees linked in, and is neither
optimised as a whole nor turned into machine code: the first function Python calls does
that once, for its whole call tree (with the same optimisation passes, so the machine code
is as fast). Such a function cannot be called from Python.

The cache: numba notices a change to a file only for the functions defined in it, and then
for all of them. :class:`_DependencyLocator` (which numba consults first, and which claims
only this package's files) keys a function's cache on :func:`function_stamp`, a hash of
what its compiled code depends on, in whatever file: its own code, the constants it reads
and the stamps of the compiled functions it calls. So a changed rule is never run from a
stale caller, a change recompiles only the functions that depend on it, and an edit
elsewhere in a file recompiles nothing.

:data:`compiled` and :data:`inner` also compile a function once per argument *types* (any
signed integer counted as int64), not once for each constant a caller passes
(:class:`_TypeDispatcher`).

Several processes sharing a cache split the work: each compiles a function only while it
holds a lock on a file beside the cached code (:func:`_compiling`), and one that needs a
function another is compiling waits and loads it. :func:`compile_ahead` walks a kernel's
call tree from either end, so that two processes on a cold start (:mod:`crowd_model.ahead`)
meet in the middle.

Nothing here changes numba's configuration or how any other code (outside the packages
given to :func:`cache_by_dependencies`) is compiled or cached.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import dis
import functools
import hashlib
import inspect
import os
import sys
from pathlib import Path
from types import CodeType, ModuleType

import numpy as np

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from llvmlite import binding as llvm
from llvmlite import ir as llvm_ir
from numba import njit, types
from numba.core import cgutils, sigutils
from numba.core.caching import FunctionCache, NullCache, _CacheLocator

try:
    from numba.core.caching import CacheImpl
except ImportError:  # numba < 0.61
    from numba.core.caching import _CacheImpl as CacheImpl
from numba.core.codegen import JITCodeLibrary
from numba.core.compiler import Compiler, DefaultPassBuilder
from numba.core.compiler_lock import require_global_compiler_lock
from numba.core.dispatcher import Dispatcher
from numba.core.registry import CPUDispatcher
from numba.core.runtime import rtsys
from numba.core.datamodel import models, register_default
from numba.core.compiler_machinery import LoweringPass, register_pass
from numba.core.typed_passes import IRLegalization

_ENV_PREFIX = "_ZN08NumbaEnv"


class _LinkOnlyLibrary(JITCodeLibrary):
    """The code library of an :data:`inner` function: linked, never optimised as a whole
    module nor turned into machine code (its callers do both)."""

    def finalize(self):
        require_global_compiler_lock()
        self._raise_if_finalized()
        seen = set()
        for library in self._linking_libraries:
            if library not in seen:
                self._reload_init.update(library._reload_init)
                seen.add(library)
                self._final_module.link_in(library._get_module_for_linking(), preserve=True)
        self._define_environments()
        self._finalized = True

    def _define_environments(self):
        """Give the engine a definition of this function's environment pointer (and its
        callees', where missing), as a module of its own holding nothing else, so that numba
        can set it (:meth:`numba.core.codegen.JITCPUCodegen.set_env`) and callers linked
        later share it, as they share it with an ordinary function's module."""
        engine = self._codegen._engine
        names = [
            gv.name
            for gv in self._final_module.global_variables
            if gv.name.startswith(_ENV_PREFIX) and not engine.is_symbol_defined(gv.name)
        ]
        if not names:
            return
        module = self._codegen._create_empty_module(f"{self.name}.environments")
        for name in names:
            gv = llvm_ir.GlobalVariable(module, cgutils.voidptr_t, name=name)
            gv.linkage = "common"
            gv.initializer = cgutils.get_null_value(cgutils.voidptr_t)
        engine.add_module(llvm.parse_assembly(str(module)))
        engine.finalize_object()

    def get_pointer_to_function(self, name):
        # No machine code: an inner function has no entry point for Python.
        self._ensure_finalized()
        return 0

    def serialize_using_object_code(self):
        # Cached as LLVM bitcode (there is no object code); a caller compiled later links it.
        return self.serialize_using_bitcode()


@register_pass(mutates_CFG=False, analysis_only=True)
class _LinkOnlyLowering(LoweringPass):
    """Give the function a :class:`_LinkOnlyLibrary` before numba lowers it."""

    _name = "crowd_model_link_only_library"

    def __init__(self):
        LoweringPass.__init__(self)

    def run_pass(self, state):
        if state.library is None:
            library = state.targetctx.codegen().create_library(state.func_id.func_qualname)
            library.__class__ = _LinkOnlyLibrary
            library.enable_object_caching()
            state.library = library
        return False


class _InnerCompiler(Compiler):
    """Numba's nopython pipeline, with a :class:`_LinkOnlyLibrary`."""

    def define_pipelines(self):
        pm = DefaultPassBuilder.define_nopython_pipeline(self.state)
        pm.add_pass_after(_LinkOnlyLowering, IRLegalization)
        pm.finalize()
        return [pm]


class _FunctionCache(FunctionCache):
    """Numba's cache of a compiled function, loaded without setting up the compiler. Before
    it loads cached code numba refreshes its typing and lowering registries (it imports some
    50 more modules and registers thousands of implementations: about 0.3 s of a start with a
    warm cache); the machine code needs only numba's runtime. A compilation still refreshes
    them first (:class:`numba.core.compiler.CompilerBase`)."""

    def load_overload(self, sig, target_context):
        rtsys.initialize(target_context)
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)


class _TypeDispatcher(CPUDispatcher):
    """A dispatcher compiled once per argument *types*, and cached by
    :func:`function_stamp` from its first compilation on. Numba compiles a function called
    from compiled code afresh for each constant argument value (``record(w, kind, x, y, -1,
    ...)``, ``set_state(w, i, ACTIVE)``: over 30 extra compilations of the kernels, a fifth
    of their cold start); here such a call uses the overload for the constant's type, as a
    call from Python does, and a narrower signed integer is passed as int64 (:func:`_widened`).
    The generated code is the same: constants still propagate once the callee is inlined in
    its caller."""

    _cache_wanted = False

    def enable_caching(self):
        self._cache = _FunctionCache(self.py_func)

    def cached(self) -> bool:
        """Whether the function is cached, which it is from its first compilation on, when
        every global it reads exists (its stamp, :func:`function_stamp`, reads them all)."""
        if self._cache_wanted and isinstance(self._cache, NullCache):
            self.enable_caching()
        return not isinstance(self._cache, NullCache)

    def compile(self, sig):
        args, _ = sigutils.normalize_signature(sig)
        if not self.cached() or tuple(args) in self.overloads:
            return super().compile(sig)
        with _compiling(self):
            return super().compile(sig)

    def get_call_template(self, args, kws):
        return super().get_call_template(tuple(_widened(a) for a in args), {k: _widened(v) for k, v in kws.items()})


def _widened(t):
    """The type a compiled function is compiled for when a compiled caller passes ``t``:
    constants as their type, and a signed integer as int64, so that ``record(w, kind, x, y)``
    with int32 coordinates from one caller and int64 from another is one compilation."""
    t = types.unliteral(t)
    if isinstance(t, types.Integer) and t.signed and t.bitwidth < 64:
        return types.int64
    return t


_HELD: set = set()  # the functions this process holds (see _compiling)


def _lock_file(dispatcher) -> int | None:
    """An open descriptor of the file whose lock stands for compiling ``dispatcher``'s
    function into its cache (beside the cached code, named as numba names it: one file per
    function, whatever its version); None where there is nothing to lock (no ``fcntl``
    (Windows), no cache or none this process can write to, or held here)."""
    if fcntl is None or dispatcher.py_func in _HELD or not dispatcher.cached():
        return None
    key = f"{dispatcher.py_func.__module__.rpartition('.')[2]}.{dispatcher.py_func.__qualname__}"
    cache = dispatcher._cache
    try:
        cache._impl.locator.ensure_cache_path()
        return os.open(os.path.join(cache._cache_path, key + ".lock"), os.O_CREAT | os.O_RDWR, 0o666)
    except OSError:  # a cache folder this process cannot write to: numba will not save there either
        return None


@contextlib.contextmanager
def _compiling(dispatcher: _TypeDispatcher):
    """Hold, across processes, the right to compile ``dispatcher``'s function into its
    cache. Another process compiling the same function meanwhile waits, then loads what this
    one saved instead of compiling it again: processes that share a cache (a run and the
    process compiling ahead of it, :func:`compile_ahead`; a sweep's workers) split the work.
    They cannot wait on each other in a circle, as a function waits only for the functions
    it calls."""
    fd = _lock_file(dispatcher)
    if fd is None:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _HELD.add(dispatcher.py_func)
        try:
            yield
        finally:
            _HELD.discard(dispatcher.py_func)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _being_compiled_elsewhere(dispatcher) -> bool:
    """Whether another process holds ``dispatcher``'s function (see :func:`_compiling`)."""
    fd = _lock_file(dispatcher)
    if fd is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def is_cached(dispatcher, argument_types) -> bool:
    """Whether ``dispatcher``'s code for ``argument_types`` is compiled in this process or
    waits in its cache (where the cache is not stale)."""
    if not isinstance(dispatcher, _TypeDispatcher):
        return True
    sig = tuple(argument_types)
    if sig in dispatcher.overloads:
        return True
    if not dispatcher.cached():
        return False
    cache = dispatcher._cache
    return cache._index_key(sig, dispatcher.targetctx.codegen()) in cache._cache_file._load_index()


def callees(dispatcher) -> list:
    """The package's compiled functions that ``dispatcher``'s function calls, in the order
    its code first names them (as globals, or as attributes of the package's modules)."""
    py_func = dispatcher.py_func
    found = []
    value = None
    for ins in dis.get_instructions(py_func.__code__):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            value = py_func.__globals__.get(ins.argval)
        elif ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and isinstance(value, ModuleType):
            value = getattr(value, ins.argval, None)
        else:
            value = None
        if isinstance(value, _TypeDispatcher) and value not in found:
            found.append(value)
    return found


def compile_ahead(root, argument_types: dict, *, from_the_end: bool, keep_going=lambda: True) -> None:
    """Compile into the cache the functions ``root`` calls, directly or not, whose
    parameters are all named in ``argument_types`` (name to numba type; the kernels name
    their arguments alike: ``world``, ``p``, ``rng``, ...), each after the functions it
    calls, skipping those already cached or being compiled by another process.

    Two processes split a cold start so: one walks the calls in the order the code makes
    them (``from_the_end=False``; ``root`` itself is left to its first call), the other from
    the last call back, and then compiles ``root`` (``from_the_end=True``); they meet in the
    middle. Stops when ``keep_going()`` turns false."""
    order: list = []
    seen: set = set()

    def visit(dispatcher):
        seen.add(dispatcher)
        calls = callees(dispatcher)
        for callee in reversed(calls) if from_the_end else calls:
            if callee not in seen:
                visit(callee)
        order.append(dispatcher)

    visit(root)
    for dispatcher in order if from_the_end else order[:-1]:
        if not keep_going():
            return
        names = list(inspect.signature(dispatcher.py_func).parameters)
        if not names or not all(name in argument_types for name in names):
            continue
        sig = tuple(argument_types[name] for name in names)
        if not is_cached(dispatcher, sig) and not _being_compiled_elsewhere(dispatcher):
            dispatcher.compile(sig)


def _by_type(decorator):
    def compile_by_type(func):
        dispatcher = decorator(func)
        if type(dispatcher) is CPUDispatcher:  # not under NUMBA_DISABLE_JIT
            dispatcher.__class__ = _TypeDispatcher
            dispatcher._cache_wanted = True
        return dispatcher

    return compile_by_type


# A compiled function, cached, compiled once per argument types (:class:`_TypeDispatcher`).
compiled = _by_type(njit)

# Compiled functions only other compiled functions call: no wrapper for calls from Python,
# no machine code of their own (see the module's docstring).
inner = _by_type(njit(no_cpython_wrapper=True, no_cfunc_wrapper=True, pipeline_class=_InnerCompiler))


# --- the cache: a function is compiled afresh when something its code depends on changes ---

_PACKAGE = Path(__file__).resolve().parent
_CACHED_PACKAGES: set[Path] = {_PACKAGE}


def cache_by_dependencies(package: str | Path) -> None:
    """Cache the compiled functions of the Python files in the ``package`` folder (as
    crowd_model's are) by :class:`_DependencyLocator`. Must be called before they are
    defined."""
    _CACHED_PACKAGES.add(Path(package).resolve())


def _imported_files(path: Path) -> tuple[Path, ...]:
    """The files of the same package that the module at ``path`` imports (``from pkg import
    mod``, ``from pkg.mod import name``, ``import pkg.mod``, and relative forms)."""
    stat = path.stat()
    return _imported_files_of_version(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=None)
def _imported_files_of_version(path: Path, mtime_ns: int, size: int) -> tuple[Path, ...]:
    package = path.parent
    found = []
    statements = list(ast.parse(path.read_bytes(), str(path)).body)
    while statements:  # every statement, also inside functions, classes and branches
        node = statements.pop()
        statements.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level > 1:
                continue
            base = node.module or ""
            if node.level == 0:
                if base != package.name and not base.startswith(package.name + "."):
                    continue
                base = base[len(package.name) + 1 :]
            names = [f"{base}.{alias.name}".strip(".") for alias in node.names] + [base]
        for name in names:
            parts = name.split(".")
            if node.__class__ is ast.Import:
                if parts[0] != package.name:
                    continue
                parts = parts[1:]
            if parts and parts[0] and (package / f"{parts[0]}.py").is_file():
                found.append(package / f"{parts[0]}.py")
    return tuple(sorted(set(found)))


def _dependencies(path: Path) -> list[Path]:
    """``path`` and every file of its package it imports, directly or not."""
    seen, todo = {path}, [path]
    while todo:
        for dep in _imported_files(todo.pop()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return sorted(seen)


def source_stamp(path: str | Path) -> str:
    """A hash of the file at ``path`` and of every file of its package it imports."""
    versions = tuple((dep, dep.stat().st_mtime_ns, dep.stat().st_size) for dep in _dependencies(Path(path).resolve()))
    return _stamp_of_versions(versions)


@functools.lru_cache(maxsize=None)
def _stamp_of_versions(versions: tuple[tuple[Path, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for dep, _, _ in versions:
        digest.update(dep.name.encode() + b"\0" + dep.read_bytes() + b"\0")
    return digest.hexdigest()


def _in_packages(module_name: str | None) -> Path | None:
    """The file of module ``module_name`` when it belongs to one of the cached packages."""
    module = sys.modules.get(module_name or "")
    file = getattr(module, "__file__", None)
    if file and Path(file).resolve().parent in _CACHED_PACKAGES:
        return Path(file).resolve()
    return None


def _code_names(code: CodeType) -> set[str]:
    """Every name the code (and code nested in it) reads: globals and attributes."""
    names = set(code.co_names) | set(code.co_freevars)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _code_names(const)
    return names


def _global_names(code: CodeType) -> set[str]:
    """The globals the code (and code nested in it) reads."""
    names = {ins.argval for ins in dis.get_instructions(code) if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _global_names(const)
    return names


def _code_digest(code: CodeType, digest) -> None:
    """The code's meaning (bytecode, constants, names), not where it stands in its file."""
    digest.update(code.co_code)
    digest.update(repr((code.co_names, code.co_varnames, code.co_freevars, code.co_argcount, code.co_flags)).encode())
    for const in code.co_consts:
        if isinstance(const, CodeType):
            _code_digest(const, digest)
        else:
            digest.update(_value_digest(const, set()).encode())


_STAMPS: dict = {}


def function_stamp(py_func) -> str:
    """A hash of everything ``py_func``'s compiled code depends on: its bytecode and
    constants; the values of the globals, closure variables and defaults it reads (numba
    freezes them as constants), looked up also as attributes of the package's modules it
    reads (``rules.grievance``, ``ev.WATER_CANNON``); the stamps of the compiled functions
    it calls, recursively; and this file (how everything is compiled). Anything else of the
    package it reads (a class, a numba type) stands for its whole file and the files that
    file imports (:func:`source_stamp`). Where the function stands in its file does not
    count: an edit elsewhere in the file recompiles nothing."""
    if py_func in _STAMPS:
        return _STAMPS[py_func] or f"recursive:{py_func.__module__}.{py_func.__qualname__}"
    _STAMPS[py_func] = None
    digest = hashlib.sha256(source_stamp(__file__).encode())
    _code_digest(py_func.__code__, digest)
    names = _code_names(py_func.__code__)
    if not _global_names(py_func.__code__) <= py_func.__globals__.keys() | vars(builtins).keys():
        # A global not defined yet (a function further down the file, compiled with numba's
        # own decorator, whose stamp is taken when it is defined): its whole file stands for it.
        digest.update(b"\0file=" + source_stamp(inspect.getfile(py_func)).encode())
    for name in sorted(names & py_func.__globals__.keys()):
        digest.update(f"\0{name}=".encode() + _value_digest(py_func.__globals__[name], names).encode())
    for cell in py_func.__closure__ or ():
        digest.update(b"\0closure=" + _value_digest(cell.cell_contents, names).encode())
    digest.update(b"\0defaults=" + _value_digest(py_func.__defaults__, names).encode())
    _STAMPS[py_func] = stamp = digest.hexdigest()
    return stamp


def _value_digest(value, names: set[str]) -> str:
    """What a value read by compiled code stands for in its function's stamp."""
    if isinstance(value, Dispatcher):
        return "function:" + function_stamp(value.py_func)
    if isinstance(value, ModuleType):
        if _in_packages(value.__name__) is None:
            return "module:" + value.__name__
        found = sorted(name for name in names if hasattr(value, name))
        return f"module:{value.__name__}(" + ",".join(
            f"{name}={_value_digest(getattr(value, name), names)}" for name in found) + ")"
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__}(" + ",".join(_value_digest(v, names) for v in value) + ")"
    if isinstance(value, np.ndarray):
        return f"array:{value.dtype.str}{value.shape}:" + hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
    owner = getattr(value, "__module__", None) or type(value).__module__
    file = _in_packages(owner) or _in_packages(type(value).__module__)
    if file is not None:
        return f"file:{file.name}:" + source_stamp(file)
    return f"object:{owner}.{getattr(value, '__qualname__', type(value).__qualname__)}"


class _DependencyLocator(_CacheLocator):
    """Numba's cache locator for the package's compiled functions: where numba would cache,
    but the cached code is stale as soon as anything the function's code depends on changes
    (:func:`function_stamp`), in its own file or in another one.

    Numba by itself notices a change to a file only for the functions defined in it, and
    then for all of them: after a change to a rule in ``rules.py`` the cached riot step,
    which calls it from ``riot.py``, would keep the old rule, and a line added at the top of
    ``riot.py`` would recompile every riot function (numba's cache files are named by the
    function's line). Here a change to a rule recompiles that rule and the functions that
    call it, directly or not, and nothing else."""

    def __init__(self, base: _CacheLocator, py_func):
        self._base = base
        self._py_func = py_func

    def ensure_cache_path(self):
        self._base.ensure_cache_path()

    def get_cache_path(self):
        return self._base.get_cache_path()

    def get_source_stamp(self):
        return function_stamp(self._py_func)

    def get_disambiguator(self):
        return "stamped"

    @classmethod
    def from_function(cls, py_func, py_file):
        path = Path(py_file)
        if not path.is_file() or path.resolve().parent not in _CACHED_PACKAGES:
            return None
        for other in CacheImpl._locator_classes:
            if other is not cls:
                base = other.from_function(py_func, py_file)
                if base is not None:
                    return cls(base, py_func)
        return None


if _DependencyLocator not in CacheImpl._locator_classes:
    # First in numba's list; it claims only the files of the packages above.
    CacheImpl._locator_classes.insert(0, _DependencyLocator)


# --- a struct whose compiled form has a name ---------------------------------------------


class _NamedPayload(types.StructRefPayload):
    """The payload of a :class:`NamedStructRef`."""


@register_default(_NamedPayload)
class _NamedPayloadModel(models.StructModel):
    """A struct payload as an LLVM *named* struct type. Numba writes an unnamed struct type
    out in full wherever it is used; for a struct of fifty arrays that is some 5,000
    characters in every field access of the LLVM IR numba prints and LLVM parses (half of
    the kernels' IR)."""

    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, tuple(fe_type.field_dict.items()))
        name = hashlib.sha256(fe_type.name.encode()).hexdigest()[:16]
        self._value_name = f"crowd_model.struct.{name}"
        self._data_name = f"crowd_model.struct.{name}.data"

    @staticmethod
    def _named(name, elements):
        named = llvm_ir.global_context.get_identified_type(name)
        if named.is_opaque:
            named.set_body(*elements)
        return named

    def get_value_type(self):
        if self._value_type is None:
            self._value_type = self._named(self._value_name, [m.get_value_type() for m in self._models])
        return self._value_type

    def get_data_type(self):
        if self._data_type is None:
            self._data_type = self._named(self._data_name, [m.get_data_type() for m in self._models])
        return self._data_type


class NamedStructRef(types.StructRef):
    """A :class:`numba.types.StructRef` with a short name (a hash of its fields instead of
    them all: the name is part of the symbol of every function that takes the struct, in
    every call) and whose payload is a named LLVM struct type (see
    :class:`_NamedPayloadModel`); otherwise the same."""

    def __init__(self, fields):
        super().__init__(fields)
        self.name = f"numba.{self._typename}.{hashlib.sha256(self.name.encode()).hexdigest()[:16]}"

    def get_data_type(self):
        return _NamedPayload(typename=self.__class__.__name__, fields=self._fields)
