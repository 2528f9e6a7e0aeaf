"""Sweeps on the real model: same results on every executor, crash safety, resume, seeds."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from crowd_model import cli
from crowd_model.experiments.executors import make_executor
from crowd_model.experiments.plan import make_plan
from crowd_model.experiments.spec import load_experiment
from crowd_model.experiments.sweep import run_sweep

SMALL = """
scenario = "epstein"
steps = {steps}
replications = {replications}
seed = 11
design = "grid"
[set]
width = {size}
height = {size}
[vary]
legitimacy = [0.5, 0.65, 0.8]
officer_density = {{ start = 0.02, stop = 0.06, step = 0.02 }}
[record]
metrics = ["active", "arrested", "arrests_total"]
every = {every}
"""


def experiment_file(tmp_path: Path, name="small", steps=25, replications=2, size=12, every=1, extra="") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(SMALL.format(steps=steps, replications=replications, size=size, every=every) + extra)
    return path


def sweep(spec: Path, out: Path, workers: int | None = 1, scheduler: str | None = None, resume=False, fmt="csv"):
    with make_executor(workers, scheduler) as (executor, label, in_flight):
        return run_sweep(load_experiment(spec), out, executor, in_flight=in_flight, resume=resume, fmt=fmt,
                         progress=False, executor_label=label)


def same_files(a: Path, b: Path, names=("outcomes.csv", "timeseries.csv", "design.csv")) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted serial sweep, the yardstick for the other tests."""
    tmp = tmp_path_factory.mktemp("reference")
    spec = experiment_file(tmp)
    summary = sweep(spec, tmp / "serial")
    assert summary.ok == summary.runs == 18
    return spec, tmp / "serial"


def test_result_files_follow_the_contract(reference):
    _, out = reference
    outcomes = pd.read_csv(out / "outcomes.csv")
    assert list(outcomes.columns[:6]) == ["run_id", "point", "replicate", "seed", "legitimacy", "officer_density"]
    assert {"peak_active", "arrests_total", "status", "error"} <= set(outcomes.columns)
    assert outcomes["run_id"].is_unique and (outcomes["status"] == "ok").all()
    assert sorted(outcomes["officer_density"].unique()) == [0.02, 0.04, 0.06]
    ts = pd.read_csv(out / "timeseries.csv")
    assert list(ts.columns) == ["run_id", "step", "active", "arrested", "arrests_total"]
    assert (ts.groupby("run_id").size() == 26).all()
    meta = pd.read_json(out / "metadata.json", typ="series")
    assert meta["root_seed"] == 11 and meta["status"] == "complete" and meta["runs_ok"] == 18
    assert {"mesa", "python", "numpy"} <= set(meta["versions"])


def test_a_sweep_run_equals_the_single_run_command(reference, tmp_path):
    _, out = reference
    row = pd.read_csv(out / "outcomes.csv").iloc[7]
    args = ["run", "--scenario", "epstein", "--steps", "25", "--seed", str(row["seed"]), "--out", str(tmp_path),
            "--set", "width=12", "--set", "height=12",
            "--set", f"legitimacy={row['legitimacy']}", "--set", f"officer_density={row['officer_density']}"]
    assert cli.main(args) == 0
    single_ts = pd.read_csv(tmp_path / "timeseries.csv")
    ts = pd.read_csv(out / "timeseries.csv")
    ours = ts[ts["run_id"] == row["run_id"]].drop(columns="run_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(ours, single_ts[ours.columns])
    single = pd.read_csv(tmp_path / "outcomes.csv").iloc[0]
    for key in single.index:
        assert single[key] == row[key] or (pd.isna(single[key]) and pd.isna(row[key])), key


def test_process_pool_gives_the_serial_files(reference, tmp_path):
    spec, serial = reference
    sweep(spec, tmp_path / "pool", workers=2)
    same_files(serial, tmp_path / "pool")


@pytest.mark.slow
def test_dask_cluster_gives_the_serial_files(reference, tmp_path):
    from dask.distributed import LocalCluster

    spec, serial = reference
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        sweep(spec, tmp_path / "dask", workers=None, scheduler=cluster.scheduler_address)
    same_files(serial, tmp_path / "dask")


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


@pytest.mark.parametrize("workers", [pytest.param(1, marks=pytest.mark.slow), 2])
def test_sigkill_then_resume_equals_an_uninterrupted_sweep(tmp_path, workers):
    spec = experiment_file(tmp_path, steps=60, replications=4, size=20)
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "crowd_model", "sweep", str(spec), "--out", str(out),
               "--workers", str(workers), "--no-progress"]
    proc = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    outcomes = out / "outcomes.csv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if outcomes.exists() and len(_rows(outcomes)) > 6:
            break
        time.sleep(0.02)
    workers_of = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    _assert_gone(workers_of, within=15)

    # Every finished run (a complete outcome row) has its whole time series in the files.
    header, *rows = _rows(outcomes)
    finished = {r[0] for r in rows if len(r) == len(header) and r[-2] == "ok"}
    assert 6 <= len(finished) < 36
    ts = pd.read_csv(out / "timeseries.csv")
    counts = ts[ts["run_id"].isin(finished)].groupby("run_id").size()
    assert set(counts.index) == finished and (counts == 61).all()

    assert cli.main(["sweep", str(spec), "--out", str(out), "--resume", "--workers", str(workers), "--no-progress"]) == 0
    sweep(spec, tmp_path / "straight", workers=1)
    same_files(out, tmp_path / "straight")
    meta = pd.read_json(out / "metadata.json", typ="series")
    assert len(meta["sessions"]) == 2 and meta["sessions"][1]["resumed_runs"] == len(finished)


def _children(pid: int) -> list[int]:
    """Processes below ``pid`` (pool workers, and a fork server's children)."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                    found.append(int(entry))
                    frontier.append(int(entry))
    return found


def _assert_gone(pids: list[int], within: float) -> None:
    deadline = time.monotonic() + within
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if _running(p)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"pool processes {alive} outlived the killed sweep"


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_resume_of_a_finished_sweep_changes_nothing(reference, tmp_path):
    spec, serial = reference
    out = tmp_path / "again"
    sweep(spec, out)
    before = {name: (out / name).read_bytes() for name in ("outcomes.csv", "timeseries.csv")}
    summary = sweep(spec, out, resume=True)
    assert summary.resumed == summary.runs and summary.ok == summary.runs
    assert before == {name: (out / name).read_bytes() for name in before}


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    # With legitimacy 0.99 nobody turns active, nobody is arrested, and the stop condition
    # divides by zero: a real error in a real run.
    spec = experiment_file(tmp_path, extra='[stop]\nwhen = "active / arrested > 1000"\nafter = 5\n')
    spec.write_text(spec.read_text().replace("[0.5, 0.65, 0.8]", "[0.1, 0.99]"))
    summary = sweep(spec, tmp_path / "out")
    outcomes = pd.read_csv(tmp_path / "out" / "outcomes.csv")
    failed = outcomes[outcomes["status"] == "failed"]
    assert summary.failed == len(failed) > 0 and summary.ok == len(outcomes) - len(failed) > 0
    assert (failed["legitimacy"] == 0.99).all()
    assert failed["error"].str.startswith("ZeroDivisionError").all()
    assert failed["peak_active"].isna().all()
    ts = pd.read_csv(tmp_path / "out" / "timeseries.csv")
    assert not set(failed["run_id"]) & set(ts["run_id"])
    before = (tmp_path / "out" / "outcomes.csv").read_bytes()
    assert sweep(spec, tmp_path / "out", resume=True).failed == len(failed)
    assert (tmp_path / "out" / "outcomes.csv").read_bytes() == before


def test_stop_condition_ends_runs_early_with_the_same_steps(tmp_path):
    spec = experiment_file(tmp_path, extra='[stop]\nwhen = "active == 0"\nafter = 3\n')
    sweep(spec, tmp_path / "stopped")
    full = experiment_file(tmp_path, name="full")
    sweep(full, tmp_path / "full")
    stopped = pd.read_csv(tmp_path / "stopped" / "timeseries.csv")
    whole = pd.read_csv(tmp_path / "full" / "timeseries.csv")
    lengths = stopped.groupby("run_id").size()
    assert (lengths < 26).any()
    for run_id, part in stopped.groupby("run_id"):
        last = part.iloc[-1]
        assert len(part) == 26 or (last["active"] == 0 and last["step"] >= 3)
        prefix = whole[whole["run_id"] == run_id].iloc[: len(part)]
        assert part.to_numpy().tolist() == prefix.to_numpy().tolist()


def test_record_every_and_parquet(tmp_path, reference):
    spec = experiment_file(tmp_path, every=5)
    sweep(spec, tmp_path / "pq", fmt="parquet")
    ts_csv = pd.read_csv(tmp_path / "pq" / "timeseries.csv")
    assert sorted(ts_csv["step"].unique()) == [0, 5, 10, 15, 20, 25]
    for name in ("outcomes", "timeseries"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "pq" / f"{name}.parquet"),
                                      pd.read_csv(tmp_path / "pq" / f"{name}.csv"))
    # the outcome rows do not depend on how often the time series is recorded
    _, serial = reference
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "pq" / "outcomes.parquet"),
                                  pd.read_csv(serial / "outcomes.csv"))


def test_seeds_are_stable_and_run_order_is_interleaved(tmp_path):
    two = make_plan(load_experiment(experiment_file(tmp_path, name="two", replications=2)))
    three = make_plan(load_experiment(experiment_file(tmp_path, name="three", replications=3)))
    seeds2 = {(t.point, t.replicate): (t.seed, t.run_id) for t in two.tasks}
    seeds3 = {(t.point, t.replicate): (t.seed, t.run_id) for t in three.tasks}
    assert all(seeds3[key] == value for key, value in seeds2.items())
    assert len({t.seed for t in three.tasks}) == len(three.tasks)
    first_pass = [t for t in three.tasks[:9]]
    assert {t.point for t in first_pass} == set(range(9)) and {t.replicate for t in first_pass} == {0}
    assert [t.point for t in first_pass] != list(range(9))


def test_an_existing_result_folder_needs_resume(reference, tmp_path):
    spec, serial = reference
    result = subprocess.run([sys.executable, "-m", "crowd_model", "sweep", str(spec), "--out", str(serial),
                             "--workers", "1", "--no-progress"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "--resume" in result.stderr and len(result.stderr.strip().splitlines()) == 1
