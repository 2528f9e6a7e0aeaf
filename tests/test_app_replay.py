"""The instructor's view: scrub bar, branch, comparison, exports, presenter mode (solara.render, no browser)."""

from __future__ import annotations

import io

import ipyvuetify as v
import numpy as np
import pytest
from PIL import Image

solara = pytest.importorskip("solara")

import app  # noqa: E402
from crowd_model.animation import decode_frame_count  # noqa: E402
from crowd_model.model import CrowdModel  # noqa: E402
from test_app import _click, live_view  # noqa: E402


@pytest.fixture
def live():
    yield from live_view("kpu-riot")


def _steps(session, n):
    shown = []
    for _ in range(n):
        session.step()
        shown.append(session.frame.value)
    return shown


def test_the_scrub_bar_shows_an_earlier_step_exactly_and_goes_on_from_it(live):
    rc, session = live
    shown = [session.frame.value] + _steps(session, 12)
    session.show_step(4)
    assert session.view_step.value == 4 and int(session.model.time) == 12
    frame = session.frame.value
    assert frame.step == 4 and frame.counts == shown[4].counts and frame.png == shown[4].png
    charts = session.charts.value
    assert all(len(values) == 5 for values in charts.series.values())
    assert charts.outcomes["peak_active"] == max(f.counts["active"] for f in shown[:5])
    assert "Showing step 4" in " ".join(str(w.children) for w in rc.find(v.Alert).widgets)
    session.show_step(12)
    assert session.view_step.value is None and session.frame.value.counts == shown[12].counts
    session.show_step(7)
    session.step()  # goes on from step 7: the steps after it are dropped
    assert int(session.model.time) == 8 and session.view_step.value is None
    straight = CrowdModel(session.model.parameters, rng=session.seed.value)
    for _ in range(8):
        straight.step()
    assert session.model.timeseries().equals(straight.timeseries())
    assert session.frame.value.png == shown[8].png


def test_the_scrub_bar_refuses_steps_not_run(live):
    rc, session = live
    _steps(session, 3)
    session.show_step(9)
    assert "step: 9 is not allowed" in session.message.value and session.view_step.value is None
    session.show_step("2")
    assert session.view_step.value is None


def test_a_branch_runs_two_models_side_by_side(live):
    rc, session = live
    _steps(session, 5)
    session.set_compare_change("water_cannons", 0)
    session.set_compare_change("arrest_policy", "indiscriminate")
    _click(rc, "Branch at the step shown")
    assert session.second is not None and session.compared.value[0] == 5
    assert session.second.parameters.water_cannons == 0 and session.model.parameters.water_cannons == 1
    _steps(session, 3)
    assert int(session.model.time) == int(session.second.time) == 8
    assert session.frame_b.value.step == 8
    rc.find(attributes={"class": "crowd-counts-b"}).assert_single()
    difference = session.charts.value.difference
    assert set(difference) >= {"active", "violent"} and all(len(d) == 4 for d in difference.values())
    a, b = session.model.datacollector.model_vars, session.second.datacollector.model_vars
    assert difference["active"][-1] == b["active"][-1] - a["active"][-1]
    assert a["active"][:6] == b["active"][:6]
    before = session.second.timeseries().iloc[:8]
    session.show_step(6)  # back to after the branch (B's own snapshot at 5): both go on from there, as before
    session.step()
    assert int(session.model.time) == int(session.second.time) == 7
    assert session.second.timeseries().equals(before) and session.first_step() == 5


def test_a_branch_refuses_officers_and_compare_from_the_start_takes_them(live):
    rc, session = live
    _steps(session, 2)
    session.set_compare_change("police_officers", 100)
    session.branch_here()
    assert session.second is None and "police_officers cannot change mid-run" in session.message.value
    _click(rc, "Compare from the start")
    assert int(session.model.time) == 0 and session.second is not None
    a, b = session.model, session.second
    assert b.officers == a.officers - 50
    crowd = slice(0, a.n_civilians)
    np.testing.assert_array_equal(a.world.hardship[crowd], b.world.hardship[crowd])
    np.testing.assert_array_equal(a.world.x[crowd], b.world.x[crowd])
    title = rc.find(v.Html, class_="crowd-title-b")
    title.assert_single()
    assert "police_officers = 100" in str(title.widget.children)
    _click(rc, "Stop comparing")
    assert session.second is None and session.frame_b.value is None


def test_exports_hold_the_run_so_far(live):
    rc, session = live
    _steps(session, 6)
    png = Image.open(io.BytesIO(session.map_png()))
    assert png.format == "PNG" and png.size[0] >= 600
    assert decode_frame_count(session.animation("gif"), "gif") == 7
    session.show_step(3)
    assert decode_frame_count(session.animation("mp4"), "mp4") == 4
    session.show_step(6)
    session.set_compare_change("pushback", False)
    session.branch_here()
    _steps(session, 2)
    both = Image.open(io.BytesIO(session.map_png()))
    assert both.size[0] == 2 * app.live_pixels(session.history.shape, 2) + 10  # as the live view shows two
    assert decode_frame_count(session.animation("gif"), "gif") == 3  # from the branch on


def test_charts_offer_save_as_image_and_the_clock_shows_minutes(live):
    rc, session = live
    _steps(session, 2)
    option = app.chart_options(session.charts.value.series)[0]
    assert "saveAsImage" in option["toolbox"]["feature"]
    counts = rc.find(attributes={"class": "crowd-counts"}).widget.unsafe_innerHTML
    assert 'data-name="minutes"' in counts


def test_the_map_is_drawn_at_the_size_it_is_shown_at_1920_by_1080(live):
    rc, session = live
    # beside the controls one map fills its column less the log beside it: 11 pixels a cell
    assert Image.open(io.BytesIO(session.frame.value.png)).size == (1100, 660)
    assert app.live_pixels((100, 60)) == 1100 and app.live_pixels((100, 60), 2) == 700
    assert app.live_pixels((40, 40)) == 640  # a square grid: as tall as the box
    session.set_compare_change("pushback", False)
    session.branch_here()  # two maps share the column
    assert Image.open(io.BytesIO(session.frame.value.png)).size == (700, 420)
    assert Image.open(io.BytesIO(session.frame_b.value.png)).size == (700, 420)


def test_presenter_mode_hides_the_controls_and_sets_the_numbers_over_the_map(live):
    rc, session = live
    rc.find(v.Btn, class_="crowd-presenter-on").widget.click()
    assert session.presenter.value
    rc.find(v.Html, class_="crowd-presenter").assert_single()
    assert not rc.find(v.Btn, children=["Reset"]).widgets
    assert rc.find(v.Html, class_="crowd-map-head").widgets
    assert rc.find(v.Html, class_="crowd-presenter-side").widgets  # the log and the legend beside the map
    size = Image.open(io.BytesIO(session.frame.value.png)).size  # drawn at the projector's size
    assert size == (1500, 900) and app.presenter_pixels((100, 60)) == 1500  # 15 pixels a cell in 1500×920
    session.step()
    assert Image.open(io.BytesIO(session.frame.value.png)).size == (1500, 900)
    session.set_compare_change("pushback", False)
    session.branch_here()  # two maps share the width, above their logs
    assert Image.open(io.BytesIO(session.frame_b.value.png)).size == (800, 480)
    rc.find(v.Btn, class_="crowd-presenter-off").widget.click()
    assert rc.find(v.Btn, children=["Reset"]).widgets
    assert Image.open(io.BytesIO(session.frame.value.png)).size[0] == 700  # beside the controls again, two maps


def test_the_tactics_panel_lists_the_tactics_from_their_specs():
    assert app.TACTICS[:0] == () and {"water_cannons", "pushback", "police_officers", "arrest_policy"} <= set(app.TACTICS)
    assert all(name in app.SPECS for name in app.TACTICS)


def test_while_comparing_each_response_has_its_own_event_log(live):
    rc, session = live
    session.set_compare_change("water_cannons", 0)
    _click(rc, "Compare from the start")
    shots = {"A": False, "B": False}
    for _ in range(65):  # kpu-riot's first shot, seed 42: step 61
        session.step()
        shots["A"] |= any(line.event == "water_cannon_shot" for line in session.frame.value.log)
        shots["B"] |= any(line.event == "water_cannon_shot" for line in session.frame_b.value.log)
    assert shots == {"A": True, "B": False}  # B has no water cannon: its log never says one fired
    frame_b = session.frame_b.value
    assert frame_b.log and frame_b.log != session.frame.value.log
    html_b = rc.find(attributes={"class": "crowd-log-b crowd-log-lines"}).widget.unsafe_innerHTML
    assert html_b == app.log_html(frame_b)
    titles = [str(w.children) for w in rc.find(v.Html, class_="crowd-log-title").widgets]
    assert any("Event log A" in title for title in titles) and any("Event log B" in title for title in titles)
    session.show_step(30)  # the scrub bar takes B's log back too
    assert session.frame_b.value.log == tuple(session.second_history.log_as_of(30)[0])
    assert all(line.step <= 30 for line in session.frame_b.value.log)


def test_a_branch_shares_the_log_up_to_it_and_goes_its_own_way(live):
    rc, session = live
    _steps(session, 30)
    before = session.frame.value.log
    session.set_compare_change("response_policy", "passive")
    session.branch_here()
    assert session.second is not None
    assert session.frame_b.value.log == before  # the shared story, up to the branch
    _steps(session, 10)
    a, b = session.frame.value.log, session.frame_b.value.log
    assert [line for line in b if line.step <= 30] == [line for line in a if line.step <= 30][:len(
        [line for line in b if line.step <= 30])]
    assert session.second_history.bytes == sum(session.second_history.sizes.values())


def test_the_replay_memory_bound_counts_the_event_log(live, monkeypatch):
    rc, session = live
    _steps(session, 30)
    history = session.history
    maps = sum(len(data) for data in history.frames.values())
    logs = sum(app.log_bytes(lines) for lines in history.log.values())
    marks = sum(app.marks_bytes(m) for m in history.marks.values())
    assert logs > 0 and history.bytes == maps + logs + marks
    assert set(history.sizes) == set(history.frames) == set(history.log) == set(range(31))
    cap = history.bytes // 2
    monkeypatch.setattr(app, "MAX_STEP_BYTES", cap)
    session.reset()
    _steps(session, 30)
    history = session.history
    assert history.bytes <= cap and history.first > 0  # the oldest steps went, their log lines with them
    assert set(history.log) == set(history.frames) == set(history.sizes)
    assert history.bytes == sum(len(history.frames[s]) + app.log_bytes(history.log[s]) + app.marks_bytes(history.marks[s])
                                for s in history.sizes)
    assert all(line.step >= history.first for line in session.frame.value.log)


def test_a_branch_without_changes_tells_the_same_story_as_a(live):
    """The same state and random stream: B's log is A's, line for line, after the branch too
    (its next water-cannon shot is not 'the first time' again)."""
    rc, session = live

    def shots(frame):
        return [line.step for line in frame.value.log if line.event == "water_cannon_shot"]

    _step_until(session, lambda: shots(session.frame))  # A's first shot
    session.branch_here()
    first = max(shots(session.frame))
    _step_until(session, lambda: max(shots(session.frame), default=first) > first)  # A's next shot
    assert max(shots(session.frame_b), default=first) == max(shots(session.frame)) > first
    assert [str(line.said) for line in session.frame_b.value.log] == [str(line.said) for line in session.frame.value.log]


def _step_until(session, condition, limit=200):
    for _ in range(limit):
        session.step()
        if condition():
            return
    pytest.fail(f"not within {limit} steps")


def test_playing_draws_the_charts_legend_and_scrub_bar_without_a_render_of_the_page(live):
    """A render walks the whole page (every parameter control): 0.6-1 s on a busy machine, once a
    second while playing, which halved the frame rate. The play loop's chart updates draw the
    charts, legend and scrub bar straight into their widgets."""
    rc, session = live
    _steps(session, 2)
    session.playing.value = True  # as the play loop runs (without its thread)
    before = rc.render_count
    with session.lock:
        session.model.step()
        session._publish(charts=True)
    assert rc.render_count == before
    (bar,) = [w for w in rc.find(v.Slider).widgets if str(w.label).startswith("step shown")]
    assert (bar.v_model, bar.max, bar.label) == (3, 3, "step shown: 3 of 3 (3 min)")
    charts = [w for w in rc.find(app.EchartsWidget).widgets if w.attributes.get("class") == "crowd-chart"]
    assert charts and len(charts[0].option["xAxis"]["data"]) == 4  # steps 0..3
    legend = rc.find(solara.widgets.HTML, attributes={"class": "crowd-legend"}).widget
    assert 'data-name="water_cannon" data-present="1"' in legend.unsafe_innerHTML
    session.playing.value = False
    session.head.value = 3  # as the loop ends: the bar is drawn again (a render) at the latest step
    (bar,) = [w for w in rc.find(v.Slider).widgets if str(w.label).startswith("step shown")]
    assert (bar.v_model, bar.max) == (3, 3)


def test_exports_are_drawn_at_the_size_of_the_live_map(live, tmp_path):
    """They were drawn at 640 pixels while the live map is 1100 wide: too small for a slide."""
    import imageio.v3 as iio

    rc, session = live
    _steps(session, 2)
    width = app.live_pixels(session.history.shape)
    assert width == 1100  # kpu-riot's 100 x 60 cells, 11 pixels each
    assert Image.open(io.BytesIO(session.map_png())).size[0] == width
    for fmt in ("gif", "mp4"):
        path = tmp_path / f"run.{fmt}"
        path.write_bytes(session.animation(fmt))
        first = next(iter(iio.imiter(path, plugin="FFMPEG" if fmt == "mp4" else None)))
        assert first.shape[1] == width and first.shape[0] >= 660, (fmt, first.shape)


def test_an_animation_holds_no_more_frames_than_its_memory_bound(live, monkeypatch):
    rc, session = live
    _steps(session, 5)
    monkeypatch.setattr(app, "MAX_EXPORT_BYTES", 3 * 2_400_000)  # three 1100-pixel frames
    assert session.export_frames() == 3
    assert decode_frame_count(session.animation("gif"), "gif") == 3  # the latest three
