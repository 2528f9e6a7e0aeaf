"""Run one simulation and write its result files (the contract's run output)."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pandas as pd

from crowd_model.ahead import compiling_ahead
from crowd_model.files import write_atomic, write_json_atomic
from crowd_model.model import CrowdModel
from crowd_model.parameters import Parameters
from crowd_model.site import load_site


@dataclass
class RunResult:
    """What one run produced: the per-step table and the one-row outcomes."""

    scenario: str
    parameters: Parameters
    seed: int
    steps: int
    timeseries: pd.DataFrame
    outcomes: dict
    events: pd.DataFrame | None = None  # site scenarios: crowd_model.events.EVENT_COLUMNS


def simulate(
    parameters: Parameters,
    steps: int,
    seed: int,
    scenario: str = "custom",
    stop: Callable[[CrowdModel], bool] | None = None,
    observe: Callable[[CrowdModel], None] | None = None,
) -> RunResult:
    """Run ``steps`` steps from ``seed``; same arguments, same result.

    ``stop(model)``, asked after each step, ends the run early when it returns true
    (a sweep's stop condition, as in BehaviorSpace). ``observe(model)`` is called once the
    model is built and after each step (``run --animation`` takes its frames so).
    """
    with compiling_ahead(parameters):
        model = CrowdModel(parameters, rng=seed)
        if observe is not None:
            observe(model)
        for _ in range(steps):
            model.step()
            if observe is not None:
                observe(model)
            if stop is not None and stop(model):
                break
    timeseries = model.timeseries()
    outcomes = model.outcomes()
    events = model.events() if model.site is not None else None
    return RunResult(scenario, parameters, seed, steps, timeseries, outcomes, events)


# Between them, every compiled kernel a run, a sweep or the app calls: the open grid (with an
# officer schedule, Epstein's Run 5) and a site.
KERNEL_CHECKS = (
    ("epstein", {"width": 12, "height": 12,
                 "officer_density": {"schedule": "ramp", "start": 0, "end": 2, "from": 0.04, "to": 0.0}}),
    ("kpu-riot", {}),
)


def compile_kernels() -> None:
    """Compile every kernel into numba's cache: a few steps of each model in
    :data:`KERNEL_CHECKS`, and their map pictures. Set-up does this once, so that no run,
    sweep worker or app session waits for the compiler (about 40 s on a 2-core machine)."""
    from crowd_model.scenario import load_scenario

    checks = [Parameters.from_mapping(values, base=load_scenario(name).parameters) for name, values in KERNEL_CHECKS]
    with compiling_ahead(next(p for p in checks if p.site != "none")):
        for parameters in checks:
            model = CrowdModel(parameters, rng=0)
            for _ in range(3):
                model.step()
            model.cell_categories()


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


def _git(*args: str) -> str | None:
    """``git args`` in this package's folder; None when git or the repository is missing."""
    try:
        out = subprocess.run(["git", *args], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_commit() -> str | None:
    out = _git("rev-parse", "HEAD")
    return (out or "").strip() or None


def git_dirty() -> bool | None:
    """True when the source tree has uncommitted changes (the commit does not say it all)."""
    out = _git("status", "--porcelain", "--untracked-files=no")
    return None if out is None else bool(out.strip())


def site_records(names: Iterable[str]) -> dict:
    """Each site map used, by the name the parameters give it: its SHA-256 and its text."""
    records = {}
    for name in dict.fromkeys(names):
        if name != "none":
            site = load_site(name)
            records[name] = {"sha256": site.sha256, "text": site.text}
    return records


def write_run(result: RunResult, out_dir: str | Path) -> Path:
    """Write ``timeseries.csv``, ``outcomes.csv``, ``metadata.json`` and, for a site
    scenario, ``events.csv`` into ``out_dir``, each to a temporary name first and then
    renamed into place."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "timeseries.csv", result.timeseries.to_csv(index=False))
    if result.events is not None:
        write_atomic(out / "events.csv", result.events.to_csv(index=False))
    write_atomic(out / "outcomes.csv", pd.DataFrame([result.outcomes]).to_csv(index=False))
    meta = {
        "scenario": result.scenario,
        "seed": result.seed,
        "steps": result.steps,
        "parameters": result.parameters.to_dict(),
        "sites": site_records([result.parameters.site]),
        "versions": versions(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
    }
    write_json_atomic(out / "metadata.json", meta)
    return out
