"""Experiment files (TOML): what a sweep runs, validated with one clear message per fault.

The form (DESIGN.md's contract, plus ``[record]`` and ``[stop]``)::

    description = "..."
    scenario = "epstein"        # preset name, or a scenario file (relative to this file)
    steps = 100                 # default: the scenario's
    replications = 4            # default 1
    seed = 1                    # root seed; default: the scenario's
    design = "grid"             # grid | lhs | sobol | morris
    n = 64                      # lhs: points; sobol: base samples, a power of two; morris: trajectories
    levels = 4                  # morris: grid levels per parameter (even; default 4)
    [set]                       # fixed overrides (values or schedule tables)
    width = 20
    [vary]                      # grid: a list, or a stepped range {start, stop, step}
    legitimacy = [0.7, 0.8]
    officer_density = { start = 0.02, stop = 0.08, step = 0.02 }
    # lhs / sobol / morris: legitimacy = { low = 0.6, high = 0.9 }
    # lhs: a list is a choice, stratified like the numbers: arrest_policy = ["violent", "indiscriminate"]
    # lhs / sobol / morris: a whole group at its declared bounds (numeric parameters with
    # both bounds; switches and choices are left out), optionally without some:
    # security = { group = "security", exclude = ["max_jail_term"] }
    [record]                    # per-step metrics to keep, and every how many steps
    metrics = ["active", "arrested"]
    every = 1
    events = true               # also keep every run's events (events.csv; site scenarios only)
    [stop]                      # end a run early once this holds (not before step `after`)
    when = "active == 0"
    after = 50
    [limits]                    # raise a size limit (crowd_model/limits.py)
    max_runs = 200000
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crowd_model.errors import InputError
from crowd_model.files import check_file, read_text_file
from crowd_model.limits import Limits, check_run, check_sweep
from crowd_model.parameters import Parameters, ParameterSpec, parameter_specs
from crowd_model.scenario import MAX_SCENARIO_BYTES, Scenario, load_scenario, preset_names

from crowd_model.experiments.condition import Condition

DESIGNS = ("grid", "lhs", "sobol", "morris")
SAMPLED = ("lhs", "sobol", "morris")
_TOP_KEYS = ("description", "scenario", "steps", "replications", "seed", "design", "n", "levels",
             "set", "vary", "record", "stop", "limits")
_RANGE_KEYS = {"start", "stop", "step"}
_BOUND_KEYS = {"low", "high"}
_GROUP_KEYS = {"group", "exclude"}
MORRIS_LEVELS = 4
_METRICS_AT_MOST = 24  # per-step metrics a scenario records (an upper bound, to size a plan before the probe)


@dataclass(frozen=True)
class Varied:
    """One varied parameter: a list of values (grid) or sampling bounds (lhs, sobol)."""

    name: str
    values: tuple | None = None
    low: float | None = None
    high: float | None = None
    group: str | None = None  # set when the parameter came in with a whole group of [vary]

    def record(self) -> dict:
        """This parameter as one entry of the ordered ``varied`` list in ``metadata.json``."""
        if self.values is not None:
            return {"name": self.name, "values": list(self.values)}
        entry = {"name": self.name, "low": self.low, "high": self.high}
        if self.group is not None:
            entry["group"] = self.group
        return entry


@dataclass(frozen=True)
class Experiment:
    name: str
    origin: str
    description: str
    scenario: str
    base: Parameters
    steps: int
    replications: int
    seed: int
    design: str
    n: int | None
    vary: tuple[Varied, ...]
    metrics: tuple[str, ...]
    every: int
    stop_when: str | None
    stop_after: int
    outcome_columns: tuple[str, ...]
    source: dict
    levels: int | None = None  # morris designs: grid levels per parameter
    events: bool = False  # [record] events: keep each run's events in events.csv

    @property
    def varied_names(self) -> list[str]:
        return [v.name for v in self.vary]


def load_experiment(path: str | Path, limits: dict | None = None) -> Experiment:
    """Read and validate an experiment file; bad input raises :class:`InputError`.

    ``limits`` (``max_runs=...``, ...) raise the file's and the default size limits."""
    path = Path(path)
    data = read_toml(path, "experiment file")
    try:
        return parse_experiment(data, name=path.stem, base_dir=path.parent, origin=str(path), limits=limits)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def read_toml(path: Path, what: str) -> dict:
    """The TOML table in ``path``; a missing, oversized, malformed or binary file is an
    :class:`InputError` (experiment and calibration files)."""
    check_file(path, what)
    try:
        return tomllib.loads(read_text_file(path, what, MAX_SCENARIO_BYTES))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: malformed TOML: {exc}") from None


def parse_experiment(data: dict, name: str, base_dir: Path = Path("."), origin: str = "experiment",
                     limits: dict | None = None) -> Experiment:
    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise InputError(f"unknown key(s) {unknown}; allowed: {', '.join(_TOP_KEYS)}")
    scenario = _scenario(data.get("scenario", "epstein"), base_dir)
    design = data.get("design", "grid")
    if design not in DESIGNS:
        raise InputError(f"design {design!r} is not known; use one of {', '.join(DESIGNS)}")
    steps = _count("steps", data.get("steps", scenario.steps), minimum=1)
    replications = _count("replications", data.get("replications", 1), minimum=1)
    seed = _count("seed", data.get("seed", scenario.seed), minimum=0)
    n = _design_size(design, data.get("n"))
    levels = _morris_levels(design, data.get("levels"))

    fixed = _table(data, "set")
    varied_raw = _table(data, "vary")
    both = sorted(set(fixed) & set(varied_raw))
    if both:
        raise InputError(f"parameter(s) {both} are both in [set] and in [vary]; keep one")
    base = Parameters.from_mapping(fixed, base=scenario.parameters)
    specs = {s.name: s for s in parameter_specs()}
    varied_raw, groups = expand_groups(varied_raw, fixed, design, specs)
    vary = tuple(_varied(name, raw, design, specs, groups.get(name)) for name, raw in varied_raw.items())
    if design != "grid" and not vary:
        raise InputError(f"a {design} design needs at least one parameter in [vary]")
    record = _table(data, "record")
    _check_size(data, limits, design, n, vary, base, steps, replications, record)

    columns, outcome_columns = _probe(base, scenario.name)
    _only_keys("[record]", record, {"metrics", "every", "events"})
    metrics = record.get("metrics", columns)
    if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str) for m in metrics):
        raise InputError("[record] metrics must be a non-empty list of metric names")
    bad = [m for m in metrics if m not in columns]
    if bad:
        raise InputError(f"[record] metrics {bad} are not recorded by the model; metrics: {', '.join(columns)}")
    every = _count("[record] every", record.get("every", 1), minimum=1)
    events = _record_events(record.get("events", False), base, vary)

    stop = _table(data, "stop")
    _only_keys("[stop]", stop, {"when", "after"})
    when = stop.get("when")
    if stop and not isinstance(when, str):
        raise InputError("[stop] needs when = \"<condition over metrics>\", e.g. when = \"active == 0\"")
    if when is not None:
        Condition(when, columns)
    after = _count("[stop] after", stop.get("after", 0), minimum=0)

    return Experiment(
        name=name,
        origin=origin,
        description=str(data.get("description", "")),
        scenario=scenario.name,
        base=base,
        steps=steps,
        replications=replications,
        seed=seed,
        design=design,
        n=n,
        vary=vary,
        metrics=tuple(metrics),
        every=every,
        stop_when=when,
        stop_after=after,
        outcome_columns=tuple(outcome_columns),
        source=data,
        levels=levels,
        events=events,
    )


def _record_events(value, base: Parameters, vary: tuple[Varied, ...]) -> bool:
    """``[record] events``: a switch, and only for runs at a site (the open grid of Epstein's
    model records no events). A varied ``site`` is checked per design point by the plan."""
    if not isinstance(value, bool):
        raise InputError(f"[record] events must be true or false, got {value!r}")
    if value and base.site == "none" and "site" not in {v.name for v in vary}:
        raise InputError("[record] events = true needs a site (events are recorded only at a site, "
                         "such as the kpu-riot scenarios'); this experiment runs on the open grid (site = 'none')")
    return value


def _check_size(data: dict, overrides: dict | None, design: str, n: int | None, vary: tuple[Varied, ...],
                base: Parameters, steps: int, replications: int, record: dict) -> None:
    """Size the plan before anything is built: runs, stored values, the largest grid."""
    limits = Limits.from_table(_table(data, "limits")).raised(**(overrides or {}))
    if design == "grid":
        points = math.prod(len(v.values) for v in vary)
    else:
        points = n * {"sobol": len(vary) + 2, "morris": len(vary) + 1}.get(design, 1)
    every = record.get("every", 1)
    every = every if isinstance(every, int) and not isinstance(every, bool) and every >= 1 else 1
    metrics = record.get("metrics")
    count = len(metrics) if isinstance(metrics, list) and metrics else _METRICS_AT_MOST
    check_sweep(points, replications, steps, every, count, limits)
    largest = {v.name: (max(v.values) if v.values is not None else v.high) for v in vary
               if v.name in ("width", "height")}
    width, height = (int(largest.get(k, getattr(base, k))) for k in ("width", "height"))
    check_run(steps, width, height, limits)


def _scenario(value, base_dir: Path) -> Scenario:
    if not isinstance(value, str):
        raise InputError(f"scenario must be a preset name or a file path, got {value!r}")
    if value in preset_names():
        return load_scenario(value)
    candidate = Path(value)
    if not candidate.is_absolute() and (base_dir / candidate).exists():
        candidate = base_dir / candidate
    return load_scenario(candidate)


def _count(key: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{key} must be an integer >= {minimum}, got {value!r}")
    return value


def _design_size(design: str, n) -> int | None:
    if design == "grid":
        if n is not None:
            raise InputError("n is only for lhs, sobol and morris designs; a grid runs every combination")
        return None
    if n is None:
        what = {"sobol": "base samples", "morris": "trajectories"}.get(design, "points")
        raise InputError(f"a {design} design needs n (number of {what})")
    n = _count("n", n, minimum=2 if design in ("sobol", "morris") else 1)
    if design == "sobol" and n & (n - 1):
        lower = 1 << (n.bit_length() - 1)
        raise InputError(f"n = {n} is not a power of two, as a sobol design needs; try {lower} or {lower * 2}")
    return n


def _morris_levels(design: str, levels) -> int | None:
    if design != "morris":
        if levels is not None:
            raise InputError("levels is only for morris designs")
        return None
    levels = _count("levels", MORRIS_LEVELS if levels is None else levels, minimum=2)
    if levels % 2:
        raise InputError(f"levels = {levels} is odd; a morris design needs an even number of levels "
                         f"(Morris 1991: the step is levels / (2 (levels - 1))); try {levels + 1}")
    return levels


def expand_groups(varied_raw: dict, fixed: dict, design: str,
                  specs: dict[str, ParameterSpec]) -> tuple[dict, dict[str, str]]:
    """Replace each ``key = { group = "NAME" }`` entry of [vary] by the group's parameters
    at their declared bounds, in the order of ``crowd_model/parameters.py``, at the entry's
    place. Only numeric parameters with both bounds come in; switches (bool) and choices
    are left out (vary them in a grid). A parameter named on its own in [vary] keeps its
    own range and place, one in [set] stays fixed, and ``exclude = [...]`` leaves others
    out. Returns the expanded [vary] and which group each expanded parameter came from."""
    named = {k for k, raw in varied_raw.items() if not _is_group(raw)}
    expanded: dict = {}
    groups: dict[str, str] = {}
    known = sorted({s.group for s in specs.values()})
    for key, raw in varied_raw.items():
        if not _is_group(raw):
            expanded[key] = raw
            continue
        where = f"[vary] {key}"
        _only_keys(where, raw, _GROUP_KEYS)
        group = raw["group"]
        if group not in known:
            raise InputError(f"{where}: group {group!r} is not known; groups: {', '.join(known)}")
        if design not in SAMPLED:
            raise InputError(f"{where}: a group is sampled between its bounds, which needs design = "
                             f"{', '.join(repr(d) for d in SAMPLED)}, not {design!r}")
        exclude = raw.get("exclude", [])
        if not isinstance(exclude, list) or not all(isinstance(e, str) for e in exclude):
            raise InputError(f"{where}: exclude must be a list of parameter names")
        members = [s for s in specs.values() if s.group == group]
        stray = sorted(set(exclude) - {s.name for s in members})
        if stray:
            raise InputError(f"{where}: exclude names {stray}, not in group {group!r}")
        for spec in members:
            if (spec.name in named or spec.name in fixed or spec.name in exclude or spec.name in expanded
                    or spec.type not in (int, float) or spec.low is None or spec.high is None
                    or not spec.low < spec.high):
                continue
            expanded[spec.name] = {"low": spec.low, "high": spec.high}
            groups[spec.name] = group
    return expanded, groups


def _is_group(raw) -> bool:
    return isinstance(raw, dict) and "group" in raw


def _table(data: dict, key: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise InputError(f"[{key}] must be a table")
    return value


def _only_keys(where: str, table: dict, allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _varied(name: str, raw, design: str, specs: dict[str, ParameterSpec], group: str | None = None) -> Varied:
    spec = specs.get(name)
    if spec is None:
        Parameters.from_mapping({name: None})  # raises the standard "unknown parameter" message
    where = f"[vary] {name}"
    if design == "grid":
        if isinstance(raw, dict) and set(raw) == _RANGE_KEYS:
            return Varied(name, values=_levels(where, spec, _stepped_range(where, spec, raw)))
        if not (isinstance(raw, list) and raw):
            raise InputError(
                f"{where}: a grid needs a non-empty list of values or {{ start, stop, step }}, got {raw!r}"
            )
        return Varied(name, values=_levels(where, spec, raw))
    if design == "lhs" and isinstance(raw, list):
        return Varied(name, values=_levels(where, spec, raw))
    if not (isinstance(raw, dict) and set(raw) == _BOUND_KEYS):
        also = "; or, in an lhs design, a list of values (a choice)" if design == "lhs" else ""
        raise InputError(f"{where}: a {design} design needs {{ low = ..., high = ... }}{also}, got {raw!r}")
    if spec.type not in (int, float):
        hint = f" (in an lhs design, list its values: {name} = [...])" if design == "lhs" else ""
        raise InputError(f"{where}: only numeric parameters can be sampled between bounds{hint}; "
                         f"{name} is {spec.describe_allowed()}")
    low, high = (spec.coerce(raw[k]) for k in ("low", "high"))
    if not low < high:
        raise InputError(f"{where}: low ({low:g}) must be below high ({high:g})")
    return Varied(name, low=float(low), high=float(high), group=group)


def _levels(where: str, spec: ParameterSpec, raw: list) -> tuple:
    """A list of values of [vary] (a grid's, or an lhs design's choice), each checked."""
    if not raw:
        raise InputError(f"{where}: the list of values is empty")
    if any(isinstance(v, dict) for v in raw):
        raise InputError(f"{where}: list values must be plain values, not tables")
    values = [spec.coerce(v) for v in raw]
    if len(set(values)) != len(values):
        raise InputError(f"{where}: values repeat ({values}); each design point must differ")
    return tuple(values)


def _stepped_range(where: str, spec: ParameterSpec, raw: dict) -> list:
    if spec.type not in (int, float):
        raise InputError(f"{where}: a stepped range needs a numeric parameter; {spec.name} is {spec.describe_allowed()}")
    start, stop, step = (raw[k] for k in ("start", "stop", "step"))
    for key, value in (("start", start), ("stop", stop), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(f"{where}: {key} must be a number, got {value!r}")
    if step <= 0 or stop < start:
        raise InputError(f"{where}: need step > 0 and stop >= start, got start={start}, stop={stop}, step={step}")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > 100_000:
        raise InputError(f"{where}: the range has {count} values; at most 100000")
    return [spec.coerce(round(start + i * step, 12)) for i in range(count)]


def _probe(base: Parameters, scenario: str) -> tuple[list[str], list[str]]:
    """The per-step metric and outcome names this scenario produces (a zero-step run)."""
    from crowd_model.runner import simulate

    result = simulate(base, steps=0, seed=0, scenario=scenario)
    return [c for c in result.timeseries.columns if c != "step"], list(result.outcomes)
