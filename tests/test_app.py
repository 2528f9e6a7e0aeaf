"""The Solara app's components, rendered without a browser (solara.render)."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import ipyvuetify as v
import numpy as np
import pandas as pd
import pytest
from PIL import Image

solara = pytest.importorskip("solara")

import app  # noqa: E402
import app_text  # noqa: E402
from crowd_model.render import CELL_CATEGORIES  # noqa: E402
from crowd_model.world import STATE_NAMES, UNIT_NAMES  # noqa: E402
from crowd_model.parameters import parameter_specs  # noqa: E402


def test_every_category_has_its_own_colour_and_legend_text():
    assert set(app.CATEGORY_STYLE) == set(CELL_CATEGORIES)
    colours = [app.CATEGORY_STYLE[c].lower() for c in CELL_CATEGORIES]
    assert len(set(colours)) == len(colours)
    assert app.PALETTE.shape == (len(CELL_CATEGORIES), 3)


def test_grid_png_puts_x_right_and_y_up():
    codes = np.zeros((4, 3), np.uint8)
    codes[0, 0] = CELL_CATEGORIES.index(UNIT_NAMES[0])
    codes[3, 2] = CELL_CATEGORIES.index("violent")
    img = np.asarray(Image.open(io.BytesIO(app.grid_png(codes, pixels=40))).convert("RGB"))
    assert img.shape == (30, 40, 3)
    assert tuple(img[-1, 0]) == tuple(app.PALETTE[CELL_CATEGORIES.index(UNIT_NAMES[0])])
    assert tuple(img[0, -1]) == tuple(app.PALETTE[CELL_CATEGORIES.index("violent")])
    assert tuple(img[0, 0]) == tuple(app.PALETTE[0])


def test_every_parameter_gets_a_control_and_bounded_numbers_a_slider():
    for spec in parameter_specs():
        kind = app.control_kind(spec)
        if spec.name == "site":
            assert kind == "site"
        elif spec.choices:
            assert kind == "select"
        elif spec.type is bool:
            assert kind == "checkbox"
        elif kind == "slider":
            assert (spec.high - spec.low) / app.slider_step(spec) >= 1000 or spec.type is int
        else:
            assert kind == "number"
    kinds = {s.name: app.control_kind(s) for s in parameter_specs()}
    assert kinds["legitimacy"] == kinds["water_capacity"] == kinds["water_cannon_cone"] == "slider"
    assert "text" not in kinds.values()


@pytest.mark.parametrize("preset", app.preset_names())
def test_every_slider_shows_every_presets_value_exactly(preset):
    """A slider's grid (min + k * step) holds the preset's value, so that opening a panel
    changes nothing (water_per_shot's 400 once snapped to 401)."""
    parameters = app.load_scenario(preset).parameters
    sliders = [s for s in parameter_specs() if app.control_kind(s) == "slider"]
    assert len(sliders) > 20
    for spec in sliders:
        value = getattr(parameters, spec.name)
        step = app.slider_step(spec)
        position = (value - spec.low) / step
        assert position == pytest.approx(round(position), abs=1e-6), (spec.name, value, spec.low, step)
        assert spec.low <= value <= spec.high


def test_extra_chart_columns_take_arrests_injuries_and_damage():
    columns = ["calm", "arrests_total", "officers", "injuries_civilians", "property_damage", "legitimacy"]
    assert app.extra_chart_columns(columns) == ["arrests_total", "injuries_civilians", "property_damage"]


def _click(rc, label):
    button = rc.find(v.Btn, children=[label])
    button.assert_single()
    button.widget.click()


def _slider(rc, name):
    (slider,) = [w for w in rc.find(v.Slider).widgets if w.label.split(" ")[0] == name]
    return slider


def _alerts(rc) -> list[str]:
    return [" ".join(map(str, w.children)) for w in rc.find(v.Alert).widgets]


def _step_shown(rc) -> int:
    counts = rc.find(attributes={"class": "crowd-counts"})
    counts.assert_single()
    html = counts.widget.unsafe_innerHTML
    value = html.split('data-name="step"', 1)[1].split('crowd-number-value">', 1)[1].split("<", 1)[0]
    return int(value)


def live_view(scenario: str):
    """A rendered live view of ``scenario`` and its session (a fixture's body)."""
    session = app.LiveSession(scenario)
    box, rc = solara.render(app.LiveView(session), handle_error=False)
    yield rc, session
    session.pause()
    rc.close()


@pytest.fixture
def live():
    """A rendered live view and its session."""
    yield from live_view("epstein")


def test_step_advances_the_model_and_the_shown_counts(live):
    rc, session = live
    assert _step_shown(rc) == 0
    _click(rc, "Step")
    _click(rc, "Step")
    assert _step_shown(rc) == 2
    assert int(session.model.time) == 2
    counts = session.frame.value.counts
    assert sum(counts[s] for s in STATE_NAMES) == session.model.n_civilians


def test_play_runs_in_the_background_and_pause_stops_it(live):
    rc, session = live
    session.speed.value = app.MAX_SPEED
    _click(rc, "Play")
    deadline = time.time() + 20
    while _step_shown(rc) < 5 and time.time() < deadline:
        time.sleep(0.05)
    _click(rc, "Pause")
    stopped_at = int(session.model.time)
    assert stopped_at >= 5
    assert not session.playing.value
    time.sleep(0.3)
    assert int(session.model.time) == stopped_at
    assert _step_shown(rc) == stopped_at


def test_a_slider_changes_the_model_on_reset(live):
    rc, session = live
    _slider(rc, "legitimacy").v_model = 0.5
    assert session.model.parameters.legitimacy != 0.5
    assert "Changed parameters apply on Reset." in _alerts(rc)
    _click(rc, "Reset")
    assert session.model.parameters.legitimacy == 0.5
    assert _step_shown(rc) == 0


def test_a_bad_value_shows_a_message_and_keeps_the_model(live):
    rc, session = live
    before = session.model
    _slider(rc, "citizen_density").v_model = 0.99
    assert any("exceed 1" in text for text in _alerts(rc))
    _click(rc, "Reset")
    assert session.model is before
    assert any(text.startswith("Not reset:") and "exceed 1" in text for text in _alerts(rc))


def test_a_negative_seed_is_refused_with_a_message(live):
    rc, session = live
    before = session.model
    session.seed.value = -3
    _click(rc, "Reset")
    assert session.model is before
    assert "seed: -3 is not allowed" in session.message.value and "[0, " in session.message.value


def test_the_seed_fixes_the_run(live):
    rc, session = live
    session.seed.value = 7
    _click(rc, "Reset")
    for _ in range(3):
        _click(rc, "Step")
    first = session.frame.value.png
    _click(rc, "Reset")
    for _ in range(3):
        _click(rc, "Step")
    assert session.frame.value.png == first


def test_charts_and_outcomes_follow_the_model(live):
    rc, session = live
    for _ in range(3):
        _click(rc, "Step")
    charts = session.charts.value
    states = app.chart_options(charts.series)[0]["series"]
    assert [s["name"] for s in states] == list(STATE_NAMES)
    assert all(len(s["data"]) == 4 for s in states)
    assert charts.outcomes["arrests_total"] == session.model.arrests_total
    assert {"calm", UNIT_NAMES[0]} <= charts.present  # Epstein's cops are the first unit


def test_range_values_spread_evenly_and_whole_numbers_for_integers():
    specs = {s.name: s for s in parameter_specs()}
    assert app.range_values(specs["legitimacy"], 0.6, 0.9, 4) == pytest.approx([0.6, 0.7, 0.8, 0.9])
    assert app.range_values(specs["width"], 10, 20, 4) == [10, 13, 17, 20]
    with pytest.raises(app.InputError, match="must not exceed"):
        app.range_values(specs["legitimacy"], 0.9, 0.6, 3)


def test_mean_with_ci_gives_a_student_t_interval_over_replicates():
    table = pd.DataFrame({"x": [1, 1, 1, 2, 2], "y": [1.0, 2.0, 3.0, 5.0, 5.0], "status": ["ok"] * 5})
    out = app.mean_with_ci(table, ["x"], "y").set_index("x")
    half = 4.302652729911275 * 1.0 / np.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert out.loc[1, "mean"] == 2.0
    assert out.loc[1, "ci_high"] - out.loc[1, "mean"] == pytest.approx(half)
    assert out.loc[2, "ci_low"] == out.loc[2, "ci_high"] == 5.0


@pytest.fixture
def sweep():
    session = app.SweepSession()
    box, rc = solara.render(app.SweepView(session), handle_error=False)
    yield rc, session
    session.cancel()
    session.wait()
    rc.close()


def _sweep(session, steps, replications, ranges) -> app.SweepStatus:
    """Run a small grid sweep on one process and wait for it."""
    session.start(app.sweep_experiment("epstein", steps, replications, 1, ranges), workers=1)
    session.wait(120)
    return session.status.value


def test_a_sweep_runs_in_the_background_and_shows_its_result(sweep):
    rc, session = sweep
    status = _sweep(session, 20, 2, [("legitimacy", 0.6, 0.9, 3)])
    assert status.state == "done", status.message
    assert status.done == status.total == 6
    assert list(status.outcomes["legitimacy"].unique()) == pytest.approx([0.6, 0.75, 0.9])
    assert session.metric.value == "peak_active"
    chart = rc.find(attributes={"style": "height: 420px; width: 100%", "class": "crowd-sweep-chart"})
    chart.assert_single()
    series = {s["name"]: s["data"] for s in chart.widget.option["series"]}
    means = app.mean_with_ci(status.outcomes, ["legitimacy"], "peak_active")["mean"].tolist()
    assert series["mean"] == means
    assert session.outcomes_path.read_text().splitlines()[0].startswith("run_id,point,replicate,seed,legitimacy")


def test_two_parameters_give_a_heatmap(sweep):
    rc, session = sweep
    status = _sweep(session, 10, 1, [("legitimacy", 0.6, 0.9, 2), ("citizen_vision", 2, 6, 3)])
    option = app.sweep_chart(status.outcomes, ["legitimacy", "citizen_vision"], "peak_active")
    assert option["series"][0]["type"] == "heatmap"
    assert len(option["series"][0]["data"]) == 6


def _stored_runs(session) -> int:
    path = session.outcomes_path
    return len(path.read_text().splitlines()) - 1 if path is not None and path.exists() else 0


def test_cancel_stops_a_sweep_and_keeps_finished_runs(sweep):
    rc, session = sweep
    experiment = app.sweep_experiment("epstein", 200, 20, 1, [("legitimacy", 0.6, 0.9, 10)])
    session.start(experiment, workers=1)
    deadline = time.time() + 60
    while _stored_runs(session) < 2 and time.time() < deadline:
        time.sleep(0.05)
    session.cancel()
    session.wait(60)
    status = session.status.value
    assert status.state == "cancelled"
    assert 2 <= len(status.outcomes) < 200
    assert (status.outcomes["status"] == "ok").all()


def test_a_design_that_does_not_fit_shows_one_line(sweep):
    rc, session = sweep
    status = _sweep(session, 10, 1, [("citizen_density", 0.5, 1.0, 3)])
    assert status.state == "failed"
    assert "citizen_density" in status.message and "\n" not in status.message


def test_an_lhs_sweep_runs_and_shows_every_run_against_each_parameter(sweep):
    rc, session = sweep
    experiment = app.lhs_experiment("epstein", 10, 1, 1, 6, [("legitimacy", 0.6, 0.9), ("citizen_vision", 2, 6)])
    assert experiment["design"] == "lhs" and experiment["n"] == 6
    assert experiment["vary"] == {"legitimacy": {"low": 0.6, "high": 0.9}, "citizen_vision": {"low": 2, "high": 6}}
    session.start(experiment, workers=1)
    session.wait(120)
    status = session.status.value
    assert status.state == "done", status.message
    assert status.done == status.total == 6 and status.design == "lhs"
    assert status.outcomes["legitimacy"].between(0.6, 0.9).all() and status.outcomes["legitimacy"].nunique() == 6
    chart = rc.find(attributes={"style": "height: 420px; width: 100%", "class": "crowd-sweep-chart"})
    chart.assert_single()
    option = chart.widget.option
    assert [s["type"] for s in option["series"]] == ["scatter", "scatter"]
    assert [a["name"] for a in option["xAxis"]] == ["legitimacy", "citizen_vision"] and len(option["grid"]) == 2
    legitimacy = option["series"][0]["data"]
    assert sorted(x for x, _ in legitimacy) == pytest.approx(sorted(status.outcomes["legitimacy"]))
    assert sorted(y for _, y in legitimacy) == sorted(status.outcomes["peak_active"])


def test_the_page_offers_a_latin_hypercube_with_its_plan(sweep):
    rc, session = sweep
    (design,) = [w for w in rc.find(v.Select).widgets if w.label == "design"]
    design.v_model = "nope"  # a value the menu does not offer: ignored
    assert any(t.startswith("Plan: 5 points × 4 replications") for t in _alerts(rc))
    (design,) = [w for w in rc.find(v.Select).widgets if w.label == "design"]
    design.v_model = "Latin hypercube (sampled)"
    (plan,) = [t for t in _alerts(rc) if t.startswith("Plan:")]
    assert plan.startswith("Plan: Latin hypercube of 20 samples over 1 parameter × 4 replications = 80 runs of")
    assert "estimated" in plan
    (chosen,) = rc.find(v.Select, class_="crowd-sweep-lhs-parameters").widgets
    chosen.v_model = ["legitimacy", "ratio_rule"]  # not a numeric parameter: ignored
    chosen.v_model = ["legitimacy", "officer_density", "citizen_vision"]
    (plan,) = [t for t in _alerts(rc) if t.startswith("Plan:")]
    assert plan.startswith("Plan: Latin hypercube of 20 samples over 3 parameters × 4 replications = 80 runs")
    (samples,) = [w for w in rc.find(v.TextField).widgets if str(w.label).startswith("samples")]
    samples.v_model = str(app.SWEEP_MAX_SAMPLES + 1)
    samples.fire_event("keyup.enter", None)
    assert any("samples" in t and "not allowed" in t for t in _alerts(rc)), _alerts(rc)
    assert rc.find(v.Btn, children=["Run sweep"]).widget.disabled


def test_the_plan_counts_samples_parameters_and_points_in_the_singular_and_plural():
    one = app.lhs_experiment("epstein", 10, 2, 1, 1, [("legitimacy", 0.5, 0.9)])
    assert app.plan_summary(one, 1).startswith("Plan: Latin hypercube of 1 sample over 1 parameter × 2 replications")
    two = app.lhs_experiment("epstein", 10, 2, 1, 5, [("legitimacy", 0.5, 0.9), ("citizen_vision", 2, 5)])
    assert app.plan_summary(two, 1).startswith("Plan: Latin hypercube of 5 samples over 2 parameters × 2")
    assert app.plan_summary(one, 1, "id").startswith("Rencana: hypercube Latin 1 sampel atas 1 parameter × 2 ulangan")
    point = app.sweep_experiment("epstein", 10, 2, 1, [("legitimacy", 0.5, 0.5, 1)])
    assert app.plan_summary(point, 1).startswith("Plan: 1 point × 2 replications")
    grid = app.sweep_experiment("epstein", 10, 2, 1, [("legitimacy", 0.5, 0.9, 3)])
    assert app.plan_summary(grid, 1).startswith("Plan: 3 points × 2 replications")


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"samples": 0}, "samples"),
        ({"samples": 10**9}, "samples"),
        ({"samples": 2.5}, "samples"),
        ({"bounds": [("legitimacy", 0.5, 2.0)]}, "legitimacy"),
        ({"bounds": [("legitimacy", 0.9, 0.5)]}, "below"),
        ({"bounds": [("ratio_rule", 0, 1)]}, "numeric parameters"),
        ({"bounds": [("legitimacy", 0.5, 0.9), ("legitimacy", 0.6, 0.9)]}, "different"),
        ({"bounds": [(n, 1, 2) for n in ("citizen_vision", "officer_vision", "max_jail_term", "width", "height")]},
         "one to 4"),
        ({"samples": 2000, "replications": 1000}, "runs"),
    ],
)
def test_lhs_values_out_of_bounds_are_refused_with_one_line(change, expected):
    form = {"samples": 10, "replications": 1, "bounds": [("legitimacy", 0.6, 0.9)]}
    form.update(change)
    with pytest.raises(app.InputError, match=expected) as refused:
        app.lhs_experiment("epstein", 10, form["replications"], 1, form["samples"], form["bounds"])
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"design": "sobol"}, "grid and lhs"),
        ({"n": 10**9}, "samples"),
        ({"n": None}, "samples"),
        ({"vary": {"legitimacy": [0.6, 0.7]}}, "low, high"),
        ({"vary": {}}, "sampled parameters"),
    ],
)
def test_the_sweep_handler_refuses_a_latin_hypercube_the_page_would_not_send(sweep, change, expected):
    rc, session = sweep
    experiment = {**app.lhs_experiment("epstein", 10, 1, 1, 4, [("legitimacy", 0.6, 0.9)]), **change}
    session.start(experiment, 1)
    status = session.status.value
    assert status.state == "failed" and expected in status.message and "\n" not in status.message
    assert not session.running


def test_default_sweep_range_is_around_the_scenario_value_within_bounds():
    specs = {s.name: s for s in parameter_specs()}
    assert app.default_range(specs["officer_density"], 0.04) == (0.02, 0.08)
    assert app.default_range(specs["legitimacy"], 0.82) == (0.41, 1.0)
    assert app.default_range(specs["activation_threshold"], -0.2) == (-0.4, -0.1)
    assert app.default_range(specs["citizen_vision"], 7) == (4, 14)


def test_app_command_refuses_a_bad_port_with_exit_code_2():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "crowd_model", "app", "--port", "x"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--port" in done.stderr


def test_choosing_a_scenario_shows_its_values_and_builds_its_model():
    session = app.LiveSession("kpu-riot" if "kpu-riot" in app.preset_names() else "epstein")
    box, rc = solara.render(app.LiveView(session), handle_error=False)
    try:
        _click(rc, "Step")
        session.choose_scenario("epstein")
        epstein = app.load_scenario("epstein").parameters
        assert _slider(rc, "legitimacy").v_model == epstein.legitimacy
        assert _slider(rc, "legitimacy").label.startswith(f"legitimacy = {epstein.legitimacy:g}")
        assert session.model.parameters == epstein
        assert _step_shown(rc) == 0
    finally:
        session.pause()
        rc.close()


# ---------------------------------------------------------------- what the browser may send


def _site_select(rc):
    (select,) = [w for w in rc.find(v.Select).widgets if w.label.startswith("site")]
    return select


@pytest.fixture
def opened_paths(monkeypatch):
    """Every path the app opens or reads from now on."""
    import builtins
    from pathlib import Path

    seen: list[str] = []
    real_open, real_read_text, real_read_bytes = builtins.open, Path.read_text, Path.read_bytes

    def record_open(file, *args, **kwargs):
        seen.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", record_open)
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: seen.append(str(self)) or real_read_text(self, *a, **k))
    monkeypatch.setattr(Path, "read_bytes", lambda self, *a, **k: seen.append(str(self)) or real_read_bytes(self, *a, **k))
    return seen


def test_the_site_control_is_a_menu_of_shipped_maps_and_refuses_paths(live, opened_paths):
    rc, session = live
    select = _site_select(rc)
    assert select.items == ["none", *app.site_names()]
    assert not rc.find(v.TextField, label="site").widgets
    for path in ("/etc/passwd", "/proc/self/environ", "../../etc/passwd", "kpu.txt"):
        select.v_model = path
        assert session.message.value.startswith("Not changed: site") and "not offered" in session.message.value
        assert "site" not in session.overrides.value
        session.set_parameter("site", path)  # the server-side handler itself refuses it too
        assert "site" not in session.overrides.value
    session.overrides.value = {"site": "/etc/passwd"}  # even if an override slipped through
    before = session.model
    _click(rc, "Reset")
    assert session.model is before and "not offered" in session.message.value
    import crowd_model

    import sys

    allowed = (str(Path(crowd_model.__file__).parent), sys.prefix)  # the package, and the libraries' own files
    assert [p for p in opened_paths if not p.startswith(allowed)] == []
    assert not any("passwd" in p or "environ" in p for p in opened_paths)


def test_choosing_a_shipped_site_sets_its_size_and_builds_it(live):
    rc, session = live
    _site_select(rc).v_model = "kpu"
    assert session.overrides.value == {"site": "kpu", "width": 100, "height": 60, "torus": False}
    session.set_parameter("crowd_size", 500)
    _click(rc, "Reset")
    assert session.model.site is not None and session.model.n_civilians == 500


KPU_MAP = (Path(__file__).resolve().parent.parent / "crowd_model" / "presets" / "sites" / "kpu.txt").read_text()


def test_an_uploaded_map_is_parsed_in_memory_and_chosen(live, opened_paths, tmp_path, monkeypatch):
    rc, session = live
    monkeypatch.chdir(tmp_path)
    small = "\n".join(["SSOOSS", "S#GG#S", "..CC..", "AAAAAA", "AAAAAA", "EEEEEE"]) + "\n"
    session.upload_map("drill.txt", small.encode())
    assert session.message.value == ""
    key = session.overrides.value["site"]
    assert key.startswith("memory:") and session.overrides.value["width"] == 6
    assert any(label.startswith("uploaded: drill.txt") for label in _site_select(rc).items)
    session.set_parameter("crowd_size", 10)
    for name in ("police_officers", "tni_soldiers", "linmas_guards"):
        session.set_parameter(name, 1)
    _click(rc, "Reset")
    assert session.message.value == "" and session.model.site.width == 6
    assert list(tmp_path.iterdir()) == []  # nothing written
    assert not any("drill" in p for p in opened_paths)


@pytest.mark.parametrize(
    "data, expected",
    [
        (bytes(range(256)) * 4, "not a text file"),
        (b"\x00\x01PNG\x00" * 10, "not a text file"),
        ("A" * (app.MAP_MAX_SIDE + 1) + "\n", f"more than {app.MAP_MAX_SIDE} rows or columns"),
        (b"E" * (app.MAP_MAX_BYTES + 1), "larger than 256 KB"),
        ("AAX\nEEG\n", "unknown symbol"),
        ("AAA\nEEG\nAA\n", "rows must be equal"),
    ],
)
def test_a_bad_upload_gives_one_clear_message_and_keeps_the_site(live, data, expected):
    rc, session = live
    before = dict(session.overrides.value)
    session.upload_map("map.bin", data if isinstance(data, bytes) else data.encode())
    message = session.message.value
    assert message.startswith("Map not used:") and expected in message, message
    assert "\n" not in message and "Traceback" not in message and len(message) < 300
    assert session.overrides.value == before
    assert any(message == text for text in _alerts(rc))


def test_values_out_of_bounds_from_the_browser_are_refused(live):
    rc, session = live
    for name, value in [("legitimacy", 1.5), ("legitimacy", "nan"), ("citizen_vision", 2.5),
                        ("water_cannons", 10**9), ("ratio_rule", "exec"), ("movement", "yes please"),
                        ("no_such_parameter", 1)]:
        session.set_parameter(name, value)
        assert session.message.value.startswith("Not changed:"), (name, value)
        assert name not in session.overrides.value
    session.choose_scenario("/etc/passwd")
    assert "not offered" in session.message.value and session.scenario.name == "epstein"
    for bad in (-1, 2**40, 1.5, "7"):
        session.set_seed(bad)
        assert session.seed.value == 42 and "seed" in session.message.value
    for bad in (0, app.MAX_SPEED + 1, 10**9):
        session.set_speed(bad)
        assert session.speed.value == app.DEFAULT_SPEED and "speed" in session.message.value


def test_changed_parameters_note_only_for_real_changes_and_clears_after_reset(live):
    rc, session = live
    notes = lambda: [t for t in _alerts(rc) if "apply on Reset" in t]  # noqa: E731
    _slider(rc, "legitimacy").v_model = 0.82 + 1e-13  # the slider sends back the preset's value
    assert notes() == [] and session.overrides.value == {}
    _slider(rc, "legitimacy").v_model = 0.5
    assert notes() == ["Changed parameters apply on Reset."]
    _click(rc, "Reset")
    assert notes() == []
    _slider(rc, "legitimacy").v_model = 0.82
    assert notes() == ["Changed parameters apply on Reset."]  # back to the preset: differs from the model
    _click(rc, "Reset")
    assert notes() == [] and session.model.parameters.legitimacy == 0.82


@pytest.mark.parametrize("host, warned", [("127.0.0.1", False), ("localhost", False), ("::1", False),
                                          ("0.0.0.0", True), ("192.168.1.5", True), ("example.org", True)])
def test_app_command_warns_once_when_listening_beyond_loopback(monkeypatch, capsys, host, warned):
    import os

    from crowd_model import cli

    calls = []
    monkeypatch.setattr(os, "execv", lambda exe, argv: calls.append(argv))
    cli.main(["app", "--host", host, "--port", "0"])
    err = capsys.readouterr().err
    assert calls and calls[0][calls[0].index("--host") + 1] == host
    if warned:
        assert err.count("\n") == 1 and "no authentication" in err and "CPU" in err
    else:
        assert err == ""


# ---------------------------------------------------------------- sweep page: bounds, plan, cancel, charts


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"scenario": "/etc/passwd"}, "not offered"),
        ({"scenario": "../crowd_model/presets/epstein.toml"}, "not offered"),
        ({"steps": 0}, "steps per run"),
        ({"steps": 10**12}, "steps per run"),
        ({"replications": 10**8}, "replications"),
        ({"replications": 2.5}, "replications"),
        ({"seed": -1}, "root seed"),
        ({"ranges": [("legitimacy", 0.5, 2.0, 3)]}, "legitimacy"),
        ({"ranges": [("legitimacy", 0.5, 0.9, 51)]}, "points"),
        ({"ranges": [("legitimacy", 0.5, 0.9, 10**9)]}, "points"),
        ({"ranges": [("ratio_rule", 0, 1, 2)]}, "numeric parameters"),
        ({"ranges": [("legitimacy", 0.1, 0.9, 50), ("citizen_vision", 1, 40, 40)], "replications": 10}, "runs"),
        ({"ranges": [("legitimacy", 0.1, 0.9, 50)], "replications": 100, "steps": 10_000}, "steps in all"),
        ({"fixed": {"site": "/etc/passwd"}}, "not offered"),
        ({"fixed": {"legitimacy": 0.5}}, "varied"),
        ({"fixed": {"citizen_vision": 99}}, "citizen_vision"),
        ({"fixed": {"nope": 1}}, "unknown parameter"),
    ],
)
def test_sweep_values_out_of_bounds_are_refused_with_one_line(change, expected):
    form = {"scenario": "epstein", "steps": 10, "replications": 2, "seed": 1,
            "ranges": [("legitimacy", 0.6, 0.9, 3)], "fixed": {}}
    form.update(change)
    with pytest.raises(app.InputError, match=expected) as refused:
        app.sweep_experiment(form["scenario"], form["steps"], form["replications"], form["seed"],
                             form["ranges"], form["fixed"])
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "change, workers, expected",
    [
        ({"replications": 10**8}, 1, "replications"),
        ({"steps": 10**12}, 1, "steps per run"),
        ({"vary": {"legitimacy": [0.5] * 1000}}, 1, "points"),
        ({"scenario": "/etc/passwd"}, 1, "shipped presets"),
        ({"set": {"site": "/etc/passwd"}}, 1, "not offered"),
        ({}, 10**6, "worker processes"),
        ({}, 0, "worker processes"),
    ],
)
def test_the_sweep_handler_itself_refuses_what_the_page_would_not_send(sweep, change, workers, expected):
    rc, session = sweep
    experiment = {**app.sweep_experiment("epstein", 10, 1, 1, [("legitimacy", 0.6, 0.9, 2)]), **change}
    started = time.perf_counter()
    session.start(experiment, workers)
    assert time.perf_counter() - started < 5
    status = session.status.value
    assert status.state == "failed" and expected in status.message and "\n" not in status.message
    assert not session.running
    assert any(status.message == text for text in _alerts(rc))


def test_the_page_shows_the_plan_and_an_estimate_before_it_starts(sweep):
    rc, session = sweep
    (plan,) = [t for t in _alerts(rc) if t.startswith("Plan:")]
    assert "5 points × 4 replications = 20 runs of 600 steps" in plan and "estimated" in plan
    experiment = app.sweep_experiment("kpu-riot", 600, 4, 1, [("legitimacy", 0.35, 1.0, 5)])
    seconds = app.estimate_seconds(app.load_scenario("kpu-riot").parameters, 600, 20, 2)
    assert 10 < seconds < 600  # 20 runs of 600 steps of 2,300 agents on two workers
    assert app.plan_summary(experiment, 1).startswith("Plan: 5 points × 4 replications = 20 runs")


def test_fixed_parameters_go_into_every_run(sweep):
    rc, session = sweep
    (field,) = [w for w in rc.find(v.TextField).widgets if str(w.label).startswith("crowd_size")]
    field.v_model = "500"
    field.fire_event("keyup.enter", None)
    assert any("(1 changed)" in str(w.children) for w in rc.find(v.ExpansionPanelHeader).widgets)
    experiment = app.sweep_experiment("epstein", 5, 1, 1, [("legitimacy", 0.6, 0.9, 2)],
                                      {"citizen_vision": 3, "site": "kpu", "crowd_size": 300})
    assert experiment["set"] == {"citizen_vision": 3, "site": "kpu", "width": 100, "height": 60, "torus": False,
                                 "crowd_size": 300}
    session.start(experiment, 1)
    session.wait(120)
    status = session.status.value
    assert status.state == "done", status.message
    assert (status.outcomes["civilians"] == 300).all()


def _process_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_cancel_stops_a_run_already_executing(sweep):
    rc, session = sweep
    experiment = app.sweep_experiment("epstein", app.SWEEP_MAX_STEPS, 1, 1, [("legitimacy", 0.6, 0.6, 1)])
    session.start(experiment, 1)
    deadline = time.time() + 60
    while (session._pool is None or not session._pool.pending) and time.time() < deadline:
        time.sleep(0.05)
    pids = session._pool.worker_pids()
    time.sleep(2)  # the run is busy in its worker
    assert session.status.value.state == "running" and not any(map(_process_gone, pids))
    cancelled_at = time.time()
    session.cancel()
    assert session.status.value.state in ("cancelling", "cancelled")
    session.wait(10)
    assert time.time() - cancelled_at < 5
    status = session.status.value
    assert status.state == "cancelled" and status.message.startswith("Cancelled")
    assert all(map(_process_gone, pids))


def test_the_page_says_cancelling_until_the_runs_have_stopped(sweep, monkeypatch):
    rc, session = sweep
    stopped = threading.Event()
    real_cancel = app.CancellablePool.cancel

    def slow_cancel(pool):
        stopped.wait(5)
        real_cancel(pool)

    monkeypatch.setattr(app.CancellablePool, "cancel", slow_cancel)
    session.start(app.sweep_experiment("epstein", 1000, 5, 1, [("legitimacy", 0.6, 0.9, 2)]), 1)
    deadline = time.time() + 60
    while session._pool is None and time.time() < deadline:
        time.sleep(0.05)
    canceller = threading.Thread(target=session.cancel)
    canceller.start()
    deadline = time.time() + 4
    while time.time() < deadline and not rc.find(v.Html, class_="crowd-sweep-progress").widgets[0].children[0].endswith(
            "runs (cancelling…)"):
        time.sleep(0.05)
    assert session.status.value.state == "cancelling"
    (progress,) = rc.find(v.Html, class_="crowd-sweep-progress").widgets
    assert progress.children[0].endswith("runs (cancelling…)")
    assert rc.find(v.Btn, children=["Run sweep"]).widget.disabled
    assert rc.find(v.Btn, children=["Cancel"]).widget.disabled
    stopped.set()
    canceller.join(10)
    session.wait(10)
    assert session.status.value.state == "cancelled"


def test_the_band_draws_its_bounds_as_they_are_even_below_zero():
    outcomes = pd.DataFrame({"x": [1, 1, 1, 2, 2, 2], "property_damage": [0.0, 0.0, 3.0, 5.0, 6.0, 7.0], "status": ["ok"] * 6})
    option = app.sweep_chart(outcomes, ["x"], "property_damage")
    table = app.mean_with_ci(outcomes, ["x"], "property_damage")
    assert table["ci_low"].iloc[0] < 0
    series = option["series"]
    assert not any("stack" in s or "areaStyle" in s for s in series)
    bounds = [s["data"] for s in series if s["name"] == "95% CI"]
    assert bounds == [table["ci_low"].tolist(), table["ci_high"].tolist()]
    assert [s["data"] for s in series if s["name"] == "mean"] == [table["mean"].tolist()]


def test_the_heatmap_shows_zero_as_zero():
    grid = pd.DataFrame({"a": [1, 1, 2, 2], "b": [1, 2, 1, 2], "status": ["ok"] * 4})
    zeros = app.sweep_chart(grid.assign(property_damage=0), ["a", "b"], "property_damage")["visualMap"]
    assert zeros["min"] == 0 and zeros["max"] > 0  # all zero: the pale end, not mid-scale
    positive = app.sweep_chart(grid.assign(property_damage=[3, 4, 5, 6]), ["a", "b"], "property_damage")["visualMap"]
    assert positive["min"] == 0 and positive["max"] == 6 and positive["inRange"]["color"][0] == "#fff5eb"
    mixed = app.sweep_chart(grid.assign(property_damage=[-2, 0, 1, 4]), ["a", "b"], "property_damage")["visualMap"]
    assert mixed["min"] == -mixed["max"] and mixed["inRange"]["color"][1] == "#ffffff"


def test_every_outcome_has_a_description_and_constant_ones_are_not_offered():
    from crowd_model.runner import simulate

    for preset in app.preset_names():
        result = simulate(app.load_scenario(preset).parameters, 0, 0)
        for name in result.outcomes:  # a missing text warns (an error under -W error)
            for lang in app_text.LANGUAGES:
                text = app_text.metric_help(name, lang)
                assert text and "\n" not in text, (preset, name, lang)
    outcomes = pd.DataFrame({"civilians": [1120] * 3, "peak_active": [4, 9, 2], "gate_breached": [0, 0, 0],
                             "time_to_dispersal": [None, None, None], "status": ["ok"] * 3})
    offered, constant = app.varying_outcomes(outcomes, ["civilians", "peak_active", "gate_breached", "time_to_dispersal"])
    assert offered == ["peak_active"]
    assert constant == {"civilians": 1120, "gate_breached": 0}


def test_the_outcome_menu_offers_varying_outcomes_with_their_description(sweep):
    rc, session = sweep
    status = _sweep(session, 20, 2, [("legitimacy", 0.6, 0.9, 3)])
    (menu,) = [w for w in rc.find(v.Select).widgets if w.label == "outcome"]
    assert "civilians (civilians)" not in menu.items and "peak active (peak_active)" in menu.items
    (help_text,) = rc.find(v.Html, class_="crowd-sweep-outcome-help").widgets
    assert help_text.children == [f"peak active (peak_active): {app_text.metric_help('peak_active')}"]
    (constant,) = rc.find(v.Html, class_="crowd-sweep-constant").widgets
    assert "civilians = 1120" in constant.children[0]
    menu.v_model = "no such outcome"  # a text the menu does not offer changes nothing
    assert session.metric.value in (None, "peak_active")
    other = next(item for item in menu.items if not item.endswith("(peak_active)"))
    menu.v_model = other
    assert outcome_text_of(session.metric.value) == other


def outcome_text_of(name: str) -> str:
    return f"{app_text.metric_label(name)} ({name})"


def test_sweep_menus_ignore_values_they_do_not_offer(sweep):
    rc, session = sweep
    selects = {w.label: w for w in rc.find(v.Select).widgets}
    for label, bad in (("scenario", "/etc/passwd"), ("parameter", "ratio_rule"), ("parameter", "__class__"),
                       ("second parameter (heatmap)", "nope")):
        before = selects[label].v_model
        selects[label].v_model = bad
        selects = {w.label: w for w in rc.find(v.Select).widgets}
        assert selects[label].v_model in (before, bad)  # the widget may echo it; the page does not use it
    (plan,) = [t for t in _alerts(rc) if t.startswith("Plan:")]
    assert "5 points × 4 replications = 20 runs" in plan
    (workers,) = [w for w in rc.find(v.Slider).widgets if w.label.startswith("worker processes")]
    workers.v_model = 10**6
    assert any("worker processes: 1000000 is not allowed" in t for t in _alerts(rc))
    assert rc.find(v.Btn, children=["Run sweep"]).widget.disabled


def test_the_cancellable_pool_returns_results_and_a_dead_worker_fails_its_run():
    import math
    import os
    from concurrent.futures.process import BrokenProcessPool

    done = []
    pool = app.CancellablePool(1, on_done=lambda: done.append(1))
    try:
        assert pool.submit(math.factorial, 5).result(timeout=60) == 120
        with pytest.raises(BrokenProcessPool):
            pool.submit(os._exit, 1).result(timeout=60)  # the worker dies: the run fails, nothing hangs
        assert len(done) == 2
    finally:
        pool.shutdown()


def test_add_site_keeps_maps_in_memory_by_content_and_bounded():
    from crowd_model import site as site_module

    text = "\n".join(["SSOOSS", "S#GG#S", "..CC..", "AAAAAA", "EEEEEE"])
    key = site_module.add_site(text, label="'drill.txt'")
    assert key == site_module.add_site(text) and key.startswith(site_module.IN_MEMORY_PREFIX)
    assert site_module.load_site(key).name == key and site_module.load_site(key).width == 6
    with pytest.raises(app.InputError, match="site 'bad.txt': unknown symbol"):
        site_module.add_site("AAX\nEEG", label="'bad.txt'")
    for i in range(site_module.IN_MEMORY_KEEP + 3):
        site_module.add_site(text + "\nEEEEEE" * (i + 1))  # distinct maps
    assert len(site_module._IN_MEMORY) == site_module.IN_MEMORY_KEEP
