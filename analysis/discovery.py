"""Scenario discovery: ``crowd-model discover DIR --outcome NAME --where "== 1"``.

PRIM, the patient rule induction method (Friedman & Fisher 1999), as the EMA Workbench
implements it (Kwakkel 2017), on a sweep's result files: the runs where the condition on
the outcome holds are the cases of interest, the varied parameters the inputs. PRIM peels
thin slices off the box that holds every run, each time the one whose removal raises the
share of cases of interest most, and so traces a trajectory from the whole box (coverage 1)
to small dense ones. On that trajectory this module picks, for each box, the densest one
that still holds ``min_coverage`` of the cases of interest PRIM started the box with; then
it removes that box's runs and looks for the next box, up to ``max_boxes``. A later box is
kept only if most of its runs are cases of interest (density above 0.5, and above the share
over all runs): the first box is always reported, even a poor one.

- **coverage**: the share of all cases of interest that lie in the box;
- **density**: the share of the box's runs that are cases of interest;
- **mass**: the share of all runs that lie in the box.

Feature scores (extra trees, Jaxa-Rozen & Kwakkel 2018) say how much each parameter helps
to tell the cases of interest apart, over all runs. Reads the result files only.
"""

from __future__ import annotations

import math
import operator
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crowd_model.errors import InputError

from crowd_model.analysis.results import load_results
from crowd_model.analysis.stats import numeric_metrics

COMPARISONS = {"==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le,
               ">": operator.gt, "<": operator.lt}
_WHERE = re.compile(r"^\s*(==|!=|>=|<=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
MIN_COVERAGE = 0.8
MAX_BOXES = 3
LATER_BOX_DENSITY = 0.5  # a box after the first is kept only when most of its runs are cases of interest
TRAJECTORY_COLUMNS = ["box", "id", "coverage", "density", "mass", "res_dim", "n", "k"]


@dataclass(frozen=True)
class Condition:
    """``--where``: a comparison of the outcome with a number, e.g. ``== 1`` or ``> 100``."""

    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Condition:
        match = _WHERE.match(text or "")
        if not match:
            raise InputError(f"--where {str(text)[:60]!r}: expected a comparison and a number, such as "
                             f"\"== 1\", \"> 100\" or \"<= 0.5\" (comparisons: {' '.join(COMPARISONS)})")
        value = float(match.group(2))
        if not math.isfinite(value):
            raise InputError(f"--where {text!r}: the number must be finite")
        return cls(match.group(1), value)

    def holds(self, values: pd.Series) -> np.ndarray:
        """Where the condition holds; a run without a value (NaN) does not meet it."""
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            return np.asarray(COMPARISONS[self.op](numbers, self.value)) & ~np.isnan(numbers)

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


@dataclass
class Discovery:
    outcome: str
    condition: Condition
    runs: int
    cases: int
    missing: int
    parameters: list[str]
    boxes: pd.DataFrame  # one row per box: statistics, restricted dimensions, limits
    limits: list[dict]  # per box: parameter -> (low, high) or a tuple of the values kept
    full: dict  # parameter -> its range over all runs (same form)
    trajectory: pd.DataFrame  # every box's peeling trajectory
    scores: pd.DataFrame  # parameter, score (descending)
    dropped: list[str]  # varied parameters with one value among the finished runs


def discover(directory: str | Path, outcome: str, where: str, min_coverage: float = MIN_COVERAGE,
             max_boxes: int = MAX_BOXES) -> Discovery:
    """Run PRIM on the sweep in ``directory``; bad input raises :class:`InputError`."""
    condition = Condition.parse(where)
    if not 0 < min_coverage <= 1:
        raise InputError(f"--min-coverage must lie in (0, 1], got {min_coverage:g}")
    if max_boxes < 1:
        raise InputError(f"--max-boxes must be at least 1, got {max_boxes}")
    res = load_results(directory)
    ok = res.ok.reset_index(drop=True)
    if ok.empty:
        raise InputError(f"{res.dir}: no finished runs to analyse")
    numeric = numeric_metrics(ok, res.outcome_columns)
    if outcome not in numeric:
        raise InputError(f"--outcome {outcome!r} is not among this sweep's numeric outcomes: {', '.join(numeric)}")
    if not res.varied:
        raise InputError(f"{res.dir}: the sweep varies no parameter, so there is nothing to find boxes over "
                         "(PRIM needs a design that varies parameters, best an lhs design)")
    entries = res.metadata["design"]["varied"]
    orders = {e["name"]: e["values"] for e in entries if "values" in e} if isinstance(entries, list) else {}
    x = inputs(ok, res.varied, orders)
    dropped = [p for p in res.varied if p not in x.columns]
    if x.empty or not len(x.columns):
        raise InputError(f"{res.dir}: every varied parameter has one value among the finished runs; "
                         "nothing to find boxes over")
    y = condition.holds(ok[outcome])
    cases = int(y.sum())
    if cases in (0, len(y)):
        how = "none" if cases == 0 else "every one"
        raise InputError(f"{outcome} {condition} holds in {how} of the {len(y)} finished runs: "
                         "there are no two kinds of runs to tell apart; try another --where")
    return prim_boxes(x, y, outcome, condition, min_coverage, max_boxes,
                      missing=int(ok[outcome].isna().sum()), dropped=dropped,
                      seed=int(res.metadata.get("root_seed", 0)))


def inputs(outcomes: pd.DataFrame, varied: list[str], orders: dict[str, list] | None = None) -> pd.DataFrame:
    """The varied parameters of the runs as PRIM's inputs: numbers stay numbers (integers stay
    integers), anything else (a choice, a switch) becomes a category; a parameter with one
    value is left out. A category's values keep the order of ``orders`` (the experiment
    file's), where given."""
    x = pd.DataFrame(index=outcomes.index)
    for name in varied:
        column = outcomes[name]
        if column.nunique(dropna=False) < 2:
            continue
        if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
            text = column.astype(str)
            listed = [str(v) for v in (orders or {}).get(name, [])]
            categories = [v for v in listed if v in set(text)] + sorted(set(text) - set(listed))
            x[name] = pd.Categorical(text, categories=categories)
        else:
            x[name] = column.astype(np.int64 if pd.api.types.is_integer_dtype(column) else float)
    return x


def prim_boxes(x: pd.DataFrame, y: np.ndarray, outcome: str, condition: Condition,
               min_coverage: float = MIN_COVERAGE, max_boxes: int = MAX_BOXES, missing: int = 0,
               dropped: list[str] | None = None, seed: int = 0) -> Discovery:
    """PRIM on inputs ``x`` and the cases of interest ``y`` (booleans, one per row)."""
    prim, scenario_discovery = _ema()
    y = np.asarray(y, dtype=bool)
    x = x.reset_index(drop=True)
    # EMA's pasting of an integer column fails under pandas 3 (it sets a half-way value):
    # integers are peeled as floats, and their limits rounded inwards
    integer = frozenset(n for n in x.columns if pd.api.types.is_integer_dtype(x[n]))
    x = x.astype({n: float for n in integer})
    base_rate = y.mean()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        algorithm = prim.Prim(x, y.astype(int), peel_alpha=0.05, paste_alpha=0.05, mass_min=0.05)
        rows, limits, trajectories = [], [], []
        for number in range(1, max_boxes + 1):
            box = algorithm.find_box()
            if box is None:
                break
            trajectory = box.peeling_trajectory
            start = float(trajectory["coverage"].iloc[0])
            chosen = _choose(trajectory, min_coverage * start)
            box.select(chosen)
            if number > 1 and box.density <= max(LATER_BOX_DENSITY, base_rate):
                break
            lims = box.box_lims[chosen]
            restricted = list(scenario_discovery._determine_restricted_dims(lims, algorithm.box_init))
            limits.append(_limits(lims, x, integer))
            rows.append({"box": number, "coverage": float(box.coverage), "density": float(box.density),
                         "mass": float(box.mass), "runs": int(box.peeling_trajectory["n"].iloc[chosen]),
                         "cases": int(box.peeling_trajectory["k"].iloc[chosen]),
                         "restricted": ";".join(p for p in x.columns if p in restricted),
                         "trajectory_point": chosen})
            trajectories.append(trajectory.assign(box=number)[TRAJECTORY_COLUMNS])
            if box.density <= base_rate or len(algorithm.yi_remaining) == 0:
                break
    for name in x.columns:
        for row, lims in zip(rows, limits):
            if _is_category(x[name]):
                row[name] = "|".join(lims[name])
            else:
                row[f"{name}_low"], row[f"{name}_high"] = lims[name]
    boxes = pd.DataFrame(rows)
    return Discovery(outcome=outcome, condition=condition, runs=len(y), cases=int(y.sum()), missing=missing,
                     parameters=list(x.columns), boxes=boxes, limits=limits, full=_limits(algorithm.box_init, x, integer),
                     trajectory=pd.concat(trajectories, ignore_index=True), scores=feature_scores(x, y, seed),
                     dropped=list(dropped or []))


def feature_scores(x: pd.DataFrame, y: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Extra-trees feature scores of each input for telling the cases of interest apart
    (they add up to 1), seeded so that the same files give the same scores."""
    from ema_workbench.analysis import feature_scoring

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores, _ = feature_scoring.get_ex_feature_scores(
            x, np.asarray(y, dtype=int), max_features=max(1, round(x.shape[1] / 3)), random_state=seed % 2**32)
    table = scores.reset_index()
    table.columns = ["parameter", "score"]
    return table.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


def _choose(trajectory: pd.DataFrame, coverage: float) -> int:
    """The densest box of the trajectory with at least ``coverage`` (the first such on ties)."""
    eligible = trajectory[trajectory["coverage"] >= coverage - 1e-12]
    return int(eligible["density"].idxmax())


def _limits(lims: pd.DataFrame, x: pd.DataFrame, integer: frozenset[str]) -> dict:
    """Box limits as parameter -> (low, high) for numbers (whole numbers, rounded inwards,
    for the parameters in ``integer``), or the tuple of values kept (in the order of the
    categories) for a category."""
    out = {}
    for name in x.columns:
        if _is_category(x[name]):
            kept = lims[name].iloc[0]
            out[name] = tuple(c for c in x[name].cat.categories if c in kept)
        else:
            low, high = float(lims[name].iloc[0]), float(lims[name].iloc[1])
            out[name] = (math.ceil(low - 1e-9), math.floor(high + 1e-9)) if name in integer else (low, high)
    return out


def _is_category(column: pd.Series) -> bool:
    return isinstance(column.dtype, pd.CategoricalDtype)


def _ema():
    """The EMA Workbench's PRIM (the ``discover`` extra); its import warns about optional
    parallel back-ends that discovery does not use."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from ema_workbench.analysis import prim, scenario_discovery_util
    except ImportError:
        raise InputError("discover needs the EMA Workbench: install the 'discover' extra "
                         "(pip install 'crowd-model[discover]', or scripts/bootstrap.sh with it)") from None
    return prim, scenario_discovery_util


def describe(found: Discovery) -> list[str]:
    """A short human summary: the cases of interest, each box's limits, the feature scores."""
    share = found.cases / found.runs
    lines = [f"{found.outcome} {found.condition} in {found.cases} of {found.runs} runs ({share:.0%})"
             + (f"; {found.missing} runs without a value count as not meeting it" if found.missing else "")]
    if found.dropped:
        lines.append(f"left out (one value in every run): {', '.join(found.dropped)}")
    width = max(len(p) for p in found.parameters)
    for row, lims in zip(found.boxes.itertuples(), found.limits):
        lines.append(f"box {row.box}: coverage {row.coverage:.2f}, density {row.density:.2f}, mass {row.mass:.2f} "
                     f"({row.cases} of its {row.runs} runs)")
        restricted = [p for p in row.restricted.split(";") if p]
        for name in restricted:
            lines.append(f"  {name:<{width}}  {_shown(lims[name])}   (all runs: {_shown(found.full[name])})")
        if not restricted:
            lines.append("  (no restriction: the box holds every run)")
    scores = ", ".join(f"{r.parameter} {r.score:.2f}" for r in found.scores.itertuples())
    lines.append(f"feature scores: {scores}")
    return lines


def _shown(limit) -> str:
    if len(limit) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in limit):
        return " .. ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in limit)
    return ", ".join(str(v) for v in limit)


def write(found: Discovery, out: Path, formats=("png",)) -> list[Path]:
    """boxes, peeling trajectory and feature scores (CSV) and the trajectory figure."""
    from crowd_model.analysis import figures

    out = Path(out)
    stem = f"{found.outcome}"
    written = []
    for name, table in (("prim_boxes", found.boxes),
                        ("prim_trajectory", found.trajectory), ("feature_scores", found.scores)):
        path = out / f"{name}_{stem}.csv"
        table.to_csv(path, index=False)
        written.append(path)
    (out / "figures").mkdir(exist_ok=True)
    written += figures.prim_trajectory(found, out / "figures" / f"prim_{stem}", formats)
    return written
