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


SITUATIONS = ("green", "yellow", "red")


def situation_outcomes(steps: np.ndarray, situation: np.ndarray) -> dict:
    """Steps spent in each situation and the first step of each (None if never reached)."""
    out = {}
    for code, name in enumerate(SITUATIONS):
        inside = situation == code
        out[f"steps_{name}"] = int(inside.sum())
    for code, name in enumerate(SITUATIONS):
        inside = np.flatnonzero(situation == code)
        out[f"first_step_{name}"] = int(steps[inside[0]]) if len(inside) else None
    return out


CHEMICAL_MEANS = ("water_cannon_shot", "tear_gas")  # stage-5 means
CHEMICAL_STAGE = 5


def unit_outcomes(events: pd.DataFrame, timeseries: pd.DataFrame, units: tuple[str, ...]) -> dict:
    """Per unit: ``arrests_UNIT``, ``injured_officers_UNIT`` (persons) and
    ``max_force_stage_UNIT``, the highest stage of force the unit itself used: the stage in
    force at each of its arrests, 5 once it fired the water cannon or tear gas, else 1
    (presence)."""
    stage_at = timeseries.set_index("step")["force_stage"]
    out = {}
    for unit in units:
        mine = events[events.unit == unit]
        arrests = mine[mine.event == "arrest"]
        out[f"arrests_{unit}"] = int(len(arrests))
        out[f"injured_officers_{unit}"] = int((mine.event == "injury").sum())
        used = [1] + [int(s) for s in stage_at.reindex(arrests.step).dropna()]
        if mine.event.isin(CHEMICAL_MEANS).any():
            used.append(CHEMICAL_STAGE)
        out[f"max_force_stage_{unit}"] = max(used)
    return out


def run_outcomes(timeseries: pd.DataFrame, crowd: int, outburst_threshold: float) -> dict:
    """One row of outcomes for a run, from its timeseries (columns as in the contract)."""
    steps = timeseries["step"].to_numpy()
    active = timeseries["active"].to_numpy()
    violent = timeseries["violent"].to_numpy()
    starts = outbursts(active, outburst_threshold)
    engaged = active + violent
    dispersal = time_to_dispersal(engaged, crowd)
    on_site = engaged + timeseries["calm"].to_numpy() + timeseries["fleeing"].to_numpy()
    fullest = int(np.argmax(on_site)) if len(on_site) else 0  # after the march has arrived
    cleared = fullest + np.flatnonzero(on_site[fullest:] < DISPERSAL_SHARE * crowd)
    violent_steps = np.flatnonzero(violent > 0)
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
        "time_to_clearance": int(steps[cleared[0]]) if len(cleared) else None,
        "peak_engaged": int(engaged.max()),
        "violent_person_steps": int(violent.sum()),
        "last_violent_step": int(steps[violent_steps[-1]]) if len(violent_steps) else None,
        "arrests_total": int(timeseries["arrests_total"].iloc[-1]),
        **{column: _final(timeseries, column) for column in FINAL_TALLIES},
        "injured_civilians": int(timeseries["injured"].iloc[-1]),
        "max_force_stage": int(timeseries["force_stage"].max()),
        **situation_outcomes(steps, timeseries["situation"].to_numpy()),
    }


FINAL_TALLIES = (
    "provocateurs_arrested",
    "injuries_civilians",
    "injuries_security",
    "property_damage",
    "water_used",
    "gate_breached",
    "left",
    "injured_officers",
    "tear_gas_used",
)


def _final(timeseries: pd.DataFrame, column: str):
    value = timeseries[column].iloc[-1]
    return float(value) if column == "water_used" else int(value)
