"""Reading a sweep's result folder: ``metadata.json``, ``design.csv``, ``outcomes`` and
``timeseries`` (Parquet when the sweep wrote it, else CSV).

A folder of a sweep that was killed and not resumed may end in a line cut off mid-write;
that line is dropped, as is the time series of a run whose outcome row is missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from crowd_model.errors import InputError

OK = "ok"


@dataclass
class SweepResults:
    dir: Path
    metadata: dict
    design: pd.DataFrame
    outcomes: pd.DataFrame = field(repr=False)

    @property
    def design_type(self) -> str:
        return self.metadata["design"]["type"]

    @property
    def varied(self) -> list[str]:
        """The varied parameters in the experiment file's order, which is the order of the
        design's columns and of its AB blocks. Folders written before that order was stored
        kept ``varied`` as a name-sorted mapping; their order is read from ``design.csv``."""
        varied = self.metadata["design"]["varied"]
        if isinstance(varied, list):
            return [entry["name"] for entry in varied]
        return [c for c in self.design.columns if c in varied]

    @property
    def outcome_columns(self) -> list[str]:
        return list(self.metadata["outcome_columns"])

    @property
    def ok(self) -> pd.DataFrame:
        """Outcome rows of the runs that finished without error."""
        return self.outcomes[self.outcomes["status"] == OK]

    @cached_property
    def timeseries(self) -> pd.DataFrame:
        table = _read_table(self.dir, "timeseries")
        return table[table["run_id"].isin(set(self.ok["run_id"]))]


def load_results(directory: str | Path) -> SweepResults:
    directory = Path(directory)
    meta_path = directory / "metadata.json"
    if not meta_path.is_file() or not (directory / "outcomes.csv").is_file():
        raise InputError(f"{directory} is not a sweep result folder (it needs metadata.json and outcomes.csv)")
    try:
        metadata = json.loads(meta_path.read_text())
        design = pd.read_csv(directory / "design.csv")
    except (OSError, ValueError) as exc:
        raise InputError(f"{directory}: cannot read the sweep's metadata or design: {exc}") from None
    return SweepResults(directory, metadata, design, _read_table(directory, "outcomes"))


def _read_table(directory: Path, name: str) -> pd.DataFrame:
    parquet = directory / f"{name}.parquet"
    if parquet.is_file():
        return pd.read_parquet(parquet)
    path = directory / f"{name}.csv"
    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    if path.stat().st_size and _last_byte(path) != b"\n" and len(table):
        table = table.iloc[:-1]
    return table


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1)
