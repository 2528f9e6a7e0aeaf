"""First- and total-order Sobol' indices of a ``sobol`` sweep, with bootstrap intervals.

The design table (``design.csv``) labels each point A, B or AB_i as
``crowd_model.experiments.design.sobol_design`` laid them out; the outcome per point (the mean over
replications) is handed to ``scipy.stats.sobol_indices`` as ``f_A``, ``f_B``, ``f_AB``
(Saltelli et al. 2010 estimators). Intervals: percentile bootstrap over the n base
samples with a seeded generator, so the same files give the same intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import bootstrap, sobol_indices

from crowd_model.analysis.stats import CONFIDENCE

N_RESAMPLES = 999
CHANCE_CORRELATION_LIMIT = 0.3


def chance_correlation(design: pd.DataFrame, parameters: list[str]) -> tuple[float, str, str]:
    """The largest |Pearson correlation| between two of the 2d independent columns of the
    A and B blocks of a Saltelli design, and which columns. Independent by construction,
    they still correlate by chance when n is small for the number of parameters (at
    n = 16 with six parameters, up to 0.9), which biases the indices."""
    columns = {}
    for block in ("A", "B"):
        rows = design[design["block"] == block].sort_values("sample")
        for name in parameters:
            columns[f"{name} ({block})"] = rows[name].to_numpy(dtype=float)
    labels = list(columns)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.abs(np.nan_to_num(np.corrcoef(np.array(list(columns.values())))))
    np.fill_diagonal(r, 0.0)
    i, j = np.unravel_index(np.argmax(r), r.shape)
    return float(r[i, j]), labels[i], labels[j]


def small_design_note(design: pd.DataFrame, parameters: list[str]) -> str | None:
    """One line when a Saltelli design's n is too small for its parameters, else None."""
    n = int((design["block"] == "A").sum())
    r, first, second = chance_correlation(design, parameters)
    if r <= CHANCE_CORRELATION_LIMIT:
        return None
    return (f"n = {n} is small for {len(parameters)} varied parameters: columns {first} and {second} "
            f"correlate by chance (|r| = {r:.2f} > {CHANCE_CORRELATION_LIMIT}), so the Sobol' indices "
            f"may be biased; use a larger n (a power of two)")


def sobol_matrices(design: pd.DataFrame, values: pd.Series) -> dict[str, np.ndarray]:
    """``f_A`` (1, n), ``f_B`` (1, n), ``f_AB`` (d, 1, n) from the design table and one
    value per design point (a Series indexed by ``point``)."""
    table = design.assign(y=values.reindex(design["point"]).to_numpy(dtype=float)).sort_values(
        ["block", "column", "sample"], kind="stable"
    )
    f_a = table.loc[table["block"] == "A", "y"].to_numpy()
    f_b = table.loc[table["block"] == "B", "y"].to_numpy()
    ab = table[table["block"] == "AB"]
    f_ab = np.stack([g["y"].to_numpy() for _, g in ab.groupby("column", sort=True)])
    return {"f_A": f_a[None, :], "f_B": f_b[None, :], "f_AB": f_ab[:, None, :]}


def sobol_table(design: pd.DataFrame, outcomes: pd.DataFrame, parameters: list[str], metrics: list[str],
                seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """Rows (metric, parameter, S1, S1_low, S1_high, ST, ST_low, ST_high), and a note for
    each metric that cannot be analysed (a design point without a value)."""
    rows, notes = [], []
    for metric in metrics:
        per_point = outcomes.groupby("point")[metric].mean()
        missing = np.setdiff1d(design["point"], per_point.dropna().index)
        if len(missing):
            notes.append(f"{metric}: no Sobol' indices, {len(missing)} design point(s) have no value")
            continue
        f = sobol_matrices(design, per_point)
        n = f["f_A"].shape[1]
        first, total = _indices(f, np.arange(n))
        ci = bootstrap((np.arange(n),), lambda idx: np.concatenate(_indices(f, idx)), vectorized=False,
                       method="percentile", n_resamples=N_RESAMPLES, confidence_level=CONFIDENCE,
                       rng=np.random.default_rng(seed)).confidence_interval
        d = len(parameters)
        for i, name in enumerate(parameters):
            rows.append({"metric": metric, "parameter": name,
                         "S1": first[i], "S1_low": ci.low[i], "S1_high": ci.high[i],
                         "ST": total[i], "ST_low": ci.low[d + i], "ST_high": ci.high[d + i]})
    return pd.DataFrame(rows, columns=["metric", "parameter", "S1", "S1_low", "S1_high", "ST", "ST_low", "ST_high"]), notes


def _indices(f: dict[str, np.ndarray], idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    result = sobol_indices(func={"f_A": f["f_A"][:, idx], "f_B": f["f_B"][:, idx], "f_AB": f["f_AB"][..., idx]},
                           n=len(idx))
    return np.atleast_1d(result.first_order), np.atleast_1d(result.total_order)
