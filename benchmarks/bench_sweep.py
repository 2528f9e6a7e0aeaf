"""Sweep overhead: 200 runs of about 0.2 s each through ``crowd-model sweep --workers 2``
against the same runs' serial compute time divided by 2 (issue 4: ratio <= 1.3).

The serial time is the sum of ``simulate`` calls alone (no seeding, storage or progress);
the sweep's time is the whole command: reading the experiment, starting the pool,
seeding, writing the files, the progress bar and the final sort. Both are measured here,
one after the other, on this machine.

    .venv/bin/python benchmarks/bench_sweep.py [--runs 200] [--seconds 0.2] [--workers 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from crowd_model.runner import simulate
from crowd_model.experiments.executors import make_executor
from crowd_model.experiments.plan import make_plan
from crowd_model.experiments.spec import load_experiment
from crowd_model.experiments.sweep import run_sweep

TARGET = 1.3
REPLICATIONS = 20


def experiment_text(steps: int, points: int) -> str:
    values = ", ".join(f"{0.6 + 0.3 * i / max(1, points - 1):.4f}" for i in range(points))
    return (f'scenario = "epstein"\nsteps = {steps}\nreplications = {REPLICATIONS}\nseed = 1\n'
            f'design = "grid"\n[vary]\nlegitimacy = [{values}]\n')


def calibrate_steps(spec: Path, points: int, seconds: float) -> int:
    """Steps that make the benchmark's runs last about ``seconds`` each on this machine."""
    trial = 40
    spec.write_text(experiment_text(trial, points))
    tasks = make_plan(load_experiment(spec)).tasks[:points]
    started = time.perf_counter()
    for task in tasks:
        simulate(task.parameters, task.steps, task.seed, task.scenario)
    per_step = (time.perf_counter() - started) / (trial * len(tasks))
    return max(5, round(seconds / per_step))


def serial_compute(tasks) -> float:
    total = 0.0
    for task in tasks:
        started = time.perf_counter()
        simulate(task.parameters, task.steps, task.seed, task.scenario)
        total += time.perf_counter() - started
    return total


def sweep_seconds(spec: Path, out: Path, workers: int) -> tuple[float, float]:
    """Wall time of what ``crowd-model sweep SPEC --workers N`` does, and the time its
    workers spent inside the runs."""
    started = time.perf_counter()
    experiment = load_experiment(spec)
    with make_executor(workers) as (executor, label, in_flight):
        done = run_sweep(experiment, out, executor, in_flight=in_flight, executor_label=label)
    if done.ok != done.runs:
        raise SystemExit(f"{done.failed} runs failed")
    return time.perf_counter() - started, done.compute_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=0.2, help="target length of one run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="measure both this many times, alternating; keep the fastest")
    args = parser.parse_args()

    points = max(1, args.runs // REPLICATIONS)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "bench.toml"
        steps = calibrate_steps(spec, points, args.seconds)
        spec.write_text(experiment_text(steps, points))
        tasks = make_plan(load_experiment(spec)).tasks
        serials, sweeps, in_sweep = [], [], []
        load = os.getloadavg()[0]
        for k in range(args.rounds):
            serials.append(serial_compute(tasks))
            wall, compute = sweep_seconds(spec, Path(tmp) / f"out{k}", args.workers)
            sweeps.append(wall)
            in_sweep.append(wall / (compute / args.workers))
        load = max(load, os.getloadavg()[0])
    serial, swept = min(serials), min(sweeps)
    ideal = serial / args.workers
    ratio = swept / ideal
    print(f"{len(tasks)} runs of {steps} steps of the epstein preset "
          f"(mean {serial / len(tasks):.3f} s per run, serial compute {serial:.1f} s)")
    print(f"sweep --workers {args.workers}: {swept:.1f} s; serial compute / {args.workers}: {ideal:.1f} s "
          f"(fastest of {args.rounds} alternating rounds; sweeps {', '.join(f'{x:.1f}' for x in sweeps)} s, "
          f"serial {', '.join(f'{x:.1f}' for x in serials)} s; load average up to {load:.1f} on {os.cpu_count()} cores)")
    print(f"ratio {ratio:.2f} (target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'})")
    print(f"same ratio against the run time the workers measured during the sweep itself "
          f"(insensitive to other load on the machine): {min(in_sweep):.2f}")


if __name__ == "__main__":
    main()
