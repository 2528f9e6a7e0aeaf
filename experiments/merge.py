"""``crowd-model merge DIR... --out DIR``: join the shards of one sweep (``sweep --shard i/N``)
into the files a single sweep writes.

``outcomes.csv``, ``timeseries.csv``, ``events.csv`` (when the sweep keeps events),
``checksums.csv`` (and the Parquet copies, when the shards made them) and ``design.csv``
come out byte for byte as one uninterrupted sweep writes them: each run's lines are the
bytes its worker made, and the rows are put in (design point, replicate) order as
:meth:`ResultStore.finalize` does. ``metadata.json`` is the shards' own, with
``shard`` dropped, ``runs_ok`` and ``runs_failed`` added up, the shards' ``sessions`` one
after the other, ``started``/``finished`` the first start and the last finish, and
``merged_from`` listing the shard folders.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from crowd_model.errors import InputError

from crowd_model.files import FolderLock, prepare_out_dir, write_atomic, write_json_atomic

from crowd_model.experiments.storage import CHECKSUMS, EVENTS, OUTCOMES, TIMESERIES, ResultStore, _complete_lines

METADATA, DESIGN = "metadata.json", "design.csv"


def merge_shards(directories: list[str | Path], out_dir: str | Path) -> dict:
    """Merge the shard folders into ``out_dir``; returns the merged metadata."""
    shards = [_read_shard(Path(d)) for d in directories]
    first_dir, first = shards[0]
    count = first["shard"]["count"]
    for path, meta in shards:
        if meta["plan_fingerprint"] != first["plan_fingerprint"]:
            raise InputError(f"{path} is a shard of another sweep than {first_dir}")
        if meta["shard"]["count"] != count:
            raise InputError(f"{path} is shard {meta['shard']['index']}/{meta['shard']['count']}, "
                             f"but {first_dir} is one of {count}")
    indices = sorted(meta["shard"]["index"] for _, meta in shards)
    if indices != list(range(1, count + 1)):
        missing = sorted(set(range(1, count + 1)) - set(indices))
        repeated = sorted({i for i in indices if indices.count(i) > 1})
        raise InputError(f"the shards must be 1..{count}, each once: missing {missing}, repeated {repeated}")
    design = (first_dir / DESIGN).read_bytes()
    for path, _ in shards:
        if (path / DESIGN).read_bytes() != design:
            raise InputError(f"{path}/{DESIGN} differs from {first_dir}/{DESIGN}")

    out = prepare_out_dir(out_dir)
    with FolderLock(out):
        return _merge(shards, out, design)


def _merge(shards: list[tuple[Path, dict]], out: Path, design: bytes) -> dict:
    first_dir, first = shards[0]
    if any((out / name).exists() for name in (OUTCOMES, TIMESERIES, CHECKSUMS, EVENTS)):
        raise InputError(f"{out} already holds sweep results; choose another --out")
    events = bool(first.get("record", {}).get("events"))
    files = (OUTCOMES, TIMESERIES, CHECKSUMS) + ((EVENTS,) if events else ())
    headers = {name: _header(first_dir / name) for name in files}
    bodies = {name: [] for name in files}
    keys = []
    for path, _ in shards:
        for name in files:
            lines = _complete_lines(path / name)
            if not lines:
                raise InputError(f"{path}/{name} is missing or empty")
            if lines[0] != headers[name]:
                raise InputError(f"{path}/{name} has other columns than {first_dir}/{name}")
            bodies[name] += lines[1:]
    for row in csv.DictReader(bodies[OUTCOMES], fieldnames=next(csv.reader([headers[OUTCOMES]]))):
        keys.append((int(row["point"]), int(row["replicate"]), row["run_id"]))
    order = [run_id for _, _, run_id in sorted(keys)]
    if len(set(order)) != len(order) or len(order) != first["runs"]:
        raise InputError(f"the shards hold {len(set(order))} distinct runs of {len(order)} rows; "
                         f"the sweep has {first['runs']}")

    write_atomic(out / DESIGN, design.decode("utf-8"))
    for name in files:
        write_atomic(out / name, headers[name] + "".join(bodies[name]))
    ResultStore(out, [], [], [] if events else None).finalize(order, parquet=first.get("format") == "parquet")

    merged = {k: v for k, v in first.items() if k != "shard"}
    sessions = [s for _, meta in sorted(shards, key=lambda s: s[1]["shard"]["index"]) for s in meta["sessions"]]
    merged.update(
        sessions=sessions,
        started=min(s["started"] for s in sessions),
        finished=max(s["finished"] for s in sessions),
        runs_ok=sum(meta["runs_ok"] for _, meta in shards),
        runs_failed=sum(meta["runs_failed"] for _, meta in shards),
        merged_from=[str(path) for path, _ in sorted(shards, key=lambda s: s[1]["shard"]["index"])],
    )
    write_json_atomic(out / METADATA, merged)
    return merged


def _read_shard(path: Path) -> tuple[Path, dict]:
    try:
        meta = json.loads((path / METADATA).read_text())
    except (OSError, ValueError):
        raise InputError(f"{path} is not a sweep result folder (no readable {METADATA})") from None
    if not isinstance(meta.get("shard"), dict):
        raise InputError(f"{path} is not a shard (run it with 'crowd-model sweep --shard i/N')")
    if meta.get("status") != "complete":
        raise InputError(f"{path} (shard {meta['shard']['index']}/{meta['shard']['count']}) is not complete; "
                         "finish it with 'crowd-model sweep ... --shard i/N --resume'")
    return path, meta


def _header(path: Path) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
