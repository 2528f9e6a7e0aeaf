"""Issue 9: a resumed sweep is complete or refused; one writer per result folder; run ids
and metadata follow the site map's contents."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from crowd_model import cli
from crowd_model.errors import InputError
from crowd_model.experiments.plan import make_plan
from crowd_model.experiments.spec import load_experiment
from crowd_model.files import LOCK_NAME, FolderLock
from small_site import SITE, SITE_SETS, riot_sweep_file
from test_sweeps import experiment_file, same_files, sweep

FILES = ("outcomes.csv", "timeseries.csv", "checksums.csv", "design.csv")


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """An uninterrupted sweep (9 points x 1 replicate, 12 steps), the yardstick."""
    tmp = tmp_path_factory.mktemp("straight")
    spec = experiment_file(tmp, steps=12, replications=1, size=10)
    summary = sweep(spec, tmp / "out")
    assert summary.ok == summary.runs == 9
    return spec, tmp / "out"


def copy_of(folder: Path, to: Path) -> Path:
    to.mkdir()
    for name in FILES + ("metadata.json",):
        (to / name).write_bytes((folder / name).read_bytes())
    return to


def resume(spec: Path, out: Path):
    return sweep(spec, out, resume=True)


def test_checksums_list_every_run_with_its_rows(straight):
    _, out = straight
    sums = pd.read_csv(out / "checksums.csv")
    outcomes = pd.read_csv(out / "outcomes.csv")
    assert list(sums["run_id"]) == list(outcomes["run_id"]) and (sums["rows"] == 13).all()


def tear(cut: int):
    def damage(out: Path) -> None:
        data = (out / "timeseries.csv").read_bytes()
        (out / "timeseries.csv").write_bytes(data[:-cut])

    return damage


def drop_and_edit(out: Path) -> None:
    """Delete a row of the second run and edit a value of the fifth."""
    lines = (out / "timeseries.csv").read_text().splitlines(keepends=True)
    del lines[20]
    lines[60] = lines[60][:-2] + ("7\n" if lines[60][-2] != "7" else "8\n")
    (out / "timeseries.csv").write_text("".join(lines))


@pytest.mark.parametrize("damage, kept", [
    (lambda out: (out / "timeseries.csv").unlink(), 0),  # was: "9 of 9 ok" and an empty time series
    (tear(1), 8),  # a torn last line: the last run's last row was silently lost
    (tear(7), 8),
    (tear(40), 8),
    (drop_and_edit, 7),
    (lambda out: (out / "checksums.csv").unlink(), 0),
], ids=["deleted", "torn-1", "torn-7", "torn-40", "row-dropped-and-edited", "checksums-deleted"])
def test_resume_runs_again_every_run_not_stored_whole(straight, tmp_path, damage, kept):
    spec, ref = straight
    out = copy_of(ref, tmp_path / "out")
    damage(out)
    summary = resume(spec, out)
    assert summary.resumed == kept and summary.ok == 9
    same_files(ref, out, FILES)


@pytest.fixture(scope="module")
def straight_events(tmp_path_factory):
    """An uninterrupted sweep that keeps events (kpu-riot on the small site, 2 points x 2)."""
    tmp = tmp_path_factory.mktemp("straight_events")
    spec = riot_sweep_file(tmp, steps=20)
    summary = sweep(spec, tmp / "out")
    assert summary.ok == summary.runs == 4
    return spec, tmp / "out"


def tear_events(cut: int):
    def damage(out: Path) -> None:
        data = (out / "events.csv").read_bytes()
        (out / "events.csv").write_bytes(data[:-cut])

    return damage


def drop_and_edit_events(out: Path) -> None:
    """Delete an event of the first run and change the unit (column 6) of one of the third's."""
    lines = (out / "events.csv").read_text().splitlines(keepends=True)
    runs = list(dict.fromkeys(line.split(",", 1)[0] for line in lines[1:]))
    del lines[2]
    third = next(i for i, line in enumerate(lines) if line.startswith(runs[2] + ",") and line.split(",")[5])
    fields = lines[third].split(",")
    fields[5] = "tni" if fields[5] != "tni" else "linmas"
    lines[third] = ",".join(fields)
    (out / "events.csv").write_text("".join(lines))


def lose_a_last_event(out: Path) -> None:
    """A run's last event gone while its other files are whole (a write cut at a line's end)."""
    lines = (out / "events.csv").read_text().splitlines(keepends=True)
    (out / "events.csv").write_text("".join(lines[:-1]))


@pytest.mark.parametrize("damage, kept", [
    (lambda out: (out / "events.csv").unlink(), 0),
    (tear_events(1), 3),
    (tear_events(30), 3),
    (lose_a_last_event, 3),
    (drop_and_edit_events, 2),
    (lambda out: (out / "checksums.csv").unlink(), 0),
], ids=["deleted", "torn-1", "torn-30", "last-event-lost", "row-dropped-and-edited", "checksums-deleted"])
def test_resume_runs_again_every_run_whose_events_are_not_stored_whole(straight_events, tmp_path, damage, kept):
    spec, ref = straight_events
    out = tmp_path / "out"
    out.mkdir()
    names = FILES + ("events.csv",)
    for name in names + ("metadata.json",):
        (out / name).write_bytes((ref / name).read_bytes())
    damage(out)
    summary = resume(spec, out)
    assert summary.resumed == kept and summary.ok == 4
    same_files(ref, out, names)


def test_a_second_writer_is_refused_in_one_line(straight, tmp_path, capsys):
    spec, ref = straight
    out = copy_of(ref, tmp_path / "out")
    with FolderLock(out):
        holder = json.loads((out / LOCK_NAME).read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        with pytest.raises(InputError, match=f"in use by another crowd-model process \\(pid {os.getpid()}"):
            resume(spec, out)
        code = cli.main(["sweep", str(spec), "--out", str(out), "--resume", "--workers", "1", "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "in use" in err
        code = cli.main(["run", "--set", "width=10", "--set", "height=10", "--steps", "2", "--out", str(out)])
        assert code == 2 and "in use" in capsys.readouterr().err
        assert cli.main(["analyse", str(out)]) == 2 and "in use" in capsys.readouterr().err
    assert not (out / LOCK_NAME).exists()
    same_files(ref, out, FILES)


def test_a_lock_in_another_process_is_seen(straight, tmp_path):
    spec, ref = straight
    out = copy_of(ref, tmp_path / "out")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from crowd_model.files import FolderLock; "
         f"lock = FolderLock({str(out)!r}).acquire(); print('locked', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(InputError, match=f"pid {holder.pid} on {socket.gethostname()}"):
            resume(spec, out)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_a_stale_lock_of_a_dead_process_is_taken_over(straight, tmp_path):
    spec, ref = straight
    out = copy_of(ref, tmp_path / "out")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": "earlier"}))
    assert resume(spec, out).resumed == 9
    assert not (out / LOCK_NAME).exists()
    same_files(ref, out, FILES)


def site_experiment(tmp_path: Path) -> Path:
    (tmp_path / "map.txt").write_text(SITE)
    path = tmp_path / "site.toml"
    path.write_text(
        'scenario = "epstein"\nsteps = 3\nseed = 2\n[set]\nsite = "' + str(tmp_path / "map.txt") + '"\n'
        "width = 10\nheight = 8\ntorus = false\ncrowd_size = 12\npolice_officers = 6\ntni_soldiers = 0\n"
        "linmas_guards = 0\n[vary]\nlegitimacy = [0.6, 0.8]\n"
    )
    return path


def test_run_ids_and_fingerprint_follow_the_map_contents(tmp_path):
    path = site_experiment(tmp_path)
    before = make_plan(load_experiment(path))
    (tmp_path / "map.txt").write_text(SITE.replace("EAAAAAAAAE\nEEEE", "EAAAA.AAAE\nEEEE"))
    after = make_plan(load_experiment(path))
    assert set(before.canonical_ids).isdisjoint(after.canonical_ids)
    assert before.fingerprint() != after.fingerprint()


def test_an_edited_map_refuses_resume_and_metadata_keeps_the_map(tmp_path):
    path = site_experiment(tmp_path)
    out = tmp_path / "out"
    sweep(path, out)
    meta = json.loads((out / "metadata.json").read_text())
    (record,) = meta["sites"].values()
    assert record["text"] == SITE and len(record["sha256"]) == 64
    assert meta["git_dirty"] in (True, False, None)
    (tmp_path / "map.txt").write_text(SITE.replace("EAAAAAAAAE\nEEEE", "EAAAA.AAAE\nEEEE"))
    with pytest.raises(InputError, match="different sweep"):
        sweep(path, out, resume=True)


def test_run_metadata_keeps_the_map(tmp_path):
    (tmp_path / "map.txt").write_text(SITE)
    args = ["run", "--set", f"site={tmp_path / 'map.txt'}", *SITE_SETS, "--steps", "2", "--out", str(tmp_path / "out")]
    assert cli.main(args) == 0
    meta = json.loads((tmp_path / "out" / "metadata.json").read_text())
    assert meta["sites"][str(tmp_path / "map.txt")]["text"] == SITE and "git_dirty" in meta
