"""Epstein (2002) Run 2 reproduced: the floor rule (NetLogo) gives outbursts, the paper's
literal ratio gives none (experiments/reproduce_epstein.py over experiments/specs/epstein_run2.toml)."""

import numpy as np
import pandas as pd
import pytest

from crowd_model.experiments import reproduce_epstein as reproduce

REPLICATIONS = 4


def test_spells_are_maximal_runs_above_threshold_with_their_peaks():
    active = np.array([0, 60, 70, 10, 51, 50, 80])
    assert reproduce.spells(active, 50) == [(1, 3, 70), (4, 5, 51), (6, 7, 80)]
    assert reproduce.spells(np.array([0, 50, 3]), 50) == []


def test_outburst_stats_per_1000_steps_waiting_time_and_peaks():
    active = [0, 60, 70, 10, 51, 50, 80, 0, 0, 0, 0]
    stats = reproduce.outburst_stats(pd.DataFrame({"step": range(11), "active": active}), 50)
    assert stats["outbursts_per_1000"] == pytest.approx(300.0)
    assert stats["mean_wait"] == pytest.approx(2.5)
    assert stats["mean_peak"] == pytest.approx((70 + 51 + 80) / 3)
    assert stats["max_peak"] == 80


@pytest.mark.slow
def test_floor_rule_gives_outbursts_and_literal_rule_none(tmp_path):
    """Run 2 from its experiment file, through the sweep engine, as the script runs it."""
    assert reproduce.main(["--only", "epstein_run2", "--replications", str(REPLICATIONS),
                           "--workers", "1", "--out", str(tmp_path)]) == 0
    rows = pd.read_csv(tmp_path / "epstein_run2_per_run.csv")
    threshold = 50
    floor, literal = rows[rows["run"] == "floor"], rows[rows["run"] == "literal"]
    assert len(floor) == REPLICATIONS and len(literal) == REPLICATIONS
    assert (floor["max_peak"] > threshold).all()
    assert (floor["outbursts_per_1000"] >= 5).all()
    assert (literal["peak_active"] <= threshold).all()
    assert floor["max_peak"].mean() > 2 * threshold


def test_change_start_comes_from_the_experiment_files():
    assert reproduce.change_start(reproduce.load_experiment(reproduce.SPECS / "epstein_run3_gradual.toml")) == 50
    assert reproduce.change_start(reproduce.load_experiment(reproduce.SPECS / "epstein_run5_cop_withdrawal.toml")) == 50
