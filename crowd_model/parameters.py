"""The one parameter object: every parameter's default, bounds, unit and meaning.

Scenario presets, ``--set`` on the command line, experiment files and the app's sliders
all read :func:`parameter_specs`; nothing else states a default. Values are checked for
type, bounds and cross-field constraints when a :class:`Parameters` is made, so a bad
value fails with one message that names it and says what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crowd_model.errors import InputError
from crowd_model.schedules import Schedule, parse_schedule

RATIO_RULES = ("literal", "floor", "round")
ARREST_POLICIES = ("violent", "provocateurs_first", "indiscriminate")
RESPONSE_POLICIES = ("doctrine", "immediate", "passive")


def parameter(
    default,
    *,
    help: str,
    unit: str = "",
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] | None = None,
    schedulable: bool = False,
    group: str = "population",
    kernel: bool = False,
):
    """Declare one parameter of :class:`Parameters` with its documentation and bounds.

    ``kernel=True`` puts it in the record the compiled steps read (:data:`KernelParameters`,
    as ``p.<name>``: a choice as the index of its value, the rest as they are)."""
    return field(
        default=default,
        metadata={
            "help": help,
            "unit": unit,
            "low": low,
            "high": high,
            "choices": choices,
            "schedulable": schedulable,
            "group": group,
            "kernel": kernel,
        },
    )


@dataclass(frozen=True)
class ParameterSpec:
    """What a face (CLI, experiment file, slider) needs to know of one parameter."""

    name: str
    type: type
    default: Any
    help: str
    unit: str
    low: float | None
    high: float | None
    choices: tuple[str, ...] | None
    schedulable: bool
    group: str
    kernel: bool

    def describe_allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.type is bool:
            return "true or false"
        kind = "an integer" if self.type is int else "a number"
        if self.low is not None and self.high is not None:
            return f"{kind} in [{_fmt(self.low)}, {_fmt(self.high)}]"
        if self.low is not None:
            return f"{kind} >= {_fmt(self.low)}"
        return kind

    def coerce(self, value: Any) -> Any:
        """Turn a value from TOML or a ``name=value`` string into this parameter's type."""
        bad = InputError(
            f"parameter {self.name}: {value!r} is not allowed; expected {self.describe_allowed()}"
        )
        if isinstance(value, str):
            text = value.strip()
            if self.type is bool:
                lowered = text.lower()
                if lowered in ("true", "1", "yes", "on"):
                    return True
                if lowered in ("false", "0", "no", "off"):
                    return False
                raise bad
            if self.type is str:
                value = text
            else:
                try:
                    value = float(text)
                except ValueError:
                    raise bad from None
        if self.type is bool:
            if not isinstance(value, bool):
                raise bad
            return value
        if self.type is str:
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise bad
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        if not math.isfinite(value):
            raise bad
        if self.type is int:
            if float(value) != int(value):
                raise bad
            value = int(value)
        else:
            value = float(value)
        self.check_bounds(value)
        return value

    def check_bounds(self, value: float) -> None:
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise InputError(
                f"parameter {self.name}: {_fmt(value)} is out of bounds; "
                f"expected {self.describe_allowed()}"
            )


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True, kw_only=True)
class Parameters:
    """All parameters of a run, validated on creation. See ``crowd-model scenarios --parameters``.

    The Epstein (2002) Model I names map as: ``citizen_density`` (agent density),
    ``officer_density`` (cop density), ``citizen_vision``/``officer_vision`` (v),
    ``legitimacy`` (L), ``arrest_constant`` (k), ``activation_threshold`` (T),
    ``max_jail_term`` (J_max).
    """

    width: int = parameter(40, low=3, high=2000, unit="cells", group="site",
                           help="Grid width.")
    height: int = parameter(40, low=3, high=2000, unit="cells", group="site",
                            help="Grid height.")
    torus: bool = parameter(True, group="site",
                            help="Wrap the grid edges (Epstein's torus); false gives a bounded grid.", kernel=True)
    citizen_density: float = parameter(
        0.7, low=0.0, high=1.0, unit="per cell",
        help="Share of cells holding a civilian at the start (Epstein: agent density).")
    officer_density: float = parameter(
        0.04, low=0.0, high=1.0, unit="per cell", schedulable=True,
        help="Share of cells holding a security officer; a schedule adds or withdraws officers.")
    citizen_vision: int = parameter(
        7, low=0, high=50, unit="cells",
        help="Euclidean radius a civilian sees, own cell included (Epstein v).")
    officer_vision: int = parameter(
        7, low=0, high=50, unit="cells",
        help="Euclidean radius an officer sees, own cell included (Epstein v*).")
    legitimacy: float = parameter(
        0.82, low=0.0, high=1.0, schedulable=True, group="behaviour",
        help="Perceived legitimacy L of the authority; grievance G = H(1 - L).", kernel=True)
    arrest_constant: float = parameter(
        2.3, low=0.0, high=100.0, schedulable=True, group="behaviour",
        help="k in the estimated arrest probability P = 1 - exp(-k * ratio).", kernel=True)
    activation_threshold: float = parameter(
        0.1, low=-1.0, high=1.0, schedulable=True, group="behaviour",
        help="T: a civilian turns active when G - R*P > T.", kernel=True)
    ratio_rule: str = parameter(
        "floor", choices=RATIO_RULES, group="behaviour",
        help="How the cop-to-active ratio C/(1+A) enters P: literal (paper), floor (NetLogo), round (Mesa).", kernel=True)
    max_jail_term: int = parameter(
        30, low=1, high=1_000_000_000, unit="steps", schedulable=True, group="security",
        help="J_max: an arrest jails for a uniform 0..J_max-1 steps; above the run length means life.", kernel=True)
    movement: bool = parameter(
        True, group="behaviour",
        help="Agents move each step to a random empty cell within vision (Epstein rule M).", kernel=True)
    site: str = parameter(
        "none", group="site",
        help="Site map: 'none' (Epstein's open grid), a preset (kpu) or a path to a map file.")
    crowd_size: int = parameter(
        2000, low=0, high=1_000_000, unit="civilians",
        help="Civilians who gather at a site (site scenarios; without a site citizen_density sets it).")
    arrival_rate: int = parameter(
        0, low=0, high=1_000_000, unit="civilians per step", group="population",
        help="The march: civilians who reach the street each step, the korlap first, entering where the street "
             "is farthest from the gate; 0: the crowd stands assembled from the start.")
    provocateur_share: float = parameter(
        0.0, low=0.0, high=1.0,
        help="Share of civilians who are provocateurs: hardship 1, low risk aversion, agitators.")
    provocateur_risk_aversion: float = parameter(
        0.1, low=0.0, high=1.0,
        help="Provocateurs' risk aversion is drawn from U(0, this).")
    police_officers: int = parameter(
        150, low=0, high=100_000, unit="officers", group="security",
        help="Police officers at a site: Dalmas Awal, Dalmas Lanjut, PHH and the snatch team (the shares below); "
             "they hold the cordon and arrest.")
    dalmas_lanjut_share: float = parameter(
        0.3, low=0.0, high=1.0, group="security",
        help="Share of the police in Dalmas Lanjut (shields, batons, the tear-gas squad): they take the line "
             "in a yellow situation (lapis ganti, Perkap 16/2006).")
    phh_share: float = parameter(
        0.25, low=0.0, high=1.0, group="security",
        help="Share of the police in the Brimob riot-control company (PHH, shields): it takes the line in a red "
             "situation (lintas ganti, Perkap 16/2006).")
    snatch_team_share: float = parameter(
        0.1, low=0.0, high=1.0, group="security",
        help="Share of the police in the snatch team (tim penindak), which seizes identified provocateurs "
             "it sees; the rest of the police are Dalmas Awal.")
    tni_soldiers: int = parameter(
        90, low=0, high=100_000, unit="officers", group="security",
        help="Military (TNI) personnel at a site: they back the line and guard the office.")
    tni_arrests: bool = parameter(
        False, group="security",
        help="TNI soldiers seize civilians too (by default they assist the police and leave arrests to it).",
        kernel=True)
    shield_protection: float = parameter(
        0.5, low=0.0, high=1.0, group="security",
        help="Share of stone hits that shields stop from injuring Dalmas Lanjut and PHH officers.", kernel=True)
    linmas_guards: int = parameter(
        60, low=0, high=100_000, unit="officers", group="security",
        help="Civil-protection (Linmas) guards at a site; they shield in the rear rows and never arrest.")
    cordon_depth: int = parameter(
        3, low=1, high=20, unit="rows", group="security",
        help="Rows of posts behind the cordon front line (C cells of the site map).", kernel=True)
    linmas_guidance: float = parameter(
        0.05, low=0.0, high=1.0, group="security",
        help="Chance per step that a calm civilian next to a Linmas guard is guided home.", kernel=True)
    arrest_policy: str = parameter(
        "violent", choices=ARREST_POLICIES, group="security",
        help="Whom officers arrest: violent civilians, identified provocateurs first, or anyone engaged.", kernel=True)
    arrest_backup: int = parameter(
        3, low=1, high=50, unit="officers", group="security",
        help="Officers within 2 cells (the arresting one included) needed before an arrest (Lemos et al.).", kernel=True)
    arrest_reach: int = parameter(
        2, low=1, high=20, unit="cells", group="security",
        help="How far from an officer a civilian can be seized (site scenarios).")
    identify_probability: float = parameter(
        0.2, low=0.0, high=1.0, group="security",
        help="Chance per step that a violent provocateur within officer_vision of an officer is identified.", kernel=True)
    response_policy: str = parameter(
        "doctrine", choices=RESPONSE_POLICIES, group="response",
        help="doctrine: force graduated by the situation and stepped down when it eases (Perkap 16/2006, 1/2009); "
             "immediate: the strongest means and indiscriminate arrests from the first disorder; passive: cordon and appeals only.",
        kernel=True)
    yellow_engaged: int = parameter(
        30, low=1, high=1_000_000, unit="civilians", group="response",
        help="The situation turns yellow when the officers see at least this many engaged (active or violent) civilians.", kernel=True)
    red_violent: int = parameter(
        3, low=1, high=1_000_000, unit="civilians", group="response",
        help="The situation turns red when the officers see at least this many violent civilians.", kernel=True)
    deescalation_delay: int = parameter(
        10, low=1, high=10_000, unit="steps", group="response",
        help="Steps the situation (or the need for force) must stay lower before it is stepped down one level.", kernel=True)
    appeal_calming: float = parameter(
        0.05, low=0.0, high=1.0, group="response",
        help="From force stage 2 on, share of arousal lost each step by civilians within the officers' sight (verbal appeals).", kernel=True)
    negotiation: bool = parameter(
        True, group="response",
        help="A negotiator talks with the crowd's korlap (field coordinator) from the start (Perkap 16/2006).", kernel=True)
    negotiation_rate: float = parameter(
        0.01, low=0.0, high=1.0, unit="per step", group="response",
        help="Progress of the talks each step the situation is not red; at 1 the korlap agrees and calls the crowd off.", kernel=True)
    negotiation_relief: float = parameter(
        0.5, low=0.0, high=1.0, group="response",
        help="Share of their grievance supporters who hear the korlap set aside, times the talks' progress.", kernel=True)
    loudspeaker_range: int = parameter(
        15, low=0, high=200, unit="cells", group="response",
        help="How far the korlap's loudspeaker (on the command vehicle) is heard.", kernel=True)
    korlap_followers: float = parameter(
        0.3, low=0.0, high=1.0, group="population",
        help="Share of supporters who follow the korlap: they go home when he calls the crowd off.")
    pushback: bool = parameter(
        True, group="security",
        help="From force stage 4, the cordon advances on the crowd when the violent it sees are few against its officers.", kernel=True)
    pushback_threshold: float = parameter(
        0.1, low=0.0, high=10.0, group="security",
        help="The line advances while the violent civilians the officers see number at most this share of the officers on duty.", kernel=True)
    pushback_interval: int = parameter(
        10, low=1, high=10_000, unit="steps", group="security",
        help="Steps between one-cell advances of the cordon.", kernel=True)
    pushback_max: int = parameter(
        12, low=0, high=1000, unit="cells", group="security",
        help="How far the cordon may advance from its line.", kernel=True)
    water_cannons: int = parameter(
        1, low=0, high=10, unit="trucks", group="water cannon",
        help="Water-cannon trucks, placed on the W cells of the site map.")
    water_cannon_range: int = parameter(
        20, low=1, high=100, unit="cells", group="water cannon",
        help="How far the spray reaches.", kernel=True)
    water_cannon_cone: float = parameter(
        30.0, low=1.0, high=180.0, unit="degrees", group="water cannon",
        help="Half-angle of the spray cone around the aim (the centre of the violent civilians in range).", kernel=True)
    water_cannon_trigger: int = parameter(
        8, low=1, high=100_000, unit="civilians", group="water cannon",
        help="The cannon fires when at least this many violent civilians are within range.", kernel=True)
    water_cannon_cooldown: int = parameter(
        4, low=1, high=10_000, unit="steps", group="water cannon",
        help="Steps between two shots.", kernel=True)
    water_cannon_start: int = parameter(
        0, low=0, high=1_000_000, unit="step", group="water cannon",
        help="First step at which the cannon may fire (its timing).", kernel=True)
    water_capacity: float = parameter(
        10000.0, low=0.0, high=1e7, unit="litres", group="water cannon",
        help="Water in each truck's tank.")
    water_per_shot: float = parameter(
        400.0, low=1.0, high=1e6, unit="litres", group="water cannon",
        help="Water one shot uses.", kernel=True)
    tear_gas: bool = parameter(
        True, group="tear gas",
        help="The tear-gas squad (with the equipped units) may fire canisters at force stage 5.", kernel=True)
    tear_gas_canisters: int = parameter(
        20, low=0, high=10_000, unit="canisters", group="tear gas",
        help="Canisters the squad carries.", kernel=True)
    tear_gas_range: int = parameter(
        20, low=1, high=100, unit="cells", group="tear gas",
        help="How far in front of the line a canister is thrown.", kernel=True)
    tear_gas_trigger: int = parameter(
        5, low=1, high=100_000, unit="civilians", group="tear gas",
        help="A canister is fired at the densest group of violent civilians when at least this many are within range.", kernel=True)
    tear_gas_cooldown: int = parameter(
        5, low=1, high=10_000, unit="steps", group="tear gas",
        help="Steps between two canisters.", kernel=True)
    gas_spread: float = parameter(
        0.2, low=0.0, high=1.0, group="tear gas",
        help="Share of a cell's gas that drifts to its neighbours each step.", kernel=True)
    gas_decay: float = parameter(
        0.15, low=0.0, high=1.0, group="tear gas",
        help="Share of the gas that thins out each step.", kernel=True)
    gas_fear: float = parameter(
        0.6, low=0.0, high=10.0, group="behaviour",
        help="Fear added each step per unit of tear-gas concentration on the civilian's cell.", kernel=True)
    gas_injury_probability: float = parameter(
        0.005, low=0.0, high=1.0, group="tear gas",
        help="Chance per step, per unit of concentration, that tear gas injures a civilian.", kernel=True)
    violence_threshold: float = parameter(
        1.0, low=-1.0, high=3.0, group="behaviour",
        help="A civilian turns violent when G - R*P exceeds this (>= 1 with no arousal: never).", kernel=True)
    arousal_contagion: float = parameter(
        0.0, low=0.0, high=1.0, group="behaviour",
        help="How strongly engaged and provocateur neighbours raise an agent's arousal (added to G).", kernel=True)
    arousal_decay: float = parameter(
        0.05, low=0.0, high=1.0, group="behaviour",
        help="Share of arousal lost each step.", kernel=True)
    provocateur_influence: float = parameter(
        0.15, low=0.0, high=10.0, group="behaviour",
        help="Arousal exposure per provocateur next to an agent.", kernel=True)
    fear_threshold: float = parameter(
        1.0, low=0.0, high=100.0, group="behaviour",
        help="A civilian whose fear exceeds this flees to an exit.", kernel=True)
    fear_decay: float = parameter(
        0.1, low=0.0, high=1.0, group="behaviour",
        help="Share of fear lost each step.", kernel=True)
    spray_fear: float = parameter(
        1.0, low=0.0, high=10.0, group="behaviour",
        help="Fear added by a water-cannon hit.", kernel=True)
    arrest_fear: float = parameter(
        0.05, low=0.0, high=10.0, group="behaviour",
        help="Fear added per recent arrest within vision.", kernel=True)
    line_fear: float = parameter(
        0.1, low=0.0, high=10.0, group="behaviour",
        help="Fear added each step an advancing cordon stands next to the agent.", kernel=True)
    line_resistance: float = parameter(
        20.0, low=0.0, high=1000.0, unit="cells per post", group="behaviour",
        help="How much farther the engaged would walk than push past one post of the cordon: they head for the gate "
             "the way of least walking plus this per post crossed, so a short line is flanked and a gap is found; "
             "0: straight down the walking distance.", kernel=True)
    calm_standoff: float = parameter(
        10.0, low=0.0, high=1000.0, unit="cells", group="behaviour",
        help="Calm supporters gather no closer to the gate than this, leaving the front to the engaged.", kernel=True)
    fatigue_rate: float = parameter(
        0.001, low=0.0, high=1.0, unit="per step", group="behaviour",
        help="Fatigue a civilian builds each step at a site; it goes home once fatigue + fear outweigh its felt grievance.", kernel=True)
    throw_range: int = parameter(
        5, low=1, high=50, unit="cells", group="behaviour",
        help="How far violent civilians throw stones at officers.")
    throw_hit_probability: float = parameter(
        0.02, low=0.0, high=1.0, group="behaviour",
        help="Chance per step that a violent civilian with officers in range injures one.", kernel=True)
    damage_probability: float = parameter(
        0.3, low=0.0, high=1.0, group="behaviour",
        help="Chance per step that a violent civilian next to a fence, gate or facility damages it.", kernel=True)
    fence_hit_points: int = parameter(
        30, low=1, high=1_000_000, unit="hits", group="site",
        help="Damage a fence cell takes before it falls.")
    gate_hit_points: int = parameter(
        60, low=1, high=1_000_000, unit="hits", group="site",
        help="Damage a gate cell takes before it gives way (a breach).")
    facility_hit_points: int = parameter(
        10, low=1, high=1_000_000, unit="hits", group="site",
        help="Damage a lamp post, guard post or vehicle takes before it is wrecked.")
    officer_injury_probability: float = parameter(
        0.2, low=0.0, high=1.0, group="security",
        help="Chance that a stone hitting an officer injures him: he stops, is evacuated and leaves a gap in the line.", kernel=True)
    evacuation_delay: int = parameter(
        5, low=1, high=10_000, unit="steps", group="security",
        help="Steps an injured person lies where he fell, the step of the injury included, before being carried to the aid post.", kernel=True)
    injury_arousal: float = parameter(
        0.02, low=0.0, high=1.0, group="behaviour",
        help="Arousal a civilian gains each step per injured civilian it sees lying nearby.", kernel=True)
    arrest_injury_probability: float = parameter(
        0.1, low=0.0, high=1.0, group="security",
        help="Chance that an arrest injures the arrested civilian.", kernel=True)
    spray_injury_probability: float = parameter(
        0.02, low=0.0, high=1.0, group="water cannon",
        help="Chance that a water-cannon hit injures a civilian.", kernel=True)
    legitimacy_feedback: bool = parameter(
        False, group="behaviour",
        help="ESIM hypothesis (Reicher, Stott, Drury): indiscriminate force seen lowers perceived legitimacy.", kernel=True)
    legitimacy_loss: float = parameter(
        0.02, low=0.0, high=1.0, group="behaviour",
        help="Legitimacy an agent stops granting each step it sees indiscriminate force.", kernel=True)
    outburst_threshold: int = parameter(
        50, low=1, high=10_000_000, unit="civilians", group="outputs",
        help="An outburst is a spell of steps with more active civilians than this.")

    schedules: Mapping[str, Schedule] = field(default_factory=dict, repr=False, compare=True)

    def __post_init__(self):
        specs = _specs_by_name()
        for spec in specs.values():
            object.__setattr__(self, spec.name, spec.coerce(getattr(self, spec.name)))
        for name, schedule in self.schedules.items():
            spec = specs.get(name)
            if spec is None:
                raise InputError(_unknown_message(name))
            if not spec.schedulable:
                allowed = ", ".join(s.name for s in specs.values() if s.schedulable)
                raise InputError(
                    f"parameter {name} cannot follow a schedule; schedulable: {allowed}"
                )
            for v in schedule.values():
                spec.check_bounds(v)
        object.__setattr__(self, "schedules", dict(self.schedules))
        self._check_cross_fields()

    def _check_cross_fields(self) -> None:
        shares = self.dalmas_lanjut_share + self.phh_share + self.snatch_team_share
        if shares > 1.0 + 1e-9:
            raise InputError(
                f"dalmas_lanjut_share + phh_share + snatch_team_share ({shares:g}) exceed 1: "
                "they are shares of police_officers"
            )
        if self.site != "none":
            import numpy as np

            from crowd_model.site import CANNON, load_site

            site = load_site(self.site)
            if (self.width, self.height) != (site.width, site.height):
                raise InputError(
                    f"site {self.site} is {site.width}x{site.height} cells: width and height must be "
                    f"{site.width} and {site.height}, got {self.width} and {self.height}"
                )
            if self.torus:
                raise InputError(f"site {self.site}: a site needs torus = false")
            if self.water_cannons and not np.any(site.kind == CANNON):
                raise InputError(
                    f"site {self.site} has no water-cannon position (W): set water_cannons = 0 or add a W cell"
                )
            return
        peak_officers = max(
            [self.officer_density, *self.schedules.get("officer_density", Schedule(((0, 0.0),))).values()]
        )
        if self.citizen_density + peak_officers > 1.0:
            raise InputError(
                f"citizen_density ({self.citizen_density:g}) + officer_density "
                f"({peak_officers:g}) exceed 1: they do not fit the grid"
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: Parameters | None = None) -> Parameters:
        """Parameters from names to values (numbers, strings or schedule tables), over ``base``."""
        base = base or cls()
        specs = _specs_by_name()
        plain: dict[str, Any] = {}
        schedules = dict(base.schedules)
        for name, value in values.items():
            if name not in specs:
                raise InputError(_unknown_message(name))
            if isinstance(value, Mapping):
                schedule = parse_schedule(name, dict(value))
                schedules[name] = schedule
                plain[name] = schedule.value_at(0)
            elif isinstance(value, Schedule):
                schedules[name] = value
                plain[name] = value.value_at(0)
            else:
                schedules.pop(name, None)
                plain[name] = specs[name].coerce(value)
        return dataclasses.replace(base, schedules=schedules, **plain)

    def with_overrides(self, assignments: list[str]) -> Parameters:
        """Apply ``name=value`` strings (the CLI's ``--set``); a name given twice is refused."""
        values = {}
        for item in assignments:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise InputError(f"--set expects name=value, got {item!r}")
            if name.strip() in values:
                raise InputError(f"--set {name.strip()} is given twice ({values[name.strip()]!r} and {value!r}); give it once")
            values[name.strip()] = value
        return Parameters.from_mapping(values, base=self)

    def at_step(self, t: int) -> Parameters:
        """The parameters in force at step ``t``, with every schedule evaluated."""
        if not self.schedules:
            return self
        values = {name: s.value_at(t) for name, s in self.schedules.items()}
        specs = _specs_by_name()
        values = {
            n: (round(v) if specs[n].type is int else v) for n, v in values.items()
        }
        return dataclasses.replace(self, schedules={}, **values)

    def to_dict(self) -> dict[str, Any]:
        """Plain values and schedule specs, ready for JSON or TOML."""
        out: dict[str, Any] = {s.name: getattr(self, s.name) for s in parameter_specs()}
        for name, schedule in self.schedules.items():
            out[name] = schedule.to_spec()
        return out


def _unknown_message(name: str) -> str:
    import difflib

    names = [s.name for s in parameter_specs()]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown parameter {name!r}{hint}; known: {', '.join(names)}"


_SPECS: dict[str, ParameterSpec] | None = None


def _specs_by_name() -> dict[str, ParameterSpec]:
    global _SPECS
    if _SPECS is None:
        hints = {"int": int, "float": float, "bool": bool, "str": str}
        _SPECS = {}
        for f in dataclasses.fields(Parameters):
            if f.name == "schedules":
                continue
            _SPECS[f.name] = ParameterSpec(
                name=f.name,
                type=hints[f.type] if isinstance(f.type, str) else f.type,
                default=f.default,
                **f.metadata,
            )
    return _SPECS


def parameter_specs() -> list[ParameterSpec]:
    """Every parameter's spec, in declaration order."""
    return list(_specs_by_name().values())


def _kernel_field_type(spec: ParameterSpec) -> np.dtype:
    if spec.choices or spec.type is int:
        return np.dtype(np.int64)
    return np.dtype(np.bool_ if spec.type is bool else np.float64)


KernelParameters = np.dtype(
    [(s.name, _kernel_field_type(s)) for s in parameter_specs() if s.kernel], align=True
)
"""The record the compiled steps read (``kernel=True`` parameters, as ``p.<name>``), derived
from :class:`Parameters`: a choice is the index of its value in ``choices``. A numpy record,
which numba passes down the compiled calls as one pointer (a tuple's 60-odd fields were
passed into every call: compiling the riot kernel took about a tenth longer)."""


def kernel_parameters(p: Parameters) -> np.record:
    """The record of ``p``'s kernel parameters, as the compiled steps take it."""
    values = []
    for spec in parameter_specs():
        if spec.kernel:
            value = getattr(p, spec.name)
            values.append(spec.choices.index(value) if spec.choices else value)
    return np.rec.array([tuple(values)], dtype=KernelParameters)[0]
