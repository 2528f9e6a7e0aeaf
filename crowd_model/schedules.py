"""Parameter schedules: a numeric parameter whose value changes over the steps of a run.

Epstein (2002, Table 2, Runs 3-5) lowers legitimacy gradually or at once and withdraws
cops during a run; a schedule says what value a parameter has at each step ``t``
(``t = 1`` is the first step; the model's initial state uses ``t = 0``).

In a scenario file a schedule is an inline table in place of a value::

    legitimacy = { schedule = "step", at = 100, before = 0.9, after = 0.7 }
    legitimacy = { schedule = "ramp", start = 50, end = 250, from = 0.9, to = 0.6 }
    officer_density = { schedule = "points", points = [[0, 0.04], [200, 0.02]] }
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from crowd_model.errors import InputError


@dataclass(frozen=True)
class Schedule:
    """Piecewise values over steps: ``points`` are ``(step, value)`` with rising steps.

    ``interpolate="linear"`` ramps between points, ``"step"`` holds each value until the
    next point. Before the first point the first value holds; after the last, the last.
    """

    points: tuple[tuple[int, float], ...]
    interpolate: str = "linear"

    def __post_init__(self):
        if not self.points:
            raise InputError("a schedule needs at least one point")
        steps = [t for t, _ in self.points]
        if any(b <= a for a, b in zip(steps, steps[1:])):
            raise InputError(f"schedule points must have rising steps, got {steps}")
        if self.interpolate not in ("linear", "step"):
            raise InputError(
                f"schedule interpolate must be 'linear' or 'step', got {self.interpolate!r}"
            )

    def value_at(self, t: float) -> float:
        steps = [s for s, _ in self.points]
        k = bisect.bisect_right(steps, t)
        if k == 0:
            return self.points[0][1]
        if k == len(self.points):
            return self.points[-1][1]
        (t0, v0), (t1, v1) = self.points[k - 1], self.points[k]
        if self.interpolate == "step":
            return v0
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0)

    def values(self) -> list[float]:
        return [v for _, v in self.points]

    def to_spec(self) -> dict:
        return {
            "schedule": "points",
            "points": [[t, v] for t, v in self.points],
            "interpolate": self.interpolate,
        }


def _number(spec: dict, key: str, name: str) -> float:
    if key not in spec:
        raise InputError(f"schedule for {name}: missing key {key!r}")
    return _finite(spec[key], f"schedule for {name}: {key!r}")


def _finite(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{where} must be a finite number, got {value!r}")
    return value


def _step(value, where: str, minimum: int = 0) -> int:
    """A step of a schedule: an integer >= ``minimum`` (``at = 10.7`` is refused, not truncated)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{where} must be a step, an integer >= {minimum}, got {value!r}")
    return value


def parse_schedule(name: str, spec: dict) -> Schedule:
    """Build a schedule from its scenario-file form (``step``, ``ramp`` or ``points``)."""
    kind = spec.get("schedule")
    allowed = {
        "step": {"schedule", "at", "before", "after"},
        "ramp": {"schedule", "start", "end", "from", "to"},
        "points": {"schedule", "points", "interpolate"},
    }
    if kind not in allowed:
        raise InputError(
            f"schedule for {name}: 'schedule' must be one of step, ramp, points; got {kind!r}"
        )
    unknown = set(spec) - allowed[kind]
    if unknown:
        raise InputError(
            f"schedule for {name}: unknown key(s) {sorted(unknown)}; "
            f"a {kind} schedule takes {sorted(allowed[kind] - {'schedule'})}"
        )
    if kind == "step":
        at = _step(_number(spec, "at", name), f"schedule for {name}: 'at'", minimum=1)
        before, after = _number(spec, "before", name), _number(spec, "after", name)
        return Schedule(((at - 1, before), (at, after)), interpolate="step")
    if kind == "ramp":
        start, end = (_step(_number(spec, k, name), f"schedule for {name}: {k!r}") for k in ("start", "end"))
        if end <= start:
            raise InputError(f"schedule for {name}: ramp end ({end}) must be after start ({start})")
        return Schedule(((start, _number(spec, "from", name)), (end, _number(spec, "to", name))))
    raw = spec.get("points")
    if not isinstance(raw, list) or not all(
        isinstance(p, list) and len(p) == 2 for p in raw
    ):
        raise InputError(f"schedule for {name}: 'points' must be a list of [step, value] pairs")
    points = []
    for t, v in raw:
        points.append((_step(t, f"schedule for {name}: point step"), _finite(v, f"schedule for {name}: point value")))
    return Schedule(tuple(points), interpolate=spec.get("interpolate", "linear"))
