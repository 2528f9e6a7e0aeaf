"""Figures with matplotlib (Agg backend: files only, no screen)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def save(fig, stem: Path, formats) -> list[Path]:
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=120, bbox_inches="tight", metadata={"Date": None} if fmt == "svg" else None)
        paths.append(path)
    plt.close(fig)
    return paths


def phase_diagram(summary: pd.DataFrame, x: str, y: str, metric: str, stem: Path, formats) -> list[Path]:
    """Heatmap of the mean of ``metric`` over two varied parameters (other varied
    parameters averaged over)."""
    table = summary[summary["metric"] == metric].pivot_table(index=y, columns=x, values="mean", aggfunc="mean")
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * max(4, table.shape[1]), 1.0 + 0.55 * max(4, table.shape[0])))
    image = ax.imshow(table.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(table.shape[1]), [f"{v:g}" if isinstance(v, float) else str(v) for v in table.columns])
    ax.set_yticks(range(table.shape[0]), [f"{v:g}" if isinstance(v, float) else str(v) for v in table.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    values = table.to_numpy(dtype=float)
    if values.size <= 150:
        finite = values[np.isfinite(values)]
        middle = (finite.min() + finite.max()) / 2 if finite.size else 0
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=8,
                        color="white" if v < middle else "black")
    fig.colorbar(image, ax=ax, label=f"mean {metric}")
    ax.set_title(f"{metric}: mean over replications")
    return save(fig, stem, formats)


def response_curve(summary: pd.DataFrame, x: str, metric: str, stem: Path, formats) -> list[Path]:
    """Mean of ``metric`` against one varied parameter, with its 95% interval."""
    table = summary[summary["metric"] == metric].groupby(x)[["mean", "ci_low", "ci_high"]].mean().reset_index()
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = table[x].to_numpy()
    if pd.api.types.is_numeric_dtype(table[x]):
        ax.plot(xs, table["mean"], marker="o", color="C0", label="mean")
        ax.fill_between(xs, table["ci_low"], table["ci_high"], color="C0", alpha=0.25, label="95% CI of the mean")
    else:
        errors = np.vstack([table["mean"] - table["ci_low"], table["ci_high"] - table["mean"]])
        ax.errorbar(xs, table["mean"], yerr=np.nan_to_num(errors), fmt="o", capsize=4, color="C0",
                    label="mean, 95% CI of the mean")
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.legend()
    return save(fig, stem, formats)


def scatter(outcomes: pd.DataFrame, parameters: list[str], metric: str, stem: Path, formats) -> list[Path]:
    """``metric`` of every run against each sampled parameter (lhs designs)."""
    fig, axes = plt.subplots(1, len(parameters), figsize=(3.2 * len(parameters), 3.2), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], parameters):
        ax.scatter(outcomes[name], outcomes[metric], s=8, alpha=0.6)
        ax.set_xlabel(name)
        if not pd.api.types.is_numeric_dtype(outcomes[name]):  # a choice of an lhs design
            ax.tick_params(axis="x", labelrotation=25)
    axes[0][0].set_ylabel(metric)
    return save(fig, stem, formats)


def timeseries_panels(bands: dict[str, pd.DataFrame], stem: Path, formats, legend_title: str) -> list[Path]:
    """One panel per metric: mean per step with its 95% interval, one line per group."""
    fig, axes = plt.subplots(len(bands), 1, figsize=(8, 2.6 * len(bands)), sharex=True, squeeze=False)
    for ax, (metric, table) in zip(axes[:, 0], bands.items()):
        for k, (group, g) in enumerate(table.groupby("group", sort=True)):
            color = f"C{k % 10}"
            label = f"{group:g}" if isinstance(group, float) else str(group)
            ax.plot(g["step"], g["mean"], color=color, lw=1.2, label=label)
            ax.fill_between(g["step"], g["ci_low"], g["ci_high"], color=color, alpha=0.2, lw=0)
        ax.set_ylabel(metric)
    axes[-1, 0].set_xlabel("step")
    axes[0, 0].legend(title=legend_title, fontsize=8, ncols=min(4, max(1, len(axes[0, 0].lines))))
    axes[0, 0].set_title("mean per step with 95% CI of the mean over runs")
    return save(fig, stem, formats)


def sobol_bars(table: pd.DataFrame, metric: str, stem: Path, formats) -> list[Path]:
    """First- and total-order indices of ``metric`` with their bootstrap intervals."""
    rows = table[table["metric"] == metric]
    xs = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(1.5 + 1.1 * len(rows), 4))
    for offset, key, label in ((-0.18, "S1", "first order S1"), (0.18, "ST", "total order ST")):
        values = rows[key].to_numpy()
        errors = np.abs(np.vstack([values - rows[f"{key}_low"], rows[f"{key}_high"] - values]))
        ax.bar(xs + offset, values, width=0.36, yerr=errors, capsize=3, label=label)
    ax.set_xticks(xs, rows["parameter"], rotation=30, ha="right")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel("Sobol' index")
    ax.set_title(f"sensitivity of {metric} (95% bootstrap intervals)")
    ax.legend()
    return save(fig, stem, formats)


def morris_plane(table: pd.DataFrame, metric: str, stem: Path, formats, labelled: int = 4) -> list[Path]:
    """Left: σ against μ* of ``metric`` (Morris 1991) — far right, important; high,
    non-linear or interacting; near the σ = μ* line, effects that change sign or size
    across the space; the ``labelled`` largest μ* are named. Right: μ* of every parameter,
    largest first, with its bootstrap interval."""
    rows = table[table["metric"] == metric]
    mu_star, sigma = rows["mu_star"].to_numpy(dtype=float), rows["sigma"].to_numpy(dtype=float)
    errors = np.nan_to_num(np.abs(np.vstack([mu_star - rows["mu_star_low"], rows["mu_star_high"] - mu_star])))
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(12, 0.8 + max(4.2, 0.28 * len(rows))),
                                   gridspec_kw={"width_ratios": [1.2, 1]})
    ax.errorbar(mu_star, sigma, xerr=errors, fmt="o", capsize=3, color="C0", ecolor="C0", alpha=0.8)
    ranked = np.argsort(-np.nan_to_num(mu_star, nan=-1.0), kind="stable")
    for k in ranked[:labelled]:
        if np.isfinite(mu_star[k]) and np.isfinite(sigma[k]):
            ax.annotate(rows["parameter"].iloc[k], (mu_star[k], sigma[k]), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
    top = np.nanmax(np.concatenate([rows["mu_star_high"].to_numpy(dtype=float), sigma, [1e-12]]))
    ax.plot([0, top * 1.05], [0, top * 1.05], color="grey", lw=0.8, ls="--", label="σ = μ*")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("μ* (mean |elementary effect|)")
    ax.set_ylabel("σ (sd of elementary effects)")
    ax.legend(loc="upper left")
    order = ranked[::-1]
    ys = np.arange(len(order))
    bars.barh(ys, mu_star[order], xerr=errors[:, order], capsize=2, color="C0", alpha=0.8)
    bars.set_yticks(ys, rows["parameter"].to_numpy()[order], fontsize=8)
    bars.set_xlabel("μ* with 95% bootstrap interval")
    bars.set_xlim(left=0)
    fig.suptitle(f"Morris screening of {metric}")
    fig.tight_layout()
    return save(fig, stem, formats)


def posterior(particles: pd.DataFrame, names: list[str], bounds: dict[str, tuple[float, float]],
              truth: dict[str, float], stem: Path, formats, by_pyabc: bool = False) -> list[Path]:
    """Weighted histograms of each fitted parameter: the prior (generation 0) and every
    later generation of an ABC-SMC calibration, the last one filled; known values dashed.
    pyabc's generation 0 is not the prior (its tolerance comes from a calibration sample of
    the prior, which it does not keep), so with ``by_pyabc`` it is not labelled so."""
    last = int(particles["generation"].max())
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        bins = np.linspace(*bounds[name], 31)
        for g, rows in particles.groupby("generation", sort=True):
            final = g == last
            ax.hist(rows[name], bins=bins, weights=rows["weight"], density=True,
                    histtype="stepfilled" if final else "step", alpha=0.45 if final else 0.8,
                    color="C0" if final else plt.cm.Greys(0.3 + 0.6 * g / max(last, 1)),
                    label=f"generation {g}" + (" (posterior)" if final else " (prior)" if g == 0 and not by_pyabc
                                               else ""))
        if name in truth:
            ax.axvline(truth[name], color="C3", ls="--", label="true value")
        ax.set_xlabel(name)
    axes[0][0].set_ylabel("density")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle("ABC-SMC (pyabc): generations and posterior" if by_pyabc
                 else "ABC-SMC: prior, intermediate generations and posterior")
    fig.tight_layout()
    return save(fig, stem, formats)


def prim_trajectory(found, stem: Path, formats) -> list[Path]:
    """PRIM's peeling trajectory (coverage against density, coloured by the number of
    restricted parameters, each box's chosen point marked) and the first box's limits as a
    share of each parameter's range over all runs."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4), gridspec_kw={"width_ratios": [1.1, 1]})
    trajectory = found.trajectory
    top = max(1, int(trajectory["res_dim"].max()))
    cmap = plt.get_cmap("viridis", top + 1)
    markers = "os^Dv"
    for k, (box, points) in enumerate(trajectory.groupby("box", sort=True)):
        image = left.scatter(points["coverage"], points["density"], c=points["res_dim"], cmap=cmap,
                             vmin=-0.5, vmax=top + 0.5, s=18, marker=markers[k % len(markers)], label=f"box {box}")
        chosen = found.boxes.loc[found.boxes["box"] == box].iloc[0]
        left.scatter([chosen["coverage"]], [chosen["density"]], s=140, facecolors="none", edgecolors="red", lw=1.5)
        left.annotate(f"box {box}", (chosen["coverage"], chosen["density"]), textcoords="offset points",
                      xytext=(6, 6), color="red", fontsize=9)
    fig.colorbar(image, ax=left, ticks=range(top + 1), label="restricted parameters")
    left.axhline(found.cases / found.runs, color="grey", lw=0.8, ls="--")
    left.set_xlabel("coverage")
    left.set_ylabel("density")
    left.set_xlim(0, 1.02)
    left.set_ylim(0, 1.08)
    left.set_title(f"peeling trajectory: {found.outcome} {found.condition}", fontsize=10)
    _box_limits(right, found)
    fig.tight_layout()
    return save(fig, stem, formats)


def _box_limits(ax, found) -> None:
    """The first box's limits on each parameter, as a share of the range over all runs."""
    names = found.parameters
    lims = found.limits[0]
    for i, name in enumerate(names):
        full, kept = found.full[name], lims[name]
        numeric = len(full) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in full)
        if numeric:
            span = (full[1] - full[0]) or 1
            low, high = (kept[0] - full[0]) / span, (kept[1] - full[0]) / span
            label = f"{kept[0]:.3g} .. {kept[1]:.3g}  (of {full[0]:.3g} .. {full[1]:.3g})"
        else:
            shares = [v in kept for v in full]
            low, high = 0.0, 1.0
            label = ", ".join(kept) + f"  ({len(kept)} of {len(full)})"
            for j, inside in enumerate(shares):
                ax.barh(i, 1 / len(full), left=j / len(full), height=0.5,
                        color="C0" if inside else "#eeeeee", edgecolor="white")
        if numeric:
            ax.barh(i, 1, left=0, height=0.5, color="#eeeeee")
            ax.barh(i, high - low, left=low, height=0.5, color="C0")
        ax.text(0.5, i + 0.3, label, ha="center", va="top", fontsize=8)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(-0.5, len(names) - 0.05)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xticks([])
    row = found.boxes.iloc[0]
    ax.set_title(f"box 1: coverage {row['coverage']:.2f}, density {row['density']:.2f}, mass {row['mass']:.2f}",
                 fontsize=10)


def optimisation(evaluations: pd.DataFrame, names: list[str], bounds: dict[str, tuple[float, float]],
                 truth: dict[str, float], stem: Path, formats) -> list[Path]:
    """A calibration by optimisation: the distance of every evaluated point against each fitted
    parameter, coloured by round, the best point circled, known values dashed; and the best
    distance so far over the rounds."""
    finite = evaluations[np.isfinite(evaluations["distance"])]
    best = finite.loc[finite["distance"].idxmin()] if len(finite) else None
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(4.2 * (len(names) + 1), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        image = ax.scatter(finite[name], finite["distance"], c=finite["round"], cmap="viridis", s=10)
        if best is not None:
            ax.scatter([best[name]], [best["distance"]], s=120, facecolors="none", edgecolors="C3", lw=1.5,
                       label="best fit")
        if name in truth:
            ax.axvline(truth[name], color="C3", ls="--", label="true value")
        ax.set_xlim(*bounds[name])
        ax.set_xlabel(name)
        ax.set_ylabel("distance to the targets")
        ax.legend(fontsize=7)
    fig.colorbar(image, ax=axes[0][len(names) - 1], label="round")
    trace = axes[0][-1]
    per_round = finite.groupby("round")["distance"].min().cummin()
    trace.plot(per_round.index, per_round.to_numpy(), marker="o", ms=3)
    trace.set_xlabel("round (generation)")
    trace.set_ylabel("best distance so far")
    fig.suptitle("calibration by differential evolution: every point evaluated, and the best so far")
    fig.tight_layout()
    return save(fig, stem, formats)
