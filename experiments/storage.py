"""Crash-safe result files: ``outcomes.csv`` and ``timeseries.csv`` grow as runs finish.

Each finished run is appended with one ``write`` per file, its time series first and its
outcome row last, so a run counts as finished exactly when its outcome row is complete.
A kill at any moment leaves both files holding every finished run; at worst the last
line is cut off mid-write (a SIGKILL can only land inside that one system call), and
:meth:`ResultStore.recover` drops it, along with the time series of any run whose
outcome row is missing, before a resumed sweep goes on. At the end :meth:`finalize`
rewrites both files in (design point, replicate) order, atomically, so an interrupted and
resumed sweep ends with the same bytes as one that ran straight through.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path

from crowd_model.experiments.worker import OK, RunRecord, csv_lines

OUTCOMES, TIMESERIES = "outcomes.csv", "timeseries.csv"


class ResultStore:
    def __init__(self, out_dir: Path, outcome_header: list[str], timeseries_header: list[str]):
        self.dir = Path(out_dir)
        self.outcome_header = outcome_header
        self.timeseries_header = timeseries_header
        self._fds: dict[str, int] = {}

    @property
    def outcomes_path(self) -> Path:
        return self.dir / OUTCOMES

    @property
    def timeseries_path(self) -> Path:
        return self.dir / TIMESERIES

    def holds_results(self) -> bool:
        return self.outcomes_path.exists() or self.timeseries_path.exists()

    def create(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.timeseries_path, csv_lines([self.timeseries_header]))
        write_atomic(self.outcomes_path, csv_lines([self.outcome_header]))
        self._open()

    def recover(self, planned: Iterable[str]) -> set[str]:
        """Keep the complete, successful runs of ``planned`` and return their ids; failed
        and cut-off runs are dropped so that they run again."""
        planned = set(planned)
        kept_outcomes = {}
        header = None
        for line in _complete_lines(self.outcomes_path):
            fields = next(csv.reader([line]))
            if header is None:
                header = fields
                if header != self.outcome_header:
                    raise ValueError(f"{self.outcomes_path} has other columns than this experiment writes")
                continue
            if len(fields) == len(header) and fields[0] in planned and fields[-2] == OK:
                kept_outcomes[fields[0]] = line
        kept_ts = [line for line in _complete_lines(self.timeseries_path)[1:]
                   if line.split(",", 1)[0] in kept_outcomes]
        write_atomic(self.timeseries_path, csv_lines([self.timeseries_header]) + "".join(kept_ts))
        write_atomic(self.outcomes_path, csv_lines([self.outcome_header]) + "".join(kept_outcomes.values()))
        self._open()
        return set(kept_outcomes)

    def append(self, record: RunRecord) -> None:
        if record.timeseries_lines:
            _write_all(self._fds[TIMESERIES], record.timeseries_lines.encode())
        _write_all(self._fds[OUTCOMES], record.outcome_line.encode())

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def finalize(self, order: list[str], parquet: bool = False) -> None:
        """Rewrite both files in ``order`` of run ids (atomically), optionally as Parquet too."""
        self.close()
        rank = {run_id: i for i, run_id in enumerate(order)}
        outcome_lines = _complete_lines(self.outcomes_path)
        rows = sorted(outcome_lines[1:], key=lambda line: rank[line.split(",", 1)[0]])
        write_atomic(self.outcomes_path, outcome_lines[0] + "".join(rows))
        ts_lines = _complete_lines(self.timeseries_path)
        by_run: dict[str, list[str]] = {}
        for line in ts_lines[1:]:
            by_run.setdefault(line.split(",", 1)[0], []).append(line)
        body = "".join(line for run_id in sorted(by_run, key=rank.__getitem__) for line in by_run[run_id])
        write_atomic(self.timeseries_path, ts_lines[0] + body)
        if parquet:
            import pandas as pd

            for path in (self.outcomes_path, self.timeseries_path):
                table = pd.read_csv(path)
                tmp = path.with_suffix(".parquet.tmp")
                table.to_parquet(tmp, index=False)
                os.replace(tmp, path.with_suffix(".parquet"))

    def _open(self) -> None:
        for name in (OUTCOMES, TIMESERIES):
            self._fds[name] = os.open(self.dir / name, os.O_WRONLY | os.O_APPEND)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that readers see the old file or the new, never a part."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _complete_lines(path: Path) -> list[str]:
    """The file's lines that end in a newline (a line cut off by a kill does not)."""
    if not path.exists():
        return []
    parts = path.read_bytes().decode("utf-8").split("\n")
    return [part + "\n" for part in parts[:-1]]
