"""Paired contrasts (crowd_model.analysis.contrasts) and `crowd-model validate`."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crowd_model.analysis.contrasts import contrast_table, paired_difference
from crowd_model.cli import main

VALIDATION = "experiments/specs/validation/kpu_response.toml"


def test_paired_difference_is_the_paired_t_interval():
    rng = np.random.default_rng(1)
    reference = pd.Series(rng.normal(10, 3, 30))
    case = reference + 2 + pd.Series(rng.normal(0, 1, 30))
    d = paired_difference(case, reference)
    diff = (case - reference).to_numpy()
    half = stats.t.ppf(0.975, 29) * diff.std(ddof=1) / np.sqrt(30)
    assert d["difference"] == pytest.approx(diff.mean())
    assert (d["low"], d["high"]) == pytest.approx((diff.mean() - half, diff.mean() + half))
    assert d["low"] > 0 and d["pairs"] == 30
    # a replicate with no value (a crowd that never dispersed) drops out of the pairs
    case[3] = np.nan
    assert paired_difference(case, reference)["pairs"] == 29


def test_claims_hold_only_when_the_interval_excludes_zero_on_their_side():
    base = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6]})
    up = pd.DataFrame({"x": base.x + [0.9, 1.1, 1.0, 0.95, 1.05, 1.0]})
    flat = pd.DataFrame({"x": base.x + [0.5, -0.5, 0.4, -0.4, 0.1, -0.1]})
    table = contrast_table({"base": base, "up": up, "flat": flat},
                           [{"case": "up", "reference": "base", "claim": {"x": "+"}},
                            {"case": "flat", "reference": "base", "claim": {"x": "+"}},
                            {"case": "up", "reference": "base", "claim": {"x": "-"}}], ["x"])
    assert list(table.claim_holds) == [True, False, False]


def test_validate_runs_the_cases_on_paired_seeds_and_writes_the_table(tmp_path, capsys):
    out = tmp_path / "val"
    assert main(["validate", VALIDATION, "--out", str(out), "--replications", "2", "--steps", "15",
                 "--workers", "1"]) == 0
    table = pd.read_csv(out / "contrasts.csv")
    assert set(table.case) >= {"no_water_cannon", "passive", "no_negotiation"}
    assert (out / "contrasts.png").stat().st_size > 0
    seeds = {name: pd.read_csv(out / name / "outcomes.csv").sort_values("replicate").seed.tolist()
             for name in ("base", "passive", "no_pushback")}
    assert seeds["base"] == seeds["passive"] == seeds["no_pushback"], "common random numbers"
    assert "no_water_cannon − base" in capsys.readouterr().out


@pytest.mark.parametrize("text, message", [
    ("scenario = 'kpu-riot'\n[cases.a]\n", "needs a [cases.base]"),
    ("[cases.base]\n[[contrast]]\ncase = 'x'\nreference = 'base'\n", "not one of the cases"),
    ("[cases.base]\nwater_cannons = 'many'\n", "water_cannons"),
    ("[cases.base]\n[[contrast]]\ncase = 'base'\nreference = 'base'\nclaim = { peak_violent = 'up' }\n", "use \"+\""),
    ("outcomes = ['nonsense']\n[cases.base]\n", "not outcomes of the scenario"),
    ("colour = 1\n[cases.base]\n", "unknown key"),
])
def test_bad_validation_files_give_one_line_and_exit_2(tmp_path, capsys, text, message):
    path = tmp_path / "v.toml"
    path.write_text(text)
    assert main(["validate", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
