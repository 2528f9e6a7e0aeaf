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

The cache: numba notices a change to a file only for the functions defined in it.
:class:`_DependencyLocator` (which numba consults first, and which claims only this
package's files) makes a function's cache stale when its file or any file of the package it
imports changes, so a changed rule is never run from a stale caller, and a change to one
file recompiles only what depends on it.

Nothing here changes numba's configuration or how any other code (outside the packages
given to :func:`cache_by_dependencies`) is compiled or cached.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

from llvmlite import binding as llvm
from llvmlite import ir as llvm_ir
from numba import njit, types
from numba.core import cgutils
from numba.core.caching import _CacheLocator

try:
    from numba.core.caching import CacheImpl
except ImportError:  # numba < 0.61
    from numba.core.caching import _CacheImpl as CacheImpl
from numba.core.codegen import JITCodeLibrary
from numba.core.compiler import Compiler, DefaultPassBuilder
from numba.core.compiler_lock import require_global_compiler_lock
from numba.core.registry import CPUDispatcher
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


class _TypeDispatcher(CPUDispatcher):
    """A dispatcher compiled once per argument *types*. Numba compiles a function called
    from compiled code afresh for each constant argument value (``record(w, kind, x, y, -1,
    ...)``, ``set_state(w, i, ACTIVE)``: over 30 extra compilations of the kernels, a fifth
    of their cold start); here such a call uses the overload for the constant's type, as a
    call from Python does. The generated code is the same: constants still propagate once
    the callee is inlined in its caller."""

    def get_call_template(self, args, kws):
        return super().get_call_template(
            tuple(types.unliteral(a) for a in args), {k: types.unliteral(v) for k, v in kws.items()}
        )


def _by_type(decorator):
    def compile_by_type(func):
        dispatcher = decorator(func)
        if type(dispatcher) is CPUDispatcher:  # not under NUMBA_DISABLE_JIT
            dispatcher.__class__ = _TypeDispatcher
        return dispatcher

    return compile_by_type


# A compiled function, cached, compiled once per argument types (:class:`_TypeDispatcher`).
compiled = _by_type(njit(cache=True))

# Compiled functions only other compiled functions call: no wrapper for calls from Python,
# no machine code of their own (see the module's docstring).
inner = _by_type(njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True, pipeline_class=_InnerCompiler))


# --- the cache: a function is compiled afresh when its file or a file it uses changes ---

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


class _DependencyLocator(_CacheLocator):
    """Numba's cache locator for our files: where numba would cache, but the cached code is
    stale as soon as the function's file or any file of the package that it imports
    (directly or not) changes, not only its own file.

    Numba notices a change to a file only for the functions defined in it: after a change
    to a rule in ``rules.py`` the cached riot step, which calls it from ``riot.py``, would
    keep the old rule. This locator makes it recompile, and keeps the cache of the files
    that do not depend on the changed one (a change to ``riot.py`` recompiles the riot
    functions, not ``world.py``'s)."""

    def __init__(self, base: _CacheLocator, py_file: str):
        self._base = base
        self._stamp = source_stamp(py_file)

    def ensure_cache_path(self):
        self._base.ensure_cache_path()

    def get_cache_path(self):
        return self._base.get_cache_path()

    def get_source_stamp(self):
        return self._stamp

    def get_disambiguator(self):
        return self._base.get_disambiguator()

    @classmethod
    def from_function(cls, py_func, py_file):
        path = Path(py_file)
        if not path.is_file() or path.resolve().parent not in _CACHED_PACKAGES:
            return None
        for other in CacheImpl._locator_classes:
            if other is not cls:
                base = other.from_function(py_func, py_file)
                if base is not None:
                    return cls(base, py_file)
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
