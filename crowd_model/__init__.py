"""crowd_model: an agent-based model of a post-election protest, its riot and its containment."""

import hashlib as _hashlib
import os as _os
import sys as _sys
import tempfile as _tempfile
from pathlib import Path as _Path

# The modules whose functions numba compiles and caches (and what they compile in).
_COMPILED = ("world.py", "events.py", "rules.py", "epstein.py", "riot.py", "render.py", "site.py", "parameters.py")


def _cache_per_source_version() -> None:
    """Keep numba's cache in a folder named after a hash of the compiled modules' sources.

    Numba notices a change to a file only for the functions defined in it, not for the
    compiled functions that call them from other files: after a change to a rule in
    ``rules.py`` the cached riot step would keep the old rule. With one folder per version of
    the sources, any change compiles afresh. ``NUMBA_CACHE_DIR``, when set, is used as it is.
    """
    if _os.environ.get("NUMBA_CACHE_DIR"):
        return
    here = _Path(__file__).parent
    digest = _hashlib.sha1()
    for name in _COMPILED:
        digest.update((here / name).read_bytes())
    version = f"numba-{digest.hexdigest()[:12]}"
    folder = here / "__pycache__" / version
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            for old in folder.parent.glob("numba-*"):  # caches of earlier versions of the sources
                if old != folder:
                    for f in old.rglob("*"):
                        if f.is_file():
                            f.unlink(missing_ok=True)
        except OSError:
            pass
    except OSError:  # a read-only install
        folder = _Path(_tempfile.gettempdir()) / f"crowd_model-{version}"
        folder.mkdir(parents=True, exist_ok=True)
    _os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in _sys.modules:
        from numba.core import config

        config.CACHE_DIR = str(folder)


_cache_per_source_version()

from crowd_model.errors import InputError  # noqa: E402
from crowd_model.parameters import Parameters, parameter_specs  # noqa: E402

__all__ = ["InputError", "Parameters", "parameter_specs"]
