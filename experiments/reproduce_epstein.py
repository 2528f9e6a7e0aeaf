"""Reproduce Epstein (2002, PNAS 99 suppl 3) Model I, Table 2, Runs 2-5, with the `epstein` preset.

Run 2 (punctuated equilibrium) is run under each ratio rule of the estimated arrest
probability: ``floor`` (NetLogo Rebellion, the preset's value), ``literal`` (the paper's
printed formula, which the literature reports gives no outbursts) and ``round`` (Mesa's
example). Per rule it prints outbursts (spells above ``outburst_threshold`` actives) per
1,000 steps, the mean waiting time between outburst starts, and the mean and largest peak
of an outburst, each as mean +- sd over seeds.

Runs 3-5 build schedules on the same preset: Runs 3/4 (cop density 0.074, jail terms
beyond the run, L from 0.9) lower legitimacy gradually or at once; Run 5 (L 0.8) withdraws
the cops gradually.

    .venv/bin/python experiments/reproduce_epstein.py                 # 10 seeds, ~3 min on 2 busy cores
    .venv/bin/python experiments/reproduce_epstein.py --seeds 3 --steps 1000 --out results/epstein
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crowd_model.outcomes import outbursts
from crowd_model.parameters import RATIO_RULES, Parameters
from crowd_model.runner import simulate
from crowd_model.scenario import load_scenario

DECLINE_START = 50
DECLINE_END = 450
SCHEDULED_STEPS = 600
LEGITIMACY_DROPS = (0.7, 0.6, 0.5)
WINDOW = 100
LIFE = 1_000_000_000


@dataclass(frozen=True)
class Job:
    label: str
    parameters: Parameters
    steps: int
    seed: int


def preset(**values) -> Parameters:
    return Parameters.from_mapping(values, base=load_scenario("epstein").parameters)


def run2(rule: str) -> Parameters:
    return preset(ratio_rule=rule)


def scheduled_runs(drops=LEGITIMACY_DROPS) -> dict[str, Parameters]:
    """Epstein's Runs 3-5 as schedules over the preset (Table 2; DESIGN.md).

    Runs 3/4 lower legitimacy from 0.9 to the same end value either as a ramp over
    ``DECLINE_START..DECLINE_END`` or all at once at ``DECLINE_START``.
    """
    police = {"officer_density": 0.074, "max_jail_term": LIFE}
    ramp = {"schedule": "ramp", "start": DECLINE_START, "end": DECLINE_END}
    runs = {}
    for to in drops:
        runs[f"run3 gradual L 0.9->{to:g}"] = preset(**police, legitimacy={**ramp, "from": 0.9, "to": to})
        runs[f"run4 sudden L 0.9->{to:g}"] = preset(
            **police, legitimacy={"schedule": "step", "at": DECLINE_START, "before": 0.9, "after": to}
        )
    runs["run5 cops 0.04->0, L 0.8"] = preset(
        legitimacy=0.8, officer_density={**ramp, "from": 0.04, "to": 0.0}
    )
    return runs


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


def schedule_stats(timeseries: pd.DataFrame, threshold: float) -> dict:
    """Runs 3-5 measures from ``DECLINE_START`` on: outbursts, the largest one while the change
    is under way (to ``DECLINE_END``) and over the whole rest of the run, where the run ends,
    and the tip into rebellion (the first step from which the actives stay above
    ``threshold`` to the end: no quiet spell follows)."""
    after = timeseries[timeseries["step"] >= DECLINE_START].reset_index(drop=True)
    active = after["active"].to_numpy()
    during = active[: DECLINE_END - DECLINE_START + 1]
    rebellion = np.logical_and.accumulate((active > threshold)[::-1])[::-1]
    tip = int(np.argmax(rebellion)) if rebellion.any() else None
    return {
        "outbursts": len(spells(active, threshold)),
        "peak_during_change": int(during.max()),
        "peak_active": int(active.max()),
        "peak_step": int(after["step"].iloc[int(np.argmax(active))]),
        "final_active": int(active[-1]),
        "final_arrested": int(after["arrested"].iloc[-1]),
        "tip_step": int(after["step"].iloc[tip]) if tip is not None else math.nan,
        "officers_at_tip": int(after["officers"].iloc[tip]) if tip is not None else math.nan,
    }


def windows(timeseries: list[pd.DataFrame]) -> pd.DataFrame:
    """Mean actives, arrested and officers per ``WINDOW`` steps, over all given runs
    (how Run 5 tips as the cops leave)."""
    steps = pd.concat(timeseries)
    block = steps["step"] // WINDOW * WINDOW
    means = steps.groupby(block)[["active", "arrested", "officers"]].mean()
    means.index = [f"{t}-{t + WINDOW - 1}" for t in means.index]
    return means.T.round(0).astype(int)


def execute(job: Job) -> tuple[Job, pd.DataFrame]:
    return job, simulate(job.parameters, job.steps, job.seed, scenario=job.label).timeseries


def run_all(jobs: list[Job], workers: int) -> list[tuple[Job, pd.DataFrame]]:
    if workers <= 1:
        return [execute(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(execute, jobs))


def mean_sd(values) -> str:
    """``mean +- sd`` over seeds, ignoring seeds without a value (e.g. no waiting time)."""
    values = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} +- {sd:.1f}"


def table(per_seed: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return per_seed.groupby("run", sort=False)[columns].agg(mean_sd)


def per_seed_rows(results, measure) -> pd.DataFrame:
    return pd.DataFrame(
        [{"run": job.label, "seed": job.seed, **measure(ts)} for job, ts in results]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 1..N per run (default 10)")
    parser.add_argument("--steps", type=int, default=1000, help="steps of each Run 2 (default 1000)")
    parser.add_argument("--rules", nargs="+", choices=RATIO_RULES, default=list(RATIO_RULES))
    parser.add_argument("--no-schedules", action="store_true", help="skip Runs 3-5")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--out", type=Path, help="also write per-seed tables as CSV here")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.steps < 2:
        print("--seeds must be >= 1 and --steps >= 2", file=sys.stderr)
        return 2

    seeds = range(1, args.seeds + 1)
    threshold = load_scenario("epstein").parameters.outburst_threshold
    jobs = [Job(rule, run2(rule), args.steps, s) for rule in args.rules for s in seeds]
    if not args.no_schedules:
        jobs += [Job(label, p, SCHEDULED_STEPS, s) for label, p in scheduled_runs().items() for s in seeds]
    results = run_all(jobs, args.workers)
    rule_results = [r for r in results if r[0].label in RATIO_RULES]
    other_results = [r for r in results if r[0].label not in RATIO_RULES]

    pd.set_option("display.width", 200)
    run2_rows = per_seed_rows(rule_results, lambda ts: outburst_stats(ts, threshold))
    print(
        f"Epstein Table 2 Run 2 (epstein preset), {args.steps} steps, seeds 1..{args.seeds}; "
        f"outburst = spell with more than {threshold} actives; mean +- sd over seeds"
    )
    print(table(run2_rows, ["outbursts_per_1000", "mean_wait", "mean_peak", "max_peak", "peak_active"]).to_string())
    if other_results:
        other_rows = per_seed_rows(other_results, lambda ts: schedule_stats(ts, threshold))
        print(
            f"\nEpstein Table 2 Runs 3-5, {SCHEDULED_STEPS} steps, seeds 1..{args.seeds}: cop density "
            f"0.074 and life jail (runs 3/4); change over steps {DECLINE_START}-{DECLINE_END} "
            f"(sudden: at {DECLINE_START}); measures from step {DECLINE_START} on; "
            f"tip = first step from which actives stay above {threshold}"
        )
        columns = ["outbursts", "peak_during_change", "peak_active", "peak_step", "final_active", "final_arrested", "tip_step", "officers_at_tip"]
        print(table(other_rows, columns).to_string())
        counts = other_rows.groupby("run", sort=False).agg(
            outburst=("outbursts", lambda s: f"{(s > 0).sum()}/{len(s)}"),
            tipped=("tip_step", lambda s: f"{s.notna().sum()}/{len(s)}"),
        )
        print("\nseeds with an outburst / that tipped into rebellion:")
        print(counts.to_string())
        for label in scheduled_runs():
            if label.startswith("run5"):
                print(f"\n{label}: mean over seeds per {WINDOW} steps")
                print(windows([ts for job, ts in other_results if job.label == label]).to_string())
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        run2_rows.to_csv(args.out / "run2_per_seed.csv", index=False)
        if other_results:
            other_rows.to_csv(args.out / "runs3to5_per_seed.csv", index=False)
        print(f"\nper-seed tables written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
