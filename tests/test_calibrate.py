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

OUTCOME_TARGET = 'file = "observed.csv"\nstatistics = ["mean_active", "arrests_total"]'
SERIES_TARGET = 'timeseries = "observed_timeseries.csv"\ncolumns = ["active", "arrested"]'
# A calibration of legitimacy on a small Epstein grid, the truth 0.7: the method's table follows.
FIT = """
scenario = "epstein"
steps = {steps}
seed = 4
method = "METHOD"
[set]
width = 15
height = 15
officer_density = 0.04
[fit]
legitimacy = {{ low = 0.4, high = 0.95 }}
[truth]
legitimacy = 0.7
[target]
TARGET
"""
SPEC = FIT.replace("METHOD", "abc").replace("TARGET", OUTCOME_TARGET) + """[abc]
particles = {particles}
replications = {replications}
generations = {generations}
quantile = 0.5
"""
OPTIMISE = FIT.replace("METHOD", "optimise").replace("TARGET", "{target}") + """[optimise]
popsize = {popsize}
maxiter = {maxiter}
replications = {replications}
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
    _same_on_one_process_and_a_pool(tmp_path, SPEC.format(steps=10, particles=6, replications=1, generations=1),
                                    ("particles.csv", "posterior.csv", "posterior_summary.csv"))
    assert len(pd.read_csv(tmp_path / "1" / "posterior.csv")) == 6


def _same_on_one_process_and_a_pool(folder, text: str, names) -> None:
    """The calibration file ``text`` run in one process (into folder/1) and on a pool of two
    (folder/2) writes the files ``names`` byte for byte alike."""
    spec = folder / "cal.toml"
    spec.write_text(text)
    for workers in ("1", "2"):
        assert cli.main(["calibrate", str(spec), "--out", str(folder / workers), "--workers", workers]) == 0
    for name in names:
        assert (folder / "1" / name).read_bytes() == (folder / "2" / name).read_bytes(), name


@pytest.mark.parametrize("change, message", [
    (lambda s: s.replace("legitimacy = { low", "legitimcy = { low"), "legitimcy"),
    (lambda s: s.replace('"arrests_total"]', '"arrests"]'), "no column(s) ['arrests']"),
    (lambda s: s.replace("quantile = 0.5", "quantile = 1.5"), "quantile must be"),
    (lambda s: s.replace("[abc]", "[abc]\nsteps = 3"), "[abc]: unknown key(s) ['steps']"),
])
def test_bad_calibration_files_stop_with_one_line(tmp_path, capsys, change, message):
    _observed(tmp_path, steps=5, seeds=(1,))
    _refused(tmp_path, capsys, change(SPEC.format(steps=5, particles=6, replications=1, generations=1)), message)


def _refused(folder, capsys, text: str, message: str) -> None:
    """The calibration file ``text`` is refused: exit 2, one line naming ``message``, no
    traceback, and nothing run (no result folder)."""
    spec = folder / "bad.toml"
    spec.write_text(text)
    assert cli.main(["calibrate", str(spec), "--out", str(folder / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (folder / "out").exists()


def _observed_series(folder, steps: int, seeds=(101, 102, 103), every: int = 5) -> pd.DataFrame:
    """'Data': the time series of runs of the model at legitimacy 0.7, every few steps, stacked
    as a sweep's timeseries.csv stacks its runs."""
    base = Parameters.from_mapping({"width": 15, "height": 15, "officer_density": 0.04, "legitimacy": 0.7},
                                   base=load_scenario("epstein").parameters)
    series = pd.concat([simulate(base, steps, seed, "epstein").timeseries.assign(run_id=seed) for seed in seeds])
    series = series[series["step"] % every == 0]
    series.to_csv(folder / "observed_timeseries.csv", index=False)
    return series


@pytest.mark.slow
@pytest.mark.parametrize("target", ["outcomes", "time series"])
def test_optimisation_recovers_a_known_legitimacy(tmp_path, capsys, target):
    """method = "optimise" finds legitimacy 0.7 from outcomes, and from an observed time series
    (the mean path of three runs, every 5th step), within 0.05 of the truth."""
    _observed(tmp_path, steps=60)
    _observed_series(tmp_path, steps=60)
    spec = tmp_path / "opt.toml"
    spec.write_text(OPTIMISE.format(steps=60, target=OUTCOME_TARGET if target == "outcomes" else SERIES_TARGET,
                                    popsize=6, maxiter=5, replications=3))
    out = tmp_path / "out"
    assert cli.main(["calibrate", str(spec), "--out", str(out), "--workers", "2"]) == 0
    optimum = pd.read_csv(out / "optimum.csv").set_index("name")
    assert abs(optimum.loc["legitimacy", "value"] - 0.7) < 0.05, optimum
    evaluations = pd.read_csv(out / "evaluations.csv")
    assert optimum.loc["distance", "value"] == evaluations["distance"].min()
    assert len(evaluations) == json.loads((out / "metadata.json").read_text())["simulations"] / 3
    assert (out / "optimisation.png").stat().st_size > 1000
    assert "legitimacy" in capsys.readouterr().out


def test_a_time_series_target_is_the_mean_path_matched_step_by_step(tmp_path):
    """Each statistic column@step of a time-series target is the mean over the file's rows of
    that step, and a run's statistic is its own value at that step."""
    from crowd_model.experiments.calibrate import _task, load_calibration, run_statistics

    observed = _observed_series(tmp_path, steps=20, seeds=(5, 6), every=10)
    spec = tmp_path / "opt.toml"
    spec.write_text(OPTIMISE.format(steps=20, target=SERIES_TARGET, popsize=2, maxiter=0, replications=1))
    cal = load_calibration(spec)
    means = observed.groupby("step")[["active", "arrested"]].mean()
    assert cal.targets == {f"{c}@{s}": means.loc[s, c] for c in ("active", "arrested") for s in (0, 10, 20)}
    task = _task(cal, ["legitimacy"], [0.6], seed=9)
    run = simulate(task.parameters, 20, 9, "epstein").timeseries.set_index("step")
    assert run_statistics(task) == [float(run.loc[s, c]) for c in ("active", "arrested") for s in (0, 10, 20)]


def test_the_same_optimum_on_one_process_and_a_pool(tmp_path, capsys):
    _observed(tmp_path, steps=10, seeds=(1,))
    _same_on_one_process_and_a_pool(
        tmp_path, OPTIMISE.format(steps=10, target=OUTCOME_TARGET, popsize=3, maxiter=2, replications=2),
        ("evaluations.csv", "optimum.csv"))
    evaluations = pd.read_csv(tmp_path / "1" / "evaluations.csv")
    assert list(evaluations.columns) == ["round", "point", "legitimacy", "distance", "mean_active", "arrests_total"]
    assert evaluations["round"].max() == 2 and len(evaluations) == 5 * 3  # scipy's population is at least 5


@pytest.mark.parametrize("change, message", [
    (lambda s: s.replace('method = "optimise"', 'method = "gradient"'), "method 'gradient' is not allowed"),
    (lambda s: s.replace("[optimise]", "[abc]"), "[abc] goes with method = 'abc'"),
    (lambda s: s.replace("popsize = 3", "popsize = 3\nparticles = 5"), "[optimise]: unknown key(s) ['particles']"),
    (lambda s: s.replace("popsize = 3", "popsize = 3\nmax_simulations = 20"), "may need 50 runs"),
    (lambda s: s.replace('["active", "arrested"]', '["active", "rioting"]'), "['rioting'] are not time-series"),
    (lambda s: s.replace("steps = 10", "steps = 4"), "step 5 is not a step of these runs (0..4)"),
    (lambda s: s.replace('columns = ["active", "arrested"]', ''), "timeseries = ... needs columns"),
    (lambda s: s.replace("replications = 2", "replications = 2\ntol = -1"), "tol must be"),
])
def test_bad_optimisation_files_stop_with_one_line_before_any_run(tmp_path, capsys, change, message):
    _observed_series(tmp_path, steps=10, seeds=(1,))
    _refused(tmp_path, capsys, change(OPTIMISE.format(steps=10, target=SERIES_TARGET, popsize=3, maxiter=4,
                                                      replications=2)), message)


def test_a_folder_with_results_is_not_overwritten(tmp_path, capsys):
    """--out naming a folder that holds results (here a sweep's metadata.json) is refused before
    any run, and the file is left as it was."""
    _observed(tmp_path, steps=5, seeds=(1,))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "metadata.json").write_text('{"a sweep": true}')
    spec = tmp_path / "cal.toml"
    spec.write_text(SPEC.format(steps=5, particles=6, replications=1, generations=1))
    assert cli.main(["calibrate", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "already holds results (metadata.json)" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "out" / "metadata.json").read_text() == '{"a sweep": true}'
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["metadata.json"]


def test_abc_that_reaches_max_simulations_keeps_the_generations_it_finished(tmp_path, capsys):
    """A budget too small for the later generations stops ABC-SMC there: the generations done
    are written (the posterior is the last finished one's) and a warning line says so; a budget
    too small for generation 0 is refused before any run."""
    text = reaches_max_simulations(tmp_path, capsys, SPEC, "abc", 10)
    (tmp_path / "small").mkdir()
    _observed(tmp_path / "small", steps=5, seeds=(1,))
    _refused(tmp_path / "small", capsys, text.replace("[abc]", "[abc]\nmax_simulations = 5"),
             "generation 0 alone needs 6 runs")


def budget_file(folder, spec: str, table: str, budget: int) -> str:
    """Synthetic data in ``folder`` and the calibration file ``spec`` (its method's ``table``)
    with 3 generations, a tight quantile and ``max_simulations = budget``, written to
    folder/cal.toml; returns the file's text without the budget."""
    _observed(folder, steps=5, seeds=(1,))
    text = spec.format(steps=5, particles=6, replications=1, generations=3).replace("quantile = 0.5", "quantile = 0.1")
    (folder / "cal.toml").write_text(text.replace(f"[{table}]", f"[{table}]\nmax_simulations = {budget}"))
    return text


def reaches_max_simulations(folder, capsys, spec: str, table: str, budget: int) -> str:
    """A budget too small for the later generations stops ABC-SMC there: the generations done
    are written, the posterior is the last finished one's, and a warning line says so."""
    text = budget_file(folder, spec, table, budget)
    assert cli.main(["calibrate", str(folder / "cal.toml"), "--out", str(folder / "out")]) == 0
    err = capsys.readouterr().err
    assert "warning: generation" in err and f"within max_simulations = {budget}" in err
    meta = json.loads((folder / "out" / "metadata.json").read_text())
    done = [g["generation"] for g in meta["generations"]]
    assert meta["stopped"] and done[-1] < 3
    particles = pd.read_csv(folder / "out" / "particles.csv")
    assert sorted(particles["generation"].unique()) == done
    assert (pd.read_csv(folder / "out" / "posterior.csv")["generation"] == done[-1]).all()
    return text
