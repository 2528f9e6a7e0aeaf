"""Morris screening: elementary effects checked on a function whose effects are known, through
the same design and analysis code as a model sweep; a small model sweep; parameter groups."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from crowd_model import cli
from crowd_model.experiments.design import morris_design
from crowd_model.experiments.spec import load_experiment
from crowd_model.parameters import parameter_specs

# y = 3 a - 2 b + 0 c + 4 d e with a, c, d, e in [0, 1] and b in [0, 2]. Elementary effects,
# as a share of each range: a 3 and b -4 everywhere (σ = 0), c 0, d 4 e and e 4 d (σ > 0).
BOUNDS = {"a": (0.0, 1.0), "b": (0.0, 2.0), "c": (0.0, 1.0), "d": (0.0, 1.0), "e": (0.0, 1.0)}


def known_effects(x: pd.DataFrame) -> np.ndarray:
    return 3 * x["a"] - 2 * x["b"] + 0 * x["c"] + 4 * x["d"] * x["e"]


def _folder(path, order, n=40):
    bounds = {name: BOUNDS[name] for name in order}
    design = morris_design(bounds, n, 4, np.random.default_rng(9))
    y = known_effects(design)
    outcomes = pd.DataFrame({"run_id": [f"r{p}" for p in design["point"]], "point": design["point"], "replicate": 0,
                             "seed": 0, **{k: design[k] for k in order}, "y": y, "status": "ok", "error": ""})
    path.mkdir()
    design.to_csv(path / "design.csv", index=False)
    outcomes.to_csv(path / "outcomes.csv", index=False)
    pd.DataFrame(columns=["run_id", "step", "y"]).to_csv(path / "timeseries.csv", index=False)
    varied = [{"name": k, "low": lo, "high": hi} for k, (lo, hi) in bounds.items()]
    meta = {"design": {"type": "morris", "n": n, "levels": 4, "varied": varied}, "outcome_columns": ["y"],
            "root_seed": 3}
    (path / "metadata.json").write_text(json.dumps(meta))
    return design, y


@pytest.mark.parametrize("order", [("a", "b", "c", "d", "e"), ("e", "c", "a", "d", "b")])
def test_known_elementary_effects_through_the_sweep_analysis(tmp_path, order):
    folder = tmp_path / "morris"
    design, y = _folder(folder, order)
    # the engine's trajectories: d + 1 rows each, one parameter changed per step, on 4 levels
    assert len(design) == 40 * 6 and list(design.columns[4:]) == list(order)
    for _, rows in design.groupby("sample"):
        assert sorted(rows["column"]) == [-1, 0, 1, 2, 3, 4]
        assert (np.count_nonzero(np.diff(rows[list(order)].to_numpy(), axis=0), axis=1) == 1).all()
    assert cli.main(["analyse", str(folder)]) == 0
    table = pd.read_csv(folder / "sensitivity.csv").set_index("parameter")
    assert list(table.index) == list(order)
    assert list(table.columns) == ["metric", "mu_star", "mu_star_low", "mu_star_high", "sigma", "mu", "effects"]
    assert (table["effects"] == 40).all()
    np.testing.assert_allclose(table.loc[["a", "b", "c"], "mu_star"], [3, 4, 0], atol=1e-9)
    np.testing.assert_allclose(table.loc[["a", "b", "c"], "mu"], [3, -4, 0], atol=1e-9)
    np.testing.assert_allclose(table.loc[["a", "b", "c"], "sigma"], [0, 0, 0], atol=1e-9)
    for name in ("d", "e"):  # 4 × the other factor, which sits on the levels 0, 1/3, 2/3, 1
        assert 1.5 < table.loc[name, "mu_star"] < 2.5 and table.loc[name, "sigma"] > 1.0
        assert table.loc[name, "mu_star_low"] < table.loc[name, "mu_star"] < table.loc[name, "mu_star_high"]
        assert table.loc[name, "mu_star_high"] - table.loc[name, "mu_star_low"] < 1.5
    assert (table.loc["a", ["mu_star_low", "mu_star_high"]] == 3).all()

    # the same numbers as SALib's own analysis of these trajectories
    from SALib.analyze import morris as salib_morris

    problem = {"num_vars": len(order), "names": list(order), "bounds": [list(BOUNDS[k]) for k in order]}
    theirs = salib_morris.analyze(problem, design[list(order)].to_numpy(), np.asarray(y, dtype=float),
                                  num_levels=4, seed=1)
    np.testing.assert_allclose(table["mu_star"], theirs["mu_star"], atol=1e-9)
    np.testing.assert_allclose(table["mu"], theirs["mu"], atol=1e-9)
    np.testing.assert_allclose(table["sigma"], theirs["sigma"], atol=1e-9)

    assert (folder / "figures" / "morris_y.png").stat().st_size > 1000
    first = (folder / "sensitivity.csv").read_bytes()
    assert cli.main(["analyse", str(folder)]) == 0
    assert (folder / "sensitivity.csv").read_bytes() == first


MORRIS = """
scenario = "epstein"
steps = 30
seed = 5
design = "morris"
n = 4
[set]
width = 12
height = 12
[vary]
water_cannon_range = { low = 2, high = 20 }
legitimacy = { low = 0.5, high = 0.95 }
officer_density = { low = 0.02, high = 0.08 }
"""


def test_a_morris_sweep_of_the_model_runs_end_to_end(tmp_path):
    """Epstein on the open grid: legitimacy drives peak_active; the water cannon's range
    (no site, no cannon) only meets the runs' noise."""
    spec = tmp_path / "morris.toml"
    spec.write_text(MORRIS)
    out = tmp_path / "out"
    assert cli.main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["design"]["type"] == "morris" and meta["design"]["levels"] == 4 and meta["runs"] == 16
    assert [e["name"] for e in meta["design"]["varied"]] == ["water_cannon_range", "legitimacy", "officer_density"]
    outcomes = pd.read_csv(out / "outcomes.csv")
    assert (outcomes["status"] == "ok").all()
    assert set(outcomes["water_cannon_range"]) <= {2, 8, 14, 20}  # integers on the four levels
    assert cli.main(["analyse", str(out), "--metric", "peak_active"]) == 0
    table = pd.read_csv(out / "sensitivity.csv").set_index("parameter")
    assert list(table.index) == ["water_cannon_range", "legitimacy", "officer_density"]
    assert table.loc["legitimacy", "mu_star"] > table.loc["water_cannon_range", "mu_star"]
    assert (out / "figures" / "morris_peak_active.png").is_file()


GROUP = """
scenario = "epstein"
steps = 10
design = "{design}"
n = 4
[set]
width = 12
height = 12
water_cannon_start = 5
[vary]
legitimacy = {{ low = 0.5, high = 0.95 }}
cannon = {{ group = "water cannon", exclude = ["water_capacity"] }}
water_cannon_range = {{ low = 2, high = 20 }}
"""


def test_a_group_in_vary_comes_in_at_its_declared_bounds_in_order(tmp_path):
    spec = tmp_path / "group.toml"
    spec.write_text(GROUP.format(design="morris"))
    experiment = load_experiment(spec)
    specs = {s.name: s for s in parameter_specs()}
    in_group = [s.name for s in parameter_specs() if s.group == "water cannon"
                and s.name not in ("water_capacity", "water_cannon_start", "water_cannon_range")]
    assert experiment.varied_names == ["legitimacy", *in_group, "water_cannon_range"]
    for v in experiment.vary[1:-1]:
        assert (v.low, v.high, v.group) == (specs[v.name].low, specs[v.name].high, "water cannon")
        assert v.record()["group"] == "water cannon"
    assert experiment.vary[-1].low == 2 and experiment.vary[-1].group is None


@pytest.mark.parametrize("change, message", [
    (lambda s: s.replace('design = "morris"', 'design = "grid"').replace("n = 4\n", ""), "needs design ="),
    (lambda s: s.replace('"water cannon", exclude', '"cannons", exclude'), "group 'cannons' is not known"),
    (lambda s: s.replace('["water_capacity"]', '["legitimacy"]'), "not in group 'water cannon'"),
    (lambda s: s.replace("n = 4", "n = 4\nlevels = 5"), "levels = 5 is odd"),
])
def test_bad_groups_and_levels_stop_with_one_line(tmp_path, capsys, change, message):
    spec = tmp_path / "bad.toml"
    spec.write_text(change(GROUP.format(design="morris")))
    assert cli.main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
