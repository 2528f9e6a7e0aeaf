"""From an experiment to the list of runs: design points, per-run seeds, run ids, run order.

One root seed fixes everything: ``SeedSequence(root).spawn(3)`` gives the design's
sampler, the run order and the run seeds (one child per design point, spawning one
grandchild per replicate, so adding replicates keeps the earlier ones' seeds). A run's
seed is a plain integer: ``crowd-model run --seed`` with it repeats the run exactly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crowd_model.errors import InputError
from crowd_model.parameters import Parameters, parameter_specs
from crowd_model.site import load_site

from crowd_model.experiments.design import grid_design, lhs_design, morris_design, sobol_design
from crowd_model.experiments.spec import Experiment


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs for one run (one picklable object, for any executor)."""

    run_id: str
    point: int
    replicate: int
    seed: int
    scenario: str
    parameters: Parameters
    steps: int
    varied: tuple
    metrics: tuple[str, ...]
    every: int
    stop_when: str | None
    stop_after: int
    outcome_columns: tuple[str, ...]
    events: bool = False  # keep the run's events ([record] events)


@dataclass(frozen=True)
class Plan:
    experiment: Experiment
    design: pd.DataFrame
    tasks: tuple[RunTask, ...]

    @property
    def canonical_ids(self) -> list[str]:
        """Run ids in (design point, replicate) order: the order of the final files."""
        return [t.run_id for t in sorted(self.tasks, key=lambda t: (t.point, t.replicate))]

    def fingerprint(self) -> str:
        """Changes whenever anything that decides the result files changes."""
        e = self.experiment
        what = [self.canonical_ids, list(e.metrics), e.every, e.stop_when, e.stop_after, list(e.outcome_columns)]
        if e.events:  # only then, so that the folders of sweeps without events keep their fingerprint
            what.append("events")
        return hashlib.sha256(json.dumps(what).encode()).hexdigest()


def make_plan(experiment: Experiment) -> Plan:
    design_seq, order_seq, run_seq = np.random.SeedSequence(experiment.seed).spawn(3)
    design = build_design(experiment, np.random.default_rng(design_seq))
    names = experiment.varied_names
    seeds = run_seeds(run_seq, len(design), experiment.replications)
    tasks_by_point = []
    for row in design.itertuples(index=False):
        values = {name: _plain(getattr(row, name)) for name in names}
        try:
            parameters = Parameters.from_mapping(values, base=experiment.base)
        except InputError as exc:
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            raise InputError(f"{experiment.origin}: design point {row.point} ({shown}): {exc}") from None
        if experiment.events and parameters.site == "none":
            raise InputError(f"{experiment.origin}: design point {row.point} runs on the open grid (site = 'none'), "
                             "where no events are recorded; [record] events = true needs a site at every point")
        tasks_by_point.append([
            RunTask(
                run_id=run_id(experiment.scenario, parameters, int(seeds[row.point, r]), experiment.steps),
                point=int(row.point),
                replicate=r,
                seed=int(seeds[row.point, r]),
                scenario=experiment.scenario,
                parameters=parameters,
                steps=experiment.steps,
                varied=tuple(values.values()),
                metrics=experiment.metrics,
                every=experiment.every,
                stop_when=experiment.stop_when,
                stop_after=experiment.stop_after,
                outcome_columns=experiment.outcome_columns,
                events=experiment.events,
            )
            for r in range(experiment.replications)
        ])
    order = interleaved(len(design), experiment.replications, np.random.default_rng(order_seq))
    return Plan(experiment, design, tuple(tasks_by_point[p][r] for p, r in order))


def build_design(experiment: Experiment, rng: np.random.Generator) -> pd.DataFrame:
    if experiment.design == "grid":
        return grid_design({v.name: list(v.values) for v in experiment.vary})
    bounds = {v.name: (v.low, v.high) for v in experiment.vary}
    integer = frozenset(s.name for s in parameter_specs() if s.type is int)
    if experiment.design == "morris":
        return morris_design(bounds, experiment.n, experiment.levels, rng, integer)
    if experiment.design == "lhs":
        choices = {v.name: v.values for v in experiment.vary if v.values is not None}
        return lhs_design(bounds, experiment.n, rng, integer, choices)
    return sobol_design(bounds, experiment.n, rng, integer)


def run_seeds(seq: np.random.SeedSequence, points: int, replications: int) -> np.ndarray:
    """``(points, replications)`` non-negative 63-bit integer seeds."""
    seeds = np.empty((points, replications), dtype=np.int64)
    for p, child in enumerate(seq.spawn(points)):
        for r, grandchild in enumerate(child.spawn(replications)):
            seeds[p, r] = int(grandchild.generate_state(1, np.uint64)[0] >> np.uint64(1))
    return seeds


def run_id(scenario: str, parameters: Parameters, seed: int, steps: int) -> str:
    """A stable id from what decides a run: scenario, parameters, seed and steps, and the
    contents of the site map (not only its path: an edited map makes other runs)."""
    what = {"scenario": scenario, "parameters": parameters.to_dict(), "seed": seed, "steps": steps}
    if parameters.site != "none":
        what["site_sha256"] = load_site(parameters.site).sha256
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


def interleaved(points: int, replications: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Replicate 0 of every point (in a shuffled order), then replicate 1, ...: a sweep
    stopped part-way holds a balanced sample of the design."""
    return [(int(p), r) for r in range(replications) for p in rng.permutation(points)]


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
