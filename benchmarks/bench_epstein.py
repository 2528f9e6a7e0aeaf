"""Speed of our ``epstein`` preset against Mesa 3.5.1's own Epstein civil-violence example.

Both models run side by side in this one process, on the same grid sizes with the same
Run 2 parameters (taken from our preset, so nothing is restated here). Measurements are
interleaved in rounds, alternating which side goes first, so machine noise hits both
alike; each side's rate is the median over rounds of
``agents on the grid x steps / seconds``.

Targets: at least 20x Mesa at 40x40, at least 60x at 200x200, our cost per
agent-step at 200x200 no more than 1.5x our cost at 40x40, kpu-riot at 500,000 agent-steps/s
or more; and a first ``crowd-model run --scenario kpu-riot`` with an empty numba cache (a
fresh ``NUMBA_CACHE_DIR``) done in 20 s or less, 2 s or less once the cache is warm, and
20 s or less after one rule's constant changed in ``riot.py`` or in ``rules.py``.

    .venv/bin/python benchmarks/bench_epstein.py            # full run, two to three minutes
    .venv/bin/python benchmarks/bench_epstein.py --quick    # smoke run, targets not judged
    .venv/bin/python benchmarks/bench_epstein.py --only startup   # start-up and recompile times
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mesa.examples.advanced.epstein_civil_violence.model import (
    EpsteinCivilViolence,
    EpsteinScenario,
)

from crowd_model.model import CrowdModel
from crowd_model.parameters import Parameters
from crowd_model.scenario import load_scenario

TARGET_SMALL = 20.0
TARGET_LARGE = 60.0
TARGET_SCALING = 1.5
TARGET_RIOT = 500_000
# The riot's rate is an absolute figure, not a ratio: the median of this many whole runs.
RIOT_RUNS = 5
TARGET_COLD = 20.0
TARGET_WARM = 2.0


@dataclass(frozen=True)
class Plan:
    """How one grid size is measured: ``rounds`` interleaved blocks of steps per side."""

    size: int
    rounds: int
    mesa_steps: int
    our_steps: int


FULL = (
    Plan(40, rounds=9, mesa_steps=5, our_steps=50),
    Plan(100, rounds=7, mesa_steps=1, our_steps=10),
    Plan(200, rounds=5, mesa_steps=1, our_steps=5),
)
QUICK = (
    Plan(20, rounds=1, mesa_steps=1, our_steps=3),
    Plan(40, rounds=1, mesa_steps=1, our_steps=3),
)


@dataclass
class Row:
    size: int
    mesa_agents: int
    our_agents: int
    mesa_rate: float
    our_rate: float

    @property
    def ratio(self) -> float:
        return self.our_rate / self.mesa_rate


def epstein_parameters(size: int) -> Parameters:
    return Parameters.from_mapping({"width": size, "height": size}, base=load_scenario("epstein").parameters)


def ours(size: int, seed: int) -> CrowdModel:
    return CrowdModel(epstein_parameters(size), rng=seed)


def mesa_example(size: int, seed: int) -> EpsteinCivilViolence:
    """Mesa's example with our preset's Run 2 values (its grid and neighbourhood as shipped)."""
    p = epstein_parameters(size)
    scenario = EpsteinScenario(
        rng=seed,
        citizen_density=p.citizen_density,
        cop_density=p.officer_density,
        citizen_vision=p.citizen_vision,
        cop_vision=p.officer_vision,
        legitimacy=p.legitimacy,
        max_jail_term=p.max_jail_term,
        active_threshold=p.activation_threshold,
        arrest_prob_constant=p.arrest_constant,
        movement=p.movement,
    )
    return EpsteinCivilViolence(width=size, height=size, scenario=scenario)


def our_agents(model: CrowdModel) -> int:
    return int(model.world.alive.sum())


def mesa_agents(model: EpsteinCivilViolence) -> int:
    return len(model.agents)


def timed_rate(model, steps: int, agents) -> float:
    """Agent-steps per second over ``steps`` steps of ``model``."""
    n = agents(model)
    start = time.perf_counter()
    for _ in range(steps):
        model.step()
    return n * steps / (time.perf_counter() - start)


def measure(plan: Plan, seed: int) -> Row:
    mesa_model = mesa_example(plan.size, seed)
    our_model = ours(plan.size, seed)
    mesa_model.step()
    our_model.step()
    mesa_rates, our_rates = [], []
    for r in range(plan.rounds):
        blocks = [
            (mesa_rates, mesa_model, plan.mesa_steps, mesa_agents),
            (our_rates, our_model, plan.our_steps, our_agents),
        ]
        if r % 2:
            blocks.reverse()
        for rates, model, steps, agents in blocks:
            rates.append(timed_rate(model, steps, agents))
    return Row(
        plan.size,
        mesa_agents(mesa_model),
        our_agents(our_model),
        statistics.median(mesa_rates),
        statistics.median(our_rates),
    )


def warm_up(seed: int) -> None:
    """Compile (or load from cache) the numba kernel before anything is timed."""
    model = ours(10, seed)
    for _ in range(3):
        model.step()


def print_table(rows: list[Row]) -> None:
    print(
        f"{'grid':>9} {'Mesa agents':>11} {'our agents':>10} "
        f"{'Mesa agent-steps/s':>18} {'our agent-steps/s':>17} {'ratio':>7}"
    )
    for row in rows:
        print(
            f"{row.size:>4}x{row.size:<4} {row.mesa_agents:>11,} {row.our_agents:>10,} "
            f"{row.mesa_rate:>18,.0f} {row.our_rate:>17,.0f} {row.ratio:>6.1f}x"
        )


def verdicts(rows: list[Row]) -> list[tuple[str, bool]]:
    by_size = {row.size: row for row in rows}
    small, large = by_size[40], by_size[200]
    scaling = small.our_rate / large.our_rate
    return [
        (f"ratio at 40x40 {small.ratio:.1f}x >= {TARGET_SMALL:g}x", small.ratio >= TARGET_SMALL),
        (f"ratio at 200x200 {large.ratio:.1f}x >= {TARGET_LARGE:g}x", large.ratio >= TARGET_LARGE),
        (
            f"our cost per agent-step 200x200 / 40x40 = {scaling:.2f} <= {TARGET_SCALING:g}",
            scaling <= TARGET_SCALING,
        ),
    ]


def riot_rate(seed: int, steps: int) -> tuple[int, int, float, float]:
    """kpu-riot with 2,000 supporters, 60 provocateurs and 300 officers, assembled from the start
    (no march), over a whole run of ``steps`` steps (riot, dispersal): the agents, the
    agent-steps counted, and agent-steps per second and per CPU-second. An agent-step is
    counted only for an agent still there at the start of the step -- on the street or in
    custody, not gone home: once the crowd disperses, those who left cost nothing and would
    inflate the rate."""
    from crowd_model.scenario import load_scenario
    from crowd_model.world import ARRIVING, LEFT

    params = load_scenario("kpu-riot").parameters.with_overrides(
        ["crowd_size=2060", f"provocateur_share={60 / 2060}", "arrival_rate=0"]  # assembled: every agent acts
    )
    model = CrowdModel(params, rng=seed)
    model.step()
    world = model.world
    counted, seconds = 0, 0.0
    cpu = time.process_time()
    for _ in range(steps):
        counted += int(np.count_nonzero(world.alive & (world.state != LEFT) & (world.state != ARRIVING)))
        start = time.perf_counter()
        model.step()
        seconds += time.perf_counter() - start
    cpu = time.process_time() - cpu
    return len(model.agents), counted, counted / seconds, counted / cpu


def machine() -> str:
    """The CPU model (as ``lscpu`` names it), cores, and the load average at the moment."""
    name = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return f"{name}, {os.cpu_count()} cores, load average {load}"


# One edit per file for the "one rule changed" recompile: a constant of a rule, nudged.
RULE_EDITS = {
    "riot.py": (r"^(SIDESTEP_PROBABILITY = )0\.3\b", r"\g<1>0.31"),
    "rules.py": (r"return hardship \* \(1\.0 - legitimacy\)", "return hardship * (1.0 - 0.999 * legitimacy)"),
}


def _edit_rule(package: Path, name: str) -> None:
    """Change one rule's constant in ``package/name`` (or, should that line have moved, add a
    line: any change to the file recompiles the same functions)."""
    path = package / name
    text = path.read_text()
    pattern, replacement = RULE_EDITS[name]
    edited, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
    path.write_text(edited if count else text + "\nEDITED_BY_THE_BENCHMARK = 1\n")


def start_times() -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds of ``crowd-model run --scenario kpu-riot --steps 1`` in a new process,
    on a copy of the package with a fresh ``NUMBA_CACHE_DIR``: ``cold`` with the cache empty
    (everything compiles), ``warm`` with it filled (everything loads), then after a change to
    one rule's constant in ``riot.py`` (``riot.py``: what depends on it recompiles), and then
    in ``rules.py``. The CPU time (user + system) is what the run costs on a machine to
    itself; other load stretches the wall time."""
    import resource
    import shutil

    import crowd_model

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        package = root / "crowd_model"
        shutil.copytree(Path(crowd_model.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
        # Byte-compiled, as set-up (scripts/bootstrap.sh) or pip leave an installed package.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
        env = dict(os.environ, NUMBA_CACHE_DIR=str(root / "cache"), PYTHONPATH=str(root))
        env.pop("NUMBA_DISABLE_JIT", None)
        times = {}
        for label, edit in (("cold", None), ("warm", None), ("riot.py", "riot.py"), ("rules.py", "rules.py")):
            if edit:
                _edit_rule(package, edit)
            start, start_cpu = time.perf_counter(), cpu()
            subprocess.run(
                [sys.executable, "-m", "crowd_model", "run", "--scenario", "kpu-riot", "--steps", "1"],
                check=True, env=env, stdout=subprocess.DEVNULL, cwd=root,
            )
            times[label] = (time.perf_counter() - start, cpu() - start_cpu)
    return times


def import_floor(repeats: int = 3) -> float:
    """Median wall seconds of a process that only imports numba, pandas and Mesa, which every
    run imports (the design makes the model a Mesa ``Model`` with Mesa's data collection,
    over numba kernels): the least a start can take on this machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numba, pandas, mesa"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def startup(verdicts_out: list) -> None:
    """Measure and print the start-up times, adding their verdicts to ``verdicts_out``."""
    times = start_times()
    floor = import_floor()
    print(f"machine at the end: {machine()}")
    (cold, cold_cpu), (warm, warm_cpu) = times["cold"], times["warm"]
    print(f"crowd-model run --scenario kpu-riot --steps 1: {cold:.1f} s ({cold_cpu:.1f} s CPU) with an empty "
          f"numba cache, {warm:.1f} s ({warm_cpu:.1f} s CPU) with it filled (as after set-up, which runs "
          f"'crowd-model compile')")
    print(f"  ... a process that only imports numba, pandas and Mesa: {floor:.1f} s (median of 3)")
    for name in ("riot.py", "rules.py"):
        wall, cpu = times[name]
        print(f"  ... after one rule's constant changed in {name}: {wall:.1f} s ({cpu:.1f} s CPU)")
    verdicts_out += [
        (f"cold start {cold:.1f} s <= {TARGET_COLD:g} s", cold <= TARGET_COLD),
        (f"warm start {warm:.1f} s <= {TARGET_WARM:g} s", warm <= TARGET_WARM),
    ] + [
        (f"recompile after a rule change in {name} {times[name][0]:.1f} s <= {TARGET_COLD:g} s",
         times[name][0] <= TARGET_COLD)
        for name in ("riot.py", "rules.py")
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run; targets not judged")
    parser.add_argument("--seed", type=int, default=1, help="seed for both models (default 1)")
    parser.add_argument("--only", choices=("speed", "startup"),
                        help="only the run-speed part, or only the start-up and recompile times")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    print(f"machine: {machine()}")
    results = []
    if args.only != "startup":
        plans = QUICK if args.quick else FULL
        warm_up(args.seed)
        rows = []
        for plan in plans:
            rows.append(measure(plan, args.seed))
            print(f"measured {plan.size}x{plan.size}", file=sys.stderr, flush=True)
        p = epstein_parameters(plans[0].size)
        print(
            f"Epstein Run 2 (citizen density {p.citizen_density:g}, cop density {p.officer_density:g}, "
            f"vision {p.citizen_vision}, seed {args.seed}): agent-steps per second, "
            f"median of interleaved rounds"
        )
        print_table(rows)
        small, large = rows[0], rows[-1]
        print(
            f"our cost per agent-step {large.size}x{large.size} / {small.size}x{small.size}: "
            f"{small.our_rate / large.our_rate:.2f}   "
            f"(Mesa: {small.mesa_rate / large.mesa_rate:.2f})"
        )
        riot_steps, riot_runs = (50, 1) if args.quick else (500, RIOT_RUNS)
        runs = [riot_rate(args.seed, riot_steps) for _ in range(riot_runs)]
        riot_agents, riot_counted = runs[0][0], runs[0][1]
        riot = statistics.median(run[2] for run in runs)
        riot_cpu = statistics.median(run[3] for run in runs)
        print(
            f"kpu-riot (2,000 supporters, 60 provocateurs, 300 officers; {riot_agents:,} agents, "
            f"whole {riot_steps}-step run; {riot_counted:,} agent-steps of agents not gone home, "
            f"of {riot_agents * riot_steps:,}): {riot:,.0f} agent-steps/s ({riot_cpu:,.0f} per CPU-second), "
            f"median of {riot_runs} runs of the same seed (from {min(r[2] for r in runs):,.0f} to "
            f"{max(r[2] for r in runs):,.0f}); counting every agent every step as before: "
            f"{riot * riot_agents * riot_steps / riot_counted:,.0f}"
        )
        if not args.quick:
            results += verdicts(rows)
            results.append((f"kpu-riot {riot:,.0f} agent-steps/s >= {TARGET_RIOT:,}", riot >= TARGET_RIOT))
    if args.quick:
        print(f"wall time {time.perf_counter() - started:.0f} s")
        print("targets not judged in --quick mode")
        return 0
    if args.only != "speed":
        startup(results)
    print(f"wall time {time.perf_counter() - started:.0f} s")
    for text, ok in results:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for _, ok in results) else 1

if __name__ == "__main__":
    sys.exit(main())
