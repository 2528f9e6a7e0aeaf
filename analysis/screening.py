"""Morris screening: elementary effects of a ``morris`` sweep, μ*, σ and μ with a bootstrap
interval for μ*.

``design.csv`` holds the trajectories as ``crowd_model.experiments.design.morris_design``
laid them out: rows of one trajectory share ``sample`` and follow in ``point`` order, and
``column`` names the parameter that changed from the row before. The elementary effect of
that step is the change in the outcome (its mean over replications) divided by the step
in the parameter, measured as a share of the parameter's range (Morris 1991; as SALib's
``morris.analyze`` computes it, with the step taken from the stored values, so integer
parameters rounded onto the grid are divided by the step they really took). Per parameter:
μ = mean effect, μ* = mean absolute effect (Campolongo et al. 2007), σ = standard
deviation of the effects (n − 1); μ*'s interval is a percentile bootstrap over
trajectories with a seeded generator, so the same files give the same numbers.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from crowd_model.analysis.stats import CONFIDENCE

N_RESAMPLES = 1000
COLUMNS = ["metric", "parameter", "mu_star", "mu_star_low", "mu_star_high", "sigma", "mu", "effects"]


def elementary_effects(design: pd.DataFrame, values: pd.Series, bounds: dict[str, tuple[float, float]]) -> np.ndarray:
    """(trajectories, parameters) elementary effects, NaN where a step was lost (rounding
    left the parameter unchanged, or a design point has no value). ``values`` holds one
    value per design point (indexed by ``point``)."""
    names = list(bounds)
    table = design.assign(y=values.reindex(design["point"]).to_numpy(dtype=float)).sort_values(["sample", "point"])
    samples = table["sample"].unique()
    effects = np.full((len(samples), len(names)), np.nan)
    span = np.array([hi - lo for lo, hi in bounds.values()], dtype=float)
    for t, (_, rows) in enumerate(table.groupby("sample", sort=True)):
        x = rows[names].to_numpy(dtype=float) / span
        y = rows["y"].to_numpy()
        for k, i in enumerate(rows["column"].to_numpy()[1:], start=1):
            step = x[k, i] - x[k - 1, i]
            if step != 0:
                effects[t, i] = (y[k] - y[k - 1]) / step
    return effects


def morris_table(design: pd.DataFrame, outcomes: pd.DataFrame, bounds: dict[str, tuple[float, float]],
                 metrics: list[str], seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """Rows (metric, parameter, mu_star, its interval, sigma, mu, effects) in the order of
    ``bounds`` (the experiment file's order), and a note for each outcome left out."""
    rows, notes = [], []
    for metric in metrics:
        per_point = outcomes.groupby("point")[metric].mean()
        effects = elementary_effects(design, per_point, bounds)
        lost = int(np.isnan(effects).sum())
        if lost == effects.size:
            notes.append(f"{metric}: no elementary effects (no design point has a value)")
            continue
        if lost:
            notes.append(f"{metric}: {lost} of {effects.size} elementary effects lost (a design point without a "
                         "value, or an integer parameter rounded to the same value)")
        low, high = _bootstrap_mu_star(effects, np.random.default_rng(seed))
        for i, name in enumerate(bounds):
            ee = effects[:, i][~np.isnan(effects[:, i])]
            rows.append({"metric": metric, "parameter": name,
                         "mu_star": np.mean(np.abs(ee)) if ee.size else np.nan,
                         "mu_star_low": low[i], "mu_star_high": high[i],
                         "sigma": np.std(ee, ddof=1) if ee.size > 1 else np.nan,
                         "mu": np.mean(ee) if ee.size else np.nan, "effects": ee.size})
    return pd.DataFrame(rows, columns=COLUMNS), notes


def _bootstrap_mu_star(effects: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of μ* per parameter, resampling whole trajectories."""
    r = effects.shape[0]
    picks = rng.integers(0, r, size=(N_RESAMPLES, r))
    alpha = (1 - CONFIDENCE) / 2
    with warnings.catch_warnings():  # a parameter whose steps were all lost: NaN, said in the notes
        warnings.simplefilter("ignore", RuntimeWarning)
        resampled = np.nanmean(np.abs(effects)[picks], axis=1)  # (resamples, parameters)
        return np.nanquantile(resampled, alpha, axis=0), np.nanquantile(resampled, 1 - alpha, axis=0)
