"""Designs: which parameter values a sweep visits.

``grid`` is the full factorial of the listed values; ``lhs`` a Latin hypercube of n points
(McKay, Beckman & Conover 1979), whose choices take their listed values in equal shares; ``sobol`` Saltelli's (2010) A, B, AB layout over a
scrambled Sobol' sequence, exactly as ``scipy.stats.sobol_indices`` builds it, so that the
model outputs can be handed back to it as ``f_A``, ``f_B`` and ``f_AB``
(``crowd_model.analysis.sensitivity`` does that from ``design.csv``); ``morris`` n
trajectories of elementary effects (Morris 1991; Campolongo et al. 2007), from SALib's
sampler, each trajectory d + 1 points that change one parameter at a time
(``crowd_model.analysis.screening`` reads the effects back from ``design.csv``).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.stats import qmc

POINT_COLUMNS = ("point", "block", "column", "sample")


def grid_design(values: dict[str, list]) -> pd.DataFrame:
    """Every combination of the listed values (the first parameter varies slowest)."""
    names = list(values)
    rows = list(itertools.product(*values.values())) if names else [()]
    table = pd.DataFrame(rows, columns=names)
    return _with_labels(table, block="grid", sample=np.arange(len(table)))


def lhs_design(bounds: dict[str, tuple[float, float]], n: int, rng: np.random.Generator,
               integer: frozenset[str] = frozenset(), choices: dict[str, tuple] | None = None) -> pd.DataFrame:
    """n points of a Latin hypercube over ``bounds`` (in their order). A parameter in
    ``choices`` (its bounds ignored) takes its listed values: its column of the hypercube is
    cut into as many equal parts, so each value gets n / len(values) points, give or take one."""
    unit = qmc.LatinHypercube(d=len(bounds), rng=rng).random(n)
    choices = choices or {}
    table = _scaled(unit, {k: (0.0, 1.0) if k in choices else b for k, b in bounds.items()}, integer - set(choices))
    for name, values in choices.items():
        index = np.minimum((table[name].to_numpy() * len(values)).astype(int), len(values) - 1)
        table[name] = pd.Series(list(values), dtype=object).iloc[index].to_numpy()
    return _with_labels(table, block="lhs", sample=np.arange(n))


def sobol_design(bounds: dict[str, tuple[float, float]], n: int, rng: np.random.Generator,
                 integer: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Rows A (n), B (n), then AB_i (n each, A with column i taken from B), i = 0..d-1."""
    d = len(bounds)
    a_b = qmc.Sobol(d=2 * d, rng=rng, bits=64).random(n)
    a, b = a_b[:, :d], a_b[:, d:]
    blocks = [_with_labels(_scaled(a, bounds, integer), block="A", sample=np.arange(n)),
              _with_labels(_scaled(b, bounds, integer), block="B", sample=np.arange(n))]
    for i in range(d):
        ab = a.copy()
        ab[:, i] = b[:, i]
        blocks.append(_with_labels(_scaled(ab, bounds, integer), block="AB", sample=np.arange(n), column=i))
    table = pd.concat(blocks, ignore_index=True)
    table["point"] = np.arange(len(table))
    return table


def morris_design(bounds: dict[str, tuple[float, float]], n: int, levels: int, rng: np.random.Generator,
                  integer: frozenset[str] = frozenset()) -> pd.DataFrame:
    """n Morris trajectories on a ``levels``-level grid over the bounds (SALib's sampler,
    seeded from ``rng``). Rows of one trajectory share ``sample`` (the trajectory) and
    follow each other in ``point`` order; ``column`` names the parameter (its index in
    ``bounds``) that changed from the row before, -1 on a trajectory's first row."""
    from SALib.sample import morris

    d = len(bounds)
    unit_problem = {"num_vars": d, "names": list(bounds), "bounds": [[0.0, 1.0]] * d}
    unit = morris.sample(unit_problem, n, num_levels=levels, seed=int(rng.integers(2**31 - 1)))
    steps = unit.reshape(n, d + 1, d)
    changed = np.full((n, d + 1), -1, dtype=int)
    changed[:, 1:] = np.argmax(np.abs(np.diff(steps, axis=1)), axis=2)
    table = _with_labels(_scaled(unit, bounds, integer), block="morris",
                         sample=np.repeat(np.arange(n), d + 1), column=changed.ravel())
    return table


def _scaled(unit: np.ndarray, bounds: dict[str, tuple[float, float]], integer: frozenset[str]) -> pd.DataFrame:
    lows = [lo for lo, _ in bounds.values()]
    highs = [hi for _, hi in bounds.values()]
    table = pd.DataFrame(qmc.scale(unit, lows, highs), columns=list(bounds))
    for name in integer & set(bounds):
        table[name] = np.rint(table[name]).astype(int)
    return table


def _with_labels(table: pd.DataFrame, block: str, sample: np.ndarray, column: int = -1) -> pd.DataFrame:
    labels = pd.DataFrame({"point": np.arange(len(table)), "block": block, "column": column, "sample": sample})
    return pd.concat([labels, table.reset_index(drop=True)], axis=1)
