"""Run each KPU preset over several seeds and tabulate its headline outcomes.

    python experiments/check_presets.py --seeds 10

Prints a Markdown table (mean [min-max] over seeds) of what each preset is named for:
``kpu-riot`` — violence emerges, the water cannon fires, provocateurs are arrested, the
crowd disperses before the run ends, the gate holds; ``kpu-riot-immediate`` — the same riot met
with immediate force; ``peaceful-rally`` — no violence;
``breach`` — the gate is breached.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from crowd_model.experiments.executors import make_executor
from crowd_model.experiments.spec import parse_experiment
from crowd_model.experiments.sweep import run_sweep

PRESETS = ("kpu-riot", "kpu-riot-immediate", "peaceful-rally", "breach")
COLUMNS = ("peak_violent", "violent_person_steps", "water_used", "tear_gas_used", "provocateurs_arrested",
           "arrests_total", "time_to_dispersal", "gate_breached", "property_damage", "injured_civilians",
           "injured_officers", "steps_red")


def preset_outcomes(seeds: int, out: Path, workers: int | None = None, presets=PRESETS) -> pd.DataFrame:
    """Each preset as a one-point sweep with ``seeds`` replications (seeds spawned from the
    preset's own seed); their ``outcomes.csv`` rows, with a ``preset`` column."""
    tables = []
    with make_executor(workers) as (executor, label, in_flight):
        for name in presets:
            experiment = parse_experiment({"scenario": name, "replications": seeds}, name=f"check-{name}")
            run_sweep(experiment, out / name, executor, in_flight=in_flight, progress=False, executor_label=label)
            tables.append(pd.read_csv(out / name / "outcomes.csv").assign(preset=name))
    return pd.concat(tables, ignore_index=True)


def markdown_table(table: pd.DataFrame) -> str:
    lines = ["| preset | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, rows in table.groupby("preset", sort=False):
        cells = []
        for column in COLUMNS:
            values = rows[column]
            if column == "time_to_dispersal" and values.isna().any():
                cells.append(f"never in {values.isna().sum()}/{len(values)}")
                continue
            cells.append(f"{values.mean():.4g} [{values.min():.4g}–{values.max():.4g}]")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="replications per preset (default 10)")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("results/check_presets"),
                        help="folder for the sweeps (must not hold earlier results)")
    args = parser.parse_args(argv)
    print(markdown_table(preset_outcomes(args.seeds, args.out, args.workers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
