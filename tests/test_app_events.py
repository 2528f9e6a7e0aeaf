"""The instructor's view: the event log, the banner and the chart markers (app_events, app;
solara.render, no browser)."""

from __future__ import annotations

import warnings

import pytest

solara = pytest.importorskip("solara")

import app  # noqa: E402
import app_events  # noqa: E402
from app_events import clock, step_lines  # noqa: E402
from app_text import MissingTextWarning, shown  # noqa: E402
from test_app import live_view  # noqa: E402


@pytest.fixture(autouse=True)
def no_silent_fallback():
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingTextWarning)
        yield


def rec(event, detail="", unit="", x=-1, y=-1, agent=-1, step=36):
    return {"step": step, "event": event, "x": x, "y": y, "unit": unit, "agent": agent, "detail": detail}


def texts(lines, lang="en"):
    return [shown(line.said, lang) for line in lines]


def test_the_clock_starts_at_noon_and_counts_minutes():
    assert app_events.MINUTES_PER_STEP == 1.0
    assert (clock(0), clock(36), clock(125), clock(24 * 60)) == ("12:00", "12:36", "14:05", "12:00")


def test_noisy_events_are_counted_into_one_line_each():
    records = ([rec("stone_thrown", "violent")] * 37 + [rec("stone_hit", "5")] * 5 + [rec("damage", "3")] * 4
               + [rec("going_home", "fatigue_and_fear")] * 9 + [rec("going_home", "korlap_call")] * 50
               + [rec("arrest", "supporter", "dalmas_lanjut")] * 3 + [rec("injury", "water_cannon")] * 2
               + [rec("injury", "stone", "tni")] + [rec("evacuation", "0")] * 2)
    lines = step_lines(records, 36)
    assert all(line.step == 36 for line in lines)
    assert sorted(texts(lines)) == sorted([
        "37 stones thrown, 5 hit",
        "4 blows to fences, gate or facilities",
        "9 civilians go home, tired or afraid",  # those the korlap called are his call's line
        "3 supporters arrested by Dalmas Lanjut",
        "2 civilians injured (water cannon)",
        "1 TNI officer injured (stone)",
        "2 injured carried to the aid post",
    ])
    assert "37 batu dilempar, 5 mengenai petugas" in texts(lines, "id")
    assert "3 pendukung diamankan oleh Dalmas Lanjut" in texts(lines, "id")
    assert all(line.marker is None for line in lines)


def test_the_commanders_decisions_are_lines_of_their_own_with_markers_first():
    records = [rec("stone_thrown", "violent"), rec("water_cannon_shot", "14", agent=0),
               rec("arrest", "provocateur", "dalmas_lanjut"), rec("situation", "red"),
               rec("force_stage", "5 batons_and_chemical_means"), rec("gate_breach"),
               rec("korlap_call", "120"), rec("negotiation", "100%"), rec("line_advance", "2"),
               rec("handover", "lapis_ganti from dalmas_awal", "dalmas_lanjut"), rec("tear_gas", "11"), rec("water_cannon_shot", "3", agent=0)]
    lines = step_lines(records, 36)
    english = texts(lines)
    assert english[:2] == ["situation turns red", "force stage 5: batons and chemical means"]
    assert english.index("situation turns red") < english.index("1 stone thrown, 0 hit")  # the street's last
    for sentence in ("provocateur arrested by Dalmas Lanjut", "gate breached",
                     "korlap calls the crowd off: 120 followers go home", "korlap agrees to the negotiator's terms",
                     "the line advances one cell (2 in all)", "water cannon fires for the first time, 14 hit",
                     "water cannon fires, 3 hit", "tear gas fired, 11 in the cloud",
                     "lapis ganti: Dalmas Lanjut take over the line from Dalmas Awal"):
        assert sentence in english
    indonesian = texts(lines, "id")
    for sentence in ("situasi menjadi merah", "tahap kekuatan 5: senjata tumpul dan senjata kimia",
                     "provokator ditangkap oleh Dalmas Lanjut", "gerbang dijebol massa",
                     "lapis ganti: Dalmas Lanjut menggantikan Dalmas Awal di garis depan"):
        assert sentence in indonesian
    marked = {line.event: shown(line.marker, "en") for line in lines if line.marker is not None}
    assert marked == {"situation": "red", "force_stage": "stage 5", "gate_breach": "gate breached",
                      "korlap_call": "korlap call", "handover": "lapis ganti", "water_cannon_shot": "water cannon"}
    assert [line.marker is not None for line in lines if line.event == "water_cannon_shot"] == [True, False]
    later = step_lines([rec("water_cannon_shot", "3", agent=0)], 40, shots_before=2)
    assert later[0].marker is None  # not the first shot of the run


def test_an_event_the_log_does_not_know_is_still_shown():
    lines = step_lines([rec("handover", "relief_shift"), rec("new_event", "7")], 3)
    assert texts(lines) == ["handover: relief_shift", "new_event: 7"]
    assert shown(lines[0].marker, "en") == "handover"


STEPS = 65  # kpu-riot's crowd marches in: by this step the situation has turned red and the cannon fired
CLOCK = f"{12 + STEPS // 60}:{STEPS % 60:02d}"  # the log's clock starts at 12:00


@pytest.fixture
def live():
    yield from live_view("kpu-riot")


def _run(session, n):
    for _ in range(n):
        session.step()


def test_the_log_fills_newest_first_follows_the_scrub_bar_and_is_bounded(live):
    rc, session = live
    assert session.frame.value.log == ()
    assert "No events yet." in app.log_html(session.frame.value)
    logs = {}
    for step in range(1, STEPS + 1):
        session.step()
        logs[step] = session.frame.value.log
    frame = session.frame.value
    steps = [line.step for line in frame.log]
    assert steps == sorted(steps, reverse=True) and steps[0] == STEPS
    events = session.model.events()
    assert {line.event for line in frame.log} <= set(events["event"])
    red = next(line for log in logs.values() for line in log
               if line.event == "situation" and shown(line.said) == "situation turns red")
    assert red.step == int(events[(events.event == "situation") & (events.detail == "red")].step.iloc[0])
    html = rc.find(attributes={"class": "crowd-log crowd-log-lines"}).widget.unsafe_innerHTML
    assert f'data-step="{STEPS}"' in html and CLOCK in html
    session.show_step(12)  # the scrub bar: the log as it was at step 12
    assert session.frame.value.log == logs[12] and all(line.step <= 12 for line in logs[12])
    assert rc.find(attributes={"class": "crowd-log crowd-log-lines"}).widget.unsafe_innerHTML == app.log_html(
        session.frame.value)
    session.step()  # goes on from 12: the later lines are dropped
    assert max(line.step for line in session.frame.value.log) <= 13
    assert all(k <= 13 for k in session.history.log)
    lines = [line for s in range(1, 200) for line in step_lines([rec("tear_gas", "1", step=s)], s)]
    session.history.log = {line.step: [line] for line in lines}
    log, omitted = session.history.log_as_of(199)
    assert len(log) == app_events.LOG_LINES and omitted == 199 - app_events.LOG_LINES and log[0].step == 199


def test_the_banner_shows_the_situation_the_force_stage_and_the_time_in_both_languages(live):
    rc, session = live
    _run(session, STEPS)
    frame = session.frame.value
    situation = app.SITUATION_NAMES[frame.counts["situation"]]
    banner = rc.find(attributes={"class": "crowd-banner"}).widget.unsafe_innerHTML
    assert f'data-situation="{situation}"' in banner and f"situation {situation}" in banner
    stage = frame.counts["force_stage"]
    assert f"force stage {stage}: " in banner and f"{CLOCK} · minute {STEPS} · step {STEPS}" in banner
    app.LANGUAGE.set("id")
    try:
        indonesian = {"green": "hijau", "yellow": "kuning", "red": "merah"}[situation]
        banner = rc.find(attributes={"class": "crowd-banner"}).widget.unsafe_innerHTML
        assert f"situasi {indonesian}" in banner and f"tahap kekuatan {stage}" in banner
        assert f"menit ke-{STEPS} · langkah {STEPS}" in banner
        log = rc.find(attributes={"class": "crowd-log crowd-log-lines"}).widget.unsafe_innerHTML
        assert f"langkah {STEPS}" in log and "situasi menjadi" in log
        assert session.lang == "id"
    finally:
        app.LANGUAGE.set("en")
    epstein = app.Frame(3, b"", {"situation": 0, "force_stage": 0})
    assert "crowd-banner-situation" not in app.banner_html(epstein)  # no security response, no situation


def test_important_events_are_marked_on_the_charts(live):
    rc, session = live
    _run(session, STEPS)
    markers = session.charts.value.markers
    events = session.model.events()
    changes = events[events.event.isin(["situation", "force_stage"])]
    assert [m[0] for m in markers if shown(m[1]) in ("yellow", "red") or shown(m[1]).startswith("stage")] == \
        list(changes.step)
    first_shot = events[events.event == "water_cannon_shot"].step.min()
    assert (first_shot, "water cannon") in [(m[0], shown(m[1])) for m in markers]
    options = app.chart_options(session.charts.value.series, "id", markers)
    lines = options[0]["series"][0]["markLine"]["data"]
    assert [line["xAxis"] for line in lines] == sorted({m[0] for m in markers})  # one line a step
    red_step = changes[(changes.event == "situation") & (changes.detail == "red")].step.iloc[0]
    red = next(line["label"]["formatter"] for line in lines if line["xAxis"] == red_step)
    stage = changes[(changes.event == "force_stage") & (changes.step == red_step)].detail
    assert red.startswith("merah" + "".join(f" · tahap {d.split()[0]}" for d in stage))  # one step's markers,
    assert "lintas ganti" in red  # the handover's included, share a label
    session.show_step(5)
    assert all(m[0] <= 5 for m in session.charts.value.markers)
