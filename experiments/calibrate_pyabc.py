"""``method = "pyabc"``: ABC-SMC by pyabc (Klinger, Rickert & Hasenauer 2018), its runs
on our executors, its database in the result folder and our tables beside it.

What pyabc does here is pyabc's ABC-SMC as shipped (``pyabc.ABCSMC``): uniform priors over the
``[fit]`` bounds; a calibration sample of ``particles`` draws from the prior; the tolerance ε of
each generation the ``quantile`` of the previous generation's weighted distances
(``QuantileEpsilon``; generation 0's from the calibration sample); a multivariate normal
perturbation kernel (``MultivariateNormalTransition``, Silverman's rule-of-thumb bandwidth); and the
adaptive Euclidean distance of Prangle (2017), ``AdaptivePNormDistance(p=2)``: each statistic
is divided by its standard deviation over the previous generation's simulations (rejected ones
included), refitted every generation (a statistic with no spread gets weight 0). A proposal's
statistics are the mean over ``replications`` runs, as in our own ABC-SMC.

Where the runs happen is ours: :class:`ExecutorSampler`, a pyabc ``Sampler`` that sends
proposals to the sweep executors (one process, a process pool, dask). pyabc's own
``ConcurrentFutureSampler`` would also take our executors, but it reseeds every job from the
operating system's entropy (``np.random.seed()``), so no two calibrations are alike; this
sampler instead seeds the job of evaluation ``i`` of pyabc's ``k``-th call from the file's seed
(``SeedSequence(seed, spawn_key=(k, i))``) — pyabc draws the proposal and our model draws the
runs' seeds from numpy's global generator, so that fixes both — and, like pyabc's samplers,
keeps the first ``particles`` accepted proposals in the order of their numbers, not the order
in which they finish. The same file and seed then give the same particles serially, on a pool
or on dask (tested for one process and a pool).
"""

from __future__ import annotations

import importlib.util
import logging
import math
import random
import warnings
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path

import numpy as np
import pandas as pd

from crowd_model.errors import InputError
from crowd_model.files import write_atomic, write_json_atomic

from crowd_model.experiments.calibrate import (
    Calibration, _frame, _metadata, _rounded, _task, posterior_summary, run_statistics,
)

DATABASE = "pyabc.db"


def require_pyabc() -> None:
    """Refuse ``method = "pyabc"`` with one line when pyabc is not installed."""
    if importlib.util.find_spec("pyabc") is None:
        raise InputError('method = "pyabc" needs pyabc: install the \'calibrate\' extra '
                         "(pip install 'crowd-model[calibrate]', or scripts/bootstrap.sh with it)")


class Model:
    """pyabc's model: a proposal's target statistics, the mean over ``replications`` runs whose
    seeds come from numpy's global generator (seeded per evaluation by :class:`ExecutorSampler`).
    Runs where the job runs (a worker); a failed run gives NaN, which no tolerance accepts."""

    def __init__(self, cal: Calibration):
        self.cal = cal
        self.names = list(cal.fit)

    def __call__(self, parameter) -> dict[str, float]:
        theta = _rounded(np.array([[float(parameter[k]) for k in self.names]]), self.names, self.cal.integer)[0]
        seeds = [int(np.random.randint(0, 2**63 - 1, dtype=np.int64)) for _ in range(self.cal.replications)]
        runs = np.array([run_statistics(_task(self.cal, self.names, theta, s)) for s in seeds], dtype=float)
        return dict(zip(self.cal.targets, runs.mean(axis=0).tolist()))


def nan_std(*, samples: np.ndarray, **kwargs) -> np.ndarray:  # noqa: ARG001 (pyabc passes more)
    """pyabc's scale function: each statistic's standard deviation, ignoring failed runs (NaN);
    0 (weight 0) for a statistic no run gave."""
    with warnings.catch_warnings():  # numpy's "all-NaN slice" and "degrees of freedom" warnings
        warnings.simplefilter("ignore", RuntimeWarning)
        sd = np.nanstd(np.asarray(samples, dtype=float), axis=0)
    return np.where(np.isfinite(sd), sd, 0.0)


def _evaluate(payload: bytes, jobs: list[tuple[int, int]]) -> list:
    """What a worker does: pyabc's ``simulate_one`` (draw a proposal, run it, accept or not)
    for each evaluation number, with numpy's and Python's global generators seeded for it."""
    import cloudpickle

    simulate_one = cloudpickle.loads(payload)
    done = []
    for number, seed in jobs:
        random.seed(seed)
        np.random.seed(seed)
        done.append((number, simulate_one()))
    return done


def _sampler_class():
    from pyabc.sampler import Sampler

    class ExecutorSampler(Sampler):
        """A pyabc sampler on any ``concurrent.futures`` executor: at most ``in_flight``
        evaluations submitted at once; evaluation ``i`` of call ``k`` seeded from
        ``(seed, k, i)``; the sample is the evaluations up to the ``n``-th accepted in number
        order, so it does not depend on which run finishes first. ``budget``: evaluations
        allowed over the whole calibration; a generation that reaches it is not finished
        (``sample.ok = False``: pyabc stops, and the posterior is the last finished generation)."""

        def __init__(self, executor, in_flight: int, seed: int, budget: float, progress, replications: int):
            super().__init__()
            self.executor, self.in_flight, self.seed = executor, max(1, in_flight), seed
            self.budget, self.progress, self.replications = budget, progress, replications
            self.calls = 0
            self.evaluations = 0  # counted as pyabc counts them (up to each sample's last used)
            self.submitted = 0  # evaluations sent to the executor, used or not
            self.exhausted = False
            self.epsilon = None  # set to the ABCSMC's epsilon, for the progress lines

        def __getstate__(self):
            return {k: v for k, v in self.__dict__.items() if k not in ("executor", "progress")}

        def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False,
                                    ana_vars=None):
            import cloudpickle

            call, self.calls = self.calls, self.calls + 1
            payload = cloudpickle.dumps(simulate_one)
            limit = min(max_eval, self.budget - self.evaluations)
            results, running = {}, {}
            used = accepted = 0  # evaluations 0..used-1 are back; of them `accepted` were
            total_accepted, number = 0, 0
            while accepted < n and used < limit:
                while (len(running) < self.in_flight and number < limit and total_accepted < n):
                    job = [(number, _seed(self.seed, call, number))]
                    running[self.executor.submit(_evaluate, payload, job)] = number
                    number += 1
                    self.submitted += 1
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    del running[future]
                    for i, particle in future.result():
                        results[i] = particle
                        total_accepted += bool(particle.accepted)
                while used in results and accepted < n:
                    accepted += bool(results[used].accepted)
                    used += 1
            for future in running:
                future.cancel()
            sample = self._create_empty_sample()
            for i in range(used):
                sample.append(results[i])
            self.nr_evaluations_ = used
            self.evaluations += used
            if sample.n_accepted < n:
                sample.ok = False
                self.exhausted = True
            runs = self.evaluations * self.replications
            if all_accepted:
                self.progress(f"calibration sample (the prior): {used} proposals ({runs} runs so far)")
            elif sample.ok:
                eps = self.epsilon(t) if self.epsilon is not None else math.nan
                self.progress(f"generation {t}: epsilon {eps:.4g}, {n} of {used} accepted ({runs} runs so far)")
            return sample

    return ExecutorSampler


def _seed(root: int, call: int, number: int) -> int:
    """The seed of evaluation ``number`` of pyabc's ``call``-th request for a sample."""
    return int(np.random.SeedSequence(root, spawn_key=(call, number)).generate_state(1)[0])


def pyabc_smc(cal: Calibration, out: Path, executor, progress, in_flight: int) -> dict:
    import pyabc
    from pyabc.distance import AdaptivePNormDistance

    logging.getLogger("ABC").setLevel(logging.WARNING)  # our progress lines instead of pyabc's log
    names = list(cal.fit)
    prior = pyabc.Distribution(**{k: pyabc.RV("uniform", lo, hi - lo) for k, (lo, hi) in cal.fit.items()})
    sampler = _sampler_class()(executor, in_flight, cal.seed, cal.max_simulations // cal.replications, progress,
                               cal.replications)
    distance = AdaptivePNormDistance(p=2, scale_function=nan_std)
    abc = pyabc.ABCSMC(Model(cal), prior, distance, population_size=cal.particles,
                       eps=pyabc.QuantileEpsilon(alpha=cal.quantile), sampler=sampler)
    sampler.epsilon = abc.eps
    np.random.seed(cal.seed)  # pyabc's own draws in this process, if any
    database = out / DATABASE
    abc.new(f"sqlite:///{database.resolve()}", dict(cal.targets))
    history = abc.run(max_nr_populations=cal.generations + 1)

    history_rows = history.get_all_populations()
    done = sorted(int(t) for t in history_rows["t"] if t >= 0)
    if not done:
        raise InputError(f"pyabc finished no generation within max_simulations = {cal.max_simulations} (its "
                         f"calibration sample and generation 0 need more); raise it. {database} holds what was run")
    frames = []
    for t in done:
        particles = history.get_population(t).particles
        theta = _rounded(np.array([[p.parameter[k] for k in names] for p in particles], dtype=float), names,
                         cal.integer)
        stats = np.array([[p.sum_stat[k] for k in cal.targets] for p in particles], dtype=float)
        frames.append(_frame(t, theta, np.array([p.weight for p in particles]),
                             np.array([p.distance for p in particles]), stats, names, cal.targets))
    particles = pd.concat(frames, ignore_index=True)
    posterior = frames[-1]
    write_atomic(out / "particles.csv", particles.to_csv(index=False))
    write_atomic(out / "posterior_summary.csv", posterior_summary(posterior, names, cal.truth).to_csv(index=False))
    write_atomic(out / "posterior.csv", posterior.to_csv(index=False))

    by_t = history_rows.set_index("t")
    generations = [{"generation": t, "epsilon": float(by_t.loc[t, "epsilon"]), "simulations": int(by_t.loc[t, "samples"]),
                    "acceptance": cal.particles / int(by_t.loc[t, "samples"]),
                    "scale": _scales(distance, t, cal.targets)} for t in done]
    stopped = None
    if done[-1] < cal.generations:
        stopped = (f"generation {done[-1] + 1} did not fill {cal.particles} particles within max_simulations = "
                   f"{cal.max_simulations}; the posterior is generation {done[-1]}'s (raise max_simulations or the "
                   "quantile)") if sampler.exhausted else f"pyabc stopped after generation {done[-1]}"
    calibration_samples = int(by_t.loc[-1, "samples"]) if -1 in by_t.index else 0
    meta = _metadata(cal, "ABC-SMC by pyabc (pyabc.ABCSMC: uniform priors, MultivariateNormalTransition, "
                          "QuantileEpsilon, AdaptivePNormDistance p=2 with each statistic scaled by its sd over "
                          "the previous generation's simulations, Prangle 2017)", np.ones(len(cal.targets)),
                     sampler.evaluations * cal.replications, particles=cal.particles, quantile=cal.quantile,
                     generations=generations, stopped=stopped, database=DATABASE,
                     calibration_sample=calibration_samples,
                     simulations_started=sampler.submitted * cal.replications,
                     seeding="evaluation i of pyabc's k-th sample request: numpy and random seeded with "
                             "SeedSequence(root_seed, spawn_key=(k, i)); first n accepted in evaluation order")
    meta["scale"] = generations[-1]["scale"]
    write_json_atomic(out / "metadata.json", meta)
    return meta


def _scales(distance, t: int, targets: dict) -> dict[str, float | None]:
    """The scale (1 / weight) of each statistic in generation ``t``'s distance; None for a
    statistic that had weight 0 (no spread)."""
    weights = getattr(distance, "scale_weights", {}).get(t)
    if weights is None:
        return {k: None for k in targets}
    return {k: (1.0 / float(w) if w and math.isfinite(w) else None) for k, w in zip(targets, np.ravel(weights))}
