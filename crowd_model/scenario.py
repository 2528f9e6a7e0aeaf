"""Scenario presets: TOML files naming parameter values (or schedules), a run length and a seed.

A scenario file looks like::

    description = "..."
    steps = 1000
    seed = 42
    [parameters]
    legitimacy = 0.82
    officer_density = { schedule = "ramp", start = 100, end = 600, from = 0.074, to = 0.0 }

Presets live in ``crowd_model/presets``; ``load_scenario`` takes a preset name or a path.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from crowd_model.errors import InputError
from crowd_model.files import check_file, read_text_file
from crowd_model.parameters import Parameters

DEFAULT_STEPS = 500
DEFAULT_SEED = 42
_KEYS = {"name", "description", "steps", "seed", "parameters"}
MAX_SCENARIO_BYTES = 1_000_000


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    parameters: Parameters
    steps: int
    seed: int


def preset_names() -> list[str]:
    return sorted(p.name.removesuffix(".toml") for p in _preset_dir().iterdir() if p.name.endswith(".toml"))


def _preset_dir():
    return resources.files("crowd_model") / "presets"


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A preset by name (``epstein``) or a scenario TOML file by path."""
    text_name = str(name_or_path)
    if text_name in preset_names():
        source = _preset_dir() / f"{text_name}.toml"
        return parse_scenario(source.read_text(), default_name=text_name, origin=f"preset {text_name}")
    path = Path(text_name)
    if path.suffix == ".toml" or path.exists():
        check_file(path, "scenario file", hint="; give a preset name or a scenario .toml file")
        text = read_text_file(path, "scenario file", MAX_SCENARIO_BYTES)
        return parse_scenario(text, default_name=path.stem, origin=str(path))
    raise InputError(
        f"unknown scenario {text_name!r}; presets: {', '.join(preset_names())} (or a path to a .toml file)"
    )


def parse_scenario(text: str, default_name: str, origin: str) -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{origin}: malformed TOML: {exc}") from None
    unknown = set(data) - _KEYS
    if unknown:
        raise InputError(f"{origin}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    params = data.get("parameters", {})
    if not isinstance(params, dict):
        raise InputError(f"{origin}: [parameters] must be a table")
    try:
        parameters = Parameters.from_mapping(params)
    except InputError as exc:
        raise InputError(f"{origin}: {exc}") from None
    steps, seed = data.get("steps", DEFAULT_STEPS), data.get("seed", DEFAULT_SEED)
    for key, value in (("steps", steps), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(f"{origin}: {key} must be a non-negative integer, got {value!r}")
    return Scenario(
        name=str(data.get("name", default_name)),
        description=str(data.get("description", "")),
        parameters=parameters,
        steps=steps,
        seed=seed,
    )
