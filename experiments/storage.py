"""Crash-safe result files: ``outcomes.csv`` and ``timeseries.csv`` (and, with ``[record]
events = true``, ``events.csv``) grow as runs finish.

Each finished run is appended with one ``write`` per file: its time series first, then its
events, then its line of ``checksums.csv`` (run id, number of time-series rows, SHA-256 of
those rows, and with events the same two for its event rows), and its outcome row last. A
kill at any moment leaves the files holding every finished run; at worst the last line is
cut off mid-write. Before a resumed sweep goes on, :meth:`ResultStore.recover` keeps a run
only if its outcome row is complete and ``ok`` and its rows in ``timeseries.csv`` (and
``events.csv``) are all there, as its checksum line says (a deleted, truncated or edited
file loses the runs it no longer holds whole); every other run is dropped from every file
and runs again. At the end :meth:`finalize` rewrites the files in (design point, replicate)
order, atomically, so an interrupted and resumed sweep ends with the same bytes as one that
ran straight through.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from crowd_model.files import WriteError, write_atomic

from crowd_model.experiments.worker import OK, RunRecord, csv_lines

OUTCOMES, TIMESERIES, CHECKSUMS, EVENTS = "outcomes.csv", "timeseries.csv", "checksums.csv", "events.csv"
CHECKSUM_HEADER = ["run_id", "rows", "sha256"]
EVENT_CHECKSUM_COLUMNS = ["event_rows", "event_sha256"]  # added when the sweep keeps events


def checksum_line(run_id: str, timeseries_lines: str, events_lines: str | None = None) -> str:
    """The ``checksums.csv`` line of a run: its id, its time-series rows and their SHA-256,
    and (a sweep that keeps events) its event rows and their SHA-256."""
    fields = [run_id]
    for lines in (timeseries_lines,) if events_lines is None else (timeseries_lines, events_lines):
        fields += [lines.count("\n"), hashlib.sha256(lines.encode()).hexdigest()]
    return csv_lines([fields])


class ResultStore:
    def __init__(self, out_dir: Path, outcome_header: list[str], timeseries_header: list[str],
                 events_header: list[str] | None = None):
        """``events_header`` (None: no events) is the header of ``events.csv``."""
        self.dir = Path(out_dir)
        self.outcome_header = outcome_header
        self.timeseries_header = timeseries_header
        self.events_header = events_header
        self._fds: dict[str, int] = {}

    @property
    def events(self) -> bool:
        return self.events_header is not None

    @property
    def outcomes_path(self) -> Path:
        return self.dir / OUTCOMES

    @property
    def timeseries_path(self) -> Path:
        return self.dir / TIMESERIES

    @property
    def checksums_path(self) -> Path:
        return self.dir / CHECKSUMS

    @property
    def events_path(self) -> Path:
        return self.dir / EVENTS

    @property
    def checksum_header(self) -> list[str]:
        return CHECKSUM_HEADER + (EVENT_CHECKSUM_COLUMNS if self.events else [])

    def holds_results(self) -> bool:
        return any(p.exists() for p in (self.outcomes_path, self.timeseries_path, self.checksums_path,
                                        self.events_path))

    def create(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.timeseries_path, csv_lines([self.timeseries_header]))
        if self.events:
            write_atomic(self.events_path, csv_lines([self.events_header]))
        write_atomic(self.checksums_path, csv_lines([self.checksum_header]))
        write_atomic(self.outcomes_path, csv_lines([self.outcome_header]))
        self._open()

    def recover(self, planned: Iterable[str]) -> set[str]:
        """Keep the complete, successful runs of ``planned`` whose time-series rows are all
        stored, and return their ids; every other run is dropped so that it runs again."""
        planned = set(planned)
        outcomes = {}
        header = None
        for line in _complete_lines(self.outcomes_path):
            fields = next(csv.reader([line]))
            if header is None:
                header = fields
                if header != self.outcome_header:
                    raise ValueError(f"{self.outcomes_path} has other columns than this experiment writes")
                continue
            if len(fields) == len(header) and fields[0] in planned and fields[-2] == OK:
                outcomes[fields[0]] = line
        checksums = {line.split(",", 1)[0]: line for line in _complete_lines(self.checksums_path)[1:]}
        series = _by_run(_complete_lines(self.timeseries_path)[1:])
        events = _by_run(_complete_lines(self.events_path)[1:]) if self.events else {}

        def stored_whole(run_id: str) -> bool:
            run_events = "".join(events.get(run_id, [])) if self.events else None
            return checksums.get(run_id) == checksum_line(run_id, "".join(series.get(run_id, [])), run_events)

        kept = [run_id for run_id in outcomes if stored_whole(run_id)]
        write_atomic(self.timeseries_path, csv_lines([self.timeseries_header])
                     + "".join(line for run_id in kept for line in series[run_id]))
        if self.events:
            write_atomic(self.events_path, csv_lines([self.events_header])
                         + "".join(line for run_id in kept for line in events.get(run_id, [])))
        write_atomic(self.checksums_path, csv_lines([self.checksum_header]) + "".join(checksums[r] for r in kept))
        write_atomic(self.outcomes_path, csv_lines([self.outcome_header]) + "".join(outcomes[r] for r in kept))
        self._open()
        return set(kept)

    def append(self, record: RunRecord) -> None:
        try:
            if record.timeseries_lines:
                _write_all(self._fds[TIMESERIES], record.timeseries_lines.encode())
            if self.events and record.events_lines:
                _write_all(self._fds[EVENTS], record.events_lines.encode())
            line = checksum_line(record.run_id, record.timeseries_lines,
                                 record.events_lines if self.events else None)
            _write_all(self._fds[CHECKSUMS], line.encode())
            _write_all(self._fds[OUTCOMES], record.outcome_line.encode())
        except OSError as exc:
            raise WriteError(exc.errno, f"cannot write the results of run {record.run_id} to {self.dir}: "
                                        f"{exc.strerror or exc}") from None

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def finalize(self, order: list[str], parquet: bool = False) -> None:
        """Rewrite the files in ``order`` of run ids (atomically), optionally as Parquet too."""
        self.close()
        rank = {run_id: i for i, run_id in enumerate(order)}
        for path in (self.outcomes_path, self.checksums_path):
            lines = _complete_lines(path)
            rows = sorted(lines[1:], key=lambda line: rank[line.split(",", 1)[0]])
            write_atomic(path, lines[0] + "".join(rows))
        per_run = (self.timeseries_path, self.events_path) if self.events else (self.timeseries_path,)
        for path in per_run:
            lines = _complete_lines(path)
            by_run = _by_run(lines[1:])
            body = "".join(line for run_id in sorted(by_run, key=rank.__getitem__) for line in by_run[run_id])
            write_atomic(path, lines[0] + body)
        if parquet:
            import pandas as pd

            for path in (self.outcomes_path, *per_run):
                table = pd.read_csv(path)
                tmp = path.with_suffix(".parquet.tmp")
                table.to_parquet(tmp, index=False)
                os.replace(tmp, path.with_suffix(".parquet"))

    def _open(self) -> None:
        for name in (OUTCOMES, TIMESERIES, CHECKSUMS) + ((EVENTS,) if self.events else ()):
            self._fds[name] = os.open(self.dir / name, os.O_WRONLY | os.O_APPEND)


def _by_run(lines: list[str]) -> dict[str, list[str]]:
    """Time-series lines grouped by run id, in file order."""
    by_run: dict[str, list[str]] = {}
    for line in lines:
        by_run.setdefault(line.split(",", 1)[0], []).append(line)
    return by_run


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _complete_lines(path: Path) -> list[str]:
    """The file's lines that end in a newline (a line cut off by a kill does not)."""
    if not path.exists():
        return []
    parts = path.read_bytes().decode("utf-8", errors="replace").split("\n")
    return [part + "\n" for part in parts[:-1]]
