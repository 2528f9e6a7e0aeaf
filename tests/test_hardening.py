"""Issue 9 (command line and sweeps): bounded sizes, bad input refused in one line, safe writes.

Each bad input must end with exit code 2, exactly one line on stderr and no traceback,
before any run starts (checked by making any run fail the test, and by timing).
"""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest

import crowd_model.experiments.executors  # noqa: F401  (imported here, so timings below measure the checks alone)
import crowd_model.experiments.sweep  # noqa: F401
import crowd_model.runner  # noqa: F401
from crowd_model import cli
from crowd_model.errors import InputError
from crowd_model.experiments.condition import Condition
from crowd_model.experiments.spec import load_experiment
from crowd_model.limits import BYTES_PER_STEP, Limits, check_run
from small_site import SITE, SITE_SETS

SMALL_RUN = ["--set", "width=10", "--set", "height=10", "--steps", "3"]



@pytest.fixture
def no_runs(monkeypatch):
    """Any run started fails the test: a refusal must come before the first run (the
    zero-step probe that reads an experiment's metric names is no run)."""
    from crowd_model import runner

    real = runner.simulate

    def forbidden(parameters, steps, *args, **kwargs):
        if steps:
            raise AssertionError("a run started")
        return real(parameters, steps, *args, **kwargs)

    monkeypatch.setattr(runner, "simulate", forbidden)


def refused(capsys, *args) -> str:
    """The command's one-line refusal (exit code 2). That it comes before any run is checked by
    the :func:`no_runs` fixture, not by a clock: a timed test fails on a loaded machine."""
    code = cli.main([str(a) for a in args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("crowd-model: error: "), err
    assert "Traceback" not in err
    return err


def spec(tmp_path: Path, body: str, name="exp") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(body)
    return path


EXPERIMENT = """
scenario = "epstein"
steps = {steps}
replications = {replications}
seed = 1
design = "{design}"
{top}
[set]
{sets}
[vary]
{vary}
{more}
"""


def experiment(tmp_path, steps=5, replications=1, design="grid", top="", sets="width = 10\nheight = 10",
               vary="legitimacy = [0.7, 0.8]", more="", name="exp") -> Path:
    return spec(tmp_path, EXPERIMENT.format(steps=steps, replications=replications, design=design, top=top,
                                            sets=sets, vary=vary, more=more), name)


# --- 1. bounded sizes --------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(replications=10**9), "is 2,000,000,000, above the limit of 100,000"),
    (dict(design="lhs", top="n = 1000000000", vary="legitimacy = { low = 0.6, high = 0.9 }"), "--max-runs"),
    (dict(design="sobol", top=f"n = {2**40}", vary="legitimacy = { low = 0.6, high = 0.9 }"), "--max-runs"),
    (dict(vary="legitimacy = { start = 0.0, stop = 0.999, step = 0.001 }\n"
               "arrest_constant = { start = 0.0, stop = 99.9, step = 0.1 }"), "1,000,000 design points x 1"),
    (dict(steps=1_000_000, replications=500), "timeseries.csv would hold"),
    (dict(steps=10**12), "above the limit"),
    (dict(sets="width = 2000\nheight = 2000", vary="legitimacy = [0.7]"), "--max-cells"),
    (dict(sets="", vary="width = [10, 1500]\nheight = [10, 1500]"), "1500x1500"),
])
def test_a_sweep_plan_too_big_is_refused_at_once(tmp_path, capsys, no_runs, kwargs, fragment):
    err = refused(capsys, "sweep", experiment(tmp_path, **kwargs), "--out", tmp_path / "out")
    assert fragment in err
    assert not (tmp_path / "out").exists()


def test_limits_are_raised_in_the_file_or_on_the_command_line(tmp_path, capsys, no_runs):
    path = experiment(tmp_path, replications=3, more="[limits]\nmax_runs = 5")
    with pytest.raises(InputError, match="is 6, above the limit of 5"):
        load_experiment(path)
    assert load_experiment(path, limits={"max_runs": 6}).replications == 3
    assert load_experiment(experiment(tmp_path, replications=3, more="[limits]\nmax_runs = 6", name="b"))
    assert "max_runs" in refused(capsys, "sweep", experiment(tmp_path, more="[limits]\nmax_runns = 6", name="c"))
    assert "positive integer" in refused(capsys, "sweep", experiment(tmp_path, more="[limits]\nmax_runs = -1", name="d"))


def test_run_refuses_too_many_steps_or_cells_at_once(capsys, no_runs):
    assert "--max-steps" in refused(capsys, "run", "--steps", 2_000_000)
    assert "memory" in refused(capsys, "run", "--steps", 10**13, "--max-steps", 10**13)
    assert "--max-cells" in refused(capsys, "run", "--set", "width=2000", "--set", "height=2000")
    assert "--max-steps N" in refused(capsys, "run", "--steps", 100, "--max-steps", 99)


def test_run_help_says_what_a_run_stores():
    text = cli.build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    assert "one row of its time series per step" in text and f"{BYTES_PER_STEP / 1000:.1f} KB" in text
    assert "--max-steps" in text and "--max-cells" in text


def test_check_run_counts_memory():
    with pytest.raises(InputError, match="GiB"):
        check_run(10**12, 10, 10, Limits(max_steps=10**13))
    check_run(100, 10, 10)


# --- 2. inputs that used to crash --------------------------------------------------------


BINARY = b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00binary"


def test_binary_files_are_refused_in_one_line(tmp_path, capsys, no_runs):
    scenario = tmp_path / "bin.toml"
    scenario.write_bytes(BINARY)
    assert "not a UTF-8 text file" in refused(capsys, "run", "--scenario", scenario)
    assert "not a UTF-8 text file" in refused(capsys, "sweep", scenario)
    site = tmp_path / "map.txt"
    site.write_bytes(BINARY)
    assert "not a UTF-8 text file" in refused(capsys, "run", "--set", f"site={site}", *SITE_SETS)
    latin = tmp_path / "latin.toml"
    latin.write_bytes("description = \"caf\xe9\"\n".encode("latin-1"))
    assert "not a UTF-8 text file" in refused(capsys, "run", "--scenario", latin)


@pytest.mark.parametrize("schedule, fragment", [
    ('{ schedule = "step", at = inf, before = 0.9, after = 0.7 }', "finite"),
    ('{ schedule = "step", at = nan, before = 0.9, after = 0.7 }', "finite"),
    ('{ schedule = "step", at = 10, before = nan, after = 0.7 }', "finite"),
    ('{ schedule = "step", at = 10, before = 0.9, after = -inf }', "finite"),
    ('{ schedule = "ramp", start = inf, end = 20, from = 0.9, to = 0.7 }', "finite"),
    ('{ schedule = "ramp", start = 0, end = 20, from = 0.9, to = nan }', "finite"),
    ('{ schedule = "points", points = [[0, 0.9], [10, nan]] }', "finite"),
    ('{ schedule = "points", points = [[0, 0.9], [10, inf]] }', "finite"),
    ('{ schedule = "step", at = 10.7, before = 0.9, after = 0.7 }', "integer"),
    ('{ schedule = "step", at = -3, before = 0.9, after = 0.7 }', "integer >= 1"),
    ('{ schedule = "ramp", start = -5, end = 20, from = 0.9, to = 0.7 }', "integer >= 0"),
    ('{ schedule = "points", points = [[-1, 0.9], [10, 0.7]] }', "integer >= 0"),
    ('{ schedule = "points", points = [[0.5, 0.9], [10, 0.7]] }', "integer >= 0"),
])
def test_bad_schedules_are_refused_at_parse_time(tmp_path, capsys, no_runs, schedule, fragment):
    scenario = spec(tmp_path, f"steps = 5\n[parameters]\nwidth = 10\nheight = 10\nlegitimacy = {schedule}\n", "sc")
    assert fragment in refused(capsys, "run", "--scenario", scenario)
    sweep = experiment(tmp_path, sets=f"width = 10\nheight = 10\nlegitimacy = {schedule}",
                       vary="officer_density = [0.02, 0.04]")
    assert fragment in refused(capsys, "sweep", sweep, "--out", tmp_path / "out")


def site_file(tmp_path: Path, text: str, name="map") -> Path:
    path = tmp_path / f"{name}.txt"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, fragment", [
    (SITE.replace("C", "."), "cordon line (C)"),
    # the assembly area walled in by facilities: nobody could ever leave
    ("SSSSSSSSSS\n####GG####\n....W.....\nCCCCCCCCCC\n..........\nEFFFFFFFFE\nEFAAAAAAFE\nEFFFFFFFFE\n",
     "cannot walk to any exit"),
    # the gate behind an unbroken fence row and office: no civilian can reach it
    ("SSSSGSSSSS\n##########\n....W.....\nCCCCCCCCCC\n..........\nEAAAAAAAAE\nEAAAAAAAAE\nEEEEEEEEEE\n",
     "can walk to the gate"),
    (SITE.replace("W", "."), "no water-cannon position (W)"),
])
def test_degenerate_site_maps_are_refused(tmp_path, capsys, no_runs, text, fragment):
    path = site_file(tmp_path, text)
    assert fragment in refused(capsys, "run", "--set", f"site={path}", *SITE_SETS)


def test_a_site_without_cannon_runs_with_water_cannons_0(tmp_path, capsys):
    path = site_file(tmp_path, SITE.replace("W", "."))
    assert cli.main(["run", "--set", f"site={path}", *SITE_SETS, "--set", "water_cannons=0", "--steps", "3"]) == 0


def test_deep_or_long_stop_conditions_are_refused(tmp_path, capsys, no_runs):
    for when, fragment in (("not " * 300 + "active == 0", "nested"),
                           ("(" * 300 + "active" + ")" * 300 + " == 0", "not a valid expression"),
                           (" + ".join(["active"] * 100_000) + " == 0", "characters long"),
                           (" + ".join(["active"] * 60) + " == 0", "nested")):
        path = experiment(tmp_path, more=f'[stop]\nwhen = "{when}"')
        assert fragment in refused(capsys, "sweep", path, "--out", tmp_path / "out")
    assert load_experiment(experiment(tmp_path, more='[stop]\nwhen = "not (active + violent == 0 or arrested > 5)"'))
    for text in ("not " * 100_000 + "active", " + ".join(["active"] * 200_000), "-" * 5000 + "active"):
        with pytest.raises(InputError):
            Condition(text)


def test_out_that_cannot_be_written_fails_before_the_run(tmp_path, capsys, no_runs):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "exists and is not a folder" in refused(capsys, "run", *SMALL_RUN, "--out", afile)
    assert "cannot be written" in refused(capsys, "run", *SMALL_RUN, "--out", afile / "sub")
    path = experiment(tmp_path)
    assert "exists and is not a folder" in refused(capsys, "sweep", path, "--out", afile)


def test_a_write_error_leaves_no_partial_file_and_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    import os

    real_fsync = os.fsync

    def full_disk(fd):
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(".timeseries.csv"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr("crowd_model.files.os.fsync", full_disk)
    out = tmp_path / "out"
    code = cli.main(["run", *SMALL_RUN, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "No space left on device" in err and "timeseries.csv" in err
    assert sorted(p.name for p in out.iterdir()) == []  # no file, no temporary, no lock left


def test_result_files_are_renamed_into_place(tmp_path, monkeypatch):
    from crowd_model import files

    seen = []
    real = files.os.replace
    def replace(a, b):
        if Path(b).parent == tmp_path:
            seen.append((Path(a).name, Path(b).name))
        return real(a, b)

    monkeypatch.setattr(files.os, "replace", replace)
    assert cli.main(["run", *SMALL_RUN, "--out", str(tmp_path)]) == 0
    assert seen == [(".timeseries.csv.tmp", "timeseries.csv"), (".outcomes.csv.tmp", "outcomes.csv"),
                    (".metadata.json.tmp", "metadata.json")]


def test_a_sweep_whose_runs_fail_exits_non_zero_with_the_first_error(tmp_path, capsys, monkeypatch):
    from crowd_model.experiments import worker

    real = worker.simulate

    def boom(parameters, *args, **kwargs):
        if parameters.legitimacy > 0.75 or fail_all:
            raise RuntimeError("boom")
        return real(parameters, *args, **kwargs)

    monkeypatch.setattr(worker, "simulate", boom)
    path = experiment(tmp_path)
    fail_all = True
    code = cli.main(["sweep", str(path), "--out", str(tmp_path / "a"), "--workers", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_ALL_FAILED == 1
    assert err.count("\n") == 1 and "every run failed: 2 of 2" in err and "first error: RuntimeError: boom" in err
    fail_all = False
    code = cli.main(["sweep", str(path), "--out", str(tmp_path / "b"), "--workers", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_SOME_FAILED == 3
    assert "some runs failed: 1 of 2" in err and "RuntimeError: boom" in err


def test_smaller_input_faults(tmp_path, capsys, no_runs):
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    assert "is a directory" in refused(capsys, "run", "--scenario", folder)
    assert "is a directory" in refused(capsys, "run", "--scenario", tmp_path)
    assert "is a directory" in refused(capsys, "sweep", tmp_path)
    assert "is a directory" in refused(capsys, "run", "--set", f"site={tmp_path}", *SITE_SETS)
    assert "is not a regular file" in refused(capsys, "run", "--scenario", "/dev/null")
    assert "is not a regular file" in refused(capsys, "run", "--set", "site=/dev/zero", *SITE_SETS)
    err = refused(capsys, "run", "--set", "legitimacy=0.5", "--set", "legitimacy=0.6")
    assert "--set legitimacy is given twice" in err


def test_a_write_error_in_a_sweep_is_one_line_and_resume_completes_it(tmp_path, capsys, monkeypatch):
    from crowd_model.experiments import storage

    path = experiment(tmp_path, vary="legitimacy = [0.6, 0.7, 0.8]")
    out = tmp_path / "out"
    real, calls = storage._write_all, []

    def full_disk(fd, data):
        calls.append(fd)
        if len(calls) == 4:  # the second run's time series
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(storage, "_write_all", full_disk)
    code = cli.main(["sweep", str(path), "--out", str(out), "--workers", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "No space left on device" in err and "cannot write" in err
    monkeypatch.setattr(storage, "_write_all", real)
    assert cli.main(["sweep", str(path), "--out", str(out), "--resume", "--workers", "1", "--no-progress"]) == 0
    assert cli.main(["sweep", str(path), "--out", str(tmp_path / "straight"), "--workers", "1", "--no-progress"]) == 0
    for name in ("outcomes.csv", "timeseries.csv", "checksums.csv"):
        assert (out / name).read_bytes() == (tmp_path / "straight" / name).read_bytes()


def test_bad_input_through_the_real_command_has_no_traceback(tmp_path):
    scenario = tmp_path / "bin.toml"
    scenario.write_bytes(BINARY)
    out = subprocess.run([sys.executable, "-m", "crowd_model", "run", "--scenario", str(scenario)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
