"""Validate the riot response: run each case of a validation file over paired seeds and
tabulate every contrast with its 95% confidence interval.

    python -m crowd_model.experiments.validate_response experiments/specs/kpu_response_validation.toml \
        --out results/response_validation [--workers N] [--replications N] [--steps N]

Each ``[cases.NAME]`` table is the scenario with those overrides, run as a one-point sweep
(resumable, like any sweep) with the file's root seed, so every case's replicate r has the
same seed (common random numbers). Writes ``contrasts.csv``, ``contrasts.md`` and
``contrasts.png`` (a forest plot) into the output folder.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

import pandas as pd

from crowd_model.analysis.contrasts import contrast_figure, contrast_table, markdown
from crowd_model.errors import InputError
from crowd_model.experiments.executors import make_executor
from crowd_model.experiments.spec import parse_experiment
from crowd_model.experiments.sweep import run_sweep


def load_validation(path: Path, replications: int | None = None, steps: int | None = None) -> dict:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: {exc}") from None
    cases = data.get("cases", {})
    if "base" not in cases:
        raise InputError(f"{path}: needs a [cases.base] table")
    for contrast in data.get("contrast", []):
        for key in ("case", "reference"):
            if contrast.get(key) not in cases:
                raise InputError(f"{path}: contrast {key} {contrast.get(key)!r} is not one of the cases: {', '.join(cases)}")
    common = {k: data[k] for k in ("scenario", "steps", "replications", "seed") if k in data}
    if replications:
        common["replications"] = replications
    if steps:
        common["steps"] = steps
    experiments = {name: parse_experiment({**common, "set": overrides}, name=f"validation-{name}")
                   for name, overrides in cases.items()}
    return {"experiments": experiments, "contrasts": data.get("contrast", []), "outcomes": data.get("outcomes", [])}


def validate(path: Path, out: Path, workers: int | None = None, replications: int | None = None,
             steps: int | None = None, resume: bool = False) -> pd.DataFrame:
    spec = load_validation(path, replications, steps)
    outcomes = {}
    with make_executor(workers) as (executor, label, in_flight):
        for name, experiment in spec["experiments"].items():
            run_sweep(experiment, out / name, executor, in_flight=in_flight, progress=False,
                      executor_label=label, resume=resume)
            outcomes[name] = pd.read_csv(out / name / "outcomes.csv").set_index("replicate").sort_index()
    columns = spec["outcomes"] or [c for c in outcomes["base"].columns if c not in ("run_id", "seed", "status")]
    table = contrast_table(outcomes, spec["contrasts"], columns)
    table.to_csv(out / "contrasts.csv", index=False)
    (out / "contrasts.md").write_text(markdown(table) + "\n")
    contrast_figure(table, out / "contrasts.png")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--out", type=Path, default=Path("results/response_validation"))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--replications", type=int, default=None, help="override the file's replications")
    parser.add_argument("--steps", type=int, default=None, help="override the file's steps")
    parser.add_argument("--resume", action="store_true", help="finish the cases' sweeps in --out")
    args = parser.parse_args(argv)
    try:
        table = validate(args.file, args.out, args.workers, args.replications, args.steps, args.resume)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
