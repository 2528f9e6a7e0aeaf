"""Issue 9, property tests: random site maps and random experiment files either run (a few
steps) or are refused with exit code 2 and one line; nothing else (no traceback)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from crowd_model import cli
from crowd_model.site import SYMBOLS
from small_site import SITE

TEMPLATE = SITE.splitlines()
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def main(args: list[str]) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = cli.main(args)
    return code, err.getvalue()


def runs_or_is_refused(args: list[str]) -> int:
    code, err = main(args)
    assert code in (0, 2), err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("crowd-model: error: ") and "Traceback" not in err, err
    event("ran" if code == 0 else "refused")
    return code


@st.composite
def site_maps(draw) -> list[str]:
    """The template with a few cells changed, or a small map of random symbols."""
    if draw(st.booleans()):
        rows = [list(r) for r in TEMPLATE]
        for _ in range(draw(st.integers(0, 8))):
            y, x = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, len(rows[0]) - 1))
            rows[y][x] = draw(st.sampled_from(list(SYMBOLS)))
        return ["".join(r) for r in rows]
    width, height = draw(st.integers(3, 8)), draw(st.integers(3, 6))
    return ["".join(draw(st.sampled_from(list(SYMBOLS))) for _ in range(width)) for _ in range(height)]


@SETTINGS
@given(rows=site_maps(), crowd=st.integers(0, 12), police=st.integers(0, 8), linmas=st.integers(0, 3),
       cannons=st.integers(0, 2), depth=st.integers(1, 3))
def test_random_site_maps_run_or_are_refused(rows, crowd, police, linmas, cannons, depth):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "map.txt"
        path.write_text("\n".join(rows) + "\n")
        runs_or_is_refused([
            "run", "--set", f"site={path}", "--set", f"width={len(rows[0])}", "--set", f"height={len(rows)}",
            "--set", "torus=false", "--set", f"crowd_size={crowd}", "--set", f"police_officers={police}",
            "--set", "tni_soldiers=0", "--set", f"linmas_guards={linmas}", "--set", f"water_cannons={cannons}",
            "--set", f"cordon_depth={depth}", "--set", "provocateur_share=0.3", "--steps", "3",
        ])


# --- random experiment files ---------------------------------------------------------------


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"


def toml(data: dict) -> str:
    top = [f"{k} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    tables = [f"[{k}]\n" + "".join(f"{kk} = {toml_value(vv)}\n" for kk, vv in v.items())
              for k, v in data.items() if isinstance(v, dict)]
    return "\n".join(top) + "\n" + "\n".join(tables)


numbers = st.one_of(st.integers(-3, 5), st.sampled_from([0.5, 0.75, 2.5, 1e9, 10**12, math.inf, math.nan, -1.0]))
odd = st.one_of(numbers, st.text(max_size=4), st.booleans(), st.lists(st.integers(0, 3), max_size=2))
steps_like = st.one_of(st.integers(1, 4), odd)
schedule = st.fixed_dictionaries({"schedule": st.sampled_from(["step", "ramp", "points", "spiral"])},
                                 optional={"at": steps_like, "before": numbers, "after": numbers,
                                           "start": steps_like, "end": steps_like, "from": numbers,
                                           "to": numbers, "points": st.lists(st.lists(numbers, min_size=2, max_size=2),
                                                                             max_size=3)})
param_names = st.sampled_from(["legitimacy", "officer_density", "citizen_vision", "max_jail_term", "ratio_rule",
                               "movement", "width", "arrest_constant", "nonsense"])
set_values = st.one_of(numbers, odd, schedule, st.sampled_from(["floor", "round", "nope"]))
vary_values = st.one_of(
    st.lists(st.one_of(st.sampled_from([0.6, 0.7, 0.8, 3, 7]), numbers), min_size=0, max_size=3),
    st.fixed_dictionaries({"low": numbers, "high": numbers}),
    st.fixed_dictionaries({"start": numbers, "stop": numbers, "step": numbers}),
    odd,
)
conditions = st.one_of(st.sampled_from(["active == 0", "active + violent < 3 and arrested >= 0", "not active",
                                        "active ==", "__import__('os')", "nosuch > 1", "(" * 300 + "1" + ")" * 300,
                                        "not " * 80 + "active", "active - " * 100 + "1"]), st.text(max_size=8))


@st.composite
def experiments(draw) -> dict:
    data = {}
    for key, strategy in (("scenario", st.sampled_from(["epstein", "epstein", "nope", 3])),
                          ("steps", steps_like), ("replications", st.one_of(st.integers(1, 2), odd)),
                          ("seed", st.one_of(st.integers(0, 9), odd)),
                          ("design", st.sampled_from(["grid", "grid", "lhs", "sobol", "fractal"])),
                          ("n", st.one_of(st.sampled_from([2, 4, 3]), odd)),
                          ("colour", st.just("blue"))):
        if draw(st.integers(0, 4)) or key == "scenario":
            if key in ("n", "colour") and draw(st.integers(0, 3)):
                continue
            data[key] = draw(strategy)
    data["set"] = {"width": 8, "height": 8, **draw(st.dictionaries(param_names, set_values, max_size=2))}
    data["vary"] = draw(st.dictionaries(param_names, vary_values, max_size=2))
    if draw(st.booleans()):
        data["record"] = draw(st.fixed_dictionaries({}, optional={
            "metrics": st.one_of(st.lists(st.sampled_from(["active", "arrested", "bogus"]), max_size=2), odd),
            "every": steps_like}))
    if draw(st.booleans()):
        data["stop"] = draw(st.fixed_dictionaries({}, optional={"when": conditions, "after": steps_like}))
    if draw(st.integers(0, 5)) == 0:
        data["limits"] = {"max_runs": draw(st.one_of(st.integers(0, 3), odd))}
    return data


@SETTINGS
@given(data=experiments())
def test_random_experiment_files_run_or_are_refused(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exp.toml"
        path.write_text(toml(data))
        runs_or_is_refused(["sweep", str(path), "--out", str(Path(tmp) / "out"), "--workers", "1", "--no-progress"])


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=experiments())
def test_many_random_experiment_files_run_or_are_refused(data):
    test_random_experiment_files_run_or_are_refused.hypothesis.inner_test(data)
