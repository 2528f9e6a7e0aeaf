"""Reproduce Epstein (2002, PNAS 99 suppl 3) Model I, Table 2, Runs 2-5: a thin script over
the sweep engine that runs the experiment files in ``experiments/specs/`` and tabulates them.

The files are the one statement of each run (``epstein_run2.toml``: Run 2 under each ratio
rule; ``epstein_run3_gradual.toml`` / ``epstein_run4_sudden.toml``: the same legitimacy drop
made gradually or at once under a dense police with life jail; ``epstein_run5_cop_withdrawal.toml``:
the cops withdrawn gradually). Each is swept with :func:`crowd_model.experiments.sweep.run_sweep`
into ``OUT/<file name>`` (``--resume`` finishes a stopped reproduction), and the per-step
tables are measured here: outbursts (spells above ``outburst_threshold`` actives) per 1,000
steps, waiting time and peaks for Run 2; for Runs 3-5, measured from the step the schedule
starts changing, the outbursts, the peak and when it came, and the tip into lasting rebellion.

    .venv/bin/python experiments/reproduce_epstein.py --out results/epstein_reproduction
    .venv/bin/python experiments/reproduce_epstein.py --replications 3 --only epstein_run2
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from crowd_model.errors import InputError
from crowd_model.experiments.executors import make_executor
from crowd_model.experiments.spec import Experiment, load_experiment
from crowd_model.experiments.sweep import run_sweep
from crowd_model.outcomes import outbursts

SPECS = Path(__file__).resolve().parent / "specs"
RUN2 = "epstein_run2"
SCHEDULED = ("epstein_run3_gradual", "epstein_run4_sudden", "epstein_run5_cop_withdrawal")
WINDOW = 100


def spells(active: np.ndarray, threshold: float) -> list[tuple[int, int, int]]:
    """Outbursts as ``(start, end, peak)``: maximal spells of rows with more than ``threshold``
    actives (``end`` exclusive); starts as :func:`crowd_model.outcomes.outbursts`."""
    active = np.asarray(active)
    out = []
    for start in outbursts(active, threshold):
        below = np.flatnonzero(active[start:] <= threshold)
        end = int(start + below[0]) if len(below) else len(active)
        out.append((int(start), end, int(active[start:end].max())))
    return out


def outburst_stats(timeseries: pd.DataFrame, threshold: float) -> dict:
    """Run 2 measures of one run: outbursts per 1,000 steps, waiting time, peak sizes."""
    found = spells(timeseries["active"].to_numpy(), threshold)
    steps = len(timeseries) - 1
    starts = [s for s, _, _ in found]
    peaks = [p for _, _, p in found]
    return {
        "outbursts_per_1000": 1000 * len(found) / steps,
        "mean_wait": float(np.mean(np.diff(starts))) if len(starts) > 1 else math.nan,
        "mean_peak": float(np.mean(peaks)) if peaks else math.nan,
        "max_peak": max(peaks) if peaks else 0,
        "peak_active": int(timeseries["active"].max()),
    }


def change_start(experiment: Experiment) -> int:
    """The first step at which a scheduled parameter of the experiment starts to change."""
    starts = [s.points[0][0] for s in experiment.base.schedules.values()]
    return min(starts) if starts else 0


def schedule_stats(timeseries: pd.DataFrame, threshold: float, start: int) -> dict:
    """Runs 3-5 measures from step ``start`` on: outbursts, the peak and its step, where the
    run ends, and the tip into rebellion (the first step from which the actives stay above
    ``threshold`` to the end: no quiet spell follows)."""
    after = timeseries[timeseries["step"] >= start].reset_index(drop=True)
    active = after["active"].to_numpy()
    rebellion = np.logical_and.accumulate((active > threshold)[::-1])[::-1]
    tip = int(np.argmax(rebellion)) if rebellion.any() else None
    officers = after["officers"] if "officers" in after else None
    return {
        "outbursts": len(spells(active, threshold)),
        "peak_active": int(active.max()),
        "peak_step": int(after["step"].iloc[int(np.argmax(active))]),
        "final_active": int(active[-1]),
        "final_arrested": int(after["arrested"].iloc[-1]),
        "tip_step": int(after["step"].iloc[tip]) if tip is not None else math.nan,
        "officers_at_tip": int(officers.iloc[tip]) if tip is not None and officers is not None else math.nan,
    }


def windows(timeseries: pd.DataFrame) -> pd.DataFrame:
    """Mean actives, arrested and officers per ``WINDOW`` steps over all runs of a table
    (how Run 5 tips as the cops leave)."""
    block = timeseries["step"] // WINDOW * WINDOW
    means = timeseries.groupby(block)[["active", "arrested", "officers"]].mean()
    means.index = [f"{t}-{t + WINDOW - 1}" for t in means.index]
    return means.T.round(0).astype(int)


def mean_sd(values) -> str:
    """``mean +- sd`` over replicates, ignoring those without a value (e.g. no waiting time)."""
    values = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} +- {sd:.1f}"


def sweep(name: str, out: Path, replications: int | None, workers: int | None, resume: bool) -> tuple[Experiment, pd.DataFrame, pd.DataFrame]:
    """Run one experiment file with the sweep engine; its outcomes and per-step tables."""
    experiment = load_experiment(SPECS / f"{name}.toml")
    if replications:
        experiment = dataclasses.replace(experiment, replications=replications)
    folder = out / name
    with make_executor(workers) as (executor, label, in_flight):
        run_sweep(experiment, folder, executor, in_flight=in_flight, resume=resume, progress=True, executor_label=label)
    outcomes = pd.read_csv(folder / "outcomes.csv")
    return experiment, outcomes, pd.read_csv(folder / "timeseries.csv")


def per_run(outcomes: pd.DataFrame, timeseries: pd.DataFrame, measure, label) -> pd.DataFrame:
    rows = []
    for run in outcomes.itertuples():
        ts = timeseries[timeseries["run_id"] == run.run_id]
        rows.append({"run": label(run), "seed": run.seed, **measure(ts)})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/epstein_reproduction"))
    parser.add_argument("--replications", type=int, help="replications per design point (default: each file's)")
    parser.add_argument("--only", nargs="+", choices=(RUN2, *SCHEDULED), help="run only these files")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: the cores)")
    parser.add_argument("--resume", action="store_true", help="finish a reproduction stopped part-way")
    args = parser.parse_args(argv)
    if args.replications is not None and args.replications < 1:
        print("reproduce_epstein: --replications must be >= 1", file=sys.stderr)
        return 2
    chosen = args.only or [RUN2, *SCHEDULED]
    pd.set_option("display.width", 200)
    tables = {}
    try:
        for name in chosen:
            tables[name] = sweep(name, args.out, args.replications, args.workers, args.resume)
    except InputError as exc:
        print(f"reproduce_epstein: error: {exc}", file=sys.stderr)
        return 2

    if RUN2 in tables:
        experiment, outcomes, ts = tables[RUN2]
        threshold = experiment.base.outburst_threshold
        rows = per_run(outcomes, ts, lambda t: outburst_stats(t, threshold), lambda r: r.ratio_rule)
        rows.to_csv(args.out / f"{RUN2}_per_run.csv", index=False)
        print(f"\n{experiment.description}: {experiment.steps} steps, {experiment.replications} replications; "
              f"outburst = spell with more than {threshold:g} actives; mean +- sd over replications")
        columns = ["outbursts_per_1000", "mean_wait", "mean_peak", "max_peak", "peak_active"]
        print(rows.groupby("run", sort=False)[columns].agg(mean_sd).to_string())
    for name in (n for n in SCHEDULED if n in tables):
        experiment, outcomes, ts = tables[name]
        threshold = experiment.base.outburst_threshold
        start = change_start(experiment)
        rows = per_run(outcomes, ts, lambda t: schedule_stats(t, threshold, start), lambda r: name)
        rows.to_csv(args.out / f"{name}_per_run.csv", index=False)
        print(f"\n{experiment.description}: {experiment.steps} steps, {experiment.replications} replications; "
              f"measured from step {start}; tip = first step from which actives stay above {threshold:g}")
        print(f"replications with an outburst: {(rows['outbursts'] > 0).sum()}/{len(rows)}; "
              f"that tipped into rebellion: {rows['tip_step'].notna().sum()}/{len(rows)}")
        columns = ["outbursts", "peak_active", "peak_step", "final_active", "final_arrested", "tip_step", "officers_at_tip"]
        print(rows[columns].agg(mean_sd).to_frame(name).T.to_string())
        if {"officers", "arrested", "active"} <= set(ts.columns):
            print(f"mean over replications per {WINDOW} steps:")
            print(windows(ts).to_string())
    print(f"\nsweep folders and per-run tables in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
