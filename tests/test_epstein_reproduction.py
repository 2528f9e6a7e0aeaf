"""Epstein (2002) Run 2 reproduced: the floor rule (NetLogo) gives outbursts, the paper's
literal ratio gives none (experiments/reproduce_epstein.py)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "reproduce_epstein.py"
_spec = importlib.util.spec_from_file_location("reproduce_epstein", SCRIPT)
reproduce = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reproduce)

SEEDS = (1, 2, 3, 4)
STEPS = 1000


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
def test_floor_rule_gives_outbursts_and_literal_rule_none():
    jobs = [
        reproduce.Job(rule, reproduce.run2(rule), STEPS, seed)
        for rule in ("floor", "literal")
        for seed in SEEDS
    ]
    threshold = reproduce.run2("floor").outburst_threshold
    stats = {
        (job.label, job.seed): reproduce.outburst_stats(ts, threshold)
        for job, ts in reproduce.run_all(jobs, workers=1)
    }
    for seed in SEEDS:
        floor, literal = stats["floor", seed], stats["literal", seed]
        assert floor["max_peak"] > threshold, seed
        assert floor["outbursts_per_1000"] >= 5, (seed, floor)
        assert literal["peak_active"] <= threshold, (seed, literal)
    assert np.mean([stats["floor", s]["max_peak"] for s in SEEDS]) > 2 * threshold
