"""The app's message catalogues (locales/en.toml, locales/id.toml): complete, and the same in both."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import app_text
from app_text import LANGUAGES, MissingTextWarning, catalogue, load_file, placeholders, text
from crowd_model.render import CELL_CATEGORIES
from crowd_model.world import STATE_NAMES
from crowd_model.model import TIMESERIES_COLUMNS
from crowd_model.outcomes import run_outcomes
from crowd_model.parameters import parameter_specs


@pytest.fixture(autouse=True)
def no_silent_fallback():
    """The English fallback is an error here: a missing Indonesian text fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingTextWarning)
        yield


def outcome_names() -> list[str]:
    steps = 5
    columns = {"step": np.arange(steps), **{c: np.zeros(steps) for c in TIMESERIES_COLUMNS}}
    return list(run_outcomes(pd.DataFrame(columns), crowd=10, outburst_threshold=1))


def test_both_catalogues_hold_the_same_keys():
    english, indonesian = catalogue("en"), catalogue("id")
    assert sorted(set(english) - set(indonesian)) == [], "English texts without an Indonesian text"
    assert sorted(set(indonesian) - set(english)) == [], "Indonesian texts without an English key"


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_no_text_is_empty(lang):
    assert [k for k, v in catalogue(lang).items() if not v.strip()] == []


def test_placeholders_are_the_same_in_both_languages():
    english, indonesian = catalogue("en"), catalogue("id")
    differ = {k: (placeholders(english[k]), placeholders(indonesian[k]))
              for k in english if placeholders(english[k]) != placeholders(indonesian.get(k, english[k]))}
    assert differ == {}


def test_english_parameter_texts_come_from_the_specs_not_the_file():
    assert not any(k.startswith("param.") for k in load_file(app_text.LOCALES / "en.toml"))
    for spec in parameter_specs():
        assert text(f"param.{spec.name}.help", "en") == spec.help
        assert text(f"param.{spec.name}.label", "en") == spec.name
        assert list(app_text.choices(spec, "en").values()) == list(spec.choices or ())
        assert list(app_text.choices(spec, "id").values()) == list(spec.choices or ())


def test_every_preset_has_its_description_in_both_languages():
    from crowd_model.scenario import load_scenario, preset_names

    assert not any(k.startswith("scenario.") for k in load_file(app_text.LOCALES / "en.toml"))
    for name in preset_names():
        description = load_scenario(name).description
        assert app_text.scenario_description(name, description, "en") == description
        assert app_text.scenario_description(name, description, "id") != description, name
    assert app_text.scenario_description("my-file", "mine", "id") == "mine"  # not shipped: its own text


def test_every_parameter_has_its_indonesian_label_and_help():
    indonesian = catalogue("id")
    missing = [f"param.{s.name}.{part}" for s in parameter_specs() for part in ("label", "help")
               if f"param.{s.name}.{part}" not in indonesian]
    assert missing == [], "add these to locales/id.toml"
    missing = [f"choice.{s.name}.{c}" for s in parameter_specs() for c in s.choices or ()
               if f"choice.{s.name}.{c}" not in indonesian]
    assert missing == [], "add these to locales/id.toml"
    stale = {k.split(".")[1] for k in indonesian if k.startswith(("param.", "choice."))} - {s.name for s in parameter_specs()}
    assert stale == set(), "Indonesian texts of parameters that no longer exist"


def test_every_group_and_unit_has_its_text():
    for spec in parameter_specs():
        for lang in LANGUAGES:
            assert app_text.group(spec.group, lang)
            assert spec.unit == "" or app_text.unit(spec.unit, lang)


def test_every_category_state_column_and_outcome_has_its_text():
    for lang in LANGUAGES:
        for name in CELL_CATEGORIES:
            assert app_text.category(name, lang)
        for name in STATE_NAMES:
            assert app_text.state(name, lang)
        for name in ("step", *TIMESERIES_COLUMNS, *outcome_names()):
            assert app_text.metric_label(name, lang)
            assert app_text.metric_help(name, lang)


def test_the_doctrine_and_glossary_terms_are_used():
    assert text("state.violent", "id") == "anarkis"
    assert text("state.arrested", "id") == "ditangkap"
    assert text("button.play", "id").lower() == "jalankan"
    assert text("button.pause", "id").lower() == "jeda"
    assert text("button.reset", "id").lower() == "ulang"
    assert text("category.linmas", "id").startswith("Linmas")
    assert text("category.dalmas_awal", "id").startswith("Dalmas Awal")
    assert text("category.dalmas_lanjut", "id").startswith("Dalmas Lanjut")
    assert text("category.phh", "id").startswith("PHH")
    assert text("category.snatch_team", "id") == "tim penindak"


def test_fields_are_filled_in_and_a_missing_indonesian_text_warns():
    assert text("control.speed", "id", speed=10) == "kecepatan: 10 langkah per detik"
    assert text("control.speed", "xx", speed=3) == "speed: 3 steps per second"  # unknown language: English
    app_text.catalogue.cache_clear()
    try:
        del app_text.catalogue("id")["button.play"]
        with pytest.warns(MissingTextWarning):
            assert text("button.play", "id") == "Play"
    finally:
        app_text.catalogue.cache_clear()
    with pytest.raises(KeyError):
        text("no.such.key", "en")


def test_a_said_text_is_shown_in_the_language_of_the_page():
    message = app_text.say("message.not_changed", "en", error="seed: -3 is not allowed")
    assert message == "Not changed: seed: -3 is not allowed" and message.startswith("Not changed")
    assert app_text.shown(message, "id") == "Tidak diubah: seed: -3 is not allowed"
    assert app_text.shown(app_text.shown(message, "id"), "en") == "Tidak diubah: seed: -3 is not allowed"  # a plain str stays
    nested = app_text.say("sweep.outcome_help", "en", metric="x", help=app_text.say("metric.left.help"))
    assert app_text.shown(nested, "id") == "x: massa yang sudah pulang (meninggalkan lokasi)"
    assert app_text.shown("plain", "id") == "plain" and app_text.shown(None, "id") is None


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z_]+", text.lower()))


def test_parameter_values_are_shown_in_indonesian_in_menus_and_help_texts():
    """A menu parameter's values (the English names files and the CLI use) have Indonesian
    display texts, and the Indonesian help names them by those texts, not by the English values."""
    indonesian = catalogue("id")
    for spec in parameter_specs():
        for choice in spec.choices or ():
            shown = indonesian[f"choice.{spec.name}.{choice}"]
            assert choice not in _words(shown), (spec.name, choice, shown)
            head = shown.split(" (")[0]
            if re.search(rf"\b{choice}\b\s*[:(]", spec.help):  # the English help explains the value: so does the Indonesian, by its text
                assert head in indonesian[f"param.{spec.name}.help"], (spec.name, head)
        leftover = {c for c in spec.choices or ()} & _words(indonesian[f"param.{spec.name}.help"])
        assert not leftover, (spec.name, leftover)


def test_response_b_is_titled_with_the_values_in_the_pages_language():
    import app

    changes = {"response_policy": "immediate", "pushback": False, "water_cannons": 0}
    assert app.changes_text(changes, "en") == "response_policy = immediate, pushback = no, water_cannons = 0"
    assert app.changes_text(changes, "id") == ("kebijakan penanganan = langsung (kekuatan penuh), dorong mundur = tidak, "
                                              "jumlah water cannon = 0")
    assert app_text.value(app.SPECS["legitimacy"], 0.8, "id") == "0.8"
