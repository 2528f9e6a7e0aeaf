"""The Solara face of crowd_model: a live view of the riot for the classroom.

Start it with ``crowd-model app`` or ``solara run app.py``. Every browser tab is its own
session with its own model. The grid is drawn as a PNG from ``model.cell_categories()``
(one colour per code of :data:`crowd_model.kernel.CELL_CATEGORIES`); the sliders are
generated from :func:`crowd_model.parameters.parameter_specs`; parameters apply on Reset.
"""

from __future__ import annotations

import html
import io
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import solara
from PIL import Image

from crowd_model.errors import InputError
from crowd_model.kernel import CELL_CATEGORIES, STATE_NAMES
from crowd_model.model import CrowdModel
from crowd_model.outcomes import run_outcomes
from crowd_model.parameters import Parameters, ParameterSpec, parameter_specs
from crowd_model.scenario import Scenario, load_scenario, preset_names

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


def timeseries(model: CrowdModel):
    """The model's per-step table as :func:`crowd_model.runner.simulate` reports it."""
    table = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    table.insert(0, "step", range(len(table)))
    return table


def current_outcomes(model: CrowdModel) -> dict:
    return run_outcomes(timeseries(model), model.n_civilians, model.parameters.outburst_threshold)


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
        options.append(line_chart("Arrests, injuries, damage", extra))
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
            self.model.step()
            self._publish(charts=True)

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
                    self.model.step()
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
            self.charts.value = Charts(chart_options(model), current_outcomes(model), present)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}" if not value.is_integer() else f"{int(value)}"
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
def ParameterControl(session: LiveSession, spec: ParameterSpec):
    overrides = session.overrides.value
    base = getattr(session.scenario.parameters, spec.name)
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
    if spec.name in session.scenario.parameters.schedules:
        notes.append("This preset changes it over time; moving the control replaces the schedule.")
    solara.Text(" ".join(notes), style={"font-size": "12px", "color": "#555"})


@solara.component
def Controls(session: LiveSession):
    playing = session.playing.value
    session.overrides.value  # redraw when a control changes
    with solara.Column(style={"min-width": "300px"}):
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
                    ParameterControl(session, spec).key(f"{session.scenario_name.value}:{spec.name}")


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
