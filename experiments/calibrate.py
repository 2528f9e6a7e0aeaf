"""``crowd-model calibrate SPEC.toml``: fit parameters to target summary statistics by ABC-SMC
(our own, ``method = "abc"``, or pyabc's, ``method = "pyabc"``: see
:mod:`crowd_model.experiments.calibrate_pyabc`) or, with ``method = "optimise"``, by
optimisation (differential evolution).

Approximate Bayesian computation with sequential Monte Carlo (Toni et al. 2009; Beaumont et
al. 2009, "adaptive ABC"): uniform priors over the ``[fit]`` bounds; generation 0 draws
``particles`` parameter sets from the prior; each later generation perturbs particles of the
one before (picked by weight) with a Gaussian kernel of twice their weighted covariance,
keeps a proposal when its distance to the targets is within ε (the ``quantile`` of the
previous generation's distances), and weighs it by prior / Σ w_j K(θ | θ_j). A proposal's
statistics are the mean over ``replications`` runs with their own seeds. The distance is the
Euclidean distance between simulated and target statistics, each divided by its standard
deviation over generation 0 (so statistics of different size count alike; a time series'
values by their column's, pooled over its steps).

Runs go through the sweep executors (one process, a pool, or dask) as :class:`RunTask`
objects. Proposals are drawn by one seeded generator in this process, sent in rounds of
``particles`` proposals (all in flight at once), and accepted in the order they were drawn
(not the order they finish), so the same spec and seed give the same posterior on any
executor.

``method = "optimise"`` minimises the same distance with scipy's differential evolution
(Storn & Price 1997; a population of ``popsize`` x parameters points, ``maxiter`` generations,
no gradient polish): each generation's population is sent as one round of runs. Every point
is run with the same ``replications`` seeds (common random numbers), so the distance is a
deterministic function of the parameters and the optimum is reproducible on any executor;
the statistics are scaled by their standard deviation over the first (Latin hypercube)
population. It gives a best fit, not a posterior: no credible interval.

Targets are outcomes of a run (numbers, or the mean of columns of an ``outcomes.csv``), or an
observed time series: ``timeseries = "observed.csv"`` with ``columns = [...]`` matches each
column's value at every step the file has (the mean over its rows of that step, so a sweep's
``timeseries.csv`` of several runs gives their mean path) with the run's value at that step;
each such value is a statistic, named ``column@step``.

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
    # ... and/or an observed time series (a step column and these columns, timeseries.csv):
    # timeseries = "observed_timeseries.csv"; columns = ["active"]
    method = "abc"        # (top level), "pyabc" (with a [pyabc] table of the same keys) or
                          # "optimise", with an [optimise] table instead of [abc]
    [abc]
    particles = 100       # per generation
    replications = 1      # runs per proposal (own seeds); its statistics are their mean, so
                          # match the number of runs the targets average over
    generations = 4       # after generation 0
    quantile = 0.5        # ε of a generation: this quantile of the previous distances
    [optimise]            # method = "optimise"
    popsize = 10          # population: this many points per fitted parameter
    maxiter = 20          # generations after the first population
    tol = 0.01            # stop when the population's distances agree this closely (relative)
    replications = 1      # runs per point, the same seeds for every point
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

_TOP = {"description", "scenario", "steps", "seed", "set", "fit", "target", "method", "abc", "pyabc", "optimise", "truth"}
_ABC = {"particles", "generations", "quantile", "replications", "max_simulations"}
_OPTIMISE = {"popsize", "maxiter", "tol", "replications", "max_simulations"}
METHODS = ("abc", "pyabc", "optimise")
ABC_METHODS = ("abc", "pyabc")  # ABC-SMC: a posterior, written as the same tables
MAX_STATISTICS = 5_000  # target statistics (a time series gives one per step and column)
SERIES = "@"  # a time-series statistic is named column@step


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
    method: str = "abc"
    popsize: int = 10
    maxiter: int = 20
    tol: float = 0.01


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
    empty = simulate(base, steps=0, seed=0, scenario=scenario.name)
    targets = _targets(_table(data, "target"), list(empty.outcomes), list(empty.timeseries.columns[1:]), steps,
                       base_dir)
    method = data.get("method", "abc")
    if method not in METHODS:
        raise InputError(f"method {method!r} is not allowed; expected one of: {', '.join(METHODS)}")
    for other in METHODS:
        if other != method and other in data:
            raise InputError(f"[{other}] goes with method = {other!r}; this file's method is {method!r}")
    if method == "pyabc":
        from crowd_model.experiments.calibrate_pyabc import require_pyabc

        require_pyabc()
    settings = _table(data, method)
    _only_keys(f"[{method}]", settings, _ABC if method in ABC_METHODS else _OPTIMISE)
    common = dict(
        name=name, scenario=scenario.name, base=base, steps=steps, seed=seed, fit=fit,
        integer=frozenset(k for k in fit if specs[k].type is int), targets=targets,
        replications=_count(f"[{method}] replications", settings.get("replications", 1), minimum=1),
        max_simulations=_count(f"[{method}] max_simulations", settings.get("max_simulations", 100_000), minimum=1),
        truth={k: float(v) for k, v in _table(data, "truth").items() if k in fit}, source=data, method=method,
    )
    if method == "optimise":
        tol = settings.get("tol", 0.01)
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 <= tol < math.inf:
            raise InputError(f"[optimise] tol must be a number >= 0, got {tol!r}")
        cal = Calibration(**common, particles=0, generations=0, quantile=0.0,
                          popsize=_count("[optimise] popsize", settings.get("popsize", 10), minimum=2),
                          maxiter=_count("[optimise] maxiter", settings.get("maxiter", 20), minimum=0),
                          tol=float(tol))
        most = optimisation_runs(cal)
        if most > cal.max_simulations:  # refused before any run, so that no result is cut off
            raise InputError(f"[optimise] may need {most:,} runs (population x (maxiter + 1) x replications), "
                             f"more than max_simulations = {cal.max_simulations:,}; raise it or lower maxiter")
        return cal
    quantile = settings.get("quantile", 0.5)
    if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0 < quantile < 1:
        raise InputError(f"[{method}] quantile must be a number between 0 and 1, got {quantile!r}")
    cal = Calibration(**common, particles=_count(f"[{method}] particles", settings.get("particles", 100), minimum=4),
                      generations=_count(f"[{method}] generations", settings.get("generations", 4), minimum=0),
                      quantile=float(quantile))
    if cal.particles * cal.replications > cal.max_simulations:
        raise InputError(f"[{method}] generation 0 alone needs {cal.particles * cal.replications:,} runs (particles "
                         f"x replications), more than max_simulations = {cal.max_simulations:,}")
    return cal


def optimisation_runs(cal: Calibration) -> int:
    """The most runs differential evolution can make: scipy's population (popsize x
    parameters, at least 5) for the first round and each of ``maxiter`` generations."""
    return max(5, cal.popsize * len(cal.fit)) * (cal.maxiter + 1) * cal.replications


def _targets(table: dict, outcome_names: list[str], series_names: list[str], steps: int,
             base_dir: Path) -> dict[str, float]:
    """The target statistics by name: numbers given for outcomes, the means of an outcome
    table's columns (``file``, ``statistics``), an observed time series' values per step and
    column (``timeseries``, ``columns``; named ``column@step``)."""
    table = dict(table)
    targets: dict[str, float] = {}
    if "file" in table or "statistics" in table:
        stats = table.pop("statistics", None)
        if not isinstance(stats, list) or not stats or "file" not in table:
            raise InputError("[target] file = ... needs statistics = [names of its columns to match], and the "
                             "other way round")
        observed = _read_csv(table.pop("file"), stats, base_dir)
        targets.update({s: float(observed[s].mean()) for s in stats})
    if "timeseries" in table or "columns" in table:
        columns = table.pop("columns", None)
        if not isinstance(columns, list) or not columns or "timeseries" not in table:
            raise InputError("[target] timeseries = ... needs columns = [its columns to match step by step], and "
                             "the other way round")
        path = table.pop("timeseries")
        unknown = [c for c in columns if c not in series_names]
        if unknown:
            raise InputError(f"[target] columns {unknown} are not time-series columns of this scenario; "
                             f"columns: {', '.join(series_names)}")
        observed = _read_csv(path, ["step", *columns], base_dir)
        if observed[columns].isna().any().any():
            raise InputError(f"[target] {path} has empty values in the columns {columns}")
        by_step = observed.groupby("step", sort=True)[columns].mean()
        wrong = [s for s in by_step.index if not (float(s).is_integer() and 0 <= s <= steps)]
        if wrong:
            raise InputError(f"[target] {path}: step {wrong[0]!r} is not a step of these runs (0..{steps})")
        targets.update({f"{c}{SERIES}{int(s)}": float(by_step.loc[s, c]) for c in columns for s in by_step.index})
    for key, value in table.items():
        if key not in outcome_names:
            raise InputError(f"[target] {key} is not an outcome of this scenario (nor file, statistics, timeseries, "
                             f"columns); outcomes: {', '.join(outcome_names)}")
        if key in targets:
            raise InputError(f"[target] {key} is given twice")
        targets[key] = value
    if not targets:
        raise InputError("[target] names no statistic to match")
    if len(targets) > MAX_STATISTICS:
        raise InputError(f"[target] gives {len(targets):,} statistics, more than {MAX_STATISTICS:,}; "
                         "keep fewer steps of the time series (e.g. every 10th row)")
    for key, value in targets.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(f"[target] {key} must be a number, got {value!r}")
    return {k: float(v) for k, v in targets.items()}


def _read_csv(name, columns: list[str], base_dir: Path) -> pd.DataFrame:
    path = Path(str(name))
    path = path if path.is_absolute() else base_dir / path
    try:
        observed = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"[target] cannot read {path}: {exc}") from None
    missing = [c for c in columns if c not in observed.columns]
    if missing:
        raise InputError(f"[target] {path} has no column(s) {missing}")
    for column in columns:
        if not pd.api.types.is_numeric_dtype(observed[column]):
            raise InputError(f"[target] {path}: column {column} holds values that are not numbers")
    if observed.empty:
        raise InputError(f"[target] {path} has no rows")
    return observed


def run_statistics(task: RunTask) -> list[float]:
    """What a worker does for one proposal: the run's target statistics (NaN if it fails):
    outcomes by name, time-series values as ``column@step``."""
    try:
        result = simulate(task.parameters, task.steps, task.seed, task.scenario)
    except Exception:  # a proposal the model refuses counts as infinitely far
        return [math.nan] * len(task.outcome_columns)
    series = result.timeseries.set_index("step")
    values = []
    for key in task.outcome_columns:
        if SERIES in key:
            column, step = key.rsplit(SERIES, 1)
            value = series[column].get(int(step))  # a run stopped early has no such step
        else:
            value = result.outcomes.get(key)
        values.append(math.nan if value is None or pd.isna(value) else float(value))
    return values


RESULT_FILES = {"abc": ("particles.csv", "posterior.csv", "posterior_summary.csv", "metadata.json"),
                "pyabc": ("particles.csv", "posterior.csv", "posterior_summary.csv", "metadata.json", "pyabc.db"),
                "optimise": ("evaluations.csv", "optimum.csv", "metadata.json")}


def calibrate(cal: Calibration, out_dir: str | Path, executor, progress=None, in_flight: int = 1) -> dict:
    """Run ABC-SMC (ours or pyabc's) or differential evolution, as ``cal.method`` says; write the
    files of :data:`RESULT_FILES` into ``out_dir``; return the metadata. ``progress(line)`` is
    told of each generation. ``in_flight``: how many runs pyabc's sampler keeps submitted."""
    out = prepare_out_dir(out_dir)
    with FolderLock(out):
        held = [name for name in dict.fromkeys(sum(RESULT_FILES.values(), ())) if (out / name).exists()]
        if held:
            raise InputError(f"{out} already holds results ({held[0]}); choose another --out")
        progress = progress or (lambda line: None)
        if cal.method == "pyabc":
            from crowd_model.experiments.calibrate_pyabc import pyabc_smc

            return pyabc_smc(cal, out, executor, progress, in_flight)
        return (_abc if cal.method == "abc" else _optimise)(cal, out, executor, progress)


class _Runs:
    """Sends a round of parameter sets to the executor as RunTasks, ``replications`` runs each,
    and returns each set's statistics (the mean over its runs), in the order given."""

    def __init__(self, cal: Calibration, executor):
        self.cal, self.executor = cal, executor
        self.names = list(cal.fit)
        self.simulations = 0

    def __call__(self, thetas: np.ndarray, seeds) -> np.ndarray:
        """``seeds``: a callable giving the seeds of one set's runs."""
        r = self.cal.replications
        tasks = [_task(self.cal, self.names, theta, seed) for theta in thetas for seed in seeds()]
        self.simulations += len(tasks)
        futures = [self.executor.submit(run_statistics, t) for t in tasks]
        runs = np.array([f.result() for f in futures], dtype=float).reshape(len(thetas), r, len(self.cal.targets))
        return runs.mean(axis=1)


def _metadata(cal: Calibration, method: str, scale: np.ndarray, simulations: int, **more) -> dict:
    return {
        "calibration": {"name": cal.name, "file": cal.source}, "method": method,
        "scenario": cal.scenario, "steps": cal.steps, "root_seed": cal.seed,
        "fit": [{"name": k, "low": lo, "high": hi} for k, (lo, hi) in cal.fit.items()],
        "targets": cal.targets, "scale": dict(zip(cal.targets, scale.tolist())), "truth": cal.truth,
        "replications": cal.replications, **more,
        "simulations": simulations, "base_parameters": cal.base.to_dict(),
        "versions": versions(), "git_commit": git_commit(),
    }


def _abc(cal: Calibration, out: Path, executor, progress) -> dict:
    rng = np.random.default_rng(np.random.SeedSequence(cal.seed))
    names = list(cal.fit)
    lows = np.array([lo for lo, _ in cal.fit.values()])
    highs = np.array([hi for _, hi in cal.fit.values()])
    target = np.array(list(cal.targets.values()))
    batch = cal.particles  # proposals per round: fixed by the spec, not the executor, so the draws are too
    history, generations = [], []
    runs = _Runs(cal, executor)

    def evaluate(thetas: np.ndarray) -> np.ndarray:
        return runs(thetas, lambda: [int(rng.integers(2**63 - 1)) for _ in range(cal.replications)])

    # generation 0: the prior, which also sets the scale of each statistic
    theta = _rounded(lows + (highs - lows) * rng.random((cal.particles, len(names))), names, cal.integer)
    stats = evaluate(theta)
    scale = _spread(stats, target, list(cal.targets))
    dist = _distance(stats, target, scale)
    weights = np.full(cal.particles, 1.0 / cal.particles)
    epsilon = math.inf
    history.append(_frame(0, theta, weights, dist, stats, names, cal.targets))
    generations.append({"generation": 0, "epsilon": None, "simulations": cal.particles, "acceptance": 1.0})
    progress(_generation_line(0, epsilon, cal.particles, cal.particles, runs.simulations))
    stopped = None  # why the last generations were not run (max_simulations), if they were not
    for g in range(1, cal.generations + 1):
        finite = dist[np.isfinite(dist)]
        epsilon = float(np.quantile(finite, cal.quantile)) if finite.size else math.inf
        cov = 2 * np.atleast_2d(np.cov(theta.T, aweights=weights)) + np.diag(((highs - lows) * 1e-6) ** 2)
        chol = np.linalg.cholesky(cov)
        accepted_theta, accepted_stats, accepted_dist = [], [], []
        tried = 0
        while len(accepted_theta) < cal.particles:
            if runs.simulations >= cal.max_simulations:
                stopped = (f"generation {g} did not fill {cal.particles} particles within max_simulations = "
                           f"{cal.max_simulations}; the posterior is generation {g - 1}'s (raise max_simulations "
                           "or the quantile)")
                break
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
        if stopped:
            break
        new_theta = np.array(accepted_theta)
        kernel = _gaussian(new_theta[:, None, :] - theta[None, :, :], cov)  # (new, old)
        new_weights = 1.0 / (kernel @ weights)  # uniform prior: constant inside the bounds
        theta, stats, dist = new_theta, np.array(accepted_stats), np.array(accepted_dist)
        weights = new_weights / new_weights.sum()
        history.append(_frame(g, theta, weights, dist, stats, names, cal.targets))
        generations.append({"generation": g, "epsilon": epsilon, "simulations": tried,
                            "acceptance": cal.particles / tried})
        progress(_generation_line(g, epsilon, cal.particles, tried, runs.simulations))

    particles = pd.concat(history, ignore_index=True)
    posterior = history[-1]
    summary = posterior_summary(posterior, names, cal.truth)
    write_atomic(out / "particles.csv", particles.to_csv(index=False))
    write_atomic(out / "posterior_summary.csv", summary.to_csv(index=False))
    write_atomic(out / "posterior.csv", posterior.to_csv(index=False))
    meta = _metadata(cal, "ABC-SMC (Toni et al. 2009; Beaumont et al. 2009), uniform priors, Gaussian kernel 2x "
                          "weighted covariance, epsilon = quantile of the previous distances, distance scaled by "
                          "generation 0's sd", scale, runs.simulations,
                     particles=cal.particles, quantile=cal.quantile, generations=generations, stopped=stopped)
    write_json_atomic(out / "metadata.json", meta)
    return meta


def _generation_line(g: int, epsilon: float, accepted: int, tried: int, total: int) -> str:
    return f"generation {g}: epsilon {epsilon:.4g}, {accepted} of {tried} accepted ({total} runs so far)"


def _optimise(cal: Calibration, out: Path, executor, progress) -> dict:
    """Differential evolution over the [fit] box, each generation one round of runs with the
    same seeds for every point (common random numbers)."""
    from scipy.optimize import differential_evolution

    names = list(cal.fit)
    target = np.array(list(cal.targets.values()))
    seed_sequence = np.random.SeedSequence(cal.seed)
    run_seeds = [int(s) for s in np.random.default_rng(seed_sequence).integers(2**63 - 1, size=cal.replications)]
    runs = _Runs(cal, executor)
    rounds: list[pd.DataFrame] = []
    scale = np.ones(len(target))

    def objective(x: np.ndarray) -> np.ndarray:  # x: (parameters, points), vectorised
        nonlocal scale
        thetas = _rounded(np.array(x, dtype=float).T.reshape(-1, len(names)), names, cal.integer)
        stats = runs(thetas, lambda: run_seeds)
        if not rounds:  # the first population, a Latin hypercube over the box, sets the scale
            scale = _spread(stats, target, list(cal.targets))
        dist = _distance(stats, target, scale)
        frame = _frame(len(rounds), thetas, np.full(len(thetas), np.nan), dist, stats, names, cal.targets)
        rounds.append(frame.rename(columns={"generation": "round", "particle": "point"}).drop(columns="weight"))
        best = float(min(f["distance"].min() for f in rounds))
        progress(f"round {len(rounds) - 1}: {len(thetas)} points, best distance so far {best:.4g} "
                 f"({runs.simulations} runs so far)")
        return np.where(np.isfinite(dist), dist, FAR)

    with np.errstate(invalid="ignore"):
        result = differential_evolution(
            objective, bounds=[cal.fit[k] for k in names], popsize=cal.popsize, maxiter=cal.maxiter, tol=cal.tol,
            seed=np.random.default_rng(seed_sequence.spawn(1)[0]), polish=False, vectorized=True,
            updating="deferred", init="latinhypercube",
            integrality=[k in cal.integer for k in names] if cal.integer else None)
    evaluations = pd.concat(rounds, ignore_index=True)
    best = evaluations.loc[evaluations["distance"].idxmin()]  # the first of equals: the order of evaluation
    optimum = pd.DataFrame(
        [{"name": k, "kind": "parameter", "value": float(best[k]), "target": math.nan,
          "truth": cal.truth.get(k, math.nan)} for k in names]
        + [{"name": k, "kind": "statistic", "value": float(best[k]), "target": v, "truth": math.nan}
           for k, v in cal.targets.items()]
        + [{"name": "distance", "kind": "distance", "value": float(best["distance"]), "target": 0.0,
            "truth": math.nan}])
    write_atomic(out / "evaluations.csv", evaluations.to_csv(index=False))
    write_atomic(out / "optimum.csv", optimum.to_csv(index=False))
    meta = _metadata(cal, "differential evolution (Storn & Price 1997; scipy.optimize.differential_evolution), "
                          "Latin hypercube initial population, no polish, common random numbers, distance "
                          "scaled by the first population's sd", scale, runs.simulations,
                     popsize=cal.popsize, maxiter=cal.maxiter, tol=cal.tol, run_seeds=run_seeds,
                     rounds=len(rounds), converged=bool(result.success), message=str(result.message),
                     optimum={k: float(best[k]) for k in names}, distance=float(best["distance"]))
    write_json_atomic(out / "metadata.json", meta)
    return meta


FAR = 1e300  # the distance differential evolution is given for a point whose runs failed


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


def _spread(stats: np.ndarray, target: np.ndarray, names: list[str]) -> np.ndarray:
    """Each statistic's scale: its standard deviation over the first round; for a time series,
    the column's over all its steps (pooled), so that steps where the first round hardly
    varies (before anything happens, or after it is over) do not outweigh the rest."""
    columns = [name.rsplit(SERIES, 1)[0] if SERIES in name else None for name in names]
    sd = np.empty(len(names))
    with np.errstate(invalid="ignore"):
        for i, column in enumerate(columns):
            same = [j for j, c in enumerate(columns) if c == column] if column is not None else [i]
            sd[i] = np.nanstd(stats[:, same])
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
