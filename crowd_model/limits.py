"""Size limits: every size a user can ask for is checked here before anything is allocated.

One place for the numbers. Each limit can be raised explicitly — on the command line
(``--max-runs``, ``--max-steps``, ``--max-cells``, ``--max-stored-values``) or, for a
sweep, in the experiment file's ``[limits]`` table (``max_runs = ...`` and so on) — except
the last one: a run's time series must fit in this machine's memory.

What a run stores: one row of its time series per step, about :data:`BYTES_PER_STEP`
bytes (about 20 per-step metrics held by Mesa's DataCollector, then a pandas table).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace

from crowd_model.errors import InputError

#: Runs in one sweep (design points x replications).
MAX_RUNS = 100_000
#: Steps of one run (its time series holds one row per step).
MAX_STEPS = 1_000_000
#: Grid cells of one run (width x height); each cell holds several arrays of state.
MAX_CELLS = 1_000_000
#: Values a sweep's timeseries.csv holds: runs x recorded steps x (metrics + 2), about
#: 8 bytes each on disk; the file is read whole when the sweep ends.
MAX_STORED_VALUES = 200_000_000
#: Memory one step of a run's time series takes at its peak: about 250 bytes in Mesa's
#: DataCollector while the run goes (measured over 2,000 steps of 19 metrics), then about 150
#: more in the pandas table and 100-300 in the CSV text when the run ends.
BYTES_PER_STEP = 700
#: Largest site map file read (bytes); a map of MAX_CELLS cells is about this size.
MAX_SITE_BYTES = 2 * MAX_CELLS
#: Longest stop condition (characters) and deepest nesting of its expression.
MAX_CONDITION_LENGTH = 2_000
MAX_CONDITION_DEPTH = 50

#: How each limit is raised (named in the refusal).
_HOW = {
    "max_runs": "--max-runs N or [limits] max_runs = N",
    "max_steps": "--max-steps N (sweeps: or [limits] max_steps = N)",
    "max_cells": "--max-cells N (sweeps: or [limits] max_cells = N)",
    "max_stored_values": "--max-stored-values N or [limits] max_stored_values = N",
}


@dataclass(frozen=True)
class Limits:
    """The limits in force; the defaults are the module's constants."""

    max_runs: int = MAX_RUNS
    max_steps: int = MAX_STEPS
    max_cells: int = MAX_CELLS
    max_stored_values: int = MAX_STORED_VALUES

    def raised(self, **values: int | None) -> Limits:
        """These limits with the given ones replaced (``None`` keeps the current value)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    @classmethod
    def from_table(cls, table: dict, where: str = "[limits]") -> Limits:
        """Limits from an experiment file's ``[limits]`` table."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise InputError(f"{where}: unknown key(s) {unknown}; allowed: {', '.join(known)}")
        for key, value in table.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{where} {key} must be a positive integer, got {value!r}")
        return cls().raised(**table)

    def check(self, key: str, size: int, what: str) -> None:
        limit = getattr(self, key)
        if size > limit:
            raise InputError(f"{what} is {size:,}, above the limit of {limit:,}; raise it with {_HOW[key]}")


def check_run(steps: int, width: int, height: int, limits: Limits = Limits()) -> None:
    """Refuse a run whose grid or stored time series is too big, before it is built."""
    limits.check("max_cells", width * height, f"the grid ({width}x{height}) in cells")
    limits.check("max_steps", steps, "the number of steps")
    need = (steps + 1) * BYTES_PER_STEP
    memory = physical_memory()
    if memory and need > memory:
        raise InputError(
            f"{steps:,} steps store a time series of about {need / 2**30:.1f} GiB "
            f"({BYTES_PER_STEP} bytes per step), more than this machine's {memory / 2**30:.1f} GiB of memory"
        )


def check_sweep(points: int, replications: int, steps: int, every: int, metrics: int,
                limits: Limits = Limits()) -> None:
    """Refuse a sweep plan that is too big (runs, stored values), before it is built."""
    runs = points * replications
    limits.check("max_runs", runs, f"the plan's number of runs ({points:,} design points x {replications:,} replications)")
    values = runs * (steps // every + 1) * (metrics + 2)
    limits.check("max_stored_values", values,
                 f"the values timeseries.csv would hold ({runs:,} runs x {steps // every + 1:,} rows x {metrics + 2} columns)")


def physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
