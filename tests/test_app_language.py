"""The app's language switch (English / Bahasa Indonesia), rendered without a browser (solara.render)."""

from __future__ import annotations

import json
import warnings

import ipyvuetify as v
import pytest

solara = pytest.importorskip("solara")

import app  # noqa: E402
import app_text  # noqa: E402
from app_text import MissingTextWarning  # noqa: E402


@pytest.fixture(autouse=True)
def no_silent_fallback():
    """A text missing from a catalogue fails these tests instead of showing English."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingTextWarning)
        yield
    app.LANGUAGE.set(app_text.DEFAULT_LANGUAGE)


@solara.component
def _LiveWithMenu(session):
    app.LanguageMenu()
    app.LiveView(session)


@pytest.fixture
def live():
    session = app.LiveSession("epstein")
    box, rc = solara.render(_LiveWithMenu(session), handle_error=False)
    yield rc, session
    session.pause()
    rc.close()


def _texts(rc) -> str:
    """Every label, text, button, alert and HTML snippet on the page, as one string."""
    parts, seen = [], set()

    def walk(widget):
        if id(widget) in seen:
            return
        seen.add(id(widget))
        for attribute in ("label", "v_model", "unsafe_innerHTML", "description", "value"):
            value = getattr(widget, attribute, None)
            if isinstance(value, str):
                parts.append(value)
        option = getattr(widget, "option", None)  # an ECharts figure: its titles and series names
        if isinstance(option, dict):
            parts.append(json.dumps(option, ensure_ascii=False))
        for attribute in ("children", "tabs"):
            children = getattr(widget, attribute, None)
            if isinstance(children, (list, tuple)):
                for child in children:
                    if isinstance(child, str):
                        parts.append(child)
                    elif child is not None:
                        walk(child)
        for slot in getattr(widget, "v_slots", None) or []:
            if isinstance(slot, dict) and slot.get("children") is not None:
                for child in slot["children"] if isinstance(slot["children"], list) else [slot["children"]]:
                    walk(child)

    walk(rc.container)
    return "\n".join(parts)


def _choose_language(rc, name):
    menu = rc.find(v.Select, label=app.t("language.menu"))
    menu.assert_single()
    menu.widget.v_model = name


def _click(rc, label):
    button = rc.find(v.Btn, children=[label])
    button.assert_single()
    button.widget.click()


def test_the_menu_turns_the_live_view_into_bahasa_indonesia_and_back(live):
    rc, session = live
    _click(rc, "Step")
    session.set_parameter("legitimacy", 2.0)  # refused: a message
    english = _texts(rc)
    for shown in ("Play", "Pause", "Reset", "violent", "arrested", "Civilians by state", "Parameters: behaviour",
                  "legitimacy = 0.82", "Not changed: legitimacy: 2.0 is not allowed; expected a number in [0, 1]",
                  app.SPECS["legitimacy"].help):
        assert shown in english, shown

    _choose_language(rc, "Bahasa Indonesia")
    assert app.LANGUAGE.value == "id"
    indonesian = _texts(rc)
    for shown in ("Jalankan", "Jeda", "Langkah", "Ulang", "anarkis", "ditangkap", "berunjuk rasa",
                  "Massa menurut keadaan", "Parameter: perilaku", "Parameter: pengamanan", "legitimasi = 0.82",
                  app_text.param_help("legitimacy", "id"), "kecepatan: 10 langkah per detik",
                  "Tidak diubah: legitimasi: 2.0 tidak diizinkan; yang diizinkan: bilangan dalam [0, 1]", "Bahasa",
                  app_text.text("scenario.epstein.description", "id")):
        assert shown in indonesian, shown
    for gone in ("Play", "Civilians by state", "Parameters: behaviour", "Not changed", "civil protection", "not allowed"):
        assert gone not in indonesian, gone
    counts = rc.find(attributes={"class": "crowd-counts"}).widget.unsafe_innerHTML
    assert "berunjuk rasa" in counts and 'data-name="active"' in counts  # the big numbers too, at once

    _choose_language(rc, "English")  # and back, the message too
    assert "Jalankan" not in _texts(rc) and "Not changed: legitimacy: 2.0 is not allowed" in _texts(rc)
    _choose_language(rc, "Bahasa Indonesia")

    # the tactics panel's, response B's and the security panel's: the first is the tactics panel's
    policy = [w for w in rc.find(v.Select).widgets if w.label == "kebijakan penangkapan"]
    assert len(policy) == 3 and "tanpa pandang bulu (siapa pun yang terlibat)" in policy[0].items
    policy[0].v_model = "tanpa pandang bulu (siapa pun yang terlibat)"  # a menu in Indonesian sets the value's name
    assert session.overrides.value["arrest_policy"] == "indiscriminate"

    _click(rc, "Langkah")  # the buttons still work in Indonesian
    assert int(session.model.time) == 2
    _choose_language(rc, "English")
    texts = _texts(rc)
    assert "Jalankan" not in texts and "Play" in texts and "indiscriminate" in texts


def test_a_language_the_menu_does_not_offer_changes_nothing(live):
    rc, _ = live
    _choose_language(rc, "Klingon")
    assert app.LANGUAGE.value == "en"
    assert app_text.language("../../etc/passwd") == "en"


def test_changed_parameters_note_and_compile_notice_in_indonesian(live):
    rc, session = live
    app.LANGUAGE.set("id")
    session.set_parameter("legitimacy", 0.5)
    assert "Parameter yang diubah berlaku setelah Ulang." in _texts(rc)
    session.notice.value = app_text.say("message.compiling")
    assert app_text.text("message.compiling", "id") in _texts(rc)


@pytest.fixture
def indonesian_sweep_page():
    """The sweep page rendered in Bahasa Indonesia: (render context, session)."""
    app.LANGUAGE.set("id")
    session = app.SweepSession()
    box, rc = solara.render(app.SweepView(session), handle_error=False)
    yield rc, session
    rc.close()


def test_sweep_page_texts_follow_the_language(indonesian_sweep_page):
    rc, _ = indonesian_sweep_page
    texts = _texts(rc)
    for shown in ("Jalankan sapuan", "Batal", "langkah per simulasi", "ulangan", "Rencana:", "proses pekerja"):
        assert shown in texts, shown
    assert "Run sweep" not in texts and "Plan:" not in texts


def test_sweep_page_names_parameters_and_their_ranges_in_the_pages_language(indonesian_sweep_page):
    """The parameter menus showed bare names and the allowed range was English ("a number in")."""
    rc, _ = indonesian_sweep_page
    shown = f"{app_text.param_label('legitimacy', 'id')} (legitimacy)"
    (first,) = [w for w in rc.find(v.Select).widgets if w.label == app_text.text("sweep.parameter", "id")]
    assert first.v_model == shown and shown in first.items
    assert f"{app_text.param_label('officer_density', 'id')} (officer_density)" in first.items
    texts = _texts(rc)
    assert "bilangan dalam [0, 1]" in texts and "a number in" not in texts
    first.v_model = f"{app_text.param_label('citizen_vision', 'id')} (citizen_vision)"
    texts = _texts(rc)
    assert f"{app_text.param_label('citizen_vision', 'id')} (citizen_vision) dari" in texts
    assert "bilangan bulat" in texts


def test_sweep_results_name_outcomes_in_the_pages_language(indonesian_sweep_page):
    """The constant outcomes were listed by their English column names on an Indonesian page."""
    rc, session = indonesian_sweep_page
    try:
        session.start(app.sweep_experiment("epstein", 20, 2, 1, [("legitimacy", 0.6, 0.9, 3)]), workers=1)
        session.wait(120)
        (constant,) = rc.find(v.Html, class_="crowd-sweep-constant").widgets
        assert f"{app_text.metric_label('civilians', 'id')} = 1120" in constant.children[0]
        assert "civilians" not in constant.children[0]
        (menu,) = [w for w in rc.find(v.Select).widgets if w.label == app_text.text("sweep.outcome", "id")]
        assert f"{app_text.metric_label('peak_active', 'id')} (peak_active)" in menu.items
        texts = _texts(rc)
        assert "1 proses pekerja" in texts and "process pool" not in texts  # the summary's executor
        (second,) = [w for w in rc.find(v.Select).widgets if w.label == app_text.text("sweep.second_parameter", "id")]
        assert second.v_model == "(tidak ada)" and "(none)" not in second.items
        second.v_model = "(tidak ada)"  # chosen again: still no second parameter
        assert "(tidak ada)" in [w.v_model for w in rc.find(v.Select).widgets]
    finally:
        session.cancel()
        session.wait()


@solara.component
def _Stand_in():
    solara.Text("stand-in")


def test_the_tabs_and_title_follow_the_language(monkeypatch):
    monkeypatch.setattr(app, "LiveView", _Stand_in)
    monkeypatch.setattr(app, "SweepView", _Stand_in)
    box, rc = solara.render(app.Page(), handle_error=False)
    try:
        assert "Live view" in _texts(rc)
        _choose_language(rc, "Bahasa Indonesia")
        texts = _texts(rc)
        assert "Tampilan langsung" in texts and "Sapuan parameter" in texts and "Live view" not in texts
    finally:
        rc.close()


def test_refusals_are_said_in_the_pages_language():
    """Refusals were English f-strings in the app's code whatever the page's language."""
    cases = [
        lambda: app.checked_int(app_text.say("sweep.replications"), 0, 1, 10),
        lambda: app.read_uploaded_map("peta.txt", b"\xff\xfe"),
        lambda: app.read_uploaded_map("peta.txt", b"W\x07W"),
        lambda: app.range_values(app.SPECS["legitimacy"], 0.9, 0.5, 3),
        lambda: app.range_values(app.SPECS["legitimacy"], 0.5, 1.5, 3),
        lambda: app.lhs_experiment("epstein", 10, 1, 1, 5, [("legitimacy", 0.9, 0.5)]),
        lambda: app.plan_runs(app.sweep_experiment("epstein", 10, app.SWEEP_MAX_REPLICATIONS, 1,
                                                   [("legitimacy", 0.1, 0.9, app.SWEEP_MAX_POINTS)])),
    ]
    for case in cases:
        with pytest.raises(app.InputError) as refused:
            case()
        said = app_text.error_text(refused.value)
        assert isinstance(said, app_text.Said), said
        english, indonesian = app_text.shown(said, "en"), app_text.shown(said, "id")
        assert english == str(refused.value) and indonesian != english
        for word in (" is not ", " must ", " has more ", "the plan", "a map"):
            assert word not in indonesian, indonesian


def test_the_models_own_refusals_are_said_in_the_pages_language(live):
    """A map or a crowd the model refused was explained in English on an Indonesian page."""
    rc, session = live
    for data, english, indonesian in [
        ("AAA\nEEG\nAA\n", "rows must be equal", "semua baris harus sama panjang"),
        ("CCC\nAAA\nEEE\n", "the map needs a gate (G)", "peta memerlukan gerbang (G)"),
    ]:
        session.upload_map("peta.txt", data.encode())
        message = session.message.value
        assert english in app_text.shown(message, "en")
        assert indonesian in app_text.shown(message, "id") and english not in app_text.shown(message, "id")
    small = "\n".join(["SSOOSS", "S#GG#S", "..CC..", "AAAAAA", "AAAAAA", "EEEEEE"]) + "\n"
    session.upload_map("kecil.txt", small.encode())
    session.set_parameter("crowd_size", 100)
    _click(rc, "Reset")
    message = session.message.value
    assert "does not fit the 12 assembly cells" in app_text.shown(message, "en")
    assert "tidak muat di 12 sel area berkumpul" in app_text.shown(message, "id")
    _choose_language(rc, "Bahasa Indonesia")
    assert "tidak muat di 12 sel area berkumpul" in _texts(rc)
