"""Run each KPU preset over several seeds and tabulate its headline outcomes.

    python experiments/check_presets.py --seeds 10

Prints a Markdown table (mean [min-max] over seeds) of what each preset is named for:
``kpu-riot`` — violence emerges, the water cannon fires, provocateurs are arrested, the
crowd disperses before the run ends, the gate holds; ``peaceful-rally`` — no violence;
``breach`` — the gate is breached.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

from crowd_model.runner import simulate
from crowd_model.scenario import load_scenario

PRESETS = ("kpu-riot", "peaceful-rally", "breach")
COLUMNS = ("peak_violent", "water_used", "provocateurs_arrested", "arrests_total", "time_to_dispersal",
           "gate_breached", "property_damage", "injuries_civilians", "injuries_security")


def run_preset(args: tuple[str, int]) -> dict:
    name, seed = args
    scenario = load_scenario(name)
    outcomes = simulate(scenario.parameters, scenario.steps, seed, name).outcomes
    return {"preset": name, "seed": seed, "steps": scenario.steps, **outcomes}


def preset_outcomes(seeds: int, workers: int | None = None) -> pd.DataFrame:
    jobs = [(name, seed) for name in PRESETS for seed in range(seeds)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return pd.DataFrame(list(pool.map(run_preset, jobs)))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    print(markdown_table(preset_outcomes(args.seeds, args.workers)))


if __name__ == "__main__":
    main()
