"""Validation files: cases of a scenario run over paired seeds, and the contrasts to draw.

A validation file (``experiments/specs/validation/*.toml``) has the sweep keys ``scenario``,
``steps``, ``replications`` and ``seed``; ``outcomes`` to compare; one ``[cases.NAME]`` table
of overrides per case (``[cases.base]`` required); and ``[[contrast]]`` entries ``case``,
``reference`` and optionally ``claim = { outcome = "+" | "-" }`` (the sign a claim expects).
Each case runs as a one-point sweep (resumable, like any sweep) with the file's root seed, so
every case's replicate r has the same seed (common random numbers). ``crowd-model validate``
runs the cases and tabulates the contrasts (``crowd_model.analysis.contrasts``).
"""

from __future__ import annotations

import tomllib
from concurrent.futures import Executor
from pathlib import Path

import pandas as pd

from crowd_model.errors import InputError
from crowd_model.files import check_file, read_text_file
from crowd_model.experiments.spec import parse_experiment
from crowd_model.experiments.sweep import run_sweep

_KEYS = {"description", "scenario", "steps", "replications", "seed", "outcomes", "cases", "contrast"}
_CONTRAST_KEYS = {"case", "reference", "claim"}
MAX_VALIDATION_BYTES = 256 * 1024


def load_validation(path: str | Path, replications: int | None = None, steps: int | None = None) -> dict:
    """The file's cases (as experiments), contrasts and outcomes, checked."""
    path = Path(path)
    check_file(path, "validation file")
    try:
        data = tomllib.loads(read_text_file(path, "validation file", MAX_VALIDATION_BYTES))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise InputError(f"{path}: unknown key(s) {unknown}; allowed: {', '.join(sorted(_KEYS))}")
    cases = data.get("cases", {})
    if "base" not in cases:
        raise InputError(f"{path}: needs a [cases.base] table")
    contrasts = data.get("contrast", [])
    for contrast in contrasts:
        extra = sorted(set(contrast) - _CONTRAST_KEYS)
        if extra:
            raise InputError(f"{path}: a [[contrast]] has unknown key(s) {extra}; allowed: case, reference, claim")
        for key in ("case", "reference"):
            if contrast.get(key) not in cases:
                raise InputError(f"{path}: contrast {key} {contrast.get(key)!r} is not one of the cases: "
                                 f"{', '.join(cases)}")
        for outcome, sign in contrast.get("claim", {}).items():
            if sign not in ("+", "-"):
                raise InputError(f"{path}: claim on {outcome}: {sign!r}; use \"+\" or \"-\"")
    common = {k: data[k] for k in ("scenario", "steps", "replications", "seed") if k in data}
    if replications:
        common["replications"] = replications
    if steps:
        common["steps"] = steps
    experiments = {name: parse_experiment({**common, "set": overrides}, name=f"validation-{name}",
                                          base_dir=path.parent, origin=f"{path} case {name}")
                   for name, overrides in cases.items()}
    outcomes = list(data.get("outcomes", []))
    known = experiments["base"].outcome_columns
    missing = [o for o in outcomes + [o for c in contrasts for o in c.get("claim", {})] if o not in known]
    if missing:
        raise InputError(f"{path}: outcome(s) {sorted(set(missing))} are not outcomes of the scenario; "
                         f"outcomes: {', '.join(known)}")
    return {"experiments": experiments, "contrasts": contrasts, "outcomes": outcomes or list(known)}


def run_cases(spec: dict, out: Path, executor: Executor, in_flight: int = 1, label: str = "",
              resume: bool = False) -> dict[str, pd.DataFrame]:
    """Run every case into ``out/NAME``; each case's ``outcomes.csv`` indexed by replicate."""
    outcomes = {}
    for name, experiment in spec["experiments"].items():
        run_sweep(experiment, out / name, executor, in_flight=in_flight, progress=False,
                  executor_label=label, resume=resume)
        outcomes[name] = pd.read_csv(out / name / "outcomes.csv").set_index("replicate").sort_index()
    return outcomes
