"""Analysis from result files: summaries, figures, and Sobol' indices checked on Ishigami."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crowd_model import cli
from crowd_model.analysis.sensitivity import small_design_note
from crowd_model.experiments.design import sobol_design
from crowd_model.experiments.executors import make_executor
from crowd_model.experiments.spec import load_experiment
from crowd_model.experiments.sweep import run_sweep

ISHIGAMI_S1 = [0.3139, 0.4424, 0.0]
ISHIGAMI_ST = [0.5576, 0.4424, 0.2437]


def ishigami(x1, x2, x3, a=7.0, b=0.1):
    """Ishigami & Homma (1990); indices from Saltelli et al. (2008), Global Sensitivity Analysis."""
    return np.sin(x1) + a * np.sin(x2) ** 2 + b * x3 ** 4 * np.sin(x1)


def write_sweep_folder(path, design: pd.DataFrame, outcomes: pd.DataFrame, varied, outcome_columns):
    """A result folder laid out as ``crowd-model sweep`` writes one (``varied``: the ordered
    list of entries a sweep writes, or the name-keyed mapping older sweeps wrote)."""
    path.mkdir()
    design.to_csv(path / "design.csv", index=False)
    outcomes.to_csv(path / "outcomes.csv", index=False)
    pd.DataFrame(columns=["run_id", "step", "y"]).to_csv(path / "timeseries.csv", index=False)
    meta = {"design": {"type": "sobol", "varied": varied}, "outcome_columns": outcome_columns, "root_seed": 3}
    (path / "metadata.json").write_text(json.dumps(meta))


def _ishigami_folder(folder, order, legacy_metadata=False):
    bounds = {name: (-np.pi, np.pi) for name in order}
    design = sobol_design(bounds, 2**12, np.random.default_rng(5))
    y = ishigami(design["x1"], design["x2"], design["x3"])
    outcomes = pd.DataFrame({"run_id": [f"r{p}" for p in design["point"]], "point": design["point"], "replicate": 0,
                             "seed": 0, **{n: design[n] for n in order}, "y": y, "status": "ok", "error": ""})
    if legacy_metadata:
        varied = {n: {"low": lo, "high": hi} for n, (lo, hi) in sorted(bounds.items())}
    else:
        varied = [{"name": n, "low": lo, "high": hi} for n, (lo, hi) in bounds.items()]
    write_sweep_folder(folder, design, outcomes, varied, ["y"])
    return folder


@pytest.mark.parametrize("order", [("x1", "x2", "x3"), ("x3", "x1", "x2"), ("x2", "x3", "x1")])
@pytest.mark.parametrize("legacy_metadata", [False, True])
def test_ishigami_indices_through_the_sweep_analysis(tmp_path, order, legacy_metadata):
    """Each parameter keeps its own indices whatever the order of [vary], also in folders
    whose metadata stored the varied parameters sorted by name."""
    folder = _ishigami_folder(tmp_path / "ishigami", order, legacy_metadata)
    assert cli.main(["analyse", str(folder)]) == 0
    table = pd.read_csv(folder / "sensitivity.csv").set_index("parameter")
    assert list(table.index) == list(order)
    table = table.loc[["x1", "x2", "x3"]]
    np.testing.assert_allclose(table["S1"], ISHIGAMI_S1, atol=0.03)
    np.testing.assert_allclose(table["ST"], ISHIGAMI_ST, atol=0.03)
    for key, truth in (("S1", ISHIGAMI_S1), ("ST", ISHIGAMI_ST)):
        assert (table[f"{key}_low"] <= np.array(truth) + 0.01).all()
        assert (table[f"{key}_high"] >= np.array(truth) - 0.01).all()
        assert (table[f"{key}_high"] - table[f"{key}_low"] < 0.15).all()
    assert (folder / "figures" / "sobol_y.png").stat().st_size > 1000
    # the same files give the same intervals
    first = (folder / "sensitivity.csv").read_bytes()
    assert cli.main(["analyse", str(folder)]) == 0
    assert (folder / "sensitivity.csv").read_bytes() == first


SOBOL_ORDER = """
scenario = "epstein"
steps = 60
seed = 3
design = "sobol"
n = 64
[set]
width = 20
height = 20
[vary]
"""
SOBOL_RANGES = {"legitimacy": "{ low = 0.5, high = 0.95 }", "water_cannon_range": "{ low = 2, high = 20 }",
                "officer_density": "{ low = 0.02, high = 0.06 }"}


@pytest.mark.parametrize("order", [("water_cannon_range", "legitimacy", "officer_density"),
                                   ("legitimacy", "officer_density", "water_cannon_range")])
def test_sobol_indices_follow_the_parameters_through_a_model_sweep(tmp_path, order, capsys):
    """Epstein on the open grid: legitimacy drives peak_active, the water cannon's range
    (no site, no cannon) does nothing. In any [vary] order, the indices say so."""
    spec = tmp_path / "order.toml"
    spec.write_text(SOBOL_ORDER + "".join(f"{name} = {SOBOL_RANGES[name]}\n" for name in order))
    out = tmp_path / "out"
    assert cli.main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    meta = json.loads((out / "metadata.json").read_text())
    assert [entry["name"] for entry in meta["design"]["varied"]] == list(order)
    assert cli.main(["analyse", str(out), "--metric", "peak_active"]) == 0
    table = pd.read_csv(out / "sensitivity.csv").set_index("parameter")
    assert list(table.index) == list(order)
    assert table.loc["legitimacy", "ST"] > 0.5
    assert table.loc["water_cannon_range", "ST"] < 0.15
    assert abs(table.loc["water_cannon_range", "S1"]) < 0.15
    assert table["ST"].idxmin() == "water_cannon_range"


def test_small_sobol_design_is_flagged(tmp_path, capsys):
    bounds = {f"p{i}": (0.0, 1.0) for i in range(6)}
    small = sobol_design(bounds, 16, np.random.default_rng(1))
    large = sobol_design(bounds, 256, np.random.default_rng(1))
    assert small_design_note(small, list(bounds)) is not None
    assert "n = 16 is small for 6 varied parameters" in small_design_note(small, list(bounds))
    assert small_design_note(large, list(bounds)) is None
    spec = tmp_path / "small.toml"
    spec.write_text(BASE + 'design = "sobol"\nn = 8\n[set]\nwidth = 12\nheight = 12\n[vary]\n'
                    + "".join(f"{name} = {SOBOL_RANGES[name]}\n" for name in SOBOL_RANGES))
    assert cli.main(["sweep", str(spec), "--out", str(tmp_path / "s"), "--workers", "1", "--no-progress"]) == 0
    assert "warning: n = 8 is small for 3 varied parameters" in capsys.readouterr().err
    assert cli.main(["analyse", str(tmp_path / "s")]) == 0
    assert "n = 8 is small" in capsys.readouterr().err


def _sweep(tmp_path, text: str, name: str):
    spec = tmp_path / f"{name}.toml"
    spec.write_text(text + SMALL_GRID)
    with make_executor(1) as (executor, label, in_flight):
        run_sweep(load_experiment(spec), tmp_path / name, executor, in_flight=in_flight, progress=False)
    return tmp_path / name


BASE = """
scenario = "epstein"
steps = 20
seed = 4
"""
SMALL_GRID = "[set]\nwidth = 12\nheight = 12\n"


def test_grid_summary_intervals_and_figures(tmp_path):
    out = _sweep(tmp_path, BASE + 'replications = 3\ndesign = "grid"\n[vary]\nlegitimacy = [0.5, 0.8]\n'
                 'officer_density = [0.02, 0.05]\n', "grid")
    assert cli.main(["analyse", str(out), "--figure-format", "png", "--figure-format", "svg"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    outcomes = pd.read_csv(out / "outcomes.csv")
    row = summary[(summary["metric"] == "peak_active") & (summary["point"] == 2)].iloc[0]
    values = outcomes.loc[outcomes["point"] == 2, "peak_active"].to_numpy(dtype=float)
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
    assert row["n"] == 3 and row["mean"] == pytest.approx(values.mean())
    assert row["ci_low"] == pytest.approx(values.mean() - half) and row["ci_high"] == pytest.approx(values.mean() + half)
    assert row["legitimacy"] == 0.8 and row["officer_density"] == 0.02
    for name in ("phase_peak_active.png", "phase_peak_active.svg", "timeseries.png"):
        assert (out / "figures" / name).stat().st_size > 1000
    assert not (out / "sensitivity.csv").exists()


def test_sobol_sweep_of_the_model_gives_indices(tmp_path):
    out = _sweep(tmp_path, BASE + 'design = "sobol"\nn = 8\n[vary]\nlegitimacy = { low = 0.3, high = 0.95 }\n'
                 'officer_density = { low = 0.01, high = 0.08 }\n', "sobol")
    assert len(pd.read_csv(out / "outcomes.csv")) == 8 * (2 + 2)
    assert cli.main(["analyse", str(out), "--metric", "peak_active"]) == 0
    table = pd.read_csv(out / "sensitivity.csv")
    assert list(table["parameter"]) == ["legitimacy", "officer_density"]
    assert table[["S1", "ST", "S1_low", "ST_high"]].notna().all().all()
    assert (out / "figures" / "sobol_peak_active.png").exists()


def test_lhs_sweep_analyse(tmp_path):
    out = _sweep(tmp_path, BASE + 'design = "lhs"\nn = 6\n[vary]\nlegitimacy = { low = 0.3, high = 0.95 }\n', "lhs")
    assert cli.main(["analyse", str(out), "--metric", "peak_active"]) == 0
    assert (out / "figures" / "scatter_peak_active.png").exists()
    assert len(pd.read_csv(out / "summary.csv").query("metric == 'peak_active'")) == 6


def test_analyse_drops_a_line_cut_off_by_a_kill(tmp_path):
    out = _sweep(tmp_path, BASE + 'replications = 2\n[vary]\nlegitimacy = [0.5, 0.8]\n', "cut")
    text = (out / "outcomes.csv").read_text()
    (out / "outcomes.csv").write_text(text[: len(text) - 25])
    assert cli.main(["analyse", str(out)]) == 0
    assert pd.read_csv(out / "summary.csv").query("metric == 'peak_active'")["n"].sum() == 3


def test_analyse_refuses_a_folder_that_is_not_a_sweep(tmp_path, capsys):
    assert cli.main(["analyse", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a sweep result folder" in err[0]


def test_analyse_refuses_an_unknown_metric(tmp_path, capsys):
    out = _sweep(tmp_path, BASE + '[vary]\nlegitimacy = [0.5, 0.8]\n', "m")
    assert cli.main(["analyse", str(out), "--metric", "peak_actve"]) == 2
    assert "peak_actve" in capsys.readouterr().err
