"""``crowd-model analyse DIR``: summary.csv, sensitivity.csv (sobol and morris designs) and figures
of a sweep folder; events_by_type.csv and hotspot maps of a run folder, or of a sweep folder
that kept events (:mod:`crowd_model.analysis.spatial`)."""

from __future__ import annotations

import sys
from pathlib import Path

from crowd_model.errors import InputError

from crowd_model.analysis import figures, spatial
from crowd_model.analysis.results import load_results
from crowd_model.analysis.screening import morris_table
from crowd_model.analysis.sensitivity import small_design_note, sobol_table
from crowd_model.analysis.stats import numeric_metrics, summarise, timeseries_bands

MAX_BAND_GROUPS = 8


def analyse(directory: str | Path, metrics: list[str] | None = None,
            figure_formats=("png",), *, site_layers=None, initial_situation: str | None = None,
            by: str | None = None, smooth: float = spatial.SMOOTHING) -> list[Path]:
    """Write the analysis files into ``directory`` and return their paths.

    ``metrics`` picks the outcomes for figures and sensitivity (default: every numeric
    outcome that varies between runs); ``summary.csv`` always covers every numeric one.

    A folder with ``events.csv`` (a run's, or a sweep's with ``[record] events = true``) also
    gets ``events_by_type.csv`` and hotspot maps; they need ``site_layers`` and
    ``initial_situation`` from the model (see :mod:`crowd_model.analysis.spatial`), ``by`` a
    varied parameter to draw a row of maps per value, ``smooth`` the maps' smoothing in cells.
    A run folder gets only these.
    """
    events_kwargs = dict(by=by, smooth=smooth, formats=figure_formats)
    if spatial.is_run_folder(directory):
        if metrics:
            raise InputError(f"--metric is for sweep folders; {directory} holds one run "
                             "(analyse writes its events_by_type.csv and hotspot maps)")
        return spatial.analyse_events(directory, *_model_knowledge(site_layers, initial_situation), **events_kwargs)
    res = load_results(directory)
    out = res.dir
    ok = res.ok
    if ok.empty:
        raise InputError(f"{out}: no finished runs to analyse")
    numeric = numeric_metrics(ok, res.outcome_columns)
    if metrics:
        unknown = [m for m in metrics if m not in numeric]
        if unknown:
            raise InputError(f"--metric {unknown} not among the numeric outcomes: {', '.join(numeric)}")
        chosen = list(metrics)
    else:
        chosen = [m for m in numeric if ok[m].nunique(dropna=True) > 1]
    varied = res.varied
    if by is not None:  # checked before anything is written
        if not spatial.has_events(out):
            raise InputError(f"--by draws hotspot maps, which need {out / spatial.EVENTS}: "
                             "add events = true to the experiment file's [record] table")
        spatial.check_by(by, ok, varied)
    written = []

    summary = summarise(ok, varied, numeric)
    summary.to_csv(out / "summary.csv", index=False)
    written.append(out / "summary.csv")

    fig_dir = out / "figures"
    fig_dir.mkdir(exist_ok=True)
    seed = int(res.metadata.get("root_seed", 0))
    if res.design_type == "sobol":
        table, notes = sobol_table(res.design, ok, varied, chosen, seed=seed)
        notes.insert(0, small_design_note(res.design, varied))
        written += _sensitivity(table, notes, out, figures.sobol_bars, "sobol", figure_formats)
    elif res.design_type == "morris":
        bounds = {e["name"]: (e["low"], e["high"]) for e in res.metadata["design"]["varied"]}
        table, notes = morris_table(res.design, ok, bounds, chosen, seed=seed)
        written += _sensitivity(table, notes, out, figures.morris_plane, "morris", figure_formats)
    elif res.design_type == "lhs":
        for metric in chosen:
            written += figures.scatter(ok, varied, metric, fig_dir / f"scatter_{metric}", figure_formats)
    elif len(varied) >= 2:
        for metric in chosen:
            written += figures.phase_diagram(summary, varied[0], varied[1], metric,
                                             fig_dir / f"phase_{metric}", figure_formats)
    elif len(varied) == 1:
        for metric in chosen:
            written += figures.response_curve(summary, varied[0], metric, fig_dir / f"response_{metric}", figure_formats)

    written += _timeseries_figure(res, fig_dir, figure_formats)
    if spatial.has_events(out):
        notes = []
        written += spatial.analyse_events(out, *_model_knowledge(site_layers, initial_situation), ok_runs=ok,
                                          varied=varied, notes=notes, **events_kwargs)
        for note in notes:
            print(f"analyse: {note}", file=sys.stderr)
    return written


def _model_knowledge(site_layers, initial_situation):
    """What the event analysis needs from the model, which the analysis does not import."""
    if site_layers is None or initial_situation is None:
        raise InputError("analysing events needs site_layers and initial_situation (crowd-model analyse passes "
                         "crowd_model.site.site_layers and the model's first situation name)")
    return site_layers, initial_situation


def _sensitivity(table, notes, out: Path, figure, prefix: str, formats) -> list[Path]:
    """Say the notes, write ``sensitivity.csv`` and one figure per outcome."""
    for note in filter(None, notes):
        print(f"analyse: {note}", file=sys.stderr)
    table.to_csv(out / "sensitivity.csv", index=False)
    written = [out / "sensitivity.csv"]
    for metric in table["metric"].unique():
        written += figure(table, metric, out / "figures" / f"{prefix}_{metric}", formats)
    return written


def _timeseries_figure(res, fig_dir: Path, formats) -> list[Path]:
    ts = res.timeseries
    if ts.empty:
        return []
    ok = res.ok
    groups, title = None, "runs"
    if res.design_type == "grid" and res.varied and 1 < ok[res.varied[0]].nunique() <= MAX_BAND_GROUPS:
        groups, title = ok.set_index("run_id")[res.varied[0]], res.varied[0]
    metrics = [c for c in ts.columns if c not in ("run_id", "step")][:6]
    bands = {m: timeseries_bands(ts, groups, m) for m in metrics}
    return figures.timeseries_panels(bands, fig_dir / "timeseries", formats, legend_title=title)
