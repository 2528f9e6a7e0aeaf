"""The Solara face of crowd_model: a live view of the riot for the classroom and a sweep page.

Start it with ``crowd-model app`` or ``solara run app.py``. Every browser tab is its own
session with its own model and its own sweep (run by :mod:`experiments` in the background).
The grid is drawn as a PNG from ``model.cell_categories()`` (one colour per code of
:data:`crowd_model.render.CELL_CATEGORIES`); the sliders are generated from
:func:`crowd_model.parameters.parameter_specs`; parameters apply on Reset.
"""

from __future__ import annotations

import html
import io
import math
import multiprocessing
import sys
import tempfile
import threading
import time
import zlib
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ipywidgets
import solara
import solara.widgets
import ipyvuetify as rv
from reacton.core import suppress_events
from solara.components.echarts import EchartsWidget
from PIL import Image

import app_events
import app_text
from app_events import LOG_LINES, LogLine
from app_text import LANGUAGES, Said, error_text, say, shown
from crowd_model.analysis.stats import CONFIDENCE, interval, numeric_metrics
from crowd_model.errors import InputError
from crowd_model.events import event_records
from crowd_model.render import (ARREST_COLOUR, ARREST_MARK_STEPS, CATEGORY_COLOURS, CELL_CATEGORIES, HOLDING_COLOUR, NO_MARKS,
                                PALETTE, PICTURE_BOX, PICTURE_PIXELS, SPRAY_TRAIL, STONE_COLOUR, STONE_HIT_COLOUR, fit_pixels, picture, png_bytes,
                                scene,                                 step_marks, step_rows)
from crowd_model.world import SITUATION_NAMES, STATE_NAMES
from crowd_model.animation import encode, frame as animation_frame
from crowd_model.model import MINUTES_PER_STEP, CrowdModel
from crowd_model.outcomes import run_outcomes
from crowd_model.replay import MID_RUN_PARAMETERS, Snapshot
from crowd_model.parameters import Parameters, ParameterSpec, parameter_specs
from crowd_model.scenario import Scenario, load_scenario, preset_names
from crowd_model import site as site_codes
from crowd_model.site import IN_MEMORY_PREFIX, add_site, load_site, site_names
from crowd_model.experiments.worker import execute
from crowd_model.experiments.executors import default_workers
from crowd_model.experiments.spec import parse_experiment
from crowd_model.experiments.sweep import run_sweep

CATEGORY_STYLE = CATEGORY_COLOURS  # one colour per category (crowd_model.render)
STATE_COLOURS = {**{s: CATEGORY_STYLE[s] for s in STATE_NAMES if s in CATEGORY_STYLE}, "left": "#00897b", "arriving": "#9e9e9e"}

GRID_PIXELS = PICTURE_PIXELS
# The page's language (English or Bahasa Indonesia): one per browser page (a Solara reactive
# value is per session). Texts come from the catalogues (app_text, locales/*.toml); messages a
# session makes are app_text.Said texts, shown in the page's language when drawn.
LANGUAGE = solara.reactive(app_text.DEFAULT_LANGUAGE)


def t(key: str, lang: str | None = None, /, **fields) -> str:
    """The text ``key`` in ``lang`` (by default the page's language)."""
    return app_text.text(key, LANGUAGE.value if lang is None else lang, **fields)
CHART_INTERVAL = 1.0  # seconds between chart redraws while playing: each walks the whole page
DEFAULT_SPEED = 10
MAX_SPEED = 30
SLIDER_MAX_STEPS = 2000
EXTRA_CHART_MARKERS = ("injur", "damage")


def default_scenario() -> str:
    names = preset_names()
    return "kpu-riot" if "kpu-riot" in names else names[0]


def grid_png(codes: np.ndarray, pixels: int = GRID_PIXELS) -> bytes:
    """A PNG of a ``(width, height)`` category map (:func:`crowd_model.render.picture`)."""
    return png(picture(codes, pixels))


def png(rgb: np.ndarray) -> bytes:
    """A PNG of a picture, encoded fast (:func:`crowd_model.render.png_bytes`): one a frame."""
    return png_bytes(rgb)


MAP_LABELS = ("office", "gate", "street", "exit", "aid_post", "water_cannon", "command_vehicle", "holding_area")


# The map is drawn at the size it is shown on a classroom projector's 1920×1080, in whole pixels a
# cell, so that its labels, stones and marks stay crisp (a small picture scaled up blurs them); a
# smaller window scales it down. Beside the controls one map fills its column less the event log
# beside it (:data:`LIVE_BOX`); two maps while comparing share the column (:data:`LIVE_PAIR_BOX`).
# Presenter mode draws at the size of the window less the banner, numbers and side panel
# (:data:`PRESENTER_BOX`; two maps share the width above their logs: :data:`PRESENTER_PAIR_BOX`).
LIVE_BOX = PICTURE_BOX
LIVE_PAIR_BOX = (1460, 560)
PRESENTER_BOX = (1500, 920)
PRESENTER_PAIR_BOX = (1880, 500)


def live_pixels(shape: tuple[int, int], maps: int = 1) -> int:
    """The map's picture size beside the controls (:data:`LIVE_BOX`, :data:`LIVE_PAIR_BOX`)."""
    return fit_pixels(shape, LIVE_BOX if maps == 1 else LIVE_PAIR_BOX, maps)


def presenter_pixels(shape: tuple[int, int], maps: int = 1) -> int:
    """The map's picture size in presenter mode (:data:`PRESENTER_BOX`, :data:`PRESENTER_PAIR_BOX`)."""
    return fit_pixels(shape, PRESENTER_BOX if maps == 1 else PRESENTER_PAIR_BOX, maps)


def map_labels(lang: str) -> dict[str, str]:
    """The map's labels in ``lang`` (:func:`crowd_model.render.scene`)."""
    return {name: t(f"map.{name}", lang) for name in MAP_LABELS}


def latest_counts(model: CrowdModel) -> dict[str, Any]:
    return {name: values[-1] for name, values in model.datacollector.model_vars.items()}


def counts_at(model: CrowdModel, step: int) -> dict[str, Any]:
    """The time series' row ``step`` (the counts the page showed then)."""
    return {name: values[step] for name, values in model.datacollector.model_vars.items()}


def outcomes_at(model: CrowdModel, step: int) -> dict:
    """The run's outcomes as they stood at ``step``."""
    if step >= int(model.time):
        return model.outcomes()
    return run_outcomes(model.timeseries().iloc[: step + 1], model.n_civilians, model.parameters.outburst_threshold)


def extra_chart_columns(columns) -> list[str]:
    """Arrests, and injury and damage columns when the scenario records them."""
    return [c for c in columns
            if c not in STATE_NAMES and (c == "arrests_total" or any(m in c for m in EXTRA_CHART_MARKERS))]


def save_as_image(lang: str = app_text.DEFAULT_LANGUAGE) -> dict:
    """ECharts' own save-as-image control (a PNG of the chart), at the chart's top right."""
    return {"right": 8, "feature": {"saveAsImage": {"title": t("chart.save_image", lang), "pixelRatio": 2}}}


def mark_lines(markers, lang: str, first: int = 0) -> dict:
    """ECharts' markLine of the important events: a dashed vertical line at each marker's step
    (``(step, label, colour)``), labelled at its top; the markers of one step share a line (in
    the first one's colour) and a label."""
    by_step: dict[int, tuple[list[str], str]] = {}
    for step, label, colour in markers:
        if step >= first:
            by_step.setdefault(step, ([], colour))[0].append(str(shown(label, lang)))
    return {
        "symbol": "none",
        "silent": True,
        "animation": False,
        "data": [
            {"xAxis": step - first, "lineStyle": {"color": colour, "type": "dashed", "width": 1},
             "label": {"formatter": " · ".join(labels), "color": colour, "position": "insideEndTop", "fontSize": 10}}
            for step, (labels, colour) in by_step.items()
        ],
    }


def line_chart(title: str, series: dict[str, list], colours: dict[str, str] | None = None,
               lang: str = app_text.DEFAULT_LANGUAGE, names: dict[str, str] | None = None, first: int = 0,
               markers=()) -> dict:
    """An ECharts option for a few lines over steps (from step ``first``), with animation off
    (it is redrawn live); ``names`` gives each series' shown name (by default its key);
    ``markers`` (step, label, colour) are drawn as labelled vertical lines."""
    colours = colours or {}
    names = names or {}
    steps = len(next(iter(series.values()), []))
    option = {
        "animation": False,
        "title": {"text": title, "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"},
        "toolbox": save_as_image(lang),
        "legend": {"top": 22, "data": [names.get(name, name) for name in series]},
        "grid": {"left": 50, "right": 16, "top": 60, "bottom": 30},
        "xAxis": {"type": "category", "data": list(range(first, first + steps)), "name": t("chart.step_axis", lang)},
        "yAxis": {"type": "value"},
        "series": [
            {
                "name": names.get(name, name),
                "type": "line",
                "showSymbol": False,
                "data": [float(v) for v in values],
                **({"itemStyle": {"color": colours[name]}, "lineStyle": {"color": colours[name], "width": 2}}
                   if name in colours else {}),
            }
            for name, values in series.items()
        ],
    }
    if markers and option["series"]:
        option["series"][0]["markLine"] = mark_lines(markers, lang, first)
    return option


def chart_series(model: CrowdModel, upto: int | None = None) -> dict[str, list]:
    """The columns the live charts draw: civilians by state, arrests, injuries and damage (up
    to step ``upto``, by default all)."""
    data = model.datacollector.model_vars
    end = None if upto is None else upto + 1
    return {c: list(data[c][:end]) for c in (*[s for s in STATE_NAMES if s in data], *extra_chart_columns(data))}


DIFFERENCE_COLUMNS = ("active", "violent", "fleeing", "arrested", "left")


def difference_series(a: CrowdModel, b: CrowdModel, first: int, upto: int) -> dict[str, list]:
    """B − A of the civilians by state, arrests, injuries and damage, steps ``first`` to ``upto``."""
    da, db = a.datacollector.model_vars, b.datacollector.model_vars
    columns = [c for c in DIFFERENCE_COLUMNS if c in da] + extra_chart_columns(da)
    return {c: [float(y) - float(x) for x, y in zip(da[c][first: upto + 1], db[c][first: upto + 1])] for c in columns}


def difference_chart(series: dict[str, list], first: int, lang: str = app_text.DEFAULT_LANGUAGE) -> dict:
    names = {c: app_text.metric_label(c, lang) for c in series}
    return line_chart(t("compare.difference", lang), series, STATE_COLOURS, lang, names, first)


def chart_options(data: dict[str, list], lang: str = app_text.DEFAULT_LANGUAGE, markers=()) -> list[dict]:
    """The live charts' ECharts options in ``lang``, the important events marked on each."""
    states = {s: data[s] for s in STATE_NAMES if s in data}
    extra = {c: data[c] for c in extra_chart_columns(data)}
    names = {c: app_text.metric_label(c, lang) for c in (*states, *extra)}
    options = [line_chart(t("chart.civilians_by_state", lang), states, STATE_COLOURS, lang, names, markers=markers)]
    if extra:
        words = [t(key, lang) for key, marker in (("chart.arrests", "arrest"), ("chart.injuries", "injur"),
                                                   ("chart.damage", "damage"))
                 if any(marker in c for c in extra)]
        title = ", ".join(words)
        options.append(line_chart(title[:1].upper() + title[1:], extra, None, lang, names, markers=markers))
    return options


SPECS = {s.name: s for s in parameter_specs()}
NO_SITE = "none"
MAP_MAX_BYTES = 256 * 1024
MAP_MAX_SIDE = 500
SEED_MAX = 2**32 - 1


def control_kind(spec: ParameterSpec) -> str:
    """Which input a parameter gets: the site menu, slider, select, checkbox or a number box.

    A number gets a slider only when a grid of at most :data:`SLIDER_MAX_STEPS` positions holds
    its default and every preset's value (:func:`slider_step`), so that it shows them exactly."""
    if spec.name == "site":
        return "site"
    if spec.choices:
        return "select"
    if spec.type is bool:
        return "checkbox"
    if spec.low is None or spec.high is None or slider_step(spec) is None:
        return "number"
    return "slider"


@lru_cache(maxsize=None)
def preset_values(name: str) -> tuple:
    """The values a parameter has at step 0 in the shipped presets."""
    return tuple(sorted({getattr(load_scenario(p).parameters, name) for p in preset_names()}))


def on_grid(value: float, low: float, step: float) -> bool:
    position = (value - low) / step
    return abs(position - round(position)) < 1e-6


@lru_cache(maxsize=None)
def slider_step(spec: ParameterSpec) -> float | None:
    """The coarsest round step (1, 2 or 5 times a power of ten) with at least a thousand
    positions between the bounds whose grid holds the default and every preset's value; None
    when that would need more than :data:`SLIDER_MAX_STEPS` positions."""
    if spec.low is None or spec.high is None or spec.high <= spec.low:
        return None
    span = spec.high - spec.low
    values = (spec.default, *preset_values(spec.name))
    if spec.type is int:
        return 1 if span <= SLIDER_MAX_STEPS else None
    exponent = math.floor(math.log10(span / 1000))
    for e in range(exponent, exponent - 12, -1):
        for mantissa in (5, 2, 1):
            step = mantissa * 10.0**e
            if span / step > SLIDER_MAX_STEPS:
                return None
            if span / step >= 1000 - 1e-9 and all(on_grid(v, spec.low, step) for v in values):
                return float(f"{step:.12g}")
    return None


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def site_overrides(key: str, scenario: Scenario) -> dict[str, Any]:
    """The site and what must go with it: the map's width and height and a bounded grid, and
    no more water cannons than the map has trucks (W cells); for no site, the scenario's size
    and a torus (the scenario's own setting if it has no site)."""
    base = scenario.parameters
    if key == NO_SITE:
        return {"site": NO_SITE, "width": base.width, "height": base.height,
                "torus": base.torus if base.site == NO_SITE else True}
    site = load_site(key)
    trucks = len(site.cells(site_codes.CANNON))
    return {"site": key, "width": site.width, "height": site.height, "torus": False,
            "water_cannons": min(base.water_cannons, trucks)}


def checked_int(name: str, value: Any, low: int, high: int) -> int:
    """``value`` if it is an integer in [low, high]; otherwise one line saying what is allowed
    (``name`` may be a :class:`Said` text, shown in the page's language)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(say("refusal.integer", name=name, value=repr(value)[:40], low=low, high=high))
    return value


def coerced(spec: ParameterSpec, value: Any) -> Any:
    """``spec.coerce(value)``, refused in the page's language."""
    try:
        return spec.coerce(value)
    except InputError:
        raise InputError(app_text.refused_value(spec, value)) from None


def shipped_sites() -> dict[str, str]:
    """The site menu's fixed part, label to key: the open grid and the maps the package ships."""
    return {NO_SITE: NO_SITE, **{name: name for name in site_names()}}


def with_override(overrides: dict[str, Any], scenario: Scenario, name: str, value: Any,
                  sites: dict[str, str]) -> dict[str, Any]:
    """``overrides`` with ``name`` set to ``value``, checked on the server against the
    parameter's declared type and bounds; a site must be one of ``sites`` (menu label to key;
    never a path) and brings the size it needs (:func:`site_overrides`). Values equal to the
    scenario's are dropped, so the overrides hold only real changes."""
    spec = SPECS.get(name)
    if spec is None:
        raise InputError(f"unknown parameter {str(name)[:80]!r}")
    if name == "site":
        if not isinstance(value, str) or value not in sites:
            raise InputError(f"site {str(value)[:80]!r} is not offered; choose one of {', '.join(sites)}")
        values = site_overrides(sites[value], scenario)
    else:
        values = {name: coerced(spec, value)}
    out = dict(overrides)
    for key, v in values.items():
        if same_value(v, getattr(scenario.parameters, key)):
            out.pop(key, None)
        else:
            out[key] = v
    return out


def read_uploaded_map(name: str, data: bytes) -> str:
    """The text of an uploaded map, checked for size and content before it is parsed."""
    label = repr(name[:80])
    if len(data) > MAP_MAX_BYTES:
        raise InputError(say("refusal.map_too_large", name=label, kb=MAP_MAX_BYTES // 1024))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(say("refusal.map_not_utf8", name=label)) from None
    if any(not c.isprintable() for c in text.replace("\n", "").replace("\r", "")):
        raise InputError(say("refusal.map_control_characters", name=label))
    lines = text.strip("\n").splitlines()
    if len(lines) > MAP_MAX_SIDE or max(map(len, lines), default=0) > MAP_MAX_SIDE:
        raise InputError(say("refusal.map_too_wide", name=label, side=MAP_MAX_SIDE))
    return text


def build_parameters(scenario: Scenario, overrides: dict[str, Any]) -> Parameters:
    """The scenario's parameters with the controls' values; a site must be one the app offers
    (never a path)."""
    site = overrides.get("site", scenario.parameters.site)
    if site != NO_SITE and site not in site_names() and not str(site).startswith(IN_MEMORY_PREFIX):
        raise InputError(f"site {str(site)[:80]!r} is not offered; sites: {NO_SITE}, {', '.join(site_names())}")
    return Parameters.from_mapping(overrides, base=scenario.parameters)


@dataclass
class Frame:
    """What one drawn step shows: the grid image, the counts, and the event log as of it
    (the latest :data:`app_events.LOG_LINES` lines, newest first; ``omitted`` earlier ones)."""

    step: int
    png: bytes
    counts: dict[str, Any]
    log: tuple[LogLine, ...] = ()
    omitted: int = 0


@dataclass
class Charts:
    """What is redrawn a few times a second: charts, outcome figures, the legend."""

    series: dict[str, list] = field(default_factory=dict)
    outcomes: dict[str, Any] = field(default_factory=dict)
    present: frozenset[str] = frozenset()
    difference: dict[str, list] = field(default_factory=dict)  # B − A while comparing
    first: int = 0  # the difference's first step (the branch's)
    outcomes_b: dict[str, Any] = field(default_factory=dict)
    head: int = 0  # the model's latest step (the scrub bar's end)
    markers: tuple[tuple[int, Any, str], ...] = ()  # (step, label, colour) of the important events


# The replay's memory (per model of a tab): a snapshot every SNAPSHOT_EVERY steps, at most
# MAX_SNAPSHOTS of them (beyond, every other one goes and the interval doubles); every step's
# map (zlib-compressed, kpu-riot: about 1 KB a step), marks (stones, arrests, the gas cloud) and
# event-log lines, at most MAX_STEP_BYTES together (beyond, the oldest steps go and the scrub
# bar starts later). kpu-riot's snapshots share unchanged arrays (the site's) and cost about
# 0.2 MB each plus their copy of the time series (0.15 MB at step 1,000): at most about 25 MB
# of snapshots and 32 MB of steps a model in a 1,000-step run.
SNAPSHOT_EVERY = 10
MAX_SNAPSHOTS = 64
MAX_STEP_BYTES = 32_000_000
MAX_EXPORT_FRAMES = 3000
MAX_EXPORT_BYTES = 1_000_000_000  # the frames of an animation held at once (1100 x 692 RGB: 2.3 MB each)
EXPORT_FPS = 10
# The tactics panel: the response's main choices, before the full parameter list (the names
# of parameters; controls come from their specs). New tactics are added here.
TACTICS = tuple(name for name in ("response_policy", "water_cannons", "pushback", "police_officers", "arrest_policy",
                                  "tear_gas", "negotiation") if name in SPECS)


MAX_CHART_MARKERS = 40  # the latest important events marked on the charts


def said_bytes(value: Any) -> int:
    """About the memory a text of the log holds: the string, and for a :class:`app_text.Said`
    its fields (which may be texts themselves)."""
    size = sys.getsizeof(value)
    if isinstance(value, Said):
        size += sys.getsizeof(value.fields) + sum(said_bytes(v) for v in value.fields.values())
    return size


def log_bytes(lines) -> int:
    """About the memory a step's log lines hold (each line, its sentence and its marker)."""
    return sum(sys.getsizeof(line) + said_bytes(line.said) + (said_bytes(line.marker) if line.marker else 0)
               for line in lines)


def marks_bytes(marks) -> int:
    """About the memory a step's :class:`crowd_model.render.Marks` hold."""
    return sys.getsizeof(marks) + marks.stones.nbytes + marks.arrests.nbytes + len(marks.gas)


class History:
    """The steps one model has run, for the scrub bar, the event log and the exports: every
    step's map, marks (:class:`crowd_model.render.Marks`) and log lines, within
    :data:`MAX_STEP_BYTES` together (``sizes``: each step's share, ``bytes``: their sum), and a
    snapshot every :attr:`interval` steps, at most :data:`MAX_SNAPSHOTS`."""

    def __init__(self):
        self.frames: dict[int, bytes] = {}
        self.shape: tuple[int, int] = (0, 0)
        self.snapshots: dict[int, Snapshot] = {}
        self.interval = SNAPSHOT_EVERY
        self.bytes = 0
        self.sizes: dict[int, int] = {}  # the bytes each step kept holds: its map, marks and log lines
        self.marks: dict[int, Any] = {}
        self.log: dict[int, list[LogLine]] = {}
        self.shots: dict[int, int] = {}  # water-cannon shots up to each step
        self.cell_kind: np.ndarray | None = None  # the site map (None: no site)

    def record(self, model: CrowdModel, codes: np.ndarray) -> None:
        step = int(model.time)
        self.shape = codes.shape
        self.cell_kind = model.world.cell_kind if model.site is not None else None
        self.frames[step] = zlib.compress(codes.tobytes(), 1)
        # what the step just run added: its marks and its log lines (the world's event buffer
        # holds the rows of the step that led to ``step``, whose step column is ``step``)
        rows = step_rows(model.world)
        rows = rows[rows[:, 0] == step] if step > 0 else rows[:0]
        records = event_records(rows)
        before = self.shots.get(step - 1, 0)
        self.shots[step] = before + app_events.water_cannon_shots(records)
        self.log[step] = app_events.step_lines(records, step, before)
        self.marks[step] = step_marks(model.world, rows)
        self._account(step)
        while self.bytes > MAX_STEP_BYTES and len(self.sizes) > 1:
            self._forget(min(self.sizes))
        # the first step recorded (a branch's) always has its snapshot: the rewinds start there
        if (step % self.interval == 0 or not self.snapshots) and step not in self.snapshots:
            previous = self.snapshots[max(self.snapshots)] if self.snapshots else None
            self.snapshots[step] = model.snapshot(previous)
            if len(self.snapshots) > MAX_SNAPSHOTS:
                self.interval *= 2
                first = min(self.snapshots)
                self.snapshots = {k: v for k, v in self.snapshots.items() if k % self.interval == 0 or k == first}

    def inherit_log(self, other: History, before: int) -> None:
        """Take ``other``'s log lines (and water-cannon shot counts) of the steps before ``before``
        (a branch's shared past: its first shot is not 'the first time' again)."""
        for step in [k for k in other.log if k < before]:
            self.log[step] = other.log[step]
            self.shots[step] = other.shots.get(step, 0)
            self._account(step)

    def _account(self, step: int) -> None:
        size = len(self.frames.get(step, b"")) + log_bytes(self.log.get(step, ()))
        size += marks_bytes(self.marks[step]) if step in self.marks else 0
        self.bytes += size - self.sizes.get(step, 0)
        self.sizes[step] = size

    def _forget(self, step: int) -> None:
        for table in (self.frames, self.marks, self.log, self.shots):
            table.pop(step, None)
        self.bytes -= self.sizes.pop(step, 0)

    @property
    def first(self) -> int:
        return min(self.frames, default=0)

    def codes(self, step: int) -> np.ndarray:
        return np.frombuffer(zlib.decompress(self.frames[step]), np.uint8).reshape(self.shape)

    def picture(self, step: int, lang: str, codes: np.ndarray | None = None, pixels: int = GRID_PIXELS) -> np.ndarray:
        """The map of ``step`` with the trails, marks and labels of :func:`crowd_model.render.scene`."""
        codes = self.codes(step) if codes is None else codes
        earlier = [self.codes(s) for s in range(step - 1, step - 1 - len(SPRAY_TRAIL), -1) if s in self.frames]
        marks = [self.marks.get(s, NO_MARKS) for s in range(step, max(step - ARREST_MARK_STEPS, -1), -1)]
        return scene(codes, earlier, marks, map_labels(lang) if self.cell_kind is not None else None,
                     self.cell_kind, pixels)

    def log_as_of(self, step: int) -> tuple[tuple[LogLine, ...], int]:
        """The log lines up to ``step``, newest first: the latest :data:`LOG_LINES`, and how
        many earlier ones are left out."""
        out: list[LogLine] = []
        omitted = 0
        for s in sorted((k for k in self.log if k <= step), reverse=True):
            lines = self.log[s]
            room = LOG_LINES - len(out)
            out.extend(lines[:room])
            omitted += max(0, len(lines) - room)
        return tuple(out), omitted

    def markers(self, step: int) -> tuple[tuple[int, Any, str], ...]:
        """The important events up to ``step`` for the charts: (step, short label, colour)."""
        found = [(line.step, line.marker, line.colour) for s in sorted(k for k in self.log if k <= step)
                 for line in self.log[s] if line.marker is not None]
        return tuple(found[-MAX_CHART_MARKERS:])

    def rewind(self, model: CrowdModel, step: int) -> None:
        """Put ``model`` back to ``step`` (the nearest snapshot before it, then steps on) and
        forget the steps after it."""
        model.restore(self.snapshots[max(k for k in self.snapshots if k <= step)])
        while int(model.time) < step:
            model.step()
        for later in [k for k in self.sizes if k > step]:
            self._forget(later)
        self.snapshots = {k: v for k, v in self.snapshots.items() if k <= step}

    def summary(self) -> dict:
        return {"frames": len(self.frames), "snapshots": len(self.snapshots), "interval": self.interval,
                "mb": round((self.bytes + sum(s.nbytes for s in self.snapshots.values())) / 1e6, 1)}


_STEPPED_SCENARIOS: set[str] = set()


class LiveSession:
    """One tab's model, its play loop and the reactive values the view shows.

    The play loop runs in a thread; a lock keeps Step/Reset from the page and the loop
    from touching the model at the same time.
    """

    def __init__(self, scenario_name: str | None = None):
        self.lock = threading.RLock()
        self.scenario_name = solara.reactive(scenario_name or default_scenario())
        self.scenario: Scenario = load_scenario(self.scenario_name.value)
        self.overrides = solara.reactive({})
        self.seed = solara.reactive(self.scenario.seed)
        self.speed = solara.reactive(DEFAULT_SPEED)
        self.playing = solara.reactive(False)
        self.message = solara.reactive("")
        self.notice = solara.reactive("")
        self.frame = solara.reactive(None)
        self.charts = solara.reactive(Charts())
        self.applied = solara.reactive({})  # the overrides the current model was built with
        self.uploads = solara.reactive({})  # menu label -> key of a map uploaded in this tab
        self.upload_attempts = solara.reactive(0)
        self.model: CrowdModel | None = None
        self.history = History()
        self.view_step = solara.reactive(None)  # an earlier step shown by the scrub bar, None: the latest
        self.head = solara.reactive(0)  # the model's latest step as the scrub bar shows it (not while playing)
        self.second: CrowdModel | None = None  # response B, while comparing
        self.second_history = History()
        self.frame_b = solara.reactive(None)
        self.compare_changes = solara.reactive({})  # B's tactics: what differs from A
        self.compared = solara.reactive(None)  # (step B branched at, its changes) while comparing
        self.presenter = solara.reactive(False)
        self.lang = app_text.DEFAULT_LANGUAGE  # the page's language, for the map's labels (set by the view)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._charted_at = 0.0
        self.reset()

    def pending_error(self) -> str:
        """The message a Reset with the current controls would give, or ''."""
        try:
            build_parameters(self.scenario, self.overrides.value)
        except InputError as exc:
            return error_text(exc)
        return ""

    def site_menu(self) -> dict[str, str]:
        """The sites this tab may choose, menu label to key: none, the shipped maps, and the
        maps it uploaded."""
        return {**shipped_sites(), **self.uploads.value}

    def site_label(self, key: str) -> str:
        return next((label for label, k in self.site_menu().items() if k == key), key)

    def refuse(self, message: str) -> None:
        self.message.value = message

    def choose_scenario(self, name: str) -> None:
        """Switch to a shipped preset (only those: a name from the browser is never a path)."""
        if name not in preset_names():
            self.refuse(say("message.scenario_not_offered", name=repr(str(name)[:80]), presets=", ".join(preset_names())))
            return
        scenario = load_scenario(name)
        self.pause()
        with self.lock:
            self.scenario = scenario
            self.scenario_name.value = name
            self.overrides.value = {}
            self.seed.value = scenario.seed
        self.reset()

    def set_parameter(self, name: str, value: Any) -> None:
        """A control's new value, checked here by :func:`with_override` (the browser's own
        limits can be bypassed); a refused value leaves the controls as they were."""
        try:
            self.overrides.value = with_override(self.overrides.value, self.scenario, name, value, self.site_menu())
        except InputError as exc:
            self.refuse(say("message.not_changed", error=error_text(exc)))
            return
        self.message.value = ""

    def choose_site(self, label: Any) -> None:
        self.set_parameter("site", label)

    def upload_map(self, name: str, data: bytes) -> None:
        """A map file uploaded from the browser: checked, parsed in memory (never written to
        disk) and chosen as the site."""
        try:
            key = add_site(read_uploaded_map(name, data), label=repr(name[:80]))
        except InputError as exc:
            self.refuse(say("message.map_not_used", error=error_text(exc)))
            return
        finally:
            # last: a new count mounts a fresh drop zone, which ends the upload's own thread
            self.upload_attempts.value += 1
        label = t("control.uploaded_site", "en", name=name[:40], key=key.removeprefix(IN_MEMORY_PREFIX)[:8])
        self.uploads.value = {**self.uploads.value, label: key}
        self.choose_site(label)

    def set_speed(self, value: Any) -> None:
        self._set_int(self.speed, say("field.speed"), value, 1, MAX_SPEED)

    def set_seed(self, value: Any) -> None:
        self._set_int(self.seed, say("field.seed"), value, 0, SEED_MAX)

    def _set_int(self, reactive, name: str, value: Any, low: int, high: int) -> None:
        try:
            reactive.value = checked_int(name, value, low, high)
        except InputError as exc:
            self.refuse(say("message.not_changed", error=error_text(exc)))

    def changed(self) -> bool:
        """Whether the controls differ from what the current model was built with."""
        return self.overrides.value != self.applied.value

    def reset(self) -> None:
        """Build a fresh model from the scenario, the changed controls and the seed."""
        self.pause()
        seed = self.seed.value
        overrides = self.overrides.value
        try:
            checked_int(say("field.seed"), seed, 0, SEED_MAX)
            parameters = build_parameters(self.scenario, overrides)
            model = CrowdModel(parameters, rng=int(seed))
        except InputError as exc:
            self.message.value = say("message.not_reset", error=error_text(exc))
            return
        except Exception as exc:  # the page shows one line, never a traceback
            self.message.value = say("message.not_reset_build", error=f"{type(exc).__name__}: {exc}")
            return
        with self.lock:
            self.model = model
            self.history = History()
            self._stop_comparing()
            self.view_step.value = None
            self.applied.value = overrides
            self.message.value = ""
            self._publish(charts=True)

    def step(self) -> None:
        self.pause()
        with self.lock:
            try:
                self._go_on_from_view()
                self._advance()
            except Exception as exc:  # the page shows one line, never a traceback
                self.message.value = say("message.step_failed", error=f"{type(exc).__name__}: {exc}")
            self._publish(charts=True)

    def _advance(self) -> None:
        """One model step; the first of a scenario in this process may compile the kernel."""
        first = self.scenario.name not in _STEPPED_SCENARIOS
        if first:
            self.notice.value = say("message.compiling")
        try:
            self.model.step()
            if self.second is not None:
                self.second.step()
        finally:
            if first:
                self.notice.value = ""
        _STEPPED_SCENARIOS.add(self.scenario.name)

    def play(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self.lock:
            self._go_on_from_view()
        self._stop.clear()
        self.playing.value = True
        self._thread = threading.Thread(target=self._loop, name="crowd-model-play", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self._thread = None
        self.playing.value = False

    def finished(self) -> bool:
        return self.model is not None and int(self.model.time) >= self.scenario.steps

    def _loop(self) -> None:
        due = time.perf_counter()
        try:
            while not self._stop.is_set() and not self.finished():
                with self.lock:
                    self._advance()
                    self._publish(charts=time.perf_counter() - self._charted_at >= CHART_INTERVAL)
                due += 1.0 / max(1, self.speed.value)
                delay = due - time.perf_counter()
                if delay < 0:
                    due = time.perf_counter()
                self._stop.wait(max(0.0, delay))
        except Exception as exc:
            self.message.value = say("message.stopped", error=f"{type(exc).__name__}: {exc}")
        finally:
            with self.lock:
                self._publish(charts=True)
                self.head.value = int(self.model.time)
            self.playing.value = False

    def _publish(self, charts: bool) -> None:
        """Record the latest step and show it."""
        model = self.model
        codes = model.cell_categories()
        self.history.record(model, codes)
        codes_b = None
        if self.second is not None:
            codes_b = self.second.cell_categories()
            self.second_history.record(self.second, codes_b)
        self._show(int(model.time), charts, codes, codes_b)

    def _show(self, step: int, charts: bool, codes: np.ndarray | None = None, codes_b: np.ndarray | None = None) -> None:
        """Show ``step`` as it was: its maps, its counts and the charts up to it."""
        model, second = self.model, self.second
        codes = self.history.codes(step) if codes is None else codes
        pixels = self.pixels()
        self.frame.value = Frame(step, png(self.history.picture(step, self.lang, codes, pixels)), counts_at(model, step),
                                 *self.history.log_as_of(step))
        if second is not None:
            codes_b = self.second_history.codes(step) if codes_b is None else codes_b
            self.frame_b.value = Frame(step, png(self.second_history.picture(step, self.lang, codes_b, pixels)),
                                       counts_at(second, step), *self.second_history.log_as_of(step))
        if charts:
            self._charted_at = time.perf_counter()
            present = frozenset(CELL_CATEGORIES[c] for c in np.unique(codes))
            extra = {}
            if second is not None:
                first = self.compared.value[0]
                extra = {"difference": difference_series(model, second, first, step), "first": first,
                         "outcomes_b": outcomes_at(second, step)}
            # one reactive value for all that the page redraws at the charts' pace (the scrub bar's
            # end too): every change of a reactive value walks the whole page
            self.charts.value = Charts(chart_series(model, step), outcomes_at(model, step), present, **extra,
                                       head=int(model.time), markers=self.history.markers(step))
            if not self.playing.value:
                self.head.value = int(model.time)

    def pixels(self) -> int:
        """The size of the map's picture (its longer side): the size it is shown at 1920×1080,
        beside the controls (:func:`live_pixels`) or in presenter mode (:func:`presenter_pixels`)."""
        maps = 2 if self.second is not None else 1
        fit = presenter_pixels if self.presenter.value else live_pixels
        return fit(self.history.shape, maps)

    def set_presenter(self, on: bool) -> None:
        """Presenter mode on or off: the map is drawn again at its new size."""
        with self.lock:
            self.presenter.value = bool(on)
            if self.frame.value is not None and not self.playing.value:
                self._show(self.frame.value.step, charts=False)

    def set_language(self, lang: str) -> None:
        """The page's language changed: the map is drawn again with its labels in ``lang``."""
        lang = app_text.language(lang)
        if lang == self.lang:
            return
        with self.lock:
            self.lang = lang
            if self.frame.value is not None and not self.playing.value:
                self._show(self.frame.value.step, charts=False)

    # --- the scrub bar -------------------------------------------------------------

    def first_step(self) -> int:
        """The earliest step the scrub bar reaches (while comparing: the branch's step)."""
        first = self.history.first
        return max(first, self.compared.value[0]) if self.compared.value else first

    def show_step(self, step: Any) -> None:
        """Show an earlier step (the scrub bar); the model stays at its latest step until Play
        or Step goes on from the step shown."""
        self.pause()
        with self.lock:
            head = int(self.model.time)
            try:
                step = checked_int(say("field.step"), step, self.first_step(), head)
            except InputError as exc:
                self.refuse(say("message.not_changed", error=error_text(exc)))
                return
            self.view_step.value = None if step == head else step
            self._show(step, charts=True)

    def _go_on_from_view(self) -> None:
        """Before a step: if an earlier step is shown, go back to it (the steps after it are dropped)."""
        step = self.view_step.value
        if step is None:
            return
        self.history.rewind(self.model, step)
        if self.second is not None:
            self.second_history.rewind(self.second, step)
        self.view_step.value = None

    # --- comparing two responses -------------------------------------------------------

    def set_compare_change(self, name: str, value: Any) -> None:
        """One of response B's tactics, checked here against the parameter's type and bounds."""
        spec = SPECS.get(name)
        if spec is None or name not in TACTICS:
            self.refuse(say("message.not_changed", error=f"{str(name)[:80]!r} is not a tactic; tactics: {', '.join(TACTICS)}"))
            return
        try:
            value = spec.coerce(value)
        except InputError as exc:
            self.refuse(say("message.not_changed", error=error_text(exc)))
            return
        changes = dict(self.compare_changes.value)
        if self.model is not None and same_value(value, getattr(self.model.parameters, name)):
            changes.pop(name, None)
        else:
            changes[name] = value
        self.compare_changes.value = changes
        self.message.value = ""

    def compare_from_start(self) -> None:
        """Reset A from the controls and the seed, and build B with the same seed and crowd,
        B's tactics changed."""
        self.reset()
        if self.message.value:  # not reset: nothing to compare
            return
        with self.lock:
            try:
                parameters = Parameters.from_mapping(self.compare_changes.value, base=self.model.parameters)
                second = CrowdModel(parameters, rng=int(self.seed.value))
            except InputError as exc:
                self.message.value = say("compare.not_compared", error=error_text(exc))
                return
            self._start_comparing(second, 0)

    def branch_here(self) -> None:
        """Fork the model at the step shown into B, with B's tactics (those that can change mid-run)."""
        self.pause()
        with self.lock:
            self._go_on_from_view()
            try:
                second = self.model.branch(**self.compare_changes.value)
            except InputError as exc:
                self.message.value = say("compare.not_branched", error=error_text(exc))
                return
            self._start_comparing(second, int(self.model.time))

    def _start_comparing(self, second: CrowdModel, step: int) -> None:
        self.second = second
        self.second_history = History()
        self.second_history.inherit_log(self.history, step)  # a branch shares A's story up to it
        self.compared.value = (step, dict(self.compare_changes.value))
        self.message.value = ""
        self._publish(charts=True)

    def stop_comparing(self) -> None:
        self.pause()
        with self.lock:
            self._stop_comparing()
            self._show(self.view_step.value if self.view_step.value is not None else int(self.model.time), charts=True)

    def _stop_comparing(self) -> None:
        self.second = None
        self.second_history = History()
        self.compared.value = None
        self.frame_b.value = None

    # --- exports -------------------------------------------------------------------

    def map_png(self) -> bytes:
        """The map shown now (both, side by side, while comparing), as a PNG with its caption."""
        step = self.frame.value.step
        out = io.BytesIO()
        Image.fromarray(self._export_frame(step)).save(out, format="png")
        return out.getvalue()

    def animation(self, fmt: str, fps: float = EXPORT_FPS) -> bytes:
        """The run so far (the steps the scrub bar reaches, up to the one shown), as a GIF or
        an MP4; at most :meth:`export_frames` frames, the latest ones."""
        with self.lock:
            last = self.frame.value.step
            steps = [s for s in range(self.first_step(), last + 1) if s in self.history.frames][-self.export_frames():]
            frames = [self._export_frame(s) for s in steps]
        return encode(frames, fmt, fps)

    def export_frames(self) -> int:
        """The most frames an animation holds: :data:`MAX_EXPORT_FRAMES`, fewer when that many of
        the size drawn would take more than :data:`MAX_EXPORT_BYTES`."""
        shape, maps = self.history.shape, 2 if self.second is not None else 1
        side = live_pixels(shape, maps)
        scale = side // max(1, *shape)
        frame_bytes = 3 * (maps * shape[0] * scale + 10) * (shape[1] * scale + 40)
        return max(1, min(MAX_EXPORT_FRAMES, MAX_EXPORT_BYTES // frame_bytes))

    def _export_frame(self, step: int) -> np.ndarray:
        lang = LANGUAGE.value
        caption = t("replay.caption", lang, step=step, minutes=f"{step * MINUTES_PER_STEP:g}")
        caption = f"{app_events.clock(step)} · {caption}"
        two = self.second is not None and step in self.second_history.frames
        pixels = live_pixels(self.history.shape, 2 if two else 1)  # as the live view draws them
        picture_a = animation_frame(self.history.codes(step), step, caption=caption,
                                    rgb=self.history.picture(step, lang, pixels=pixels))
        if not two:
            return picture_a
        picture_b = animation_frame(self.second_history.codes(step), step, caption=f"B: {caption}",
                                    rgb=self.second_history.picture(step, lang, pixels=pixels))
        gap = np.full((picture_a.shape[0], 10, 3), 255, np.uint8)
        return np.concatenate([picture_a, gap, picture_b], axis=1)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value.is_integer():
            return f"{int(value)}"
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def _big_numbers_html(items: list[tuple[str, Any, str | None]], size: str,
                      lang: str = app_text.DEFAULT_LANGUAGE) -> str:
    """Big figures, each with its label in ``lang`` (``data-name`` keeps the column's name)."""
    cells = []
    for name, value, colour in items:
        swatch = (
            f'<span style="display:inline-block;width:12px;height:12px;background:{colour};'
            f'border:1px solid #444;margin-right:4px"></span>' if colour else ""
        )
        cells.append(
            f'<div class="crowd-number" data-name="{html.escape(name)}" '
            f'style="padding:2px 6px;min-width:64px">'
            f'<div style="font-size:{size};font-weight:700;line-height:1.1" class="crowd-number-value">'
            f"{html.escape(_fmt(value))}</div>"
            f'<div class="crowd-number-label" style="font-size:13px;line-height:1.2;color:#333">{swatch}'
            f'{html.escape(app_text.metric_label(name, lang))}</div></div>'
        )
    return '<div class="crowd-numbers" style="display:flex;flex-wrap:wrap;gap:4px">' + "".join(cells) + "</div>"


def use_frame_widget(session: LiveSession, make, show, dependencies=(), source=None):
    """A widget made once (``make()``) and redrawn for each new frame (``show(widget,
    frame)``) straight from the play loop, not by a render: a render walks the whole page (every
    parameter control), which cost most of a frame's time on a busy machine. A change of
    ``dependencies`` (the page's language) redraws it at once."""
    widget = solara.use_memo(make, [])
    source = session.frame if source is None else source

    def follow():
        def draw(frame):
            if frame is not None:
                show(widget, frame)

        draw(source.peek())
        return source.subscribe(draw)

    solara.use_effect(follow, list(dependencies))
    return widget


@solara.component
def GridView(session: LiveSession, source=None, classes: tuple[str, ...] = ("crowd-grid",)):
    """The map, shown at the size it is drawn (:meth:`LiveSession.pixels`), smaller on a narrow
    window (``crowd-map`` in :data:`LIVE_CSS`)."""
    image = use_frame_widget(
        session,
        lambda: ipywidgets.Image(format="png", _dom_classes=["solara-image", "crowd-map-image", *classes]),
        lambda widget, frame: setattr(widget, "value", frame.png), source=source)
    solara.Div(children=[image], classes=["crowd-map"])


def counts_html(frame: Frame, lang: str = app_text.DEFAULT_LANGUAGE) -> str:
    counts = frame.counts
    items = [("step", frame.step, None), ("minutes", frame.step * MINUTES_PER_STEP, None)]
    items += [(s, counts[s], STATE_COLOURS.get(s)) for s in STATE_NAMES if s in counts]
    items += [(c, counts[c], None) for c in extra_chart_columns(counts)]
    return _big_numbers_html(items, "34px", lang)


@solara.component
def CountNumbers(session: LiveSession, source=None, css: str = "crowd-counts"):
    lang = LANGUAGE.value
    numbers = use_frame_widget(
        session,
        lambda: solara.widgets.HTML(tag="div", attributes={"class": css}),
        lambda widget, frame: setattr(widget, "unsafe_innerHTML", counts_html(frame, lang)), [lang], source=source)
    solara.Div(children=[numbers])


def banner_html(frame: Frame, lang: str = app_text.DEFAULT_LANGUAGE) -> str:
    """The banner over the map: the situation in its colour (Perkap 16/2006), the force stage
    with its name (Perkap 1/2009) (both only where a security response runs), and the time."""
    counts = frame.counts
    stage = int(counts.get("force_stage", 0) or 0)
    parts = []
    if stage > 0 and "situation" in counts:
        name = SITUATION_NAMES[int(counts["situation"])]
        colour = app_events.SITUATION_COLOURS[name]
        ink = "#000" if name == "yellow" else "#fff"
        situation = t("banner.situation", lang, colour=shown(app_events.situation_name(name), lang))
        parts.append(f'<span class="crowd-banner-situation" data-situation="{name}" style="background:{colour};'
                     f'color:{ink};padding:2px 12px;border-radius:4px">{html.escape(situation)}</span>')
        words = t("banner.force_stage", lang, stage=stage, name=shown(app_events.force_stage_name(stage), lang))
        parts.append(f'<span class="crowd-banner-stage" data-stage="{stage}">{html.escape(words)}</span>')
    when = t("banner.time", lang, clock=app_events.clock(frame.step), minutes=f"{app_events.minutes(frame.step):g}",
             step=frame.step)
    parts.append(f'<span class="crowd-banner-time" data-step="{frame.step}">{html.escape(when)}</span>')
    return ('<div class="crowd-banner-line" style="display:flex;flex-wrap:wrap;gap:6px 18px;align-items:center;'
            'font-size:20px;font-weight:600">' + "".join(parts) + "</div>")


def log_html(frame: Frame, lang: str = app_text.DEFAULT_LANGUAGE) -> str:
    """The event log as of the frame's step, newest first."""
    rows = []
    for line in frame.log:
        style = f"border-left:4px solid {line.colour};padding-left:4px;font-weight:600" if line.marker else \
            "padding-left:8px"
        rows.append(
            f'<div class="crowd-log-line" data-step="{line.step}" data-event="{line.event}" style="{style}">'
            f'<span class="crowd-log-time" style="font-variant-numeric:tabular-nums">{app_events.clock(line.step)}</span> '
            f'<span class="crowd-log-step" style="color:#666;font-size:11px">{html.escape(t("log.step", lang, step=line.step))}</span> '
            f'<span class="crowd-log-text">{html.escape(shown(line.said, lang))}</span></div>')
    if not rows:
        rows.append(f'<div class="crowd-log-empty" style="color:#666">{html.escape(t("log.empty", lang))}</div>')
    if frame.omitted:
        rows.append(f'<div style="color:#666">{html.escape(t("log.more", lang, n=frame.omitted))}</div>')
    return "".join(rows)


@solara.component
def Banner(session: LiveSession, source=None, css: str = "crowd-banner"):
    lang = LANGUAGE.value
    banner = use_frame_widget(
        session,
        lambda: solara.widgets.HTML(tag="div", attributes={"class": css}),
        lambda widget, frame: setattr(widget, "unsafe_innerHTML", banner_html(frame, lang)), [lang], source=source)
    solara.Div(children=[banner])


@solara.component
def EventLog(session: LiveSession, source=None, css: str = "crowd-log", side: str = ""):
    """The events up to the step shown, newest first, as sentences in the page's language
    (while comparing, one for each response: ``side`` A or B)."""
    lang = LANGUAGE.value
    lines = use_frame_widget(
        session,
        lambda: solara.widgets.HTML(tag="div", attributes={"class": f"{css} crowd-log-lines"}),
        lambda widget, frame: setattr(widget, "unsafe_innerHTML", log_html(frame, lang)), [lang], source=source)
    with solara.Column(gap="2px", classes=["crowd-log-panel", f"crowd-log-panel-{side.lower() or 'a'}"]):
        title = t("log.title_side", lang, side=side) if side else t("log.title", lang)
        solara.Text(title, style={"font-weight": "bold"}, classes=["crowd-log-title"])
        solara.Text(t("log.note", lang, start=app_events.clock(0), minutes=f"{MINUTES_PER_STEP:g}"),
                    style={"font-size": "11px", "color": "#555"})
        solara.Div(children=[lines], classes=["crowd-log-box"])


def outcomes_html(outcomes: dict[str, Any], lang: str = app_text.DEFAULT_LANGUAGE) -> str:
    """The outcome figures so far, under their title."""
    if not outcomes:
        return ""
    title = f'<div style="font-weight:bold">{html.escape(t("chart.outcome_so_far", lang))}</div>'
    return title + '<div class="crowd-outcomes">' + _big_numbers_html([(k, v, None) for k, v in outcomes.items()],
                                                                     "22px", lang) + "</div>"


CHART_STYLE = "height: 260px; width: 100%"


def show_charts(box, charts: Charts, lang: str) -> None:
    """Draw ``charts`` into ``box`` (a container widget): the difference chart while comparing,
    the live charts, the outcome figures. The chart widgets are kept and given new options; only
    a change in their number makes new ones."""
    options = [difference_chart(charts.difference, charts.first, lang)] if charts.difference else []
    options += chart_options(charts.series, lang, charts.markers) if charts.series else []
    figures, numbers = list(box.children[:-1]), box.children[-1]
    classes = ["crowd-difference" if charts.difference and k == 0 else "crowd-chart" for k in range(len(options))]
    if [f.attributes.get("class") for f in figures] != classes:
        figures = [EchartsWidget(attributes={"style": CHART_STYLE, "class": c}) for c in classes]
        box.children = [*figures, numbers]
    for figure, option in zip(figures, options):
        figure.option = option
    numbers.unsafe_innerHTML = outcomes_html(charts.outcomes, lang)


@solara.component
def ChartsView(session: LiveSession):
    """The charts and outcome figures, redrawn straight from :attr:`LiveSession.charts` (not by a
    render, which walks the whole page: about 0.6 s on a busy machine, once a second while playing)."""
    lang = LANGUAGE.value
    box = use_frame_widget(
        session,
        lambda: rv.Html(tag="div", children=[solara.widgets.HTML(tag="div")]),
        lambda widget, charts: show_charts(widget, charts, lang), [lang], source=session.charts)
    solara.Div(children=[box], classes=["crowd-charts"])


LEGEND_MARKS = (
    ("stone", f"background:linear-gradient(135deg,transparent 45%,{STONE_COLOUR} 45%,{STONE_COLOUR} 55%,transparent 55%)"),
    ("stone_hit", f"background:linear-gradient(135deg,transparent 45%,{STONE_HIT_COLOUR} 45%,{STONE_HIT_COLOUR} 55%,transparent 55%)"),
    ("arrest", f"border:2px solid {ARREST_COLOUR}"),
    ("holding_area", f"border:2px solid {HOLDING_COLOUR};background:radial-gradient({CATEGORY_STYLE['arrested']} 35%,#fff 36%)"),
    ("trail", f"background:linear-gradient(90deg,{CATEGORY_STYLE['spray']},#f7f7f7)"),
)


def legend_html(present: frozenset[str], has_site: bool, lang: str = app_text.DEFAULT_LANGUAGE) -> str:
    """Every category (those not on the grid now faded) and, with a site, the marks drawn over its cells."""
    rows = "".join(
        f'<div class="crowd-legend-item" data-name="{name}" data-present="{int(name in present)}" '
        f'style="display:flex;align-items:center;margin:1px 0;opacity:{1 if name in present else 0.35}">'
        f'<span style="display:inline-block;width:16px;height:16px;background:{colour};'
        f'border:1px solid #444;margin-right:6px"></span>{html.escape(app_text.category(name, lang))}</div>'
        for name, colour in ((c, CATEGORY_STYLE[c]) for c in CELL_CATEGORIES)
    )
    if has_site:
        rows += "".join(
            f'<div class="crowd-legend-mark" data-name="{name}" style="display:flex;align-items:center;margin:1px 0">'
            f'<span style="display:inline-block;width:16px;height:16px;margin-right:6px;{swatch}"></span>'
            f'{html.escape(t(f"map.{name}", lang))}</div>'
            for name, swatch in LEGEND_MARKS)
    return f'<div style="font-size:14px">{rows}</div>'


@solara.component
def Legend(session: LiveSession):
    """Every category; those not on the grid now are faded (redrawn straight from the charts'
    value, as :func:`ChartsView`)."""
    lang = LANGUAGE.value
    legend = use_frame_widget(
        session,
        lambda: solara.widgets.HTML(tag="div", attributes={"class": "crowd-legend"}),
        lambda widget, charts: setattr(widget, "unsafe_innerHTML", legend_html(
            charts.present, session.history.cell_kind is not None, lang)), [lang], source=session.charts)
    solara.Div(children=[legend])


@solara.component
def ParameterInput(spec: ParameterSpec, value: Any, on_value, sites: list[str] | None = None, note: str = ""):
    """One parameter's input, as :func:`control_kind` says, labelled in the page's language;
    ``sites`` is the site menu."""
    lang = LANGUAGE.value
    kind = control_kind(spec)
    unit = app_text.unit(spec.unit, lang)
    label = app_text.param_label(spec, lang)
    if kind == "slider":
        label = t("control.slider_value", lang, label=label, value=f"{value:g}")
    label += f" {unit}" if unit else ""
    if kind == "site":
        solara.Select(label=label, values=list(sites or shipped_sites()), value=value, on_value=on_value)
    elif kind == "select":  # shown in the page's language; the value sent on is the choice's name
        options = app_text.choices(spec, lang)
        shown_value = next((text for text, choice in options.items() if choice == value), value)
        solara.Select(label=label, values=list(options), value=shown_value,
                      on_value=lambda text: on_value(options.get(text, text)))
    elif kind == "checkbox":
        solara.Checkbox(label=label, value=bool(value), on_value=on_value)
    elif kind == "slider" and spec.type is int:
        solara.SliderInt(label=label, value=int(value), min=int(spec.low), max=int(spec.high), on_value=on_value)
    elif kind == "slider":
        solara.SliderFloat(label=label, value=float(value), min=spec.low, max=spec.high,
                           step=slider_step(spec), on_value=on_value)
    elif spec.type is int:
        solara.InputInt(label=label, value=int(value), on_value=on_value)
    else:
        solara.InputFloat(label=label, value=float(value), on_value=on_value)
    text = t("control.site_help", lang) if kind == "site" else app_text.param_help(spec, lang)
    solara.Text(" ".join(filter(None, [text, shown(note, lang)])), style={"font-size": "12px", "color": "#555"})


@solara.component
def ParameterControl(session: LiveSession, spec: ParameterSpec, scenario: Scenario):
    """One parameter's input; ``scenario`` (a prop, so that a new preset redraws it) gives its value."""
    value = session.overrides.value.get(spec.name, getattr(scenario.parameters, spec.name))
    note = say("control.schedule_note") if spec.name in scenario.parameters.schedules else ""
    if spec.name == "site":
        ParameterInput(spec, session.site_label(value), session.choose_site, sites=list(session.site_menu()), note=note)
        # a fresh drop zone after each upload: Solara's FileDrop takes one file per mount
        MapUpload(session).key(f"upload-{session.upload_attempts.value}")
    else:
        ParameterInput(spec, value, lambda v: session.set_parameter(spec.name, v), note=note)


@solara.component
def MapUpload(session: LiveSession):
    """Drop a map file (text, one character per cell); it is parsed in memory and chosen as the site."""

    def on_file(info):
        data = info["file_obj"].read(MAP_MAX_BYTES + 1)
        # in a thread of its own: remounting the drop zone cancels the thread that read the file
        threading.Thread(target=session.upload_map, args=(info["name"], data), name="crowd-model-upload").start()

    solara.FileDrop(label=t("control.drop_map", kb=MAP_MAX_BYTES // 1024, side=MAP_MAX_SIDE),
                    on_file=on_file, lazy=True)


@solara.component
def Controls(session: LiveSession):
    playing = session.playing.value
    session.overrides.value  # redraw when a control changes
    lang = LANGUAGE.value
    with solara.Column(style={"min-width": "300px"}, classes=["crowd-live-controls"]):
        solara.Select(label=t("control.scenario", lang), values=preset_names(), value=session.scenario_name.value,
                      on_value=session.choose_scenario)
        solara.Text(app_text.scenario_description(session.scenario.name, session.scenario.description, lang),
                    style={"font-size": "13px"})
        with solara.Row():
            solara.Button(t("button.play", lang), on_click=session.play, disabled=playing, color="primary",
                          classes=["crowd-play"])
            solara.Button(t("button.pause", lang), on_click=session.pause, disabled=not playing, classes=["crowd-pause"])
            solara.Button(t("button.step", lang), on_click=session.step, classes=["crowd-step"])
            solara.Button(t("button.reset", lang), on_click=session.reset, classes=["crowd-reset"])
        solara.SliderInt(label=t("control.speed", lang, speed=session.speed.value), value=session.speed.value,
                         min=1, max=MAX_SPEED, on_value=session.set_speed)
        solara.InputInt(label=t("control.seed", lang), value=session.seed.value, on_value=session.set_seed)
        Messages(session)
        solara.Button(t("presenter.on", lang), on_click=lambda: session.set_presenter(True), classes=["crowd-presenter-on"],
                      icon_name="mdi-presentation")
        with solara.Details(summary=t("tactics.title", lang), expand=True).key("tactics"):
            solara.Text(t("tactics.help", lang), style={"font-size": "12px", "color": "#555"})
            for name in TACTICS:
                ParameterControl(session, SPECS[name], session.scenario).key(f"tactic-{name}")
        CompareControls(session)
        ExportControls(session)
        groups: dict[str, list[ParameterSpec]] = {}
        for spec in parameter_specs():
            groups.setdefault(spec.group, []).append(spec)
        for group, specs in groups.items():
            # keyed: a panel keeps its open state whatever appears above it (a message once
            # shifted the panels' states, so the water-cannon panel closed as it opened)
            with solara.Details(summary=t("control.parameters_group", lang, group=app_text.group(group, lang)), expand=group in ("behaviour", "security")).key(
                    f"parameters-{group}"):
                for spec in specs:
                    ParameterControl(session, spec, session.scenario).key(spec.name)


@solara.component
def CompareControls(session: LiveSession):
    """Response B's tactics, and the buttons that compare it with A from the start or branch it here."""
    lang = LANGUAGE.value
    changes = session.compare_changes.value
    compared = session.compared.value
    model = session.model
    with solara.Details(summary=t("compare.title", lang), expand=compared is not None).key("compare"):
        solara.Text(t("compare.response_b", lang), style={"font-weight": "bold", "font-size": "13px"})
        with solara.Column(classes=["crowd-compare-tactics"]):
            for name in TACTICS:
                value = changes.get(name, getattr(model.parameters, name) if model else SPECS[name].default)
                ParameterInput(SPECS[name], value, lambda v, n=name: session.set_compare_change(n, v)).key(f"b-{name}")
        mid_run = [n for n in TACTICS if n in MID_RUN_PARAMETERS]
        solara.Text(t("compare.mid_run", lang, names=", ".join(mid_run)), style={"font-size": "12px", "color": "#555"})
        with solara.Row(style={"flex-wrap": "wrap"}):
            solara.Button(t("compare.from_start", lang), on_click=session.compare_from_start, classes=["crowd-compare-start"])
            solara.Button(t("compare.branch", lang), on_click=session.branch_here, classes=["crowd-branch"])
            if compared is not None:
                solara.Button(t("compare.stop", lang), on_click=session.stop_comparing, classes=["crowd-compare-stop"])


@solara.component
def ExportControls(session: LiveSession):
    """Downloads: the map shown (PNG), the run so far (GIF, MP4)."""
    lang = LANGUAGE.value
    with solara.Details(summary=t("export.title", lang)).key("export"):
        downloads = [(session.map_png, "crowd-map.png", t("export.png", lang), "png")]
        downloads += [(lambda fmt=fmt: session.animation(fmt), f"crowd-run.{fmt}", t(f"export.{fmt}", lang, fps=EXPORT_FPS), fmt)
                      for fmt in ("gif", "mp4")]
        for data, filename, label, kind in downloads:
            with solara.FileDownload(data, filename=filename, mime_type=f"image/{kind}" if kind != "mp4" else "video/mp4"):
                solara.Button(label, icon_name="mdi-download", classes=[f"crowd-export-{kind}"], text=True)
        solara.Text(t("export.help", lang, frames=session.export_frames()), style={"font-size": "12px", "color": "#555"})


@solara.component
def ScrubBar(session: LiveSession):
    """Back to any step already run: the map, counts and charts as they were then. While playing,
    the bar follows the model straight from the charts' value (a render walks the whole page);
    it is drawn again when the play stops."""
    lang = LANGUAGE.value
    head = session.head.value
    playing = session.playing.value
    shown_step = session.view_step.value
    step = head if shown_step is None else shown_step
    first = session.first_step()
    with solara.Row(classes=["crowd-scrub"], style={"align-items": "center", "flex-wrap": "wrap"}):
        with solara.Div(style={"flex": "1 1 300px"}):
            bar = solara.SliderInt(label=scrub_label(step, head, lang), value=step, min=first,
                                   max=max(head, first + 1) if head == first else head,
                                   on_value=session.show_step, disabled=head == first and not playing)
        solara.InputInt(label=t("replay.go_to", lang), value=step, on_value=session.show_step, classes=["crowd-goto"],
                        style={"max-width": "110px"})
        if shown_step is not None:
            solara.Button(t("replay.latest", lang), on_click=lambda: session.show_step(head), classes=["crowd-latest"])
    if shown_step is not None:
        solara.Info(t("replay.viewing", lang, step=shown_step), classes=["crowd-viewing"], dense=True)

    def follow():
        slider = solara.get_widget(bar)

        def draw(charts):
            if session.playing.peek() and charts.head > first:
                with slider.hold_sync(), suppress_events():  # not a move of the bar by the user
                    slider.max, slider.disabled, slider.v_model = charts.head, False, charts.head
                    slider.label = scrub_label(charts.head, charts.head, lang)

        return session.charts.subscribe(draw)

    solara.use_effect(follow, [lang, first])


def scrub_label(step: int, head: int, lang: str) -> str:
    return t("replay.scrub", lang, step=step, head=head, minutes=f"{step * MINUTES_PER_STEP:g}")


@solara.component
def Messages(session: LiveSession):
    """The live view's messages, in a component of their own, so that they come and go without
    shifting the controls below them."""
    playing = session.playing.value
    session.overrides.value
    session.applied.value
    lang = LANGUAGE.value
    with solara.Column(gap="4px", classes=["crowd-messages"]):
        if session.message.value:
            solara.Error(shown(session.message.value, lang), classes=["crowd-message"])
        if session.notice.value:
            solara.Info(shown(session.notice.value, lang), classes=["crowd-notice"])
        if not playing and session.finished():
            solara.Info(t("message.finished", lang, steps=session.scenario.steps))
        pending = session.pending_error()
        if pending:
            solara.Warning(shown(pending, lang), classes=["crowd-pending"])
        elif session.changed():
            solara.Info(t("message.changed", lang), classes=["crowd-changed"])


LIVE_CSS = """
.crowd-live { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.crowd-live > .crowd-live-controls { flex: 1 1 300px; max-width: 420px; }
.crowd-live > .crowd-live-main { flex: 3 1 600px; min-width: 0; }
@media (max-width: 900px) { .crowd-live > .crowd-live-controls { max-width: none; } }
.crowd-map { min-width: 0; }
/* one map: its counts in one row (a long label, as in Bahasa Indonesia, wraps within its figure),
   so that the map and legend stay above the fold at 1920x1080; two maps: their counts wrap */
.crowd-pair > .crowd-side-a:only-child .crowd-numbers { flex-wrap: nowrap !important; }
.crowd-pair > .crowd-side-a:only-child .crowd-number { flex: 0 1 auto; min-width: 56px !important; }
img.crowd-map-image { display: block; max-width: 100%; height: auto; margin: 0 !important; }
.crowd-pair { display: flex; flex-wrap: wrap; gap: 12px; }
.crowd-pair > div { flex: 1 1 320px; min-width: 0; }
.crowd-map-row { display: flex; flex-wrap: wrap; gap: 12px; align-items: stretch; }
.crowd-map-row > .crowd-map { flex: 0 1 auto; }
/* the log beside the map, as tall as the map (its own height does not count: contain), its lines
   scrolled; on a window too narrow for both it goes beneath the map, 320 pixels tall */
.crowd-map-row > .crowd-log-panel { flex: 1 1 260px; min-width: 240px; min-height: 320px; contain: size;
  display: flex; flex-direction: column; flex-wrap: nowrap; }
.crowd-map-row > .crowd-log-panel > .crowd-log-box { flex: 1 1 0; min-height: 0; overflow-y: auto; }
.crowd-log-lines { font-size: 13px; line-height: 1.35; }
.crowd-log-line { margin: 1px 0; }
.crowd-legend-block { margin-top: 6px; }
.crowd-legend-block .crowd-legend > div { column-width: 220px; column-gap: 16px; font-size: 12px !important; }
.crowd-legend-block .crowd-legend-item, .crowd-legend-block .crowd-legend-mark { break-inside: avoid; margin: 0 !important; }
.crowd-log-pair { display: flex; flex-wrap: wrap; gap: 12px; }
.crowd-log-pair > div { flex: 1 1 260px; min-width: 0; }
.crowd-log-pair .crowd-log-box { max-height: 360px; overflow-y: auto; }
.crowd-fullscreen { text-transform: uppercase; font-weight: 500; font-size: 14px; letter-spacing: 0.09em;
  padding: 6px 12px; border-radius: 4px; background: none; border: none; cursor: pointer; }
.crowd-fullscreen:hover { background: rgba(0,0,0,0.06); }
/* presenter mode: the bar, then the map(s) under their banner and numbers, the log and legend
   beside one map or beneath two; nothing lies over a map */
.crowd-presenter { position: fixed; inset: 0; z-index: 2000; background: #fff; padding: 4px 8px;
  display: flex; flex-direction: column; overflow: hidden; }
.crowd-presenter > .crowd-presenter-bar { flex: 0 0 auto; }
.crowd-presenter-body { flex: 1 1 0; min-height: 0; display: flex; gap: 12px; }
.crowd-presenter-body > .crowd-pair { flex: 1 1 0; min-width: 0; min-height: 0; flex-wrap: nowrap; }
.crowd-presenter-body .crowd-pair > div { display: flex; flex-direction: column; min-height: 0; }
.crowd-presenter-body .crowd-pair > div > .crowd-map { flex: 1 1 0; min-height: 0; }
.crowd-presenter img.crowd-map-image { width: 100%; height: 100%; max-width: 100%; object-fit: scale-down;
  object-position: center top; }
.crowd-presenter .crowd-banner-line { font-size: 26px !important; }
.crowd-presenter-side { flex: 0 0 380px; min-height: 0; display: flex; flex-direction: column; gap: 8px;
  overflow: hidden; }
.crowd-presenter-side .crowd-log-panel { flex: 1 1 0; min-height: 0; display: flex; flex-direction: column;
  flex-wrap: nowrap; }
.crowd-presenter-side .crowd-log-box { flex: 1 1 0; min-height: 0; overflow: hidden; }
.crowd-presenter-side .crowd-log-lines { font-size: 15px; }
.crowd-presenter-side .crowd-legend > div { column-count: 2; column-gap: 10px; font-size: 12px !important; }
.crowd-presenter-side .crowd-legend-item, .crowd-presenter-side .crowd-legend-mark { break-inside: avoid; }
.crowd-presenter-body.crowd-presenter-two { flex-direction: column; }
.crowd-presenter-two > .crowd-pair { flex: 1 1 auto; }
.crowd-presenter-two > .crowd-presenter-side { flex: 0 0 30vh; flex-direction: row; }
.crowd-presenter-two > .crowd-presenter-side > .crowd-log-pair { flex: 2 1 0; min-height: 0; flex-wrap: nowrap; }
.crowd-presenter-two .crowd-log-pair > div { height: 100%; }
.crowd-presenter-two .crowd-log-pair .crowd-log-box { max-height: none; }
.crowd-presenter-two > .crowd-presenter-side > .crowd-legend-box { flex: 1 1 0; min-width: 0; overflow: hidden; }
@media (max-width: 900px) {
  .crowd-presenter { overflow: auto; }
  .crowd-presenter-body, .crowd-presenter-body > .crowd-pair { flex-direction: column; flex: 0 0 auto; }
  .crowd-presenter-body .crowd-pair > div, .crowd-presenter-body .crowd-pair > div > .crowd-map { flex: 0 0 auto; }
  .crowd-presenter img.crowd-map-image { height: auto; }
  .crowd-presenter-side, .crowd-presenter-two > .crowd-presenter-side { flex: 0 0 auto; flex-direction: column; }
  .crowd-presenter-side .crowd-log-panel, .crowd-presenter-side .crowd-log-box { flex: 0 0 auto; }
  .crowd-presenter-two > .crowd-presenter-side > .crowd-log-pair,
  .crowd-presenter-two > .crowd-presenter-side > .crowd-legend-box { flex: 0 0 auto; flex-wrap: wrap; }
  .crowd-presenter-two .crowd-log-pair > div { height: auto; }
  .crowd-presenter-side .crowd-log-box { max-height: 40vh; } }
"""

# Presenter mode's full-screen button: the browser's Fullscreen API on the whole page (a click
# in the page, so the browser allows it); pressed again, or Esc, leaves full screen.
FULLSCREEN_JS = ("document.fullscreenElement ? document.exitFullscreen() : "
                 "document.documentElement.requestFullscreen && document.documentElement.requestFullscreen()")


@solara.component
def ComparedLogs(session: LiveSession):
    """While comparing: A's event log and B's, side by side (B's from the branch on, after the
    story they share)."""
    with solara.Div(classes=["crowd-log-pair"]):
        EventLog(session, session.frame, "crowd-log", "A")
        EventLog(session, session.frame_b, "crowd-log-b", "B")


def changes_text(changes: dict[str, Any], lang: str) -> str:
    """Response B's changed tactics in ``lang``: each parameter's label and value as the page
    shows them (a choice by its text, a switch as yes / no)."""
    return ", ".join(f"{app_text.param_label(k, lang)} = {app_text.value(SPECS[k], v, lang)}"
                     for k, v in changes.items()) or t("compare.same", lang)


@solara.component
def Maps(session: LiveSession, presenter: bool = False):
    """The map (two while comparing, side by side, stacked on a narrow window), each under its
    banner and counts; beside the controls, one map has its event log beside it (two: their logs
    beneath them) and the legend in columns beneath; in presenter mode the maps alone (the log and
    legend are :func:`PresenterSide`)."""
    lang = LANGUAGE.value
    compared = session.compared.value
    sides = [("A", session.frame, "crowd-counts", "crowd-grid")]
    if compared is not None:
        sides.append(("B", session.frame_b, "crowd-counts-b", "crowd-grid-b"))
    with solara.Div(classes=["crowd-pair"]):
        for side, source, counts_css, grid_css in sides:
            with solara.Div(classes=[f"crowd-side-{side.lower()}"]):
                with solara.Div(classes=["crowd-map-head"]):
                    if compared is not None:
                        step, changes = compared
                        title = (t("compare.a", lang) if side == "A" else
                                 t("compare.b", lang, changes=changes_text(changes, lang), step=step))
                        solara.Text(title, classes=[f"crowd-title-{side.lower()}"], style={"font-weight": "bold"})
                    Banner(session, source, "crowd-banner" if side == "A" else "crowd-banner-b")
                    CountNumbers(session, source, counts_css)
                if presenter or compared is not None:
                    GridView(session, source, (grid_css,))
                else:
                    with solara.Div(classes=["crowd-map-row"]):
                        GridView(session, source, (grid_css,))
                        EventLog(session)
    if presenter:
        return
    if compared is not None:
        ComparedLogs(session)
    with solara.Div(classes=["crowd-legend-block"]):
        Legend(session)


@solara.component
def PresenterSide(session: LiveSession):
    """Presenter mode's log(s) and legend, beside one map or beneath two."""
    with solara.Div(classes=["crowd-presenter-side"]):
        if session.compared.value is not None:
            ComparedLogs(session)
        else:
            EventLog(session)
        with solara.Div(classes=["crowd-legend-box"]):
            Legend(session)


@solara.component
def LiveView(session: LiveSession | None = None):
    """The live view; it makes its own session unless it is given one."""
    session = solara.use_memo(lambda: session or LiveSession(), [])
    solara.use_effect(lambda: session.pause, [])
    lang = LANGUAGE.value
    solara.use_effect(lambda: session.set_language(lang), [lang])
    solara.Style(LIVE_CSS)
    if session.presenter.value:
        with solara.Div(classes=["crowd-presenter"]):
            with solara.Row(style={"align-items": "center"}, classes=["crowd-presenter-bar"]):
                solara.Button(t("presenter.off", lang), on_click=lambda: session.set_presenter(False),
                              classes=["crowd-presenter-off"], icon_name="mdi-close", text=True)
                solara.Button(t("button.play", lang), on_click=session.play, disabled=session.playing.value,
                              classes=["crowd-play"], text=True)
                solara.Button(t("button.pause", lang), on_click=session.pause, disabled=not session.playing.value,
                              classes=["crowd-pause"], text=True)
                solara.HTML(tag="span", unsafe_innerHTML=(
                    f'<button class="crowd-fullscreen" onclick="{html.escape(FULLSCREEN_JS)}">'
                    f'{html.escape(t("presenter.fullscreen", lang))}</button>'))
            two = session.compared.value is not None
            with solara.Div(classes=["crowd-presenter-body", "crowd-presenter-two" if two else "crowd-presenter-one"]):
                Maps(session, presenter=True)
                PresenterSide(session)
        return
    with solara.Div(classes=["crowd-live"]):
        Controls(session)
        with solara.Column(classes=["crowd-live-main"]):
            ScrubBar(session)
            Maps(session)
            ChartsView(session)


@solara.component
def LanguageMenu():
    """English / Bahasa Indonesia for this page; a value the menu does not offer changes nothing."""
    lang = LANGUAGE.value
    names = {name: code for code, name in LANGUAGES.items()}

    def choose(name):
        if name in names:
            LANGUAGE.set(names[name])

    solara.Select(label=t("language.menu", lang), values=list(names), value=LANGUAGES[lang], on_value=choose,
                  classes=["crowd-language"], style={"max-width": "220px"})


# The language menu at the right of the tabs' bar, scrolled with the page (its own line on a narrow
# window): the live view starts under the tabs, so that its map and legend stay above the fold at
# 1920x1080.
PAGE_CSS = """
.crowd-page { position: relative; }
@media (min-width: 700px) {
  .crowd-language-box { position: absolute; top: 0; right: 16px; z-index: 5; width: 220px; } }
"""


@solara.component
def Page():
    lang = LANGUAGE.value
    tab, set_tab = solara.use_state(0)
    solara.Title(t("app.title", lang))
    solara.Style(PAGE_CSS)
    with solara.Div(classes=["crowd-page"]):
        with solara.Div(classes=["crowd-language-box"]):
            LanguageMenu()
        with solara.lab.Tabs(value=tab, on_value=set_tab):
            with solara.lab.Tab(t("app.tab_live", lang)):
                LiveView()
            with solara.lab.Tab(t("app.tab_sweep", lang)):
                SweepView()


# ---------------------------------------------------------------- sweep page

# Bounds of a sweep from the page, checked on the server before anything is planned (1e8
# replications once grew the server by 3 GB): per-parameter points, replications, steps
# per run, runs in all, and steps in all (runs x steps).
SWEEP_MAX_POINTS = 50
SWEEP_MAX_REPLICATIONS = 1_000
SWEEP_MAX_STEPS = 100_000
SWEEP_MAX_RUNS = 10_000
SWEEP_MAX_TOTAL_STEPS = 20_000_000
SWEEP_MAX_SAMPLES = 2_000  # Latin hypercube: samples, and parameters sampled at once
SWEEP_MAX_LHS_PARAMETERS = 4
SWEEP_DESIGNS = ("grid", "lhs")
NO_SECOND = "(none)"
TIMESERIES_ROWS_PER_RUN = 100
# The time estimate before a sweep: agent-steps per second of one worker (README: 290,000
# to 490,000 on this project's machines; a cautious figure), replaced by what the last
# finished sweep of this server measured, plus a fixed cost per run.
ESTIMATE_AGENT_STEPS_PER_SECOND = 250_000.0
ESTIMATE_SECONDS_PER_RUN = 0.05
_measured_rate: list[float] = []



class SweepCancelled(BaseException):
    """Stops the sweep engine from the page. Like KeyboardInterrupt it is no ``Exception``,
    so the engine does not record it as a failed run but stops and marks the sweep interrupted."""


class CancellablePool(Executor):
    """A process pool whose runs, running ones included, stop on :meth:`cancel`: every run not
    finished then ends with :class:`SweepCancelled` and the worker processes are terminated.
    Workers come from a fork server (the server is threaded, so it must not fork itself) that
    has imported the run function's module. ``on_done`` is called for each run that finished.
    A worker that dies otherwise fails its run, as on ``crowd-model sweep``'s pool."""

    def __init__(self, workers: int, on_done=lambda: None):
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([execute.__module__])
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        self.on_done = on_done
        self.lock = threading.Lock()
        self.pending: set[Future] = set()
        self.cancelled = False

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_running_or_notify_cancel()  # it is the pool's now: only cancel() ends it early
        with self.lock:
            if self.cancelled:
                raise SweepCancelled()
            self.pending.add(future)

        def settle(inner: Future) -> None:
            with self.lock:
                mine = future in self.pending
                self.pending.discard(future)
            if not mine:
                return
            error = SweepCancelled() if inner.cancelled() else inner.exception()
            if error is None:
                future.set_result(inner.result())
            else:
                future.set_exception(error)
            self.on_done()

        self.pool.submit(fn, *args, **kwargs).add_done_callback(settle)
        return future

    def worker_pids(self) -> list[int]:
        return list(self.pool._processes or {})  # noqa: SLF001 (public only from Python 3.14)

    def cancel(self) -> None:
        """End every unfinished run with :class:`SweepCancelled` and terminate the workers;
        returns once they have exited."""
        with self.lock:
            self.cancelled = True
            pending, self.pending = self.pending, set()
        for future in pending:
            future.set_exception(SweepCancelled())
        processes = list((self.pool._processes or {}).values())  # noqa: SLF001
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(10)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            self.cancel()
        self.pool.shutdown(wait=wait)


def sweepable_specs() -> list[ParameterSpec]:
    return [s for s in parameter_specs() if s.type in (int, float) and not s.choices]


def default_range(spec: ParameterSpec, value: float) -> tuple[float, float]:
    """Half to twice the scenario's value (0 to 1 around a zero), within the parameter's bounds."""
    low, high = sorted((value / 2, value * 2)) if value else (0, 1)
    if spec.low is not None:
        low = max(low, spec.low)
    if spec.high is not None:
        high = min(high, spec.high)
    return (round(low), round(high)) if spec.type is int else (low, high)


def range_values(spec: ParameterSpec, low: float, high: float, points: int) -> list:
    """``points`` evenly spaced values from ``low`` to ``high`` (whole numbers for integers),
    each checked against the parameter's type and bounds."""
    label = say(f"param.{spec.name}.label")
    points = checked_int(say("field.points_of", parameter=label), points, 1, SWEEP_MAX_POINTS)
    low, high = coerced(spec, low), coerced(spec, high)
    if high < low:
        raise InputError(say("refusal.low_above_high", name=label, low=f"{low:g}", high=f"{high:g}"))
    values = np.linspace(low, high, points)
    if spec.type is int:
        return sorted({int(round(v)) for v in values})
    return [float(np.round(v, 10)) for v in values]


def sweep_experiment(scenario: str, steps: int, replications: int, seed: int, ranges: list[tuple],
                     fixed: dict[str, Any] | None = None) -> dict:
    """An experiment (the TOML form of :mod:`crowd_model.experiments.spec`) for a grid over ``ranges``,
    each ``(name, low, high, points)``, with ``fixed`` parameters; every value is checked
    here (a shipped preset, bounded counts, parameters within their bounds, a shipped site)."""
    specs = _varied_specs(ranges, 2, "one or two")
    vary = {name: range_values(specs[name], low, high, points) for name, low, high, points in ranges}
    return _page_experiment(scenario, steps, replications, seed, {"design": "grid"}, vary, fixed)


def lhs_experiment(scenario: str, steps: int, replications: int, seed: int, samples: int, bounds: list[tuple],
                   fixed: dict[str, Any] | None = None) -> dict:
    """An experiment for a Latin hypercube of ``samples`` points over ``bounds``, each
    ``(name, low, high)`` within the parameter's own bounds, checked as :func:`sweep_experiment`
    checks a grid's values."""
    specs = _varied_specs(bounds, SWEEP_MAX_LHS_PARAMETERS, f"one to {SWEEP_MAX_LHS_PARAMETERS}")
    vary = {}
    for name, low, high in bounds:
        low, high = coerced(specs[name], low), coerced(specs[name], high)
        if not low < high:
            raise InputError(say("refusal.low_not_below_high", name=say(f"param.{name}.label"),
                                 low=f"{low:g}", high=f"{high:g}"))
        vary[name] = {"low": low, "high": high}
    design = {"design": "lhs", "n": checked_int(say("field.samples"), samples, 1, SWEEP_MAX_SAMPLES)}
    return _page_experiment(scenario, steps, replications, seed, design, vary, fixed)


def _varied_specs(ranges: list[tuple], most: int, how_many: str) -> dict[str, ParameterSpec]:
    """The specs of the parameters a page's design varies: different numeric ones, at most ``most``."""
    specs = {s.name: s for s in sweepable_specs()}
    names = [r[0] for r in ranges]
    if not 1 <= len(ranges) <= most or len(set(names)) != len(names) or not all(n in specs for n in names):
        raise InputError(f"vary {how_many} different numeric parameters, got {[str(n)[:40] for n in names][:10]}")
    return specs


def _page_experiment(scenario: str, steps: int, replications: int, seed: int, design: dict, vary: dict,
                     fixed: dict[str, Any] | None) -> dict:
    if scenario not in preset_names():
        raise InputError(f"scenario {str(scenario)[:80]!r} is not offered; presets: {', '.join(preset_names())}")
    base = load_scenario(scenario)
    fixed_checked: dict[str, Any] = {}
    for name, value in (fixed or {}).items():
        if name in vary:
            raise InputError(f"{name} is varied; it cannot also be fixed")
        fixed_checked = with_override(fixed_checked, base, name, value, shipped_sites())
    steps = checked_int(say("sweep.steps_per_run"), steps, 1, SWEEP_MAX_STEPS)
    experiment = {
        "scenario": scenario,
        "steps": steps,
        "replications": checked_int(say("sweep.replications"), replications, 1, SWEEP_MAX_REPLICATIONS),
        "seed": checked_int(say("sweep.root_seed"), seed, 0, SEED_MAX),
        **design,
        "set": fixed_checked,
        "vary": vary,
        "record": {"every": max(1, steps // TIMESERIES_ROWS_PER_RUN)},
    }
    plan_runs(experiment)
    return experiment


def plan_runs(experiment: dict) -> int:
    """The number of runs of a grid or Latin-hypercube experiment from the page, refused above
    the page's bounds before anything is planned or allocated."""
    design = experiment.get("design", "grid")
    if design not in SWEEP_DESIGNS or experiment.get("scenario") not in preset_names():
        raise InputError("the sweep page runs grid and lhs designs over the shipped presets")
    steps = checked_int(say("sweep.steps_per_run"), experiment.get("steps"), 1, SWEEP_MAX_STEPS)
    runs = checked_int(say("sweep.replications"), experiment.get("replications"), 1, SWEEP_MAX_REPLICATIONS)
    vary = experiment.get("vary", {})
    if design == "lhs":
        runs *= checked_int(say("field.samples"), experiment.get("n"), 1, SWEEP_MAX_SAMPLES)
        checked_int(say("field.sampled_parameters"), len(vary), 1, SWEEP_MAX_LHS_PARAMETERS)
    for name, values in vary.items():
        if design == "lhs":
            if not (isinstance(values, dict) and set(values) == {"low", "high"}):
                raise InputError(f"{str(name)[:40]}: a Latin hypercube takes {{low, high}}")
        elif not isinstance(values, list):
            raise InputError(f"{str(name)[:40]}: the sweep page takes a list of values")
        else:
            runs *= checked_int(f"{str(name)[:40]}: points", len(values), 1, SWEEP_MAX_POINTS)
    site = experiment.get("set", {}).get("site", NO_SITE)
    if site not in shipped_sites():
        raise InputError(f"site {str(site)[:80]!r} is not offered for sweeps; sites: {', '.join(shipped_sites())}")
    if runs > SWEEP_MAX_RUNS:
        raise InputError(say("refusal.too_many_runs", runs=f"{runs:,}", most=f"{SWEEP_MAX_RUNS:,}"))
    if runs * steps > SWEEP_MAX_TOTAL_STEPS:
        raise InputError(say("refusal.too_many_steps", runs=f"{runs:,}", steps=f"{steps:,}", total=f"{runs * steps:,}",
                             most=f"{SWEEP_MAX_TOTAL_STEPS:,}"))
    return runs


def agent_count(parameters: Parameters) -> int:
    """Agents a run of ``parameters`` starts with (about; for the time estimate)."""
    p = parameters
    if p.site != NO_SITE:
        return p.crowd_size + p.police_officers + p.tni_soldiers + p.linmas_guards
    cells = p.width * p.height
    return round(p.citizen_density * cells) + round(p.officer_density * cells)


def estimate_seconds(parameters: Parameters, steps: int, runs: int, workers: int) -> float:
    rate = _measured_rate[-1] if _measured_rate else ESTIMATE_AGENT_STEPS_PER_SECOND
    per_run = steps * max(1, agent_count(parameters)) / rate + ESTIMATE_SECONDS_PER_RUN
    return runs * per_run / max(1, min(workers, runs))


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def plan_summary(experiment: dict, workers: int, lang: str = app_text.DEFAULT_LANGUAGE) -> str:
    """The plan's size and an estimated time, for the page before a sweep starts."""
    runs = plan_runs(experiment)
    parameters = build_parameters(load_scenario(experiment["scenario"]), experiment.get("set", {}))
    if experiment["design"] == "lhs":
        points = t("sweep.lhs_points", lang, samples=app_text.counted("sweep.samples", experiment["n"], lang),
                   parameters=app_text.counted("sweep.parameters", len(experiment["vary"]), lang))
    else:
        sizes = [len(v) for v in experiment["vary"].values()]
        points = t("sweep.grid_points_one" if math.prod(sizes) == 1 else "sweep.grid_points", lang,
                   points=" × ".join(map(str, sizes)))
    seconds = estimate_seconds(parameters, experiment["steps"], runs, workers)
    basis = (t("sweep.basis_measured", lang) if _measured_rate
             else t("sweep.basis_default", lang, rate=f"{ESTIMATE_AGENT_STEPS_PER_SECOND:,.0f}"))
    processes = t("sweep.processes_many" if workers > 1 else "sweep.processes_one", lang, workers=workers)
    return t("sweep.plan", lang, points=points, replications=experiment["replications"], runs=f"{runs:,}",
             steps=f"{experiment['steps']:,}", agents=f"{agent_count(parameters):,}", duration=_duration(seconds),
             processes=processes, basis=basis)


def mean_with_ci(outcomes: pd.DataFrame, by: list[str], metric: str) -> pd.DataFrame:
    """Mean of ``metric`` per design point with :func:`crowd_model.analysis.stats.interval`'s confidence
    interval over replicates (a point with one run gets a band of zero width)."""
    ok = outcomes[outcomes["status"] == "ok"] if "status" in outcomes else outcomes
    table = interval(ok.groupby(by)[metric]).reset_index()
    for bound in ("ci_low", "ci_high"):
        table[bound] = table[bound].fillna(table["mean"])
    return table


def varying_outcomes(outcomes: pd.DataFrame, metrics: list[str]) -> tuple[list[str], dict[str, Any]]:
    """The numeric outcomes that differ between runs (offered in the menu), and those with the
    same value in every run (named below it with that value)."""
    ok = outcomes[outcomes["status"] == "ok"] if "status" in outcomes else outcomes
    varying, constant = [], {}
    for metric in numeric_metrics(ok, metrics):
        values = ok[metric].dropna().unique()
        if len(values) > 1:
            varying.append(metric)
        else:
            constant[metric] = values[0]
    return varying, constant


def sweep_chart(outcomes: pd.DataFrame, varied: list[str], metric: str,
                lang: str = app_text.DEFAULT_LANGUAGE) -> dict:
    """A line with its confidence band for one varied parameter; a heatmap of means for two."""
    table = mean_with_ci(outcomes, varied, metric)
    title = {"text": t("sweep.chart_title", lang, metric=outcome_text(metric, lang)), "textStyle": {"fontSize": 14}}
    mean = t("sweep.mean", lang)
    if len(varied) == 1:
        x = varied[0]
        band = t("sweep.band", lang, confidence=f"{CONFIDENCE:.0%}")
        bound_style = {"type": "line", "symbol": "none", "itemStyle": {"color": "#e57373"},
                       "lineStyle": {"color": "#e57373", "type": "dashed", "width": 1.5}}
        return {
            "animation": False,
            "title": title,
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 22, "data": [mean, band]},
            "grid": {"left": 60, "right": 20, "top": 60, "bottom": 40},
            "xAxis": {"type": "category", "boundaryGap": False, "data": [f"{v:g}" for v in table[x]],
                      "name": x, "nameLocation": "middle", "nameGap": 26},
            "yAxis": {"type": "value", "name": metric, "scale": True},
            "series": [
                {"name": band, **bound_style, "id": "ci-low", "data": table["ci_low"].tolist()},
                {"name": band, **bound_style, "id": "ci-high", "data": table["ci_high"].tolist()},
                {"name": mean, "type": "line", "symbolSize": 7, "itemStyle": {"color": "#d50000"},
                 "data": table["mean"].tolist()},
            ],
        }
    x, y = varied[:2]
    xs, ys = sorted(table[x].unique()), sorted(table[y].unique())
    data = [[xs.index(a), ys.index(b), round(float(m), 4)] for a, b, m in zip(table[x], table[y], table["mean"])]
    means = [d[2] for d in data] or [0]
    # zero is the scale's pale end (or its middle, white, when means are negative too), and
    # an all-zero map stays pale: the scale never collapses to one value painted mid-way
    low, high = min(0.0, min(means)), max(0.0, max(means))
    if low < 0 < high:
        bound = max(-low, high)
        low, high, colours = -bound, bound, ["#2166ac", "#ffffff", "#b2182b"]
    else:
        colours = ["#fff5eb", "#fd8d3c", "#7f2704"] if low == 0 else ["#08306b", "#6baed6", "#f7fbff"]
    if low == high:
        high = low + 1
    return {
        "animation": False,
        "title": title,
        "tooltip": {"position": "top"},
        "grid": {"left": 70, "right": 20, "top": 40, "bottom": 90},
        "xAxis": {"type": "category", "data": [f"{v:g}" for v in xs], "name": x, "nameLocation": "middle", "nameGap": 26},
        "yAxis": {"type": "category", "data": [f"{v:g}" for v in ys], "name": y},
        "visualMap": {"min": low, "max": high, "calculable": True, "orient": "horizontal",
                      "left": "center", "bottom": 0, "inRange": {"color": colours}},
        "series": [{"name": metric, "type": "heatmap", "data": data, "label": {"show": len(data) <= 60}}],
    }


def outcome_text(name: str, lang: str = app_text.DEFAULT_LANGUAGE) -> str:
    """An outcome as the sweep page names it: its label in ``lang`` and its column in outcomes.csv."""
    return f"{app_text.metric_label(name, lang)} ({name})"


def lhs_chart(outcomes: pd.DataFrame, varied: list[str], metric: str, lang: str = app_text.DEFAULT_LANGUAGE) -> dict:
    """Latin hypercube: ``metric`` of every finished run against each sampled parameter, one
    scatter panel per parameter side by side, sharing the outcome's axis."""
    ok = outcomes[outcomes["status"] == "ok"] if "status" in outcomes else outcomes
    ok = ok[ok[metric].notna()]
    width = 100 / max(1, len(varied))
    grids, x_axes, y_axes, series = [], [], [], []
    for i, name in enumerate(varied):
        grids.append({"left": f"{i * width + 6:.1f}%", "width": f"{width - 9:.1f}%", "top": 60, "bottom": 50})
        x_axes.append({"type": "value", "gridIndex": i, "name": name, "nameLocation": "middle", "nameGap": 26,
                       "scale": True})
        y_axes.append({"type": "value", "gridIndex": i, "scale": True, "name": metric if i == 0 else "",
                       "axisLabel": {"show": i == 0}})
        series.append({"name": name, "type": "scatter", "xAxisIndex": i, "yAxisIndex": i, "symbolSize": 6,
                       "itemStyle": {"color": "#d50000", "opacity": 0.6},
                       "data": [[float(a), float(b)] for a, b in zip(ok[name], ok[metric])]})
    return {
        "animation": False,
        "title": {"text": t("sweep.scatter_title", lang, metric=outcome_text(metric, lang)), "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "item"},
        "grid": grids, "xAxis": x_axes, "yAxis": y_axes, "series": series,
    }


@dataclass
class SweepStatus:
    state: str = "idle"  # idle | running | cancelling | done | cancelled | failed
    done: int = 0
    total: int = 0
    message: str = ""
    outcomes: pd.DataFrame | None = None
    varied: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    design: str = "grid"


class SweepSession:
    """One tab's sweep: its form, and the run in a background thread through :mod:`experiments`,
    on a :class:`CancellablePool` whose workers Cancel terminates."""

    def __init__(self):
        self.status = solara.reactive(SweepStatus())
        self.metric = solara.reactive("")
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: CancellablePool | None = None
        self._dir: tempfile.TemporaryDirectory | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, experiment: dict, workers: int) -> None:
        """Check ``experiment`` and ``workers`` (bounded here, whatever the page sent) and run
        it in the background; a bad value shows one line."""
        if self.running:
            return
        try:
            workers = checked_int(say("field.worker_processes"), workers, 1, default_workers())
            runs = plan_runs(experiment)
            parsed = parse_experiment(experiment, name="app-sweep")
        except InputError as exc:
            self.status.value = SweepStatus("failed", message=error_text(exc))
            return
        if self._dir is not None:
            self._dir.cleanup()
        self._dir = tempfile.TemporaryDirectory(prefix="crowd-model-sweep-")
        self._cancel.clear()
        self._pool = None
        self.status.value = SweepStatus("running", 0, runs, varied=tuple(parsed.varied_names),
                                        metrics=tuple(parsed.outcome_columns), design=parsed.design)
        self._thread = threading.Thread(target=self._run, args=(parsed, workers, runs), name="crowd-model-sweep",
                                        daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Stop the sweep, its running runs included; the page says "cancelling…" until the
        workers have ended."""
        if not self.running or self._cancel.is_set():
            return
        self._cancel.set()
        self.status.value = _replace(self.status.value, state="cancelling", message=say("sweep.cancelling_message"))
        pool = self._pool
        if pool is not None:
            pool.cancel()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def outcomes_path(self) -> Path | None:
        return Path(self._dir.name) / "outcomes.csv" if self._dir is not None else None

    def _run(self, experiment, workers: int, runs: int) -> None:
        lock = threading.Lock()
        finished = 0

        def on_done():
            nonlocal finished
            with lock:
                finished += 1
                if self.status.value.state == "running":
                    self.status.value = _replace(self.status.value, done=finished)

        state, message = "done", ""
        try:
            pool = self._pool = CancellablePool(workers, on_done)
            try:
                if self._cancel.is_set():
                    pool.cancel()
                summary = run_sweep(experiment, self._dir.name, pool, in_flight=2 * workers, progress=False,
                                    executor_label=f"app, process pool of {workers}")
            finally:
                pool.shutdown(wait=True)
            message = say("sweep.summary", ok=summary.ok, runs=summary.runs, seconds=f"{summary.seconds:.1f}",
                          executor=say("sweep.pool", workers=workers))
            if summary.failed:
                message = say("sweep.summary_with_failed", summary=message,
                              failed=say("sweep.summary_failed", failed=summary.failed))
            elif summary.compute_seconds > 1:
                agents = agent_count(experiment.base)
                _measured_rate.append(summary.runs * experiment.steps * max(1, agents) / summary.compute_seconds)
        except SweepCancelled:
            state = "cancelled"
        except InputError as exc:
            state, message = "failed", error_text(exc)
        except Exception as exc:  # the page shows one line, never a traceback
            state, message = "failed", f"{type(exc).__name__}: {exc}"
        outcomes = None
        if self.outcomes_path is not None and self.outcomes_path.exists():
            try:
                outcomes = pd.read_csv(self.outcomes_path)
            except (OSError, ValueError, pd.errors.ParserError):
                outcomes = None
        if outcomes is not None and outcomes.empty:
            outcomes = None
        if state == "cancelled":
            kept = 0 if outcomes is None else len(outcomes)
            message = say("sweep.cancelled", kept=kept)
        metric = self.metric.value
        metrics = self.status.value.metrics
        if metric not in metrics:
            self.metric.value = "peak_active" if "peak_active" in metrics else (metrics[0] if metrics else "")
        self.status.value = _replace(self.status.value, state=state, message=message, outcomes=outcomes,
                                     done=0 if outcomes is None else len(outcomes))


def _replace(status: SweepStatus, **changes) -> SweepStatus:
    return SweepStatus(**{**status.__dict__, **changes})


@solara.component
def SweepResults(session: SweepSession):
    status = session.status.value
    if status.outcomes is None:
        return
    offered, constant = varying_outcomes(status.outcomes, list(status.metrics))
    lang = LANGUAGE.value
    if not offered:
        solara.Warning(t("sweep.no_varying", lang))
    else:
        metric = session.metric.value if session.metric.value in offered else offered[0]
        menu = {outcome_text(name, lang): name for name in offered}  # a text it does not offer changes nothing
        solara.Select(label=t("sweep.outcome", lang), values=list(menu), value=outcome_text(metric, lang),
                      on_value=lambda text: session.metric.set(menu.get(text, metric)))
        solara.Text(t("sweep.outcome_help", lang, metric=outcome_text(metric, lang), help=app_text.metric_help(metric, lang)),
                    classes=["crowd-sweep-outcome-help"], style={"font-size": "13px"})
        chart = lhs_chart if status.design == "lhs" else sweep_chart
        solara.FigureEcharts(option=chart(status.outcomes, list(status.varied), metric, lang),
                             attributes={"style": "height: 420px; width: 100%", "class": "crowd-sweep-chart"})
    if constant:
        values = ", ".join(f"{app_text.metric_label(k, lang)} = {_fmt(v)}" for k, v in constant.items())
        solara.Text(t("sweep.constant", lang, values=values),
                    style={"font-size": "12px", "color": "#555"}, classes=["crowd-sweep-constant"])
    path = session.outcomes_path
    solara.FileDownload(lambda: path.read_bytes(), filename="outcomes.csv",
                        label=t("sweep.download", lang, runs=len(status.outcomes)))


@solara.component
def SweepView(session: SweepSession | None = None):
    """Pick one or two parameters with ranges, replications, steps and fixed parameters; see
    the plan's size and time; run; plot; download."""
    session = solara.use_memo(lambda: session or SweepSession(), [])
    solara.use_effect(lambda: session.cancel, [])
    specs = {s.name: s for s in sweepable_specs()}
    scenario_name, set_scenario_name = solara.use_state(default_scenario())
    scenario = solara.use_memo(lambda: load_scenario(scenario_name), [scenario_name])
    first, set_first = solara.use_state("legitimacy" if "legitimacy" in specs else next(iter(specs)))
    second, set_second = solara.use_state(NO_SECOND)
    design, set_design = solara.use_state("grid")
    sampled, set_sampled = solara.use_state([first])
    samples, set_samples = solara.use_state(20)
    ranges, set_ranges = solara.use_state({})
    fixed, set_fixed = solara.use_state({})
    fixed_error, set_fixed_error = solara.use_state("")
    steps, set_steps = solara.use_state(scenario.steps)
    replications, set_replications = solara.use_state(4)
    seed, set_seed = solara.use_state(scenario.seed)
    workers, set_workers = solara.use_state(default_workers())
    status = session.status.value
    busy = status.state in ("running", "cancelling")
    lang = LANGUAGE.value

    def choose_scenario(name):  # menus too are checked here: a browser can send any value
        if name in preset_names():
            set_scenario_name(name)
            set_fixed({})

    def choose_first(name):
        if name in specs:
            set_first(name)

    def choose_second(name):
        if name == NO_SECOND or name in specs:
            set_second(name)

    designs = {t(f"sweep.design_{key}", lang): key for key in SWEEP_DESIGNS}
    menu_names = {app_text.param_menu_label(n, lang): n for n in specs}

    def menu_name(name):
        return app_text.param_menu_label(name, lang)

    def named(text):
        """The parameter a menu entry stands for (its name passes too)."""
        return menu_names.get(text, text) if isinstance(text, str) else text

    def choose_design(text):
        if designs.get(text) in SWEEP_DESIGNS:
            set_design(designs[text])

    def choose_sampled(names):
        if isinstance(names, (list, tuple)) and all(isinstance(n, str) and n in specs for n in names):
            set_sampled(list(dict.fromkeys(names))[:SWEEP_MAX_LHS_PARAMETERS])

    def range_of(name):
        value = getattr(scenario.parameters, name)
        low, high = default_range(specs[name], value)
        return ranges.get(name, (low, high, 5))

    def set_range(name, index, value):
        current = list(range_of(name))
        current[index] = value
        set_ranges({**ranges, name: tuple(current)})

    def fix(name, value):
        try:
            set_fixed(with_override(fixed, scenario, name, value, shipped_sites()))
            set_fixed_error("")
        except InputError as exc:
            set_fixed_error(say("message.not_changed", error=error_text(exc)))

    if design == "lhs":
        chosen = list(sampled)
    else:
        chosen = [first] + ([second] if second not in (NO_SECOND, first) else [])
    try:
        others = {k: v for k, v in fixed.items() if k not in chosen}
        if design == "lhs":
            experiment = lhs_experiment(scenario_name, steps, replications, seed, samples,
                                        [(name, *range_of(name)[:2]) for name in chosen], others)
        else:
            experiment = sweep_experiment(scenario_name, steps, replications, seed,
                                          [(name, *range_of(name)) for name in chosen], others)
        checked_int(say("field.worker_processes"), workers, 1, default_workers())
        plan, plan_error = plan_summary(experiment, workers, lang), ""
    except InputError as exc:
        experiment, plan, plan_error = None, "", error_text(exc)

    with solara.Columns([1, 3]):
        with solara.Column(style={"min-width": "300px"}, classes=["crowd-sweep-controls"]):
            solara.Select(label=t("sweep.scenario", lang), values=preset_names(), value=scenario_name,
                          on_value=choose_scenario)
            shown_design = next(text for text, key in designs.items() if key == design)
            solara.Select(label=t("sweep.design", lang), values=list(designs), value=shown_design,
                          on_value=choose_design, classes=["crowd-sweep-design"])

            def range_inputs(name, with_points):
                low, high, points = range_of(name)
                spec = specs[name]
                number = solara.InputInt if spec.type is int else solara.InputFloat
                with solara.Row():
                    number(label=t("sweep.range_from", lang, name=menu_name(name)), value=low,
                           on_value=lambda v, n=name: set_range(n, 0, v))
                    number(label=t("sweep.range_to", lang), value=high, on_value=lambda v, n=name: set_range(n, 1, v))
                    if with_points:
                        solara.InputInt(label=t("sweep.points", lang), value=points,
                                        on_value=lambda v, n=name: set_range(n, 2, v))
                values = app_text.allowed(spec, lang)
                allowed = (t("sweep.allowed", lang, allowed=values, points=SWEEP_MAX_POINTS)
                           if with_points else t("sweep.lhs_allowed", lang, allowed=values))
                solara.Text(allowed, style={"font-size": "12px", "color": "#555"})

            if design == "lhs":
                solara.SelectMultiple(label=t("sweep.lhs_parameters", lang, most=SWEEP_MAX_LHS_PARAMETERS),
                                      values=[menu_name(n) for n in sampled], all_values=[menu_name(n) for n in specs],
                                      on_value=lambda texts: choose_sampled(
                                          [named(x) for x in texts] if isinstance(texts, (list, tuple)) else texts),
                                      classes=["crowd-sweep-lhs-parameters"])
                for name in sampled:
                    range_inputs(name, with_points=False)
                solara.InputInt(label=t("sweep.samples", lang, most=f"{SWEEP_MAX_SAMPLES:,}"), value=samples,
                                on_value=set_samples)
            else:
                none = t("sweep.no_second", lang)  # NO_SECOND in the page's language
                for label, name, on_name, options in (
                    (t("sweep.parameter", lang), first, lambda text: choose_first(named(text)), list(specs)),
                    (t("sweep.second_parameter", lang), second,
                     lambda text: choose_second(NO_SECOND if text == none else named(text)), [NO_SECOND, *specs]),
                ):
                    solara.Select(label=label, values=[none if o == NO_SECOND else menu_name(o) for o in options],
                                  value=none if name == NO_SECOND else menu_name(name), on_value=on_name)
                    if name in specs:
                        range_inputs(name, with_points=True)
            solara.InputInt(label=t("sweep.steps_per_run", lang), value=steps, on_value=set_steps)
            solara.InputInt(label=t("sweep.replications", lang), value=replications, on_value=set_replications)
            solara.InputInt(label=t("sweep.root_seed", lang), value=seed, on_value=set_seed)
            solara.SliderInt(label=t("sweep.workers", lang, workers=workers), value=workers, min=1,
                             max=max(1, default_workers()), on_value=set_workers)
            solara.Text(t("sweep.limits", lang, steps=f"{SWEEP_MAX_STEPS:,}", replications=f"{SWEEP_MAX_REPLICATIONS:,}",
                          runs=f"{SWEEP_MAX_RUNS:,}", total=f"{SWEEP_MAX_TOTAL_STEPS:,}"),
                        style={"font-size": "12px", "color": "#555"})
            with solara.Details(summary=t("sweep.other_parameters", lang, changed=len(fixed))).key(
                    "fixed-parameters"):
                with solara.Column(gap="4px").key("fixed-message"):
                    if fixed_error:
                        solara.Error(shown(fixed_error, lang), classes=["crowd-sweep-fixed-message"])
                for spec in parameter_specs():
                    if spec.name not in chosen:
                        value = fixed.get(spec.name, getattr(scenario.parameters, spec.name))
                        ParameterInput(spec, value, lambda v, n=spec.name: fix(n, v),
                                       sites=list(shipped_sites())).key(f"fixed-{spec.name}")
            with solara.Row():
                solara.Button(t("button.run_sweep", lang), on_click=lambda: session.start(experiment, workers),
                              disabled=busy or experiment is None, color="primary", classes=["crowd-sweep-run"])
                solara.Button(t("button.cancel", lang), on_click=session.cancel, disabled=status.state != "running",
                              classes=["crowd-sweep-cancel"])
        with solara.Column():
            if plan_error:
                solara.Warning(shown(plan_error, lang), classes=["crowd-sweep-plan"])
            elif not busy:
                solara.Info(plan, classes=["crowd-sweep-plan"])
            if busy or status.total:
                share = 100 * status.done / status.total if status.total else 0
                solara.ProgressLinear(value=share, color="primary")
                key = {"running": "sweep.running", "cancelling": "sweep.cancelling"}.get(status.state, "sweep.progress")
                solara.Text(t(key, lang, done=status.done, total=status.total), classes=["crowd-sweep-progress"])
            if status.message:
                if status.state == "failed":
                    solara.Error(shown(status.message, lang), classes=["crowd-sweep-message"])
                else:
                    solara.Info(shown(status.message, lang), classes=["crowd-sweep-message"])
            SweepResults(session)
