"""The sweep engine: plan the runs, hand them to an executor, store each as it finishes."""

from __future__ import annotations

import sys
import time
from concurrent.futures import FIRST_COMPLETED, Executor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path

from crowd_model.errors import InputError
from crowd_model.files import FolderLock, prepare_out_dir, write_atomic, write_json_atomic
from crowd_model.runner import git_commit, git_dirty, site_records, versions

from crowd_model.experiments.worker import OK, events_header, execute, failure, outcome_header, timeseries_header
from crowd_model.experiments.plan import Plan, make_plan
from crowd_model.experiments.spec import Experiment
from crowd_model.experiments.storage import ResultStore

METADATA, DESIGN = "metadata.json", "design.csv"
FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class SweepSummary:
    out_dir: Path
    runs: int
    resumed: int
    ok: int
    failed: int
    seconds: float
    compute_seconds: float
    first_error: str = ""


def run_sweep(
    experiment: Experiment,
    out_dir: str | Path,
    executor: Executor,
    *,
    in_flight: int = 1,
    resume: bool = False,
    fmt: str = "csv",
    progress: bool = True,
    executor_label: str = "",
    shard: tuple[int, int] | None = None,
) -> SweepSummary:
    """Run every planned run not yet finished in ``out_dir``; write results as they come.

    ``out_dir`` is locked for the whole sweep: a second writer is refused. ``shard = (i, N)``
    runs only the i-th of N slices of the plan (i = 1..N; every N-th run of the run order, so
    each slice is a balanced sample); ``crowd-model merge`` joins the N folders into the files
    one sweep writes."""
    if fmt not in FORMATS:
        raise InputError(f"format {fmt!r} is not known; use one of {', '.join(FORMATS)}")
    plan = make_plan(experiment)
    out = prepare_out_dir(out_dir)
    with FolderLock(out):
        return _sweep(plan, out, executor, in_flight, resume, fmt, progress, executor_label, shard)


def _sweep(plan: Plan, out: Path, executor: Executor, in_flight: int, resume: bool, fmt: str, progress: bool,
           executor_label: str, shard: tuple[int, int] | None) -> SweepSummary:
    experiment = plan.experiment
    tasks = shard_tasks(plan, shard)
    store = ResultStore(out, outcome_header(experiment), timeseries_header(experiment),
                        events_header() if experiment.events else None)
    meta_path = out / METADATA
    sessions = []
    if store.holds_results() and not resume:
        raise InputError(f"{out} already holds sweep results; add --resume to finish them, or choose another --out")
    fresh = not (resume and store.holds_results())
    finished: set[str] = set()
    if not fresh:
        previous = _read_metadata(meta_path)
        if previous.get("plan_fingerprint") != plan.fingerprint():
            raise InputError(f"{out} holds results of a different sweep (the experiment changed); use another --out")
        if previous.get("shard") != _shard_record(shard, tasks):
            raise InputError(f"{out} holds another shard of this sweep (or the whole sweep); use another --out")
        sessions = previous.get("sessions", [])
        try:
            finished = store.recover(plan.canonical_ids)
        except ValueError as exc:
            raise InputError(str(exc)) from None

    meta = _metadata(plan, fmt)
    if shard is not None:
        meta["shard"] = _shard_record(shard, tasks)
    sessions.append({"started": _now(), "executor": executor_label, "resumed_runs": len(finished)})
    meta.update(sessions=sessions, started=sessions[0]["started"], finished=None, status="running")
    write_atomic(out / DESIGN, plan.design.to_csv(index=False))
    write_json_atomic(meta_path, meta)
    if fresh:
        store.create()

    todo = [t for t in tasks if t.run_id not in finished]
    clock = time.perf_counter()
    ok, failed, compute, first_error = _execute(todo, executor, store, in_flight, len(tasks), len(finished),
                                                experiment.name, progress, meta, meta_path)
    store.finalize(plan.canonical_ids, parquet=fmt == "parquet")

    sessions[-1]["finished"] = _now()
    meta.update(finished=sessions[-1]["finished"], status="complete",
                runs_ok=len(finished) + ok, runs_failed=failed)
    write_json_atomic(meta_path, meta)
    return SweepSummary(out, len(tasks), len(finished), len(finished) + ok, failed,
                        time.perf_counter() - clock, compute, first_error)


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` (1 <= i <= N) as ``(i, N)``; anything else is an :class:`InputError`."""
    parts = text.split("/")
    if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
        i, count = int(parts[0]), int(parts[1])
        if 1 <= i <= count:
            return i, count
    raise InputError(f"--shard {text!r}: expected i/N with 1 <= i <= N, e.g. --shard 3/8")


def shard_tasks(plan: Plan, shard: tuple[int, int] | None) -> tuple:
    """The runs of one shard: every N-th run of the (interleaved) run order from the i-th."""
    if shard is None:
        return plan.tasks
    i, count = shard
    return plan.tasks[i - 1::count]


def _shard_record(shard: tuple[int, int] | None, tasks) -> dict | None:
    return None if shard is None else {"index": shard[0], "count": shard[1], "runs": len(tasks)}


def _execute(todo, executor, store, in_flight, total, done_before, name, progress, meta, meta_path):
    from tqdm import tqdm

    tqdm.monitor_interval = 0
    ok = failed = 0
    compute = 0.0
    first_error = ""
    queue = iter(todo)
    pending = {}
    bar = tqdm(total=total, initial=done_before, unit="run", desc=name, file=sys.stderr,
               disable=not progress, dynamic_ncols=True, mininterval=0.5)
    bar.set_postfix(failed=0)

    def fill():
        while len(pending) < max(1, in_flight):
            task = next(queue, None)
            if task is None:
                return
            try:
                pending[executor.submit(execute, task)] = task
            except Exception as exc:  # e.g. a broken pool: the run is recorded as failed
                record(failure(task, exc))

    def record(rec):
        nonlocal ok, failed, compute, first_error
        store.append(rec)
        compute += rec.seconds
        if rec.status == OK:
            ok += 1
        else:
            failed += 1
            first_error = first_error or rec.error
            bar.set_postfix(failed=failed)
        bar.update()

    try:
        fill()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task = pending.pop(future)
                try:
                    rec = future.result()
                except Exception as exc:  # the executor lost the run (a worker died, ...)
                    rec = failure(task, exc)
                record(rec)
            fill()
    except BaseException:
        for future in pending:
            future.cancel()
        store.close()
        meta.update(status="interrupted")
        write_json_atomic(meta_path, meta)
        raise
    finally:
        bar.close()
    return ok, failed, compute, first_error


def _metadata(plan: Plan, fmt: str) -> dict:
    e = plan.experiment
    return {
        "experiment": {"name": e.name, "description": e.description, "file": e.source},
        "scenario": e.scenario,
        "design": {
            "type": e.design,
            "n": e.n,
            **({"levels": e.levels} if e.levels is not None else {}),
            "points": len(plan.design),
            "varied": [v.record() for v in e.vary],
        },
        "replications": e.replications,
        "runs": len(plan.tasks),
        "root_seed": e.seed,
        "steps": e.steps,
        "base_parameters": e.base.to_dict(),
        "record": {"metrics": list(e.metrics), "every": e.every, "events": e.events},
        "stop": {"when": e.stop_when, "after": e.stop_after},
        "outcome_columns": list(e.outcome_columns),
        "format": fmt,
        "plan_fingerprint": plan.fingerprint(),
        "sites": site_records(t.parameters.site for t in plan.tasks),
        "versions": {**versions(), **_more_versions()},
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
    }


def _more_versions() -> dict:
    found = {}
    for dist in ("scipy", "pandas", "dask", "distributed", "pyarrow", "tqdm"):
        try:
            found[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            found[dist] = None
    return found


def _read_metadata(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
