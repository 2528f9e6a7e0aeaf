"""Safe result files: atomic writes, an output folder checked before a run, and its lock.

Every result file is written to a temporary name in its folder, flushed to disk and
renamed into place, so a reader (or a crash, or a full disk) sees the old file or the new
one, never a part. A folder that results go to is locked by the one process writing it:
``.crowd-model.lock`` holds the holder's pid and host, and an ``flock`` on it, which the
system releases when the holder dies, so a lock left by a killed process is taken over.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from crowd_model.errors import InputError

LOCK_NAME = ".crowd-model.lock"


class WriteError(OSError):
    """A result file could not be written (a full disk, ...); the message says which."""


def write_atomic(path: Path, text: str | bytes) -> None:
    """Replace ``path`` with ``text`` (or bytes) so that readers see the old file or the new, never a part."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    binary = isinstance(text, bytes)
    try:
        with open(tmp, "wb") if binary else open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise WriteError(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from None


def write_json_atomic(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def prepare_out_dir(path: str | Path, create: bool = True) -> Path:
    """Make the folder ``path`` (if needed) and check that files can be written in it.

    With ``create=False`` nothing is made: only what can be told without writing is
    checked (not a file; the nearest existing folder writable)."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    if not create:
        existing = next(p for p in (out, *out.absolute().parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise InputError(f"--out {out} cannot be written: {existing} is not a writable folder")
        return out
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".crowd-model-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"--out {out} cannot be written: {exc.strerror or exc}") from None
    return out


def check_file(path: Path, what: str, hint: str = "") -> None:
    """Refuse, in one line, a path that is not a regular file (missing, a directory, a device)."""
    if path.is_dir():
        raise InputError(f"{what} {path} is a directory{hint}")
    if not path.exists():
        raise InputError(f"{what} {path} does not exist")
    if not path.is_file():
        raise InputError(f"{what} {path} is not a regular file")


def read_text_file(path: Path, what: str, max_bytes: int | None = None) -> str:
    """A user's text file (UTF-8), or one line saying why it cannot be read as one."""
    try:
        with open(path, "rb") as fh:
            data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{what} {path} cannot be read: {exc.strerror or exc}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise InputError(f"{what} {path} is larger than {max_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {path} is not a UTF-8 text file (byte {exc.start})") from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FolderLock:
    """An exclusive lock on a result folder, for one writer (``with FolderLock(dir): ...``).

    A second writer gets :class:`InputError` naming the holder. A lock file left by a
    dead process is taken over (its ``flock`` went with it). ``wait`` seconds are allowed
    for a holder that is already dead but whose worker processes are still ending.
    """

    def __init__(self, folder: str | Path, wait: float = 3.0):
        self.path = Path(folder) / LOCK_NAME
        self.wait = wait
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        deadline = time.monotonic() + self.wait
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                holder = self._holder()
                dead = holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", 0)) or -1)
                if dead and time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                raise InputError(
                    f"{self.path.parent} is in use by another crowd-model process "
                    f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')}, since {holder.get('since', '?')}); "
                    f"wait for it to finish or choose another --out"
                ) from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the holder removed the file between our open and our lock
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            stamp = {"pid": os.getpid(), "host": socket.gethostname(),
                     "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            os.write(fd, (json.dumps(stamp) + "\n").encode())
            self._fd = fd
            return self

    def _holder(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink()
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
