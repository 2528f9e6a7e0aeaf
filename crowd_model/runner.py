"""Run one simulation and write its result files (the contract's run output)."""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pandas as pd

from crowd_model.model import CrowdModel
from crowd_model.parameters import Parameters


@dataclass
class RunResult:
    """What one run produced: the per-step table and the one-row outcomes."""

    scenario: str
    parameters: Parameters
    seed: int
    steps: int
    timeseries: pd.DataFrame
    outcomes: dict


def simulate(
    parameters: Parameters,
    steps: int,
    seed: int,
    scenario: str = "custom",
    stop: Callable[[CrowdModel], bool] | None = None,
) -> RunResult:
    """Run ``steps`` steps from ``seed``; same arguments, same result.

    ``stop(model)``, asked after each step, ends the run early when it returns true
    (a sweep's stop condition, as in BehaviorSpace).
    """
    model = CrowdModel(parameters, rng=seed)
    for _ in range(steps):
        model.step()
        if stop is not None and stop(model):
            break
    timeseries = model.timeseries()
    outcomes = model.outcomes()
    return RunResult(scenario, parameters, seed, steps, timeseries, outcomes)


def versions() -> dict:
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "crowd_model": version("crowd-model"),
        "mesa": version("mesa"),
        "numpy": version("numpy"),
        "numba": version("numba"),
        "python": platform.python_version(),
    }


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def write_run(result: RunResult, out_dir: str | Path) -> Path:
    """Write ``timeseries.csv``, ``outcomes.csv`` and ``metadata.json`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result.timeseries.to_csv(out / "timeseries.csv", index=False)
    pd.DataFrame([result.outcomes]).to_csv(out / "outcomes.csv", index=False)
    meta = {
        "scenario": result.scenario,
        "seed": result.seed,
        "steps": result.steps,
        "parameters": result.parameters.to_dict(),
        "versions": versions(),
        "git_commit": git_commit(),
    }
    (out / "metadata.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out
