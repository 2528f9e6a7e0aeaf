"""Where the riot happened: hotspot maps of events over the site, and events counted by type,
unit and phase (the situation in force), from a run folder (``crowd-model run --out``) or a
sweep folder whose experiment kept events (``[record] events = true``).

Reads result files only. What the model knows and the analysis does not import is handed in:
``site_layers(text)`` turns the map's text (stored in ``metadata.json``) into one boolean
``(width, height)`` mask per kind of cell, and ``initial_situation`` names the situation a run
starts in. ``crowd-model analyse`` passes ``crowd_model.site.site_layers`` and the model's
first situation name.

The phase of an event is the situation in force at its step: the one named by the run's last
``situation`` event at or before that step (the commander reads the situation at the start of
a step, before anyone acts), or the initial one before the first. Unit names and event names
are taken from the file as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from scipy.ndimage import gaussian_filter  # noqa: E402

from crowd_model.errors import InputError  # noqa: E402

from crowd_model.analysis.figures import save  # noqa: E402
from crowd_model.analysis.stats import interval  # noqa: E402

EVENTS = "events.csv"
SMOOTHING = 1.0  # cells: the standard deviation of the Gaussian the maps are smoothed with
MAX_GROUPS = 8  # rows of a --by figure

# The maps: event name (the events.csv contract) and what its panel shows. A stone is placed
# where it was aimed, at the officer it was thrown at (the event's x, y).
HOTSPOTS = (
    ("stone_thrown", "stones thrown (where aimed)"),
    ("stone_hit", "stones that hit an officer"),
    ("arrest", "arrests"),
    ("injury", "injuries (civilians, officers)"),
    ("damage", "damage (fence, gate, facilities)"),
    ("water_cannon_shot", "water-cannon shots (aim)"),
)

# How the site is drawn under the maps: kinds of cell (site_layers' names), their colours (cool
# and pale, under a warm heat scale; the aid post in the app's pink) and their legend labels.
# The ground kinds are left white and unnamed; a kind the site gains that is named in neither
# is still drawn and named (see site_kinds), never left white.
SITE_COLOURS = (
    ("yard", "#e3e8ec", "office yard"),
    ("office", "#90a4ae", "KPU office"),
    ("fence", "#37474f", "fence"),
    ("gate", "#00897b", "gate"),
    ("facility", "#5c6bc0", "facilities"),
    ("cordon", "#c5ccd3", "cordon line"),
    ("exit", "#a5d6a7", "exits"),
    ("water_cannon", "#000000", "water-cannon truck"),
    ("aid_post", "#f48fb1", "aid post"),
)
GROUND = "#ffffff"
GROUND_KINDS = ("street", "assembly")  # where the crowd walks: the white ground
OTHER_COLOURS = ("#b0bec5", "#80cbc4", "#9fa8da", "#bcaaa4")  # kinds without a colour above
HEAT = ListedColormap(plt.get_cmap("inferno_r")(np.linspace(0.08, 1.0, 256)))


@dataclass
class EventFolder:
    """The events of a run folder or of a sweep folder's finished runs."""

    dir: Path
    kind: str  # "run" or "sweep"
    events: pd.DataFrame  # run_id and the events.csv columns
    runs: pd.DataFrame  # one row per run: run_id (and a sweep's point and varied parameters)
    varied: list[str]
    site_texts: dict[str, str]  # site name -> map text, from metadata.json


def is_run_folder(directory: str | Path) -> bool:
    """A folder written by ``crowd-model run --out`` (its metadata has parameters, no design)."""
    meta = _metadata(Path(directory), required=False)
    return "parameters" in meta and "design" not in meta


def has_events(directory: str | Path) -> bool:
    return (Path(directory) / EVENTS).is_file()


def load_events(directory: str | Path, ok_runs: pd.DataFrame | None = None, varied: list[str] | None = None) -> EventFolder:
    """A run folder's events, or a sweep folder's (``ok_runs``: its finished runs' outcome rows,
    ``varied``: its varied parameters)."""
    directory = Path(directory)
    meta = _metadata(directory, required=True)
    path = directory / EVENTS
    if not path.is_file():
        if ok_runs is None:
            raise InputError(f"{directory} has no {EVENTS}: events are recorded at a site "
                             "(e.g. crowd-model run --scenario kpu-riot --out DIR)")
        raise InputError(f"{directory} has no {EVENTS}: the sweep did not keep events; "
                         "add events = true to the experiment file's [record] table")
    table = _read_events(path)
    sites = {name: record["text"] for name, record in meta.get("sites", {}).items()}
    if ok_runs is None:
        table.insert(0, "run_id", "run")
        return EventFolder(directory, "run", table, pd.DataFrame({"run_id": ["run"]}), [], sites)
    runs = ok_runs[["run_id", "point", *(varied or [])]].reset_index(drop=True)
    table = table[table["run_id"].isin(set(runs["run_id"]))].reset_index(drop=True)
    return EventFolder(directory, "sweep", table, runs, list(varied or []), sites)


def _metadata(directory: Path, required: bool) -> dict:
    try:
        return json.loads((directory / "metadata.json").read_text())
    except (OSError, ValueError) as exc:
        if required:
            raise InputError(f"{directory}: cannot read metadata.json: {exc}") from None
        return {}


def _read_events(path: Path) -> pd.DataFrame:
    """``events.csv`` with names as strings ('' for no unit); a last line cut off by a kill is dropped."""
    try:
        table = pd.read_csv(path, dtype={"run_id": str, "event": str, "unit": str, "detail": str},
                            keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    needed = {"step", "event", "x", "y", "unit", "agent", "detail"}
    if not needed <= set(table.columns):
        raise InputError(f"{path} lacks the column(s) {sorted(needed - set(table.columns))}")
    data = path.read_bytes()
    if data and not data.endswith(b"\n") and len(table):
        table = table.iloc[:-1]
    for column in ("step", "x", "y"):
        table[column] = pd.to_numeric(table[column], errors="raise").astype(int)
    return table


def phases(events: pd.DataFrame, initial_situation: str) -> pd.Series:
    """The situation in force at each event's step, per run: the last ``situation`` event of
    the run at or before that step named it, or, before the first, ``initial_situation``."""
    out = pd.Series(initial_situation, index=events.index, dtype=object)
    for _, run in events.groupby("run_id", sort=False):
        changes = run[run["event"] == "situation"]
        if changes.empty:
            continue
        steps = changes["step"].to_numpy()
        names = changes["detail"].to_numpy(dtype=object)
        at = np.searchsorted(steps, run["step"].to_numpy(), side="right") - 1
        out.loc[run.index] = np.where(at >= 0, names[np.maximum(at, 0)], initial_situation)
    return out


def hotspot_counts(events: pd.DataFrame, event: str, shape: tuple[int, int], runs: int = 1) -> np.ndarray:
    """``(width, height)`` array: events named ``event`` in each cell, divided by ``runs`` (the
    mean per run). Events without a place (x or y -1) and outside the grid are left out."""
    width, height = shape
    chosen = events[(events["event"] == event) & (events["x"] >= 0) & (events["x"] < width)
                    & (events["y"] >= 0) & (events["y"] < height)]
    counts, _, _ = np.histogram2d(chosen["x"], chosen["y"], bins=[width, height], range=[[0, width], [0, height]])
    return counts / max(runs, 1)


def counts_by_type(folder: EventFolder, initial_situation: str, by: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``events_by_type``: a run's count of events by event, unit and phase; over a sweep, the
    mean per run (runs without such an event count 0) with its 95% interval, per value of
    ``by`` if given. Also the per-run counts (``run_id, event, unit, phase, count``)."""
    events = folder.events.assign(phase=phases(folder.events, initial_situation))
    keys = ["event", "unit", "phase"]
    per_run = events.groupby(["run_id", *keys], sort=True).size().rename("count").reset_index()
    if folder.kind == "run":
        return per_run.drop(columns="run_id"), per_run
    combinations = per_run[keys].drop_duplicates()
    every = folder.runs[["run_id"]].merge(combinations, how="cross")  # each run, each combination seen
    long = every.merge(per_run, on=["run_id", *keys], how="left").fillna({"count": 0})
    group_keys = keys
    if by is not None:
        long[by] = long["run_id"].map(folder.runs.set_index("run_id")[by])
        group_keys = [by, *keys]
    table = interval(long.groupby(group_keys, sort=True)["count"]).reset_index()
    table = table.rename(columns={"n": "runs", "mean": "mean_per_run"})
    return table[[*group_keys, "runs", "mean_per_run", "sd", "ci_low", "ci_high"]], per_run


def site_kinds(layers: Mapping[str, np.ndarray]) -> list[tuple[str, str, str]]:
    """``(name, colour, legend label)`` of each kind of cell the site has, other than the
    ground: those of :data:`SITE_COLOURS` in its order, then any other kind (a code the model
    gains) in a colour of its own, labelled with its name."""
    known = [(name, colour, label) for name, colour, label in SITE_COLOURS
             if name in layers and layers[name].any()]
    named = {name for name, _, _ in SITE_COLOURS} | set(GROUND_KINDS)
    others = [name for name in layers if name not in named and layers[name].any()]
    return known + [(name, OTHER_COLOURS[i % len(OTHER_COLOURS)], name.replace("_", " "))
                    for i, name in enumerate(others)]


def site_picture(layers: Mapping[str, np.ndarray]) -> np.ndarray:
    """An RGB image ``(height, width, 3)`` of the site, y up (row 0 is y = 0 at the bottom, drawn with origin='lower')."""
    shape = next(iter(layers.values())).shape
    rgb = np.empty((*shape, 3))
    rgb[:] = matplotlib.colors.to_rgb(GROUND)
    for name, colour, _ in site_kinds(layers):
        rgb[layers[name]] = matplotlib.colors.to_rgb(colour)
    return rgb.transpose(1, 0, 2)


def _draw_panel(ax, picture: np.ndarray | None, values: np.ndarray, top: float, title: str, smooth: float):
    """One map: the site, and over it the (smoothed) counts on the heat scale 0..``top``;
    cells below 2% of ``top`` are left clear. Returns the heat image, None if ``top`` is 0."""
    width, height = values.shape
    if picture is not None:
        ax.imshow(picture, origin="lower", interpolation="nearest", extent=(0, width, 0, height))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=7)
    if top <= 0:
        ax.text(0.5, 0.5, "none", transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#555555")
        return None
    field = gaussian_filter(values, smooth, mode="constant") if smooth > 0 else values
    shown = np.ma.masked_less(field.T, top * 0.02)
    return ax.imshow(shown, origin="lower", interpolation="nearest", cmap=HEAT, vmin=0, vmax=top,
                     alpha=0.9, extent=(0, width, 0, height))


def _peak(values: np.ndarray, smooth: float) -> float:
    return float((gaussian_filter(values, smooth, mode="constant") if smooth > 0 else values).max())


def hotspot_figure(groups: list[tuple[str, pd.DataFrame, int]], layers: Mapping[str, np.ndarray] | None,
                   shape: tuple[int, int], stem: Path, formats, smooth: float = SMOOTHING,
                   heading: str = "") -> list[Path]:
    """One panel per kind of event of :data:`HOTSPOTS`; one row of panels per group
    (``(label, events, runs)``), with one colour scale per kind of event shared by the rows.
    A single group is drawn as a 2 x 3 grid."""
    picture = site_picture(layers) if layers is not None else None
    maps = [[hotspot_counts(events, name, shape, runs) for name, _ in HOTSPOTS] for _, events, runs in groups]
    tops = [max(_peak(row[k], smooth) for row in maps) for k in range(len(HOTSPOTS))]
    width, height = shape
    single = len(groups) == 1
    rows, cols = (2, 3) if single else (len(groups), len(HOTSPOTS))
    panel_w = 5.2 if single else 3.6
    fig, axes = plt.subplots(rows, cols, figsize=(cols * panel_w, rows * (panel_w * height / width + 1.0)),
                             squeeze=False, constrained_layout=True)
    unit = "per run per cell" if any(runs > 1 for _, _, runs in groups) else "per cell"
    smoothing = f", smoothed (Gaussian, σ = {smooth:g} cell)" if smooth > 0 else ""
    for g, (label, _, runs) in enumerate(groups):
        for k, (name, what) in enumerate(HOTSPOTS):
            ax = axes.flat[k] if single else axes[g, k]
            total = maps[g][k].sum()
            title = f"{what}\n{total:.3g} {'per run' if runs > 1 else 'in all'}"
            image = _draw_panel(ax, picture, maps[g][k], tops[k], title, smooth)
            if not single and k == 0:
                ax.set_ylabel(f"{label}\n({runs} run{'s' if runs != 1 else ''})", fontsize=11, fontweight="bold")
            if image is not None and (single or g == len(groups) - 1):
                bar = fig.colorbar(image, ax=ax if single else axes[:, k], shrink=0.8,
                                   location="right" if single else "bottom")
                bar.ax.tick_params(labelsize=7)
    if picture is not None:
        handles = [matplotlib.patches.Patch(facecolor=colour, edgecolor="#555555", label=label)
                   for _, colour, label in site_kinds(layers)]
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9, frameon=False)
    fig.suptitle(f"{heading}events {unit}{smoothing}\nx to the right, y up (the office at the bottom)", fontsize=11)
    return save(fig, stem, formats)


def check_by(by: str, runs: pd.DataFrame, varied: list[str]) -> list:
    """The values of ``--by`` (a varied parameter, or ``point``: each design point) over
    ``runs``, sorted; or one line saying why it cannot group them."""
    if by not in (*varied, "point"):
        raise InputError(f"--by {by!r} is not a varied parameter of this sweep (nor 'point', the design point); "
                         f"varied: {', '.join(varied) or 'none'}")
    values = runs[by].drop_duplicates().sort_values().tolist()
    if len(values) > MAX_GROUPS:
        raise InputError(f"--by {by} has {len(values)} values; the figure has a row per value, at most {MAX_GROUPS}")
    return values


def _one_site(folder: EventFolder, site_layers) -> tuple[Mapping[str, np.ndarray] | None, str]:
    """The site's layers, or None and why the maps cannot be drawn."""
    if len(folder.site_texts) != 1:
        return None, (f"the runs used {len(folder.site_texts)} site maps; hotspot maps are drawn for one site "
                      "(events_by_type.csv covers them all)")
    (name, text), = folder.site_texts.items()
    return site_layers(text), name


def analyse_events(directory: str | Path, site_layers: Callable[[str], Mapping[str, np.ndarray]],
                   initial_situation: str, *, ok_runs: pd.DataFrame | None = None, varied: list[str] | None = None,
                   by: str | None = None, smooth: float = SMOOTHING, formats=("png",),
                   notes: list[str] | None = None) -> list[Path]:
    """Write ``events_by_type.csv`` (and, for a sweep, ``events_by_run.csv``) and the hotspot
    maps ``figures/hotspots`` (and ``figures/hotspots_by_<by>``) into ``directory``; return the
    paths. A run folder needs no ``ok_runs``; a sweep's are its finished runs' outcome rows."""
    folder = load_events(directory, ok_runs, varied)
    if by is not None:
        if folder.kind == "run":
            raise InputError("--by groups the runs of a sweep; this is the folder of one run")
        values = check_by(by, folder.runs, folder.varied)
    if not (smooth >= 0 and np.isfinite(smooth)):
        raise InputError(f"--smooth {smooth!r}: expected a number of cells >= 0")
    out = folder.dir
    written = []
    table, per_run = counts_by_type(folder, initial_situation, by)
    table.to_csv(out / "events_by_type.csv", index=False)
    written.append(out / "events_by_type.csv")
    if folder.kind == "sweep":
        per_run.to_csv(out / "events_by_run.csv", index=False)
        written.append(out / "events_by_run.csv")

    layers, site = _one_site(folder, site_layers)
    if layers is None:
        (notes if notes is not None else []).append(site)
        return written
    shape = next(iter(layers.values())).shape
    fig_dir = out / "figures"
    fig_dir.mkdir(exist_ok=True)
    runs = len(folder.runs)
    heading = f"site {Path(site).name}, {runs} run{'s' if runs != 1 else ''}: "
    written += hotspot_figure([("all runs", folder.events, runs)], layers, shape, fig_dir / "hotspots", formats,
                              smooth, heading)
    if by is not None:
        groups = []
        for value in values:
            ids = set(folder.runs.loc[folder.runs[by] == value, "run_id"])
            label = f"{by}\n= {value:g}" if isinstance(value, float) else f"{by}\n= {value}"
            groups.append((label, folder.events[folder.events["run_id"].isin(ids)], len(ids)))
        written += hotspot_figure(groups, layers, shape, fig_dir / f"hotspots_by_{by}", formats, smooth, heading)
    return written
