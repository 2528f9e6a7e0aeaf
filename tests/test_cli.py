import json
import subprocess
import sys

import pandas as pd
import pytest

from crowd_model.cli import main


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "crowd_model", *args], capture_output=True, text=True, timeout=300
    )


def test_scenarios_lists_presets():
    out = cli("scenarios")
    assert out.returncode == 0
    assert "epstein" in out.stdout


def test_run_writes_contract_files_and_is_byte_identical(tmp_path):
    args = ["run", "--scenario", "epstein", "--set", "width=20", "--set", "height=20", "--steps", "40", "--seed", "3"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    for name in ("timeseries.csv", "outcomes.csv", "metadata.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    ts = pd.read_csv(tmp_path / "a" / "timeseries.csv")
    assert ts.columns[0] == "step" and len(ts) == 41
    for col in ("calm", "active", "violent", "fleeing", "arrested", "left", "arrests_total"):
        assert col in ts.columns
    civilians = ts[["calm", "active", "violent", "fleeing", "arrested", "left"]].sum(axis=1)
    assert civilians.nunique() == 1 and civilians.iloc[0] == 280
    outcomes = pd.read_csv(tmp_path / "a" / "outcomes.csv")
    assert len(outcomes) == 1 and "peak_active" in outcomes
    meta = json.loads((tmp_path / "a" / "metadata.json").read_text())
    assert meta["seed"] == 3 and meta["parameters"]["width"] == 20
    assert meta["versions"]["mesa"] == "3.5.1"


def test_run_prints_summary_without_out(capsys):
    assert main(["run", "--set", "width=12", "--set", "height=12", "--steps", "20"]) == 0
    text = capsys.readouterr().out
    assert "scenario epstein" in text and "peak_active" in text


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["run", "--set", "legitimacy=1.4"], "legitimacy"),
        (["run", "--set", "nonsense=1"], "unknown parameter 'nonsense'"),
        (["run", "--scenario", "no-such-preset"], "unknown scenario"),
        (["run", "--scenario", "missing.toml"], "does not exist"),
        (["run", "--steps", "-3"], "--steps"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, fragment):
    out = cli(*args)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert fragment in out.stderr


def test_malformed_scenario_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[parameters\nwidth = 3")
    out = cli("run", "--scenario", str(bad))
    assert out.returncode == 2 and "malformed TOML" in out.stderr
    bad.write_text("[parameters]\nwidth = 'wide'\n")
    out = cli("run", "--scenario", str(bad))
    assert out.returncode == 2 and "parameter width" in out.stderr


def test_scenario_file_with_schedule(tmp_path):
    f = tmp_path / "decline.toml"
    f.write_text(
        "steps = 30\nseed = 4\n[parameters]\nwidth = 15\nheight = 15\n"
        'legitimacy = { schedule = "ramp", start = 0, end = 30, from = 0.9, to = 0.3 }\n'
    )
    assert main(["run", "--scenario", str(f), "--out", str(tmp_path / "out")]) == 0
    ts = pd.read_csv(tmp_path / "out" / "timeseries.csv")
    assert ts["legitimacy"].iloc[0] == 0.9 and ts["legitimacy"].iloc[-1] == pytest.approx(0.3)
