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
import tempfile
import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import solara
from PIL import Image

from analysis.stats import CONFIDENCE, interval, numeric_metrics
from crowd_model.errors import InputError
from crowd_model.render import CELL_CATEGORIES
from crowd_model.world import STATE_NAMES
from crowd_model.model import CrowdModel
from crowd_model.parameters import Parameters, ParameterSpec, parameter_specs
from crowd_model.scenario import Scenario, load_scenario, preset_names
from experiments.executors import default_workers, make_executor
from experiments.spec import parse_experiment
from experiments.sweep import run_sweep

# Colour and legend text of each cell category: dark, saturated security units and site
# features on a near-white ground, warm colours for an aroused crowd, so that the picture
# stays readable on a washed-out projector.
CATEGORY_STYLE: dict[str, tuple[str, str]] = {
    "empty": ("#f7f7f7", "empty cell"),
    "calm": ("#8ec5f0", "calm civilian"),
    "active": ("#ff9800", "active (protesting)"),
    "violent": ("#d50000", "violent"),
    "fleeing": ("#b2dc00", "fleeing"),
    "arrested": ("#7a7a7a", "arrested"),
    "provocateur": ("#ff00d4", "provocateur"),
    "police": ("#0d2c8c", "police officer"),
    "tni": ("#1b5e20", "military (TNI)"),
    "linmas": ("#6a1b9a", "civil protection (Linmas)"),
    "water_cannon": ("#000000", "water cannon"),
    "spray": ("#00e5ff", "water spray"),
    "office": ("#6d4c41", "KPU office"),
    "gate": ("#ffc400", "gate"),
    "fence": ("#37474f", "fence"),
    "facility": ("#bcaaa4", "public facility"),
    "facility_damaged": ("#3e2000", "damaged facility"),
    "exit": ("#00a651", "exit"),
    "cordon_line": ("#90a4ae", "cordon line"),
}
PALETTE = np.array(
    [[int(CATEGORY_STYLE[c][0][i : i + 2], 16) for i in (1, 3, 5)] for c in CELL_CATEGORIES],
    dtype=np.uint8,
)
STATE_COLOURS = {**{s: CATEGORY_STYLE[s][0] for s in STATE_NAMES if s in CATEGORY_STYLE}, "left": "#00897b"}

GRID_PIXELS = 640
CHART_INTERVAL = 0.5
DEFAULT_SPEED = 10
MAX_SPEED = 30
SLIDER_MAX_STEPS = 2000
EXTRA_CHART_MARKERS = ("injur", "damage")


def default_scenario() -> str:
    names = preset_names()
    return "kpu-riot" if "kpu-riot" in names else names[0]


def grid_png(codes: np.ndarray, pixels: int = GRID_PIXELS) -> bytes:
    """A PNG of a ``(width, height)`` category map: x to the right, y up, square cells."""
    scale = max(1, pixels // max(codes.shape))
    rgb = PALETTE[codes.T[::-1]]
    if scale > 1:
        rgb = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="png", compress_level=1)
    return out.getvalue()




def latest_counts(model: CrowdModel) -> dict[str, Any]:
    return {name: values[-1] for name, values in model.datacollector.model_vars.items()}


def extra_chart_columns(columns) -> list[str]:
    """Arrests, and injury and damage columns when the scenario records them."""
    return [c for c in columns if c == "arrests_total" or any(m in c for m in EXTRA_CHART_MARKERS)]


def line_chart(title: str, series: dict[str, list], colours: dict[str, str] | None = None) -> dict:
    """An ECharts option for a few lines over steps, with animation off (it is redrawn live)."""
    colours = colours or {}
    steps = len(next(iter(series.values()), []))
    return {
        "animation": False,
        "title": {"text": title, "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 22, "data": list(series)},
        "grid": {"left": 50, "right": 16, "top": 60, "bottom": 30},
        "xAxis": {"type": "category", "data": list(range(steps)), "name": "step"},
        "yAxis": {"type": "value"},
        "series": [
            {
                "name": name,
                "type": "line",
                "showSymbol": False,
                "data": [float(v) for v in values],
                **({"itemStyle": {"color": colours[name]}, "lineStyle": {"color": colours[name], "width": 2}}
                   if name in colours else {}),
            }
            for name, values in series.items()
        ],
    }


def chart_options(model: CrowdModel) -> list[dict]:
    data = model.datacollector.model_vars
    states = {s: data[s] for s in STATE_NAMES if s in data}
    extra = {c: data[c] for c in extra_chart_columns(data)}
    options = [line_chart("Civilians by state", states, STATE_COLOURS)]
    if extra:
        shown = [w for w, marker in (("arrests", "arrest"), ("injuries", "injur"), ("damage", "damage"))
                 if any(marker in c for c in extra)]
        options.append(line_chart(", ".join(shown).capitalize(), extra))
    return options


def control_kind(spec: ParameterSpec) -> str:
    """Which input a parameter gets: slider, select, checkbox or a number box."""
    if spec.choices:
        return "select"
    if spec.type is bool:
        return "checkbox"
    if spec.type is str:
        return "text"
    if spec.low is None or spec.high is None:
        return "number"
    if spec.type is int and spec.high - spec.low > SLIDER_MAX_STEPS:
        return "number"
    return "slider"


def slider_step(spec: ParameterSpec) -> float:
    """A round step giving about a thousand positions between the bounds."""
    return 10.0 ** math.floor(math.log10((spec.high - spec.low) / 1000)) if spec.high > spec.low else 1.0


def build_parameters(scenario: Scenario, overrides: dict[str, Any]) -> Parameters:
    return Parameters.from_mapping(overrides, base=scenario.parameters)


@dataclass
class Frame:
    """What one drawn step shows: the grid image and the latest counts."""

    step: int
    png: bytes
    counts: dict[str, Any]


@dataclass
class Charts:
    """What is redrawn a few times a second: charts, outcome figures, the legend."""

    options: list[dict] = field(default_factory=list)
    outcomes: dict[str, Any] = field(default_factory=dict)
    present: frozenset[str] = frozenset()


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
        self.model: CrowdModel | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._charted_at = 0.0
        self.reset()

    def pending_error(self) -> str:
        """The message a Reset with the current controls would give, or ''."""
        try:
            build_parameters(self.scenario, self.overrides.value)
        except InputError as exc:
            return str(exc)
        return ""

    def choose_scenario(self, name: str) -> None:
        try:
            scenario = load_scenario(name)
        except InputError as exc:
            self.message.value = str(exc)
            return
        self.pause()
        with self.lock:
            self.scenario = scenario
            self.scenario_name.value = name
            self.overrides.value = {}
            self.seed.value = scenario.seed
        self.reset()

    def set_parameter(self, name: str, value: Any) -> None:
        self.overrides.value = {**self.overrides.value, name: value}

    def reset(self) -> None:
        """Build a fresh model from the scenario, the changed controls and the seed."""
        self.pause()
        seed = self.seed.value
        try:
            if seed is None or isinstance(seed, bool) or int(seed) != seed or seed < 0:
                raise InputError(f"seed: {seed!r} is not allowed; expected a non-negative integer")
            parameters = build_parameters(self.scenario, self.overrides.value)
            model = CrowdModel(parameters, rng=int(seed))
        except InputError as exc:
            self.message.value = f"Not reset: {exc}"
            return
        except Exception as exc:  # the page shows one line, never a traceback
            self.message.value = f"Not reset: could not build the model ({type(exc).__name__}: {exc})"
            return
        with self.lock:
            self.model = model
            self.message.value = ""
            self._publish(charts=True)

    def step(self) -> None:
        self.pause()
        with self.lock:
            try:
                self._advance()
            except Exception as exc:  # the page shows one line, never a traceback
                self.message.value = f"Step failed: {type(exc).__name__}: {exc}"
            self._publish(charts=True)

    def _advance(self) -> None:
        """One model step; the first of a scenario in this process may compile the kernel."""
        first = self.scenario.name not in _STEPPED_SCENARIOS
        if first:
            self.notice.value = ("Compiling the model's kernel for this scenario: on a fresh checkout "
                                 "the first step takes a minute or two, later ones are fast.")
        try:
            self.model.step()
        finally:
            if first:
                self.notice.value = ""
        _STEPPED_SCENARIOS.add(self.scenario.name)

    def play(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
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
            self.message.value = f"Stopped: {type(exc).__name__}: {exc}"
        finally:
            with self.lock:
                self._publish(charts=True)
            self.playing.value = False

    def _publish(self, charts: bool) -> None:
        model = self.model
        codes = model.cell_categories()
        self.frame.value = Frame(int(model.time), grid_png(codes), latest_counts(model))
        if charts:
            self._charted_at = time.perf_counter()
            present = frozenset(CELL_CATEGORIES[c] for c in np.unique(codes))
            self.charts.value = Charts(chart_options(model), model.outcomes(), present)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value.is_integer():
            return f"{int(value)}"
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def _big_numbers_html(items: list[tuple[str, Any, str | None]], size: str) -> str:
    cells = []
    for name, value, colour in items:
        swatch = (
            f'<span style="display:inline-block;width:12px;height:12px;background:{colour};'
            f'border:1px solid #444;margin-right:4px"></span>' if colour else ""
        )
        cells.append(
            f'<div class="crowd-number" data-name="{html.escape(name)}" '
            f'style="padding:4px 10px;min-width:90px">'
            f'<div style="font-size:{size};font-weight:700;line-height:1.1" class="crowd-number-value">'
            f"{html.escape(_fmt(value))}</div>"
            f'<div style="font-size:13px;color:#333">{swatch}{html.escape(name.replace("_", " "))}</div></div>'
        )
    return '<div style="display:flex;flex-wrap:wrap;gap:4px">' + "".join(cells) + "</div>"


@solara.component
def GridView(session: LiveSession):
    frame = session.frame.value
    if frame is not None:
        solara.Image(frame.png, classes=["crowd-grid"], width=f"min(100%, {GRID_PIXELS}px)")


@solara.component
def CountNumbers(session: LiveSession):
    frame = session.frame.value
    if frame is None:
        return
    counts = frame.counts
    items = [("step", frame.step, None)]
    items += [(s, counts[s], STATE_COLOURS.get(s)) for s in STATE_NAMES if s in counts]
    items += [(c, counts[c], None) for c in extra_chart_columns(counts)]
    solara.HTML(tag="div", unsafe_innerHTML=_big_numbers_html(items, "34px"), classes=["crowd-counts"])


@solara.component
def ChartsView(session: LiveSession):
    charts = session.charts.value
    with solara.Column(classes=["crowd-charts"]):
        for option in charts.options:
            solara.FigureEcharts(option=option, attributes={"style": "height: 260px; width: 100%"})
        if charts.outcomes:
            solara.Text("Outcome so far", style={"font-weight": "bold"})
            items = [(k, v, None) for k, v in charts.outcomes.items()]
            solara.HTML(tag="div", unsafe_innerHTML=_big_numbers_html(items, "22px"), classes=["crowd-outcomes"])


@solara.component
def Legend(session: LiveSession):
    """Every category; those not on the grid now are faded."""
    present = session.charts.value.present
    rows = "".join(
        f'<div class="crowd-legend-item" data-name="{name}" data-present="{int(name in present)}" '
        f'style="display:flex;align-items:center;margin:1px 0;opacity:{1 if name in present else 0.35}">'
        f'<span style="display:inline-block;width:16px;height:16px;background:{colour};'
        f'border:1px solid #444;margin-right:6px"></span>{html.escape(label)}</div>'
        for name, (colour, label) in ((c, CATEGORY_STYLE[c]) for c in CELL_CATEGORIES)
    )
    solara.HTML(tag="div", unsafe_innerHTML=f'<div style="font-size:14px">{rows}</div>', classes=["crowd-legend"])


@solara.component
def ParameterControl(session: LiveSession, spec: ParameterSpec, scenario: Scenario):
    """One parameter's input; ``scenario`` (a prop, so that a new preset redraws it) gives its value."""
    overrides = session.overrides.value
    base = getattr(scenario.parameters, spec.name)
    value = overrides.get(spec.name, base)
    kind = control_kind(spec)
    shown = f" = {value:g}" if kind == "slider" else ""
    label = spec.name + shown + (f" {spec.unit}" if spec.unit else "")

    def on_value(v):
        session.set_parameter(spec.name, v)

    if kind == "select":
        solara.Select(label=label, values=list(spec.choices), value=value, on_value=on_value)
    elif kind == "checkbox":
        solara.Checkbox(label=label, value=bool(value), on_value=on_value)
    elif kind == "slider" and spec.type is int:
        solara.SliderInt(label=label, value=int(value), min=int(spec.low), max=int(spec.high), on_value=on_value)
    elif kind == "slider":
        solara.SliderFloat(label=label, value=float(value), min=spec.low, max=spec.high,
                           step=slider_step(spec), on_value=on_value)
    elif spec.type is int:
        solara.InputInt(label=label, value=int(value), on_value=on_value)
    elif kind == "number":
        solara.InputFloat(label=label, value=float(value), on_value=on_value)
    else:
        solara.InputText(label=label, value=str(value), on_value=on_value)
    notes = [spec.help]
    if spec.name in scenario.parameters.schedules:
        notes.append("This preset changes it over time; moving the control replaces the schedule.")
    solara.Text(" ".join(notes), style={"font-size": "12px", "color": "#555"})


@solara.component
def Controls(session: LiveSession):
    playing = session.playing.value
    session.overrides.value  # redraw when a control changes
    with solara.Column(style={"min-width": "300px"}, classes=["crowd-live-controls"]):
        solara.Select(label="scenario", values=preset_names(), value=session.scenario_name.value,
                      on_value=session.choose_scenario)
        solara.Text(session.scenario.description, style={"font-size": "13px"})
        with solara.Row():
            solara.Button("Play", on_click=session.play, disabled=playing, color="primary", classes=["crowd-play"])
            solara.Button("Pause", on_click=session.pause, disabled=not playing, classes=["crowd-pause"])
            solara.Button("Step", on_click=session.step, classes=["crowd-step"])
            solara.Button("Reset", on_click=session.reset, classes=["crowd-reset"])
        solara.SliderInt(label=f"speed: {session.speed.value} steps per second", value=session.speed.value,
                         min=1, max=MAX_SPEED, on_value=session.speed.set)
        solara.InputInt(label="seed", value=session.seed.value, on_value=session.seed.set)
        if session.message.value:
            solara.Error(session.message.value, classes=["crowd-message"])
        if session.notice.value:
            solara.Info(session.notice.value, classes=["crowd-notice"])
        if not playing and session.finished():
            solara.Info(f"The run has reached the scenario's {session.scenario.steps} steps: "
                        "Step goes on, Reset starts again.")
        pending = session.pending_error()
        if pending:
            solara.Warning(pending, classes=["crowd-pending"])
        elif session.overrides.value:
            solara.Info("Changed parameters apply on Reset.")
        groups: dict[str, list[ParameterSpec]] = {}
        for spec in parameter_specs():
            groups.setdefault(spec.group, []).append(spec)
        for group, specs in groups.items():
            with solara.Details(summary=f"Parameters: {group}", expand=group in ("behaviour", "security")):
                for spec in specs:
                    ParameterControl(session, spec, session.scenario)


@solara.component
def LiveView(session: LiveSession | None = None):
    """The live view; it makes its own session unless it is given one."""
    session = solara.use_memo(lambda: session or LiveSession(), [])
    solara.use_effect(lambda: session.pause, [])
    with solara.Columns([1, 3]):
        Controls(session)
        with solara.Column():
            CountNumbers(session)
            with solara.Row(style={"align-items": "flex-start"}):
                GridView(session)
                Legend(session)
            ChartsView(session)


@solara.component
def Page():
    solara.Title("crowd_model: live riot view")
    with solara.lab.Tabs():
        with solara.lab.Tab("Live view"):
            LiveView()
        with solara.lab.Tab("Sweep"):
            SweepView()


# ---------------------------------------------------------------- sweep page

SWEEP_MAX_POINTS = 50
NO_SECOND = "(none)"
TIMESERIES_ROWS_PER_RUN = 100


class SweepCancelled(BaseException):
    """Stops the sweep engine from the page. Like KeyboardInterrupt it is no ``Exception``,
    so the engine does not record it as a failed run but stops and marks the sweep interrupted."""


class WatchedExecutor(Executor):
    """An executor that counts finished runs and refuses new ones once cancelled."""

    def __init__(self, inner: Executor, cancel: threading.Event, on_done):
        self.inner, self.cancel, self.on_done = inner, cancel, on_done

    def submit(self, fn, /, *args, **kwargs):
        if self.cancel.is_set():
            raise SweepCancelled()
        future = self.inner.submit(fn, *args, **kwargs)
        future.add_done_callback(lambda f: f.cancelled() or self.on_done())
        return future


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
    """``points`` evenly spaced values from ``low`` to ``high`` (whole numbers for integers)."""
    if not 1 <= points <= SWEEP_MAX_POINTS:
        raise InputError(f"{spec.name}: points must be 1..{SWEEP_MAX_POINTS}, got {points}")
    if high < low:
        raise InputError(f"{spec.name}: low ({low:g}) must not exceed high ({high:g})")
    values = np.linspace(low, high, points)
    if spec.type is int:
        return sorted({int(round(v)) for v in values})
    return [float(np.round(v, 10)) for v in values]


def sweep_experiment(scenario: str, steps: int, replications: int, seed: int, ranges: list[tuple]) -> dict:
    """An experiment (the TOML form of :mod:`experiments.spec`) for a grid over ``ranges``,
    each ``(name, low, high, points)``."""
    specs = {s.name: s for s in parameter_specs()}
    vary = {name: range_values(specs[name], low, high, points) for name, low, high, points in ranges}
    return {
        "scenario": scenario,
        "steps": steps,
        "replications": replications,
        "seed": seed,
        "design": "grid",
        "vary": vary,
        "record": {"every": max(1, steps // TIMESERIES_ROWS_PER_RUN)},
    }


def mean_with_ci(outcomes: pd.DataFrame, by: list[str], metric: str) -> pd.DataFrame:
    """Mean of ``metric`` per design point with :func:`analysis.stats.interval`'s confidence
    interval over replicates (a point with one run gets a band of zero width)."""
    ok = outcomes[outcomes["status"] == "ok"] if "status" in outcomes else outcomes
    table = interval(ok.groupby(by)[metric]).reset_index()
    for bound in ("ci_low", "ci_high"):
        table[bound] = table[bound].fillna(table["mean"])
    return table


def sweep_chart(outcomes: pd.DataFrame, varied: list[str], metric: str) -> dict:
    """A line with its confidence band for one varied parameter; a heatmap of means for two."""
    table = mean_with_ci(outcomes, varied, metric)
    title = {"text": f"{metric}: mean over replicates", "textStyle": {"fontSize": 14}}
    if len(varied) == 1:
        x = varied[0]
        band = f"{CONFIDENCE:.0%} CI"
        return {
            "animation": False,
            "title": title,
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 22, "data": ["mean", band]},
            "grid": {"left": 60, "right": 20, "top": 60, "bottom": 40},
            "xAxis": {"type": "category", "boundaryGap": False, "data": [f"{v:g}" for v in table[x]],
                      "name": x, "nameLocation": "middle", "nameGap": 26},
            "yAxis": {"type": "value", "name": metric},
            "series": [
                {"name": "ci-low", "type": "line", "stack": "ci", "symbol": "none", "lineStyle": {"opacity": 0},
                 "data": table["ci_low"].tolist(), "tooltip": {"show": False}},
                {"name": band, "type": "line", "stack": "ci", "symbol": "none", "lineStyle": {"opacity": 0},
                 "areaStyle": {"color": "rgba(213, 0, 0, 0.18)"}, "itemStyle": {"color": "rgba(213, 0, 0, 0.18)"},
                 "data": (table["ci_high"] - table["ci_low"]).tolist()},
                {"name": "mean", "type": "line", "symbolSize": 7, "itemStyle": {"color": "#d50000"},
                 "data": table["mean"].tolist()},
            ],
        }
    x, y = varied[:2]
    xs, ys = sorted(table[x].unique()), sorted(table[y].unique())
    data = [[xs.index(a), ys.index(b), round(float(m), 4)] for a, b, m in zip(table[x], table[y], table["mean"])]
    means = [d[2] for d in data] or [0]
    return {
        "animation": False,
        "title": title,
        "tooltip": {"position": "top"},
        "grid": {"left": 70, "right": 20, "top": 40, "bottom": 90},
        "xAxis": {"type": "category", "data": [f"{v:g}" for v in xs], "name": x, "nameLocation": "middle", "nameGap": 26},
        "yAxis": {"type": "category", "data": [f"{v:g}" for v in ys], "name": y},
        "visualMap": {"min": min(means), "max": max(means), "calculable": True, "orient": "horizontal",
                      "left": "center", "bottom": 0, "inRange": {"color": ["#fff5eb", "#fd8d3c", "#7f2704"]}},
        "series": [{"name": metric, "type": "heatmap", "data": data, "label": {"show": len(data) <= 60}}],
    }


@dataclass
class SweepStatus:
    state: str = "idle"  # idle | running | done | cancelled | failed
    done: int = 0
    total: int = 0
    message: str = ""
    outcomes: pd.DataFrame | None = None
    varied: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()


class SweepSession:
    """One tab's sweep: its form, and the run in a background thread through :mod:`experiments`."""

    def __init__(self):
        self.status = solara.reactive(SweepStatus())
        self.metric = solara.reactive("")
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._dir: tempfile.TemporaryDirectory | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, experiment: dict, workers: int) -> None:
        """Validate ``experiment`` and run it in the background; a bad value shows a message."""
        if self.running:
            return
        try:
            parsed = parse_experiment(experiment, name="app-sweep")
        except InputError as exc:
            self.status.value = SweepStatus("failed", message=str(exc))
            return
        runs = parsed.replications * int(np.prod([len(v.values) for v in parsed.vary]))
        if self._dir is not None:
            self._dir.cleanup()
        self._dir = tempfile.TemporaryDirectory(prefix="crowd-model-sweep-")
        self._cancel.clear()
        self.status.value = SweepStatus("running", 0, runs, varied=tuple(parsed.varied_names),
                                        metrics=tuple(parsed.outcome_columns))
        self._thread = threading.Thread(target=self._run, args=(parsed, workers), name="crowd-model-sweep",
                                        daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def outcomes_path(self) -> Path | None:
        return Path(self._dir.name) / "outcomes.csv" if self._dir is not None else None

    def _run(self, experiment, workers: int) -> None:
        lock = threading.Lock()
        finished = 0

        def on_done():
            nonlocal finished
            with lock:
                finished += 1
                self.status.value = _replace(self.status.value, done=finished)

        state, message = "done", ""
        try:
            with make_executor(workers) as (executor, label, in_flight):
                summary = run_sweep(experiment, self._dir.name, WatchedExecutor(executor, self._cancel, on_done),
                                    in_flight=in_flight, progress=False, executor_label=f"app, {label}")
            message = f"{summary.ok} of {summary.runs} runs ok in {summary.seconds:.1f} s on {label}"
            if summary.failed:
                message += f"; {summary.failed} failed (see the status and error columns)"
        except SweepCancelled:
            state = "cancelled"
        except InputError as exc:
            state, message = "failed", str(exc)
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
            message = f"Cancelled; the {kept} runs finished before are kept and shown."
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
    numeric = numeric_metrics(status.outcomes, list(status.metrics))
    if not numeric:
        solara.Warning("No numeric outcome to show.")
        return
    metric = session.metric.value if session.metric.value in numeric else numeric[0]
    solara.Select(label="outcome", values=numeric, value=metric, on_value=session.metric.set)
    solara.FigureEcharts(option=sweep_chart(status.outcomes, list(status.varied), metric),
                         attributes={"style": "height: 420px; width: 100%", "class": "crowd-sweep-chart"})
    path = session.outcomes_path
    solara.FileDownload(lambda: path.read_bytes(), filename="outcomes.csv",
                        label=f"Download outcomes.csv ({len(status.outcomes)} runs)")


@solara.component
def SweepView(session: SweepSession | None = None):
    """Pick one or two parameters with ranges, replications and steps; run; plot; download."""
    session = solara.use_memo(lambda: session or SweepSession(), [])
    solara.use_effect(lambda: session.cancel, [])
    specs = {s.name: s for s in sweepable_specs()}
    scenario_name, set_scenario_name = solara.use_state(default_scenario())
    scenario = solara.use_memo(lambda: load_scenario(scenario_name), [scenario_name])
    first, set_first = solara.use_state("legitimacy" if "legitimacy" in specs else next(iter(specs)))
    second, set_second = solara.use_state(NO_SECOND)
    ranges, set_ranges = solara.use_state({})
    steps, set_steps = solara.use_state(scenario.steps)
    replications, set_replications = solara.use_state(4)
    seed, set_seed = solara.use_state(scenario.seed)
    workers, set_workers = solara.use_state(default_workers())
    status = session.status.value
    running = status.state == "running"

    def range_of(name):
        value = getattr(scenario.parameters, name)
        low, high = default_range(specs[name], value)
        return ranges.get(name, (low, high, 5))

    def set_range(name, index, value):
        current = list(range_of(name))
        current[index] = value
        set_ranges({**ranges, name: tuple(current)})

    def run():
        chosen = [first] + ([second] if second not in (NO_SECOND, first) else [])
        try:
            experiment = sweep_experiment(scenario_name, steps, replications, seed,
                                          [(name, *range_of(name)) for name in chosen])
        except InputError as exc:
            session.status.value = SweepStatus("failed", message=str(exc))
            return
        session.start(experiment, workers)

    with solara.Columns([1, 3]):
        with solara.Column(style={"min-width": "300px"}, classes=["crowd-sweep-controls"]):
            solara.Select(label="scenario", values=preset_names(), value=scenario_name, on_value=set_scenario_name)
            for label, name, on_name, options in (
                ("parameter", first, set_first, list(specs)),
                ("second parameter (heatmap)", second, set_second, [NO_SECOND, *specs]),
            ):
                solara.Select(label=label, values=options, value=name, on_value=on_name)
                if name in specs:
                    low, high, points = range_of(name)
                    spec = specs[name]
                    number = solara.InputInt if spec.type is int else solara.InputFloat
                    with solara.Row():
                        number(label=f"{name} from", value=low, on_value=lambda v, n=name: set_range(n, 0, v))
                        number(label="to", value=high, on_value=lambda v, n=name: set_range(n, 1, v))
                        solara.InputInt(label="points", value=points, on_value=lambda v, n=name: set_range(n, 2, v))
                    solara.Text(f"allowed: {spec.describe_allowed()}", style={"font-size": "12px", "color": "#555"})
            solara.InputInt(label="steps per run", value=steps, on_value=set_steps)
            solara.InputInt(label="replications", value=replications, on_value=set_replications)
            solara.InputInt(label="root seed", value=seed, on_value=set_seed)
            solara.SliderInt(label=f"worker processes: {workers}", value=workers, min=1,
                             max=max(1, default_workers()), on_value=set_workers)
            with solara.Row():
                solara.Button("Run sweep", on_click=run, disabled=running, color="primary", classes=["crowd-sweep-run"])
                solara.Button("Cancel", on_click=session.cancel, disabled=not running, classes=["crowd-sweep-cancel"])
        with solara.Column():
            if running or status.total:
                share = 100 * status.done / status.total if status.total else 0
                solara.ProgressLinear(value=share, color="primary")
                solara.Text(f"{status.done} of {status.total} runs" + (" (running)" if running else ""),
                            classes=["crowd-sweep-progress"])
            if status.message:
                if status.state == "failed":
                    solara.Error(status.message, classes=["crowd-sweep-message"])
                else:
                    solara.Info(status.message, classes=["crowd-sweep-message"])
            SweepResults(session)
