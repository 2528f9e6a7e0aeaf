"""The Solara app's components, rendered without a browser (solara.render)."""

from __future__ import annotations

import io
import time

import ipyvuetify as v
import numpy as np
import pandas as pd
import pytest
from PIL import Image

solara = pytest.importorskip("solara")

import app  # noqa: E402
from crowd_model.render import CELL_CATEGORIES  # noqa: E402
from crowd_model.world import STATE_NAMES  # noqa: E402
from crowd_model.parameters import parameter_specs  # noqa: E402


def test_every_category_has_its_own_colour_and_legend_text():
    assert set(app.CATEGORY_STYLE) == set(CELL_CATEGORIES)
    colours = [app.CATEGORY_STYLE[c][0].lower() for c in CELL_CATEGORIES]
    assert len(set(colours)) == len(colours)
    assert app.PALETTE.shape == (len(CELL_CATEGORIES), 3)


def test_grid_png_puts_x_right_and_y_up():
    codes = np.zeros((4, 3), np.uint8)
    codes[0, 0] = CELL_CATEGORIES.index("police")
    codes[3, 2] = CELL_CATEGORIES.index("violent")
    img = np.asarray(Image.open(io.BytesIO(app.grid_png(codes, pixels=40))).convert("RGB"))
    assert img.shape == (30, 40, 3)
    assert tuple(img[-1, 0]) == tuple(app.PALETTE[CELL_CATEGORIES.index("police")])
    assert tuple(img[0, -1]) == tuple(app.PALETTE[CELL_CATEGORIES.index("violent")])
    assert tuple(img[0, 0]) == tuple(app.PALETTE[0])


def test_every_parameter_gets_a_control_and_bounded_numbers_a_slider():
    for spec in parameter_specs():
        kind = app.control_kind(spec)
        if spec.choices:
            assert kind == "select"
        elif spec.type is bool:
            assert kind == "checkbox"
        elif spec.type is float and spec.low is not None and spec.high is not None:
            assert kind == "slider"
            assert (spec.high - spec.low) / app.slider_step(spec) >= 100


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


@pytest.fixture
def live():
    """A rendered live view and its session."""
    session = app.LiveSession("epstein")
    box, rc = solara.render(app.LiveView(session), handle_error=False)
    yield rc, session
    session.pause()
    rc.close()


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
    assert "seed" in session.message.value and "non-negative" in session.message.value


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
    states = charts.options[0]["series"]
    assert [s["name"] for s in states] == list(STATE_NAMES)
    assert all(len(s["data"]) == 4 for s in states)
    assert charts.outcomes["arrests_total"] == session.model.arrests_total
    assert {"calm", "police"} <= charts.present


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


def test_cancel_stops_a_sweep_and_keeps_finished_runs(sweep):
    rc, session = sweep
    experiment = app.sweep_experiment("epstein", 200, 20, 1, [("legitimacy", 0.6, 0.9, 10)])
    session.start(experiment, workers=1)
    deadline = time.time() + 60
    while session.status.value.done < 2 and time.time() < deadline:
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
