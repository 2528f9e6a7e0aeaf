"""Calibration by ABC-SMC: known parameters recovered from synthetic model data; the same
posterior on any executor; bad files refused with one line."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from crowd_model import cli
from crowd_model.parameters import Parameters
from crowd_model.runner import simulate
from crowd_model.scenario import load_scenario

SPEC = """
scenario = "epstein"
steps = {steps}
seed = 4
[set]
width = 15
height = 15
officer_density = 0.04
[fit]
legitimacy = {{ low = 0.4, high = 0.95 }}
[target]
file = "observed.csv"
statistics = ["mean_active", "arrests_total"]
[abc]
particles = {particles}
replications = {replications}
generations = {generations}
quantile = 0.5
[truth]
legitimacy = 0.7
"""


def _observed(folder, steps: int, seeds=(101, 102, 103)) -> None:
    """'Data': outcomes of runs of the model at legitimacy 0.7."""
    base = Parameters.from_mapping({"width": 15, "height": 15, "officer_density": 0.04, "legitimacy": 0.7},
                                   base=load_scenario("epstein").parameters)
    pd.DataFrame([simulate(base, steps, seed, "epstein").outcomes for seed in seeds]).to_csv(
        folder / "observed.csv", index=False)


@pytest.mark.slow
def test_abc_smc_recovers_a_known_legitimacy_from_synthetic_data(tmp_path, capsys):
    _observed(tmp_path, steps=60)
    spec = tmp_path / "cal.toml"
    spec.write_text(SPEC.format(steps=60, particles=20, replications=3, generations=2))
    out = tmp_path / "out"
    assert cli.main(["calibrate", str(spec), "--out", str(out), "--workers", "2"]) == 0
    summary = pd.read_csv(out / "posterior_summary.csv").set_index("parameter")
    row = summary.loc["legitimacy"]
    assert row["ci_low"] <= 0.7 <= row["ci_high"]
    assert row["ci_high"] - row["ci_low"] < 0.5 * (0.95 - 0.4)  # the data narrowed the prior
    meta = json.loads((out / "metadata.json").read_text())
    epsilons = [g["epsilon"] for g in meta["generations"][1:]]
    assert epsilons == sorted(epsilons, reverse=True)
    assert (out / "posterior.png").stat().st_size > 1000
    particles = pd.read_csv(out / "particles.csv")
    assert sorted(particles["generation"].unique()) == [0, 1, 2]
    assert "legitimacy" in capsys.readouterr().out


def test_the_same_posterior_on_one_process_and_a_pool(tmp_path, capsys):
    _observed(tmp_path, steps=10, seeds=(1,))
    spec = tmp_path / "cal.toml"
    spec.write_text(SPEC.format(steps=10, particles=6, replications=1, generations=1))
    for workers in ("1", "2"):
        assert cli.main(["calibrate", str(spec), "--out", str(tmp_path / workers), "--workers", workers]) == 0
    for name in ("particles.csv", "posterior.csv", "posterior_summary.csv"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name
    assert len(pd.read_csv(tmp_path / "1" / "posterior.csv")) == 6


@pytest.mark.parametrize("change, message", [
    (lambda s: s.replace("legitimacy = { low", "legitimcy = { low"), "legitimcy"),
    (lambda s: s.replace('"arrests_total"]', '"arrests"]'), "no column(s) ['arrests']"),
    (lambda s: s.replace("quantile = 0.5", "quantile = 1.5"), "quantile must be"),
    (lambda s: s.replace("[abc]", "[abc]\nsteps = 3"), "[abc]: unknown key(s) ['steps']"),
])
def test_bad_calibration_files_stop_with_one_line(tmp_path, capsys, change, message):
    _observed(tmp_path, steps=5, seeds=(1,))
    spec = tmp_path / "bad.toml"
    spec.write_text(change(SPEC.format(steps=5, particles=6, replications=1, generations=1)))
    assert cli.main(["calibrate", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
