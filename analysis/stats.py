"""Summaries per design point: mean, standard deviation and a 95% confidence interval of
the mean over replications (Student's t), and the same per step for time series."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95


def numeric_metrics(table: pd.DataFrame, columns: list[str]) -> list[str]:
    """Those of ``columns`` that hold numbers (and are not all empty)."""
    return [c for c in columns if c in table and pd.api.types.is_numeric_dtype(table[c]) and table[c].notna().any()]


def interval(groups) -> pd.DataFrame:
    """n, mean, sd, ci_low, ci_high of each group of a grouped Series (NaN values left out)."""
    out = groups.agg(["count", "mean", "std"]).rename(columns={"count": "n", "std": "sd"})
    n = out["n"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * out["sd"].to_numpy() / np.sqrt(n)
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    return out


def summarise(outcomes: pd.DataFrame, varied: list[str], metrics: list[str]) -> pd.DataFrame:
    """One row per design point and metric: the point's parameters, n, missing, mean, sd, CI.

    ``missing`` counts runs without a value (e.g. ``time_to_dispersal`` when the crowd
    never dispersed), which the mean leaves out.
    """
    keys = ["point", *varied]
    parts = []
    for metric in metrics:
        grouped = outcomes.groupby(keys, sort=True)[metric]
        table = interval(grouped)
        table.insert(0, "missing", grouped.size() - table["n"])
        table.insert(0, "metric", metric)
        parts.append(table.reset_index())
    columns = [*keys, "metric", "n", "missing", "mean", "sd", "ci_low", "ci_high"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def timeseries_bands(timeseries: pd.DataFrame, groups: pd.Series | None, metric: str) -> pd.DataFrame:
    """Mean and 95% interval of ``metric`` per step, per group of runs (``groups`` maps
    run_id to a group label; None pools every run)."""
    table = timeseries[["run_id", "step", metric]]
    label = table["run_id"].map(groups) if groups is not None else pd.Series("all runs", index=table.index)
    return interval(table.groupby([label.rename("group"), table["step"]])[metric]).reset_index()
