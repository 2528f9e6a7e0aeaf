"""Sweeps beyond one machine: a real dask scheduler and workers (separate processes, as on a
cluster), and shards of one sweep (array jobs) merged into the files of a single sweep."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from crowd_model import cli

from small_site import riot_sweep_file
from test_sweeps import experiment_file, reference, same_files, sweep  # noqa: F401  (reference: a fixture)

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def dask_cluster(tmp_path):
    """``dask scheduler`` and ``dask worker`` started as a cluster's are, on 127.0.0.1."""
    pytest.importorskip("distributed")
    from dask.distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    started = []
    try:
        started.append(subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            cwd=logs, stdout=open(logs / "scheduler.log", "w"), stderr=subprocess.STDOUT, start_new_session=True))
        started.append(subprocess.Popen(
            [str(BIN / "dask"), "worker", address, "--nworkers", "2", "--nthreads", "1", "--host", "127.0.0.1",
             "--no-dashboard", "--local-directory", str(logs)],
            cwd=logs, stdout=open(logs / "worker.log", "w"), stderr=subprocess.STDOUT, start_new_session=True))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in reversed(started):
            _stop(process)


def test_a_real_dask_scheduler_and_workers_give_the_serial_files(reference, dask_cluster, tmp_path):  # noqa: F811
    spec, serial = reference
    summary = sweep(spec, tmp_path / "dask", workers=None, scheduler=dask_cluster)
    assert summary.ok == summary.runs == 18
    same_files(serial, tmp_path / "dask")
    meta = json.loads((tmp_path / "dask" / "metadata.json").read_text())
    assert meta["sessions"][0]["executor"] == f"dask {dask_cluster}"


# What may differ between a merged sweep's metadata.json and a single sweep's: when and where
# the runs happened, and where the merge came from.
DIFFERING_KEYS = {"sessions", "started", "finished", "merged_from"}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_shards_merged_equal_the_single_sweep(reference, tmp_path, capsys, fmt):  # noqa: F811
    spec, serial = reference
    if fmt == "parquet":
        serial = tmp_path / "single"
        sweep(spec, serial, fmt=fmt)
    shards = []
    for i in (1, 2, 3):
        out = tmp_path / f"shard{i}"
        args = ["sweep", str(spec), "--out", str(out), "--workers", "1", "--no-progress", "--shard", f"{i}/3"]
        assert cli.main(args + ["--format", fmt]) == 0
        meta = json.loads((out / "metadata.json").read_text())
        assert meta["shard"] == {"index": i, "count": 3, "runs": 6}
        assert len(pd.read_csv(out / "outcomes.csv")) == 6
        shards.append(out)
    capsys.readouterr()
    merged = tmp_path / "merged"
    assert cli.main(["merge", *map(str, reversed(shards)), "--out", str(merged)]) == 0
    assert "merged 3 shards: 18 of 18 runs ok, 0 failed" in capsys.readouterr().out
    same_files(serial, merged)
    if fmt == "parquet":
        same_files(serial, merged, names=("outcomes.parquet", "timeseries.parquet"))
    single = json.loads((serial / "metadata.json").read_text())
    joined = json.loads((merged / "metadata.json").read_text())
    assert set(joined) - set(single) == {"merged_from"} and set(single) - set(joined) == set()
    differ = {k for k in single if single[k] != joined[k]} | {"merged_from"}
    assert differ <= DIFFERING_KEYS
    assert joined["merged_from"] == [str(s) for s in shards]
    assert len(joined["sessions"]) == 3
    if fmt == "csv":
        assert (merged / "checksums.csv").read_bytes() == (serial / "checksums.csv").read_bytes()
        assert cli.main(["sweep", str(spec), "--out", str(merged), "--workers", "1", "--no-progress", "--resume"]) == 0
        assert "18 already done" in capsys.readouterr().out
        same_files(serial, merged)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_shards_of_a_sweep_that_keeps_events_merge_into_its_files(tmp_path, capsys, fmt):
    spec = riot_sweep_file(tmp_path, steps=20, replications=3)
    single = tmp_path / "single"
    sweep(spec, single, fmt=fmt)
    shards = []
    for i in (1, 2):
        out = tmp_path / f"shard{i}"
        args = ["sweep", str(spec), "--out", str(out), "--workers", "1", "--no-progress", "--shard", f"{i}/2"]
        assert cli.main(args + ["--format", fmt]) == 0
        shards.append(out)
    capsys.readouterr()
    merged = tmp_path / "merged"
    assert cli.main(["merge", *map(str, shards), "--out", str(merged)]) == 0
    assert "merged 2 shards: 6 of 6 runs ok, 0 failed" in capsys.readouterr().out
    names = ("outcomes.csv", "timeseries.csv", "events.csv", "checksums.csv", "design.csv")
    same_files(single, merged, names)
    assert len(set(pd.read_csv(merged / "events.csv")["run_id"])) == 6
    if fmt == "parquet":
        same_files(single, merged, names=("events.parquet",))
        pd.testing.assert_frame_equal(pd.read_parquet(merged / "events.parquet"),
                                      pd.read_csv(merged / "events.csv"))
    else:
        assert cli.main(["sweep", str(spec), "--out", str(merged), "--workers", "1", "--no-progress", "--resume"]) == 0
        assert "6 already done" in capsys.readouterr().out
        same_files(single, merged, names)
    (shards[1] / "events.csv").unlink()
    assert cli.main(["merge", *map(str, shards), "--out", str(tmp_path / "m2")]) == 2
    err = capsys.readouterr().err
    assert f"{shards[1]}/events.csv is missing" in err and err.count("\n") == 1, err


def test_merge_refuses_incomplete_or_foreign_shards(reference, tmp_path, capsys):  # noqa: F811
    spec, serial = reference
    for i in (1, 2):
        cli.main(["sweep", str(spec), "--out", str(tmp_path / f"s{i}"), "--workers", "1", "--no-progress",
                  "--shard", f"{i}/2"])
    other = experiment_file(tmp_path, name="other", steps=5)
    cli.main(["sweep", str(other), "--out", str(tmp_path / "o2"), "--workers", "1", "--no-progress", "--shard", "2/2"])
    capsys.readouterr()
    cases = [
        ([tmp_path / "s1"], "missing [2]"),
        ([tmp_path / "s1", tmp_path / "s1"], "repeated [1]"),
        ([tmp_path / "s1", tmp_path / "o2"], "is a shard of another sweep"),
        ([tmp_path / "s1", serial], "is not a shard"),
    ]
    for dirs, message in cases:
        assert cli.main(["merge", *map(str, dirs), "--out", str(tmp_path / "m")]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "m" / "outcomes.csv").exists()
    # a shard folder resumes only as the same shard
    assert cli.main(["sweep", str(spec), "--out", str(tmp_path / "s1"), "--workers", "1", "--no-progress",
                     "--shard", "2/2", "--resume"]) == 2
    assert "another shard" in capsys.readouterr().err
    assert cli.main(["sweep", str(spec), "--out", str(tmp_path / "x"), "--shard", "3/2"]) == 2
    assert "--shard '3/2'" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "s1")


@pytest.mark.parametrize("method", ["abc", "pyabc"])
def test_calibration_on_a_real_dask_cluster_gives_the_serial_posterior(dask_cluster, tmp_path, method):
    from test_calibrate import SPEC, _observed

    if method == "pyabc":
        pytest.importorskip("pyabc")
        SPEC = SPEC.replace('method = "abc"', 'method = "pyabc"').replace("[abc]", "[pyabc]")  # noqa: N806
    _observed(tmp_path, steps=10, seeds=(1,))
    spec = tmp_path / "cal.toml"
    spec.write_text(SPEC.format(steps=10, particles=6, replications=1, generations=1))
    assert cli.main(["calibrate", str(spec), "--out", str(tmp_path / "serial"), "--workers", "1"]) == 0
    assert cli.main(["calibrate", str(spec), "--out", str(tmp_path / "dask"), "--scheduler", dask_cluster]) == 0
    for name in ("particles.csv", "posterior.csv", "posterior_summary.csv"):
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), name


# --- HPC: the README's dask-jobqueue recipe -----------------------------------------------

README = Path(__file__).resolve().parent.parent / "README.md"


def _readme_block(start: str) -> str:
    """The README's code block that begins with the line ``start``."""
    text = README.read_text()
    begin = text.index(start)
    return text[begin:text.index("```", begin)]


def test_the_readme_slurm_recipe_builds_the_job_script_it_shows():
    """The README's SLURMCluster(...) call, as written there (only the python path is this
    environment's), is accepted by the installed dask-jobqueue (the hpc extra, which the test
    extra installs) and builds the job script the README shows."""
    from dask_jobqueue import SLURMCluster

    recipe = _readme_block("# slurm_sweep.py")
    call = recipe[recipe.index("cluster = SLURMCluster("):recipe.index("\n)\n") + 2]
    namespace = {"SLURMCluster": SLURMCluster}
    exec(call.replace('"/path/to/crowd-model/.venv/bin/python"', repr(sys.executable)), namespace)
    cluster = namespace["cluster"]
    try:
        script, address = cluster.job_script(), cluster.scheduler_address
    finally:
        cluster.close()
    shown = _readme_block("#SBATCH -J dask-worker").strip()
    built = (script.replace(address, "tcp://LOGIN-NODE:40321").replace(sys.executable, "/path/to/crowd-model/.venv/bin/python")
             .removeprefix("#!/usr/bin/env bash").strip())
    assert built == shown


SBATCH = """#!/bin/bash
# sbatch SCRIPT as SLURM would run it on a node, here: in its own session, in the background.
# Like SLURM, keep a copy of the script at submission (dask-jobqueue deletes its file at once).
cp "$1" "{logs}/job-$$.sh"
setsid bash "{logs}/job-$$.sh" > "{logs}/job-$$.log" 2>&1 < /dev/null &
echo "Submitted batch job $!"
"""
SCANCEL = """#!/bin/bash
for job in "$@"; do kill -TERM -- "-$job" 2>/dev/null; done
exit 0
"""


@pytest.mark.slow
def test_a_sweep_through_a_dask_jobqueue_slurm_cluster_gives_the_serial_files(reference, tmp_path, monkeypatch):  # noqa: F811
    """The recipe's path end to end: a SLURMCluster submits its job script, the job's workers
    join the cluster's scheduler, and ``crowd-model sweep --scheduler`` with its address writes
    the serial sweep's files. There is no SLURM here: ``sbatch`` on PATH runs the job script
    on this machine (in its own session; ``scancel`` ends it), which is what a node would run."""
    from dask.distributed import Client
    from dask_jobqueue import SLURMCluster

    spec, serial = reference
    shims = tmp_path / "slurm"
    shims.mkdir()
    for name, text in (("sbatch", SBATCH.format(logs=shims)), ("scancel", SCANCEL)):
        (shims / name).write_text(text)
        (shims / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")
    cluster = SLURMCluster(queue="normal", account="my-project", cores=2, processes=2, memory="4GB",
                           walltime="00:20:00", python=sys.executable, local_directory=str(tmp_path),
                           log_directory=str(shims))
    try:
        cluster.scale(jobs=1)
        with Client(cluster.scheduler_address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=180)  # a loaded machine starts them slowly
        assert cli.main(["sweep", str(spec), "--out", str(tmp_path / "slurm-sweep"), "--no-progress",
                         "--scheduler", cluster.scheduler_address]) == 0
    finally:
        cluster.close()
    same_files(serial, tmp_path / "slurm-sweep")
    assert list(shims.glob("job-*.log")), "the job script did not run"
