"""``crowd-model calibrate SPEC.toml``: fit parameters to target summary statistics by ABC-SMC.

Approximate Bayesian computation with sequential Monte Carlo (Toni et al. 2009; Beaumont et
al. 2009, "adaptive ABC"): uniform priors over the ``[fit]`` bounds; generation 0 draws
``particles`` parameter sets from the prior; each later generation perturbs particles of the
one before (picked by weight) with a Gaussian kernel of twice their weighted covariance,
keeps a proposal when its distance to the targets is within ε (the ``quantile`` of the
previous generation's distances), and weighs it by prior / Σ w_j K(θ | θ_j). A proposal's
statistics are the mean over ``replications`` runs with their own seeds. The distance is the
Euclidean distance between simulated and target statistics, each divided by its standard
deviation over generation 0 (so statistics of different size count alike).

Runs go through the sweep executors (one process, a pool, or dask) as :class:`RunTask`
objects. Proposals are drawn by one seeded generator in this process, sent in rounds of
``particles`` proposals (all in flight at once), and accepted in the order they were drawn
(not the order they finish), so the same spec and seed give the same posterior on any
executor.

The spec::

    scenario = "epstein"
    steps = 100
    seed = 1
    [set]                 # fixed values, as in experiment files
    width = 20
    [fit]                 # parameters to fit: uniform priors
    legitimacy = { low = 0.5, high = 0.95 }
    [target]              # target statistics (outcomes of a run), as numbers ...
    mean_active = 30.0
    # ... or read as the mean over the rows of a CSV with those columns (outcomes.csv):
    # file = "observed.csv"; statistics = ["mean_active", "arrests_total"]
    [abc]
    particles = 100       # per generation
    replications = 1      # runs per proposal (own seeds); its statistics are their mean, so
                          # match the number of runs the targets average over
    generations = 4       # after generation 0
    quantile = 0.5        # ε of a generation: this quantile of the previous distances
    [truth]               # optional: known values (synthetic tests), drawn on the figure
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crowd_model.errors import InputError
from crowd_model.files import FolderLock, prepare_out_dir, write_atomic, write_json_atomic
from crowd_model.parameters import Parameters, parameter_specs
from crowd_model.runner import git_commit, simulate, versions

from crowd_model.experiments.plan import RunTask, run_id
from crowd_model.experiments.spec import _count, _only_keys, _scenario, _table, read_toml

_TOP = {"description", "scenario", "steps", "seed", "set", "fit", "target", "abc", "truth"}
_ABC = {"particles", "generations", "quantile", "replications", "max_simulations"}


@dataclass(frozen=True)
class Calibration:
    name: str
    scenario: str
    base: Parameters
    steps: int
    seed: int
    fit: dict[str, tuple[float, float]]
    integer: frozenset[str]
    targets: dict[str, float]
    particles: int
    generations: int
    quantile: float
    replications: int
    max_simulations: int
    truth: dict[str, float]
    source: dict


def load_calibration(path: str | Path) -> Calibration:
    path = Path(path)
    data = read_toml(path, "calibration file")
    try:
        return parse_calibration(data, path.stem, path.parent)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def parse_calibration(data: dict, name: str, base_dir: Path = Path(".")) -> Calibration:
    _only_keys("calibration file", data, _TOP)
    scenario = _scenario(data.get("scenario", "epstein"), base_dir)
    steps = _count("steps", data.get("steps", scenario.steps), minimum=1)
    seed = _count("seed", data.get("seed", scenario.seed), minimum=0)
    fixed = _table(data, "set")
    base = Parameters.from_mapping(fixed, base=scenario.parameters)
    specs = {s.name: s for s in parameter_specs()}
    fit = {}
    for key, raw in _table(data, "fit").items():
        spec = specs.get(key)
        if spec is None:
            Parameters.from_mapping({key: None})  # the standard "unknown parameter" message
        if key in fixed:
            raise InputError(f"[fit] {key} is also in [set]; keep one")
        if spec.type not in (int, float) or not (isinstance(raw, dict) and set(raw) == {"low", "high"}):
            raise InputError(f"[fit] {key}: needs a numeric parameter and {{ low = ..., high = ... }}")
        low, high = spec.coerce(raw["low"]), spec.coerce(raw["high"])
        if not low < high:
            raise InputError(f"[fit] {key}: low must be below high")
        fit[key] = (float(low), float(high))
    if not fit:
        raise InputError("[fit] names no parameter to fit")
    outcome_names = list(simulate(base, steps=0, seed=0, scenario=scenario.name).outcomes)
    targets = _targets(_table(data, "target"), outcome_names, base_dir)
    abc = _table(data, "abc")
    _only_keys("[abc]", abc, _ABC)
    particles = _count("[abc] particles", abc.get("particles", 100), minimum=4)
    quantile = abc.get("quantile", 0.5)
    if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0 < quantile < 1:
        raise InputError(f"[abc] quantile must be a number between 0 and 1, got {quantile!r}")
    truth = {k: float(v) for k, v in _table(data, "truth").items() if k in fit}
    return Calibration(
        name=name, scenario=scenario.name, base=base, steps=steps, seed=seed, fit=fit,
        integer=frozenset(k for k in fit if specs[k].type is int), targets=targets,
        particles=particles, generations=_count("[abc] generations", abc.get("generations", 4), minimum=0),
        quantile=float(quantile),
        replications=_count("[abc] replications", abc.get("replications", 1), minimum=1),
        max_simulations=_count("[abc] max_simulations", abc.get("max_simulations", 100_000), minimum=1),
        truth=truth, source=data,
    )


def _targets(table: dict, outcome_names: list[str], base_dir: Path) -> dict[str, float]:
    if "file" in table:
        _only_keys("[target]", table, {"file", "statistics"})
        path = Path(table["file"])
        path = path if path.is_absolute() else base_dir / path
        stats = table.get("statistics")
        if not isinstance(stats, list) or not stats:
            raise InputError("[target] file = ... needs statistics = [names of its columns to match]")
        try:
            observed = pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise InputError(f"[target] cannot read {path}: {exc}") from None
        missing = [s for s in stats if s not in observed.columns]
        if missing:
            raise InputError(f"[target] {path} has no column(s) {missing}")
        table = {s: float(observed[s].mean()) for s in stats}
    if not table:
        raise InputError("[target] names no statistic to match")
    for key, value in table.items():
        if key not in outcome_names:
            raise InputError(f"[target] {key} is not an outcome of this scenario; outcomes: {', '.join(outcome_names)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(f"[target] {key} must be a number, got {value!r}")
    return {k: float(v) for k, v in table.items()}


def run_statistics(task: RunTask) -> list[float]:
    """What a worker does for one proposal: the run's target statistics (NaN if it fails)."""
    try:
        result = simulate(task.parameters, task.steps, task.seed, task.scenario)
    except Exception:  # a proposal the model refuses counts as infinitely far
        return [math.nan] * len(task.outcome_columns)
    return [math.nan if result.outcomes.get(k) is None else float(result.outcomes[k]) for k in task.outcome_columns]


def calibrate(cal: Calibration, out_dir: str | Path, executor, progress=None) -> dict:
    """Run ABC-SMC; write ``particles.csv``, ``posterior.csv``, ``posterior_summary.csv``,
    ``metadata.json`` into ``out_dir``; return the metadata."""
    out = prepare_out_dir(out_dir)
    with FolderLock(out):
        if (out / "posterior.csv").exists():
            raise InputError(f"{out} already holds a calibration; choose another --out")
        return _calibrate(cal, out, executor, progress)


def _calibrate(cal: Calibration, out: Path, executor, progress) -> dict:
    rng = np.random.default_rng(np.random.SeedSequence(cal.seed))
    names = list(cal.fit)
    lows = np.array([lo for lo, _ in cal.fit.values()])
    highs = np.array([hi for _, hi in cal.fit.values()])
    target = np.array(list(cal.targets.values()))
    batch = cal.particles  # proposals per round: fixed by the spec, not the executor, so the draws are too
    simulations = 0
    history, generations = [], []

    def evaluate(thetas: np.ndarray) -> np.ndarray:
        nonlocal simulations
        r = cal.replications
        tasks = [_task(cal, names, theta, int(rng.integers(2**63 - 1))) for theta in thetas for _ in range(r)]
        simulations += len(tasks)
        futures = [executor.submit(run_statistics, t) for t in tasks]
        runs = np.array([f.result() for f in futures], dtype=float).reshape(len(thetas), r, len(target))
        return runs.mean(axis=1)

    # generation 0: the prior, which also sets the scale of each statistic
    theta = _rounded(lows + (highs - lows) * rng.random((cal.particles, len(names))), names, cal.integer)
    stats = evaluate(theta)
    scale = _spread(stats, target)
    dist = _distance(stats, target, scale)
    weights = np.full(cal.particles, 1.0 / cal.particles)
    epsilon = math.inf
    history.append(_frame(0, theta, weights, dist, stats, names, cal.targets))
    generations.append({"generation": 0, "epsilon": None, "simulations": cal.particles, "acceptance": 1.0})
    if progress:
        progress(0, epsilon, cal.particles, simulations)
    for g in range(1, cal.generations + 1):
        finite = dist[np.isfinite(dist)]
        epsilon = float(np.quantile(finite, cal.quantile)) if finite.size else math.inf
        cov = 2 * np.atleast_2d(np.cov(theta.T, aweights=weights)) + np.diag(((highs - lows) * 1e-6) ** 2)
        chol = np.linalg.cholesky(cov)
        accepted_theta, accepted_stats, accepted_dist = [], [], []
        tried = 0
        while len(accepted_theta) < cal.particles:
            if simulations >= cal.max_simulations:
                raise InputError(f"generation {g} did not fill {cal.particles} particles within "
                                 f"max_simulations = {cal.max_simulations}; raise it or the quantile")
            picks = rng.choice(len(theta), size=batch, p=weights)
            proposals = theta[picks] + rng.standard_normal((batch, len(names))) @ chol.T
            proposals = _rounded(proposals, names, cal.integer)
            inside = np.all((proposals >= lows) & (proposals <= highs), axis=1)
            proposals = proposals[inside]
            if not len(proposals):
                continue
            new_stats = evaluate(proposals)
            new_dist = _distance(new_stats, target, scale)
            tried += len(proposals)
            for p, s, d in zip(proposals, new_stats, new_dist):
                if d <= epsilon and len(accepted_theta) < cal.particles:
                    accepted_theta.append(p)
                    accepted_stats.append(s)
                    accepted_dist.append(d)
        new_theta = np.array(accepted_theta)
        kernel = _gaussian(new_theta[:, None, :] - theta[None, :, :], cov)  # (new, old)
        new_weights = 1.0 / (kernel @ weights)  # uniform prior: constant inside the bounds
        theta, stats, dist = new_theta, np.array(accepted_stats), np.array(accepted_dist)
        weights = new_weights / new_weights.sum()
        history.append(_frame(g, theta, weights, dist, stats, names, cal.targets))
        generations.append({"generation": g, "epsilon": epsilon, "simulations": tried,
                            "acceptance": cal.particles / tried})
        if progress:
            progress(g, epsilon, tried, simulations)

    particles = pd.concat(history, ignore_index=True)
    posterior = history[-1]
    summary = posterior_summary(posterior, names, cal.truth)
    write_atomic(out / "particles.csv", particles.to_csv(index=False))
    write_atomic(out / "posterior_summary.csv", summary.to_csv(index=False))
    write_atomic(out / "posterior.csv", posterior.to_csv(index=False))
    meta = {
        "calibration": {"name": cal.name, "file": cal.source},
        "method": "ABC-SMC (Toni et al. 2009; Beaumont et al. 2009), uniform priors, Gaussian kernel 2x weighted "
                  "covariance, epsilon = quantile of the previous distances, distance scaled by generation 0's sd",
        "scenario": cal.scenario, "steps": cal.steps, "root_seed": cal.seed,
        "fit": [{"name": k, "low": lo, "high": hi} for k, (lo, hi) in cal.fit.items()],
        "targets": cal.targets, "scale": dict(zip(cal.targets, scale.tolist())), "truth": cal.truth,
        "particles": cal.particles, "replications": cal.replications, "quantile": cal.quantile, "generations": generations,
        "simulations": simulations, "base_parameters": cal.base.to_dict(),
        "versions": versions(), "git_commit": git_commit(),
    }
    write_json_atomic(out / "metadata.json", meta)
    return meta


def posterior_summary(posterior: pd.DataFrame, names: list[str], truth: dict[str, float]) -> pd.DataFrame:
    """Weighted mean, sd and 95% credible interval (weighted quantiles) per parameter."""
    w = posterior["weight"].to_numpy()
    rows = []
    for name in names:
        x = posterior[name].to_numpy(dtype=float)
        mean = float(np.sum(w * x))
        rows.append({"parameter": name, "mean": mean, "sd": float(np.sqrt(np.sum(w * (x - mean) ** 2))),
                     "ci_low": _weighted_quantile(x, w, 0.025), "median": _weighted_quantile(x, w, 0.5),
                     "ci_high": _weighted_quantile(x, w, 0.975), "truth": truth.get(name)})
    return pd.DataFrame(rows)


def _task(cal: Calibration, names: list[str], theta: np.ndarray, seed: int) -> RunTask:
    values = {k: (int(v) if k in cal.integer else float(v)) for k, v in zip(names, theta)}
    parameters = Parameters.from_mapping(values, base=cal.base)
    return RunTask(run_id=run_id(cal.scenario, parameters, seed, cal.steps), point=0, replicate=0, seed=seed,
                   scenario=cal.scenario, parameters=parameters, steps=cal.steps, varied=tuple(values.values()),
                   metrics=(), every=1, stop_when=None, stop_after=0, outcome_columns=tuple(cal.targets))


def _rounded(theta: np.ndarray, names: list[str], integer: frozenset[str]) -> np.ndarray:
    for i, name in enumerate(names):
        if name in integer:
            theta[:, i] = np.rint(theta[:, i])
    return theta


def _spread(stats: np.ndarray, target: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        sd = np.nanstd(stats, axis=0)
    fallback = np.maximum(np.abs(target), 1.0)  # a statistic the prior hardly moves
    return np.where(np.isfinite(sd) & (sd > 0), sd, fallback)


def _distance(stats: np.ndarray, target: np.ndarray, scale: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.sum(((stats - target) / scale) ** 2, axis=1))
    return np.where(np.isfinite(d), d, np.inf)


def _gaussian(diff: np.ndarray, cov: np.ndarray) -> np.ndarray:
    inv = np.linalg.inv(cov)
    return np.exp(-0.5 * np.einsum("...i,ij,...j->...", diff, inv, diff))


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    cdf = np.cumsum(w[order]) - 0.5 * w[order]
    return float(np.interp(q, cdf / np.sum(w), x[order]))


def _frame(g, theta, weights, dist, stats, names, targets) -> pd.DataFrame:
    table = pd.DataFrame(theta, columns=names)
    table.insert(0, "particle", np.arange(len(theta)))
    table.insert(0, "generation", g)
    table["weight"] = weights
    table["distance"] = dist
    for i, key in enumerate(targets):
        table[key] = stats[:, i]
    return table
