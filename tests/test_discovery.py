"""Scenario discovery (``crowd-model discover``): PRIM finds known boxes in result folders
laid out as a sweep writes them, runs end to end on a small real sweep, and refuses bad
input with one line and exit code 2."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from crowd_model import cli

N = 1000


def synthetic_folder(path, rule, n: int = N, seed: int = 11):
    """A result folder of an lhs-like sweep over x1, x2, x3 (floats in 0..1), count (whole
    numbers 0..10) and policy (a choice), with outcome ``y`` = ``rule(table)`` as 0/1 and
    ``z``, a number with no relation to anything."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({
        "x1": rng.random(n), "x2": rng.random(n), "x3": rng.random(n),
        "count": rng.integers(0, 11, n), "policy": rng.choice(["violent", "provocateurs_first", "indiscriminate"], n),
    })
    varied = [{"name": "x1", "low": 0.0, "high": 1.0}, {"name": "x2", "low": 0.0, "high": 1.0},
              {"name": "x3", "low": 0.0, "high": 1.0}, {"name": "count", "low": 0, "high": 10},
              {"name": "policy", "values": ["violent", "provocateurs_first", "indiscriminate"]}]
    path.mkdir()
    design = pd.concat([pd.DataFrame({"point": range(n), "block": "lhs", "column": -1, "sample": range(n)}), table],
                       axis=1)
    design.to_csv(path / "design.csv", index=False)
    outcomes = pd.DataFrame({"run_id": [f"r{i}" for i in range(n)], "point": range(n), "replicate": 0, "seed": 0,
                             **table, "y": rule(table).astype(int), "z": rng.normal(size=n),
                             "status": "ok", "error": ""})
    outcomes.to_csv(path / "outcomes.csv", index=False)
    pd.DataFrame(columns=["run_id", "step", "active"]).to_csv(path / "timeseries.csv", index=False)
    meta = {"design": {"type": "lhs", "varied": varied}, "outcome_columns": ["y", "z"], "root_seed": 5}
    (path / "metadata.json").write_text(json.dumps(meta))
    return path


def discover(folder, *args) -> int:
    return cli.main(["discover", str(folder), *args])


def first_box(folder, outcome="y") -> pd.Series:
    return pd.read_csv(folder / f"prim_boxes_{outcome}.csv").iloc[0]


def test_prim_finds_a_known_box(tmp_path, capsys):
    """y holds exactly when x1 > 0.7 and x2 < 0.3: the first box restricts x1 and x2 alone,
    at those limits, and the feature scores rank x1 and x2 first."""
    folder = synthetic_folder(tmp_path / "sweep", lambda t: (t["x1"] > 0.7) & (t["x2"] < 0.3))
    assert discover(folder, "--outcome", "y", "--where", "== 1") == 0
    printed = capsys.readouterr().out
    box = first_box(folder)
    assert box["restricted"] == "x1;x2"
    assert box["x1_low"] == pytest.approx(0.7, abs=0.03) and box["x1_high"] > 0.99
    assert box["x2_high"] == pytest.approx(0.3, abs=0.03) and box["x2_low"] < 0.01
    assert box["coverage"] >= 0.85 and box["density"] >= 0.95
    assert box["policy"] == "violent|provocateurs_first|indiscriminate"
    assert box["count_low"] == 0 and box["count_high"] == 10
    scores = pd.read_csv(folder / "feature_scores_y.csv")
    assert set(scores["parameter"][:2]) == {"x1", "x2"} and scores["score"].sum() == pytest.approx(1)
    trajectory = pd.read_csv(folder / "prim_trajectory_y.csv")
    assert {"box", "coverage", "density", "mass", "res_dim"} <= set(trajectory.columns)
    assert (folder / "figures" / "prim_y.png").stat().st_size > 10_000
    assert "y == 1 in" in printed and "box 1: coverage" in printed and "feature scores: x" in printed


def test_prim_finds_a_choice_and_a_whole_number_limit(tmp_path):
    """y holds when the policy is indiscriminate and count <= 3: the box keeps that one
    value of the choice and whole-number limits 0..3 on count."""
    folder = synthetic_folder(tmp_path / "sweep", lambda t: (t["policy"] == "indiscriminate") & (t["count"] <= 3))
    assert discover(folder, "--outcome", "y", "--where", ">= 0.5", "--out", str(tmp_path / "found")) == 0
    box = first_box(tmp_path / "found")
    assert box["policy"] == "indiscriminate"
    assert (box["count_low"], box["count_high"]) == (0, 3)
    assert box["restricted"] == "count;policy" and box["density"] == 1.0 and box["coverage"] == 1.0
    assert not (folder / "prim_boxes_y.csv").exists()  # --out: nothing written into the sweep's folder


SMALL_LHS = """
scenario = "epstein"
steps = 40
seed = 4
design = "lhs"
n = 30
[set]
width = 14
height = 14
[vary]
legitimacy = { low = 0.3, high = 0.95 }
officer_density = { low = 0.01, high = 0.08 }
ratio_rule = ["literal", "floor", "round"]
[record]
metrics = ["active"]
every = 10
"""


def test_discover_on_a_real_lhs_sweep(tmp_path, capsys):
    """A small Epstein sweep with a choice (Parquet files read), then discover on peak_active
    above its median: the box bounds legitimacy from above (low legitimacy, more actives);
    analyse draws the same folder."""
    spec = tmp_path / "small.toml"
    spec.write_text(SMALL_LHS)
    out = tmp_path / "sweep"
    assert cli.main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--no-progress", "--format", "parquet"]) == 0
    median = pd.read_parquet(out / "outcomes.parquet")["peak_active"].median()
    capsys.readouterr()
    assert discover(out, "--outcome", "peak_active", "--where", f"> {median}", "--max-boxes", "2") == 0
    printed = capsys.readouterr().out
    box = first_box(out, "peak_active")
    assert "legitimacy" in box["restricted"].split(";") and box["legitimacy_high"] < 0.9
    assert box["density"] > 0.5 + 1e-9
    assert f"peak_active > {median:g} in" in printed
    assert (out / "figures" / "prim_peak_active.png").is_file()
    assert cli.main(["analyse", str(out), "--metric", "peak_active"]) == 0  # the choice's scatter panel too
    assert (out / "figures" / "scatter_peak_active.png").is_file()


BAD = {
    "missing folder": (lambda f: [str(f.parent / "nowhere"), "--outcome", "y", "--where", "== 1"], "not a folder"),
    "unknown outcome": (lambda f: [str(f), "--outcome", "gate_breachd", "--where", "== 1"], "gate_breachd"),
    "text outcome": (lambda f: [str(f), "--outcome", "status", "--where", "== 1"], "status"),
    "bad where": (lambda f: [str(f), "--outcome", "y", "--where", "= 1"], "--where"),
    "where without a number": (lambda f: [str(f), "--outcome", "y", "--where", "> many"], "--where"),
    "where with code": (lambda f: [str(f), "--outcome", "y", "--where", "== __import__('os')"], "--where"),
    "never true": (lambda f: [str(f), "--outcome", "y", "--where", "> 1"], "none of the 1000"),
    "always true": (lambda f: [str(f), "--outcome", "z", "--where", "> -100"], "every one of the 1000"),
    "coverage out of range": (lambda f: [str(f), "--outcome", "y", "--where", "== 1", "--min-coverage", "1.5"],
                              "--min-coverage"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, case):
    folder = synthetic_folder(tmp_path / "sweep", lambda t: t["x1"] > 0.5)
    make_args, named = BAD[case]
    assert discover(*make_args(folder)) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("crowd-model: error:") and "\n" not in err and named in err, err
    assert "Traceback" not in captured.err and not captured.out
    assert not (folder / "prim_boxes_y.csv").exists()


def test_a_sweep_without_varied_parameters_is_refused(tmp_path, capsys):
    folder = synthetic_folder(tmp_path / "sweep", lambda t: t["x1"] > 0.5)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["design"]["varied"] = []
    (folder / "metadata.json").write_text(json.dumps(meta))
    assert discover(folder, "--outcome", "y", "--where", "== 1") == 2
    err = capsys.readouterr().err.strip()
    assert "varies no parameter" in err and "\n" not in err


IMPORTS_AFTER = """
import sys
from crowd_model import cli
steps = [["sweep", {spec!r}, "--out", {out!r}, "--workers", "1", "--no-progress"],
         ["analyse", {out!r}, "--metric", "peak_active"], ["scenarios"],
         ["discover", {out!r}, "--outcome", "nothing", "--where", "== 1"],  # bad input: refused before PRIM
         ["discover", {folder!r}, "--outcome", "y", "--where", "== 1"]]
for args in steps:
    code = cli.main(args)
    print("imports after", args[0], code, "ema_workbench" in sys.modules, "sklearn" in sys.modules, flush=True)
"""


def test_only_discover_imports_the_ema_workbench(tmp_path):
    """The EMA Workbench (with scikit-learn) takes seconds to import: sweep, analyse and the
    other commands never import it, nor does discover before it has checked its input; a
    discover that runs PRIM does (which shows the check sees the import)."""
    import subprocess
    import sys

    spec = tmp_path / "small.toml"
    spec.write_text(SMALL_LHS)
    folder = synthetic_folder(tmp_path / "synthetic", lambda t: t["x1"] > 0.5, n=200)
    script = IMPORTS_AFTER.format(spec=str(spec), out=str(tmp_path / "sweep"), folder=str(folder))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    seen = [line.removeprefix("imports after ") for line in done.stdout.splitlines() if line.startswith("imports after ")]
    assert seen == ["sweep 0 False False", "analyse 0 False False", "scenarios 0 False False",
                    "discover 2 False False", "discover 0 True True"], done.stdout
