"""Outcome measures of one run, computed from its per-step table."""

from __future__ import annotations

import numpy as np
import pandas as pd

DISPERSAL_SHARE = 0.05


def outbursts(active: np.ndarray, threshold: float) -> np.ndarray:
    """Start steps of outbursts: spells where the count of actives exceeds ``threshold``.

    Epstein 2002 (Run 2) describes punctuated equilibrium as such spells separated by
    long quiet periods.
    """
    above = np.asarray(active) > threshold
    starts = np.flatnonzero(above & ~np.concatenate([[False], above[:-1]]))
    return starts


def time_to_dispersal(engaged: np.ndarray, crowd: int, share: float = DISPERSAL_SHARE) -> int | None:
    """First step after the peak of ``engaged`` (active + violent) at which it falls below
    ``share`` of the crowd; None if it never does (or there was no peak at all)."""
    engaged = np.asarray(engaged)
    if len(engaged) == 0 or engaged.max() == 0:
        return None
    peak = int(np.argmax(engaged))
    below = np.flatnonzero(engaged[peak:] < share * crowd)
    return int(peak + below[0]) if len(below) else None


def run_outcomes(timeseries: pd.DataFrame, crowd: int, outburst_threshold: float) -> dict:
    """One row of outcomes for a run, from its timeseries (columns as in the contract)."""
    steps = timeseries["step"].to_numpy()
    active = timeseries["active"].to_numpy()
    violent = timeseries["violent"].to_numpy()
    starts = outbursts(active, outburst_threshold)
    dispersal = time_to_dispersal(active + violent, crowd)
    return {
        "civilians": int(crowd),
        "peak_active": int(active.max()),
        "peak_active_step": int(steps[np.argmax(active)]),
        "peak_violent": int(violent.max()),
        "peak_violent_step": int(steps[np.argmax(violent)]),
        "mean_active": float(active.mean()),
        "final_active": int(active[-1]),
        "final_arrested": int(timeseries["arrested"].iloc[-1]),
        "outbursts": int(len(starts)),
        "mean_time_between_outbursts": float(np.diff(steps[starts]).mean()) if len(starts) > 1 else None,
        "time_to_dispersal": int(steps[dispersal]) if dispersal is not None else None,
        "arrests_total": int(timeseries["arrests_total"].iloc[-1]),
        **{column: _final(timeseries, column) for column in FINAL_TALLIES},
    }


FINAL_TALLIES = (
    "provocateurs_arrested",
    "injuries_civilians",
    "injuries_security",
    "property_damage",
    "water_used",
    "gate_breached",
    "left",
)


def _final(timeseries: pd.DataFrame, column: str):
    value = timeseries[column].iloc[-1]
    return float(value) if column == "water_used" else int(value)
