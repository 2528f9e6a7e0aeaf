"""The app's texts in English and Bahasa Indonesia, from the message catalogues in ``locales/``.

``text(key, lang, **fields)`` gives one text with its ``{fields}`` filled in. The catalogues
are TOML tables (``locales/en.toml``, ``locales/id.toml``) flattened to dotted keys such as
``button.play`` or ``metric.peak_active.help``. Texts that have an English source elsewhere
are not copied into ``en.toml``: a parameter's label and help are its name and help in
:func:`crowd_model.parameters.parameter_specs`, a preset's description is the one in its file
(one source of truth each), added here at load time; ``id.toml``'s ``[param.NAME]`` and
``[scenario.NAME]`` tables translate them.

A key missing from the Indonesian catalogue falls back to English with a
:class:`MissingTextWarning` (the tests turn that warning into an error, so the fallback is
never used silently there); a key missing from English is an error (:class:`KeyError`).

This is UI code: it sits next to ``app.py``, and the model core never imports it.
"""

from __future__ import annotations

import string
import tomllib
import warnings
from functools import lru_cache
from pathlib import Path

from crowd_model.parameters import ParameterSpec, parameter_specs
from crowd_model.scenario import load_scenario, preset_names

LOCALES = Path(__file__).resolve().with_name("locales")
LANGUAGES = {"en": "English", "id": "Bahasa Indonesia"}
DEFAULT_LANGUAGE = "en"


class MissingTextWarning(UserWarning):
    """A text the chosen language lacks, shown in English instead."""


def language(lang: object) -> str:
    """``lang`` if it is a language the app offers, else the default (a browser can send anything)."""
    return lang if isinstance(lang, str) and lang in LANGUAGES else DEFAULT_LANGUAGE


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        elif isinstance(value, str):
            out[name] = value
        else:
            raise ValueError(f"catalogue entry {name}: {value!r} is not a text")
    return out


def load_file(path: Path) -> dict[str, str]:
    """One catalogue file as a flat table of dotted keys to texts."""
    with open(path, "rb") as fh:
        return _flatten(tomllib.load(fh))


def parameter_texts() -> dict[str, str]:
    """The English label (the parameter's name) and help of every parameter, and the names of
    its choices, from its spec."""
    out: dict[str, str] = {}
    for spec in parameter_specs():
        out[f"param.{spec.name}.label"] = spec.name
        out[f"param.{spec.name}.help"] = spec.help
        for choice in spec.choices or ():
            out[f"choice.{spec.name}.{choice}"] = choice
    return out


def scenario_texts() -> dict[str, str]:
    """The English description of every shipped preset, from its file."""
    return {f"scenario.{name}.description": load_scenario(name).description for name in preset_names()}


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    """Every text of ``lang`` by key (English: the file and the parameters' specs)."""
    if lang not in LANGUAGES:
        raise KeyError(f"no catalogue for language {lang!r}; languages: {', '.join(LANGUAGES)}")
    table = load_file(LOCALES / f"{lang}.toml")
    if lang == "en":
        derived = {**parameter_texts(), **scenario_texts()}
        clash = set(table) & set(derived)
        if clash:
            raise ValueError(f"en.toml restates texts that come from parameters.py or the presets: {sorted(clash)[:5]}")
        table.update(derived)
    return table


def placeholders(template: str) -> set[str]:
    """The ``{fields}`` a text takes."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def text(key: str, lang: str = DEFAULT_LANGUAGE, /, **fields) -> str:
    """The text ``key`` in ``lang`` with ``fields`` filled in."""
    lang = language(lang)
    table = catalogue(lang)
    template = table.get(key)
    if template is None:
        english = catalogue(DEFAULT_LANGUAGE)
        if key not in english:
            raise KeyError(f"no text {key!r} in the app's catalogues")
        warnings.warn(MissingTextWarning(f"no {LANGUAGES[lang]} text for {key!r}; shown in English"),
                      stacklevel=2)
        template = english[key]
    return template.format(**fields) if fields else template


class Said(str):
    """A text that remembers its key and fields, so that a message made in one language (in
    a session's thread, say) is shown in the language the page has when it is drawn
    (:func:`shown`). It is a ``str``: code that checks a message's words keeps working."""

    key: str
    fields: dict

    def __new__(cls, key: str, lang: str = DEFAULT_LANGUAGE, /, **fields):
        self = super().__new__(cls, text(key, lang, **{k: shown(v, lang) for k, v in fields.items()}))
        self.key, self.fields = key, fields
        return self


def say(key: str, lang: str = DEFAULT_LANGUAGE, /, **fields) -> Said:
    """``text(key, lang, **fields)`` that can be shown again in another language."""
    return Said(key, lang, **fields)


def shown(value, lang: str = DEFAULT_LANGUAGE):
    """``value`` in ``lang`` if it was made by :func:`say` (its fields too; a tuple of texts
    is shown joined by commas); anything else as it is."""
    if isinstance(value, Said):
        return text(value.key, lang, **{k: shown(v, lang) for k, v in value.fields.items()})
    if isinstance(value, tuple):
        return ", ".join(str(shown(v, lang)) for v in value)
    return value


def error_text(exc: BaseException):
    """What an :class:`InputError` says, to be shown in the page's language: the :class:`Said`
    it was raised with, or the catalogue's text for the refusal the model named (its ``code``),
    else its English text."""
    said = exc.args[0] if exc.args else None
    if isinstance(said, Said):
        return said
    code = getattr(exc, "code", None)
    if code and has_text(f"model.{code}"):  # a refusal the model named (crowd_model.errors.InputError)
        return say(f"model.{code}", **exc.fields)
    return str(exc)


def has_text(key: str) -> bool:
    return key in catalogue(DEFAULT_LANGUAGE)


def _key(name: str) -> str:
    return name.replace(" ", "_")


def param_label(spec: ParameterSpec | str, lang: str = DEFAULT_LANGUAGE) -> str:
    name = spec if isinstance(spec, str) else spec.name
    return text(f"param.{name}.label", lang)


def param_menu_label(name: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A parameter as a menu shows it: its label in ``lang`` and, in brackets, the name that
    experiment files and the command line use."""
    return f"{param_label(name, lang)} ({name})"


def allowed(spec: ParameterSpec, lang: str = DEFAULT_LANGUAGE) -> Said:
    """What values ``spec`` takes, in ``lang`` (``ParameterSpec.describe_allowed`` in English)."""
    if spec.choices:
        return say("allowed.one_of", lang, choices=tuple(say(f"choice.{spec.name}.{c}") for c in spec.choices))
    if spec.type is bool:
        return say("allowed.true_false", lang)
    kind = "integer" if spec.type is int else "number"
    if spec.low is not None and spec.high is not None:
        return say(f"allowed.{kind}_in", lang, low=f"{spec.low:g}", high=f"{spec.high:g}")
    if spec.low is not None:
        return say(f"allowed.{kind}_at_least", lang, low=f"{spec.low:g}")
    return say(f"allowed.{kind}", lang)


def refused_value(spec: ParameterSpec, value) -> Said:
    """A parameter's value refused, said with the parameter's label and what it allows."""
    return say("refusal.value", parameter=say(f"param.{spec.name}.label"), value=repr(value)[:40],
               allowed=allowed(spec))


def param_help(spec: ParameterSpec | str, lang: str = DEFAULT_LANGUAGE) -> str:
    name = spec if isinstance(spec, str) else spec.name
    return text(f"param.{name}.help", lang)


def scenario_description(name: str, description: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A preset's one-line description in ``lang``; a scenario that is no shipped preset keeps
    its own ``description``."""
    key = f"scenario.{name}.description"
    return text(key, lang) if has_text(key) else description


def choices(spec: ParameterSpec, lang: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """A menu parameter's choices, shown text to value (the value is what files and the CLI use)."""
    return {text(f"choice.{spec.name}.{choice}", lang): choice for choice in spec.choices or ()}


def value(spec: ParameterSpec, value, lang: str = DEFAULT_LANGUAGE) -> str:
    """A parameter's value as the page shows it: a choice by its text in ``lang`` (the value
    itself stays the English name files and the CLI use), a switch as yes / no, a number as it is."""
    if spec.choices and value in spec.choices:
        return text(f"choice.{spec.name}.{value}", lang)
    if spec.type is bool:
        return text(f"value.{str(bool(value)).lower()}", lang)
    return f"{value:g}" if isinstance(value, float) else str(value)


def counted(key: str, n: int, lang: str = DEFAULT_LANGUAGE, /, **fields) -> str:
    """``key_one`` for one, ``key_many`` for any other number (English "1 sample", "2 samples")."""
    return text(f"{key}_{'one' if n == 1 else 'many'}", lang, n=n, **fields)


def unit(name: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A parameter's unit ('' stays '')."""
    return text(f"unit.{_key(name)}", lang) if name else ""


def group(name: str, lang: str = DEFAULT_LANGUAGE) -> str:
    return text(f"group.{_key(name)}", lang)


def category(name: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """The legend text of a cell category."""
    return text(f"category.{name}", lang)


def state(name: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A civilian state's name."""
    return text(f"state.{name}", lang)


def metric_label(name: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A time-series column's or outcome's short label; a column no catalogue knows (a
    scenario's extra tally) is shown by its name, with a :class:`MissingTextWarning`."""
    key = f"metric.{name}.label"
    if not has_text(key):
        warnings.warn(MissingTextWarning(f"no text for the column {name!r}; shown by its name"), stacklevel=2)
        return name.replace("_", " ")
    return text(key, lang)


def metric_help(name: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A time-series column's or outcome's one-line description."""
    key = f"metric.{name}.help"
    if not has_text(key):
        warnings.warn(MissingTextWarning(f"no description of the column {name!r}"), stacklevel=2)
        return name.replace("_", " ")
    return text(key, lang)
