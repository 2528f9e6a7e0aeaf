"""Calibration by pyabc's ABC-SMC (``method = "pyabc"``): known parameters recovered from
synthetic model data; the same particles on one process and a pool; pyabc's database in the
result folder; bad files refused with one line."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from crowd_model import cli

from test_calibrate import (
    FIT, OUTCOME_TARGET, _observed, _refused, _same_on_one_process_and_a_pool, budget_file, reaches_max_simulations,
)

pytest.importorskip("pyabc")

SPEC = FIT.replace("METHOD", "pyabc").replace("TARGET", OUTCOME_TARGET) + """[pyabc]
particles = {particles}
replications = {replications}
generations = {generations}
quantile = 0.5
"""


@pytest.mark.slow
def test_pyabc_recovers_a_known_legitimacy_from_synthetic_data(tmp_path, capsys):
    """The data: three runs at legitimacy 0.7; the 95% credible interval holds 0.7 and is less
    than half the prior's width; the files and the figure are those of our own ABC-SMC, and
    pyabc's database beside them holds the same generations."""
    import pyabc

    _observed(tmp_path, steps=60)
    spec = tmp_path / "cal.toml"
    spec.write_text(SPEC.format(steps=60, particles=20, replications=3, generations=2))
    out = tmp_path / "out"
    assert cli.main(["calibrate", str(spec), "--out", str(out), "--workers", "2"]) == 0
    summary = pd.read_csv(out / "posterior_summary.csv").set_index("parameter")
    row = summary.loc["legitimacy"]
    assert row["ci_low"] <= 0.7 <= row["ci_high"], row
    assert row["ci_high"] - row["ci_low"] < 0.5 * (0.95 - 0.4), row
    meta = json.loads((out / "metadata.json").read_text())
    assert [g["generation"] for g in meta["generations"]] == [0, 1, 2] and not meta["stopped"]
    particles = pd.read_csv(out / "particles.csv")
    assert sorted(particles["generation"].unique()) == [0, 1, 2]
    assert (out / "posterior.png").stat().st_size > 1000
    history = pyabc.History(f"sqlite:///{out / 'pyabc.db'}")
    assert history.max_t == 2
    frame, weights = history.get_distribution(m=0, t=2)
    posterior = pd.read_csv(out / "posterior.csv")
    assert sorted(frame["legitimacy"]) == pytest.approx(sorted(posterior["legitimacy"]))
    assert "legitimacy" in capsys.readouterr().out


def test_pyabc_gives_the_same_particles_on_one_process_and_a_pool(tmp_path, capsys):
    """Each evaluation is seeded from the file's seed and the first accepted ones are kept in
    their order, so the pool's particles equal the serial run's byte for byte."""
    _observed(tmp_path, steps=10, seeds=(1,))
    _same_on_one_process_and_a_pool(tmp_path, SPEC.format(steps=10, particles=6, replications=1, generations=1),
                                    ("particles.csv", "posterior.csv", "posterior_summary.csv"))
    particles = pd.read_csv(tmp_path / "1" / "particles.csv")
    assert sorted(particles["generation"].unique()) == [0, 1] and len(particles) == 12
    assert particles["legitimacy"].nunique() == 12  # no two evaluations drew alike
    meta = json.loads((tmp_path / "1" / "metadata.json").read_text())
    assert meta["simulations"] == meta["calibration_sample"] + sum(g["simulations"] for g in meta["generations"])
    assert (tmp_path / "1" / "pyabc.db").stat().st_size > 0
    out = capsys.readouterr()
    assert "by pyabc" in out.out and "calibration sample (the prior): 6 proposals" in out.err


def test_pyabc_that_reaches_max_simulations_keeps_the_generations_it_finished(tmp_path, capsys):
    reaches_max_simulations(tmp_path, capsys, SPEC, "pyabc", 80)
    assert json.loads((tmp_path / "out" / "metadata.json").read_text())["simulations"] <= 80  # pyabc's sampler stops at it


@pytest.mark.parametrize("change, message", [
    (lambda s: s.replace('method = "pyabc"', 'method = "pyabcc"'),
     "method 'pyabcc' is not allowed; expected one of: abc, pyabc, optimise"),
    (lambda s: s.replace("[pyabc]", "[abc]"), "[abc] goes with method = 'abc'; this file's method is 'pyabc'"),
    (lambda s: s.replace("[pyabc]", "[pyabc]\npopsize = 4"), "[pyabc]: unknown key(s) ['popsize']"),
    (lambda s: s.replace("quantile = 0.5", "quantile = 0"), "[pyabc] quantile must be"),
    (lambda s: s.replace("[pyabc]", "[pyabc]\nmax_simulations = 5"), "[pyabc] generation 0 alone needs 6 runs"),
])
def test_bad_pyabc_files_stop_with_one_line(tmp_path, capsys, change, message):
    _observed(tmp_path, steps=5, seeds=(1,))
    _refused(tmp_path, capsys, change(SPEC.format(steps=5, particles=6, replications=1, generations=1)), message)


def test_pyabc_missing_is_one_line(tmp_path, capsys, monkeypatch):
    """Without the 'calibrate' extra, method = "pyabc" names the extra to install."""
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyabc" else find_spec(name, *a))
    _observed(tmp_path, steps=5, seeds=(1,))
    _refused(tmp_path, capsys, SPEC.format(steps=5, particles=6, replications=1, generations=1),
             "method = \"pyabc\" needs pyabc: install the 'calibrate' extra")


def test_pyabc_that_finishes_no_generation_says_so_in_one_line(tmp_path, capsys):
    """A budget that the calibration sample and generation 0 exceed: exit 2, one line naming
    max_simulations and the database that holds what was run."""
    budget_file(tmp_path, SPEC, "pyabc", 10)
    assert cli.main(["calibrate", str(tmp_path / "cal.toml"), "--out", str(tmp_path / "out")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "finished no generation within max_simulations = 10" in err[0], err
    assert "Traceback" not in err[0]
