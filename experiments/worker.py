"""One run of a sweep, as a worker does it: simulate, then turn the result into CSV lines.

The lines are made where the run happens, so the parent only appends bytes, and they are
made by one function whatever the executor, so a run's lines are the same byte for byte
on one core, a process pool or a dask cluster.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass

from crowd_model.events import EVENT_COLUMNS
from crowd_model.runner import simulate

from crowd_model.experiments.condition import Condition
from crowd_model.experiments.plan import RunTask
from crowd_model.experiments.spec import Experiment

OK, FAILED = "ok", "failed"


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    status: str
    error: str
    outcome_line: str
    timeseries_lines: str
    seconds: float = 0.0
    events_lines: str = ""  # [record] events: the run's events, each line led by its run id


def outcome_header(experiment: Experiment) -> list[str]:
    return ["run_id", "point", "replicate", "seed", *experiment.varied_names,
            *experiment.outcome_columns, "status", "error"]


def timeseries_header(experiment: Experiment) -> list[str]:
    return ["run_id", "step", *experiment.metrics]


def events_header() -> list[str]:
    """The columns of a sweep's ``events.csv``: ``run_id`` and ``crowd-model run``'s event columns."""
    return ["run_id", *EVENT_COLUMNS]


def csv_lines(rows) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        [["" if v is None else v for v in row] for row in rows]
    )
    return buffer.getvalue()


def execute(task: RunTask) -> RunRecord:
    """Run ``task``; an exception becomes a failed record carrying its message."""
    started = time.perf_counter()
    try:
        result = simulate(task.parameters, task.steps, task.seed, task.scenario, stop=_stop(task))
        unexpected = sorted(set(result.outcomes) - set(task.outcome_columns))
        if unexpected:
            raise RuntimeError(f"the run reported outcomes {unexpected} that the sweep's first probe did not")
        outcomes = [result.outcomes.get(c) for c in task.outcome_columns]
        ts = result.timeseries
        ts = ts[ts["step"] % task.every == 0]
        columns = [ts["step"].tolist()] + [ts[m].tolist() for m in task.metrics]
        ts_lines = csv_lines([task.run_id, *values] for values in zip(*columns))
        ev_lines = ""
        if task.events:
            if result.events is None:
                raise RuntimeError("the run recorded no events (it has no site)")
            ev_lines = csv_lines([task.run_id, *row] for row in result.events[list(EVENT_COLUMNS)].itertuples(index=False))
    except Exception as exc:  # a failed run is recorded, and the sweep goes on
        return failure(task, exc)
    return _record(task, outcomes, ts_lines, OK, "", time.perf_counter() - started, ev_lines)


def failure(task: RunTask, exc: BaseException) -> RunRecord:
    """The record of a run that raised ``exc`` (in the run, or in the executor around it)."""
    message = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
    return _record(task, [None] * len(task.outcome_columns), "", FAILED, message)


def _record(task: RunTask, outcomes: list, ts_lines: str, status: str, error: str, seconds: float = 0.0,
            ev_lines: str = "") -> RunRecord:
    line = csv_lines([[task.run_id, task.point, task.replicate, task.seed, *task.varied, *outcomes, status, error]])
    return RunRecord(task.run_id, status, error, line, ts_lines, seconds, ev_lines)


def _stop(task: RunTask):
    if task.stop_when is None:
        return None
    condition = Condition(task.stop_when)
    after = task.stop_after

    def stop(model) -> bool:
        if model.time < after:
            return False
        latest = {name: model.datacollector.model_vars[name][-1] for name in condition.names}
        return condition(latest)

    return stop

