"""Paired contrasts between cases run on common seeds: the difference of each outcome with
its 95% confidence interval (paired t interval over replicates; Student 1908)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95


def paired_difference(case: pd.Series, reference: pd.Series) -> dict:
    """Mean of ``case - reference`` over the replicates both ran (aligned by index), with a
    95% t interval; an empty value (e.g. a crowd that never dispersed) leaves that pair out."""
    both = pd.concat([case, reference], axis=1, keys=["case", "reference"]).dropna()
    d = (both["case"] - both["reference"]).astype(float).to_numpy()
    n = len(d)
    mean = float(d.mean()) if n else np.nan
    if n > 1 and d.std(ddof=1) > 0:
        half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * d.std(ddof=1) / np.sqrt(n))
    else:
        half = 0.0 if n > 1 else np.nan
    return {"pairs": n, "case_mean": float(both["case"].mean()) if n else np.nan,
            "reference_mean": float(both["reference"].mean()) if n else np.nan,
            "difference": mean, "low": mean - half, "high": mean + half}


def contrast_table(outcomes: dict[str, pd.DataFrame], contrasts: list[dict], columns: list[str]) -> pd.DataFrame:
    """One row per contrast and outcome. ``outcomes`` maps a case to its ``outcomes.csv``
    (indexed by replicate); a contrast is ``{case, reference, claim}`` where ``claim`` maps an
    outcome to the sign the drill expects ("+" or "-"): ``claim_holds`` says whether the
    interval lies wholly on that side of zero."""
    rows = []
    for contrast in contrasts:
        case, reference = outcomes[contrast["case"]], outcomes[contrast["reference"]]
        claims = contrast.get("claim", {})
        for column in columns:
            row = {"case": contrast["case"], "reference": contrast["reference"], "outcome": column,
                   **paired_difference(case[column], reference[column])}
            sign = claims.get(column, "")
            row["claim"] = sign
            row["claim_holds"] = (row["low"] > 0 if sign == "+" else row["high"] < 0) if sign else None
            rows.append(row)
    return pd.DataFrame(rows)


def contrast_figure(table: pd.DataFrame, path) -> None:
    """A forest plot: each outcome in its own panel, one interval per contrast."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outcomes = list(dict.fromkeys(table.outcome))
    cols = 3
    rows = -(-len(outcomes) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 0.45 * table.case.nunique() * rows + 1.5 * rows),
                             squeeze=False)
    for ax, outcome in zip(axes.flat, outcomes):
        part = table[table.outcome == outcome].reset_index(drop=True)
        labels = [f"{c} − {r}" for c, r in zip(part.case, part.reference)]
        y = np.arange(len(part))[::-1]
        colours = ["#2e7d32" if h in (True, "True") else "#c62828" if h in (False, "False") else "#37474f"
                   for h in part.claim_holds]
        for k, r in enumerate(part.itertuples()):
            ax.errorbar([r.difference], [y[k]], xerr=[[r.difference - r.low], [r.high - r.difference]],
                        fmt="o", color=colours[k], ms=3.5, capsize=3)
        ax.axvline(0, color="#9e9e9e", lw=0.8)
        ax.set_yticks(y, labels, fontsize=7)
        ax.set_title(outcome, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    for ax in axes.flat[len(outcomes):]:
        ax.set_visible(False)
    fig.suptitle("Response contrasts: mean paired difference, 95% CI (green: the drill's claim holds; red: it does not)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(table: pd.DataFrame) -> str:
    """The table as Markdown: one line per contrast and outcome, difference [95% CI]."""
    lines = ["| contrast | outcome | case | reference | difference [95% CI] | drill's claim |",
             "|---|---|---|---|---|---|"]
    for r in table.itertuples():
        sign = r.claim if isinstance(r.claim, str) else ""  # empty when read back from CSV
        claim = f"{sign}: {'holds' if r.claim_holds in (True, 'True') else 'does not hold'}" if sign else ""
        lines.append(f"| {r.case} − {r.reference} | {r.outcome} | {r.case_mean:.4g} | {r.reference_mean:.4g} | "
                     f"{r.difference:+.4g} [{r.low:+.4g}, {r.high:+.4g}] (n={r.pairs}) | {claim} |")
    return "\n".join(lines)
