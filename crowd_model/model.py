"""The Mesa model: builds the array state, applies schedules, steps the kernel, collects data.

Without a site it is Epstein's (2002) Model I on a grid; with a site (``site = "kpu"``) it is
the riot at the election commission office: a crowd with provocateurs, a cordon of police,
TNI and Linmas, water cannons, damageable property and exits.
"""

from __future__ import annotations

import mesa
import numpy as np
import pandas as pd

from crowd_model import epstein, replay, riot, rules
from crowd_model.events import EVENT_COLUMNS, event_records
from crowd_model import site as site_codes
from crowd_model import world as world_
from crowd_model.agents import GridAgent, Korlap, Provocateur, SecurityOfficer, Supporter, WaterCannon
from crowd_model.errors import InputError
from crowd_model.outcomes import run_outcomes, unit_outcomes
from crowd_model.parameters import Parameters, kernel_parameters
from crowd_model.render import cell_categories
from crowd_model.site import Site, load_site
from crowd_model.world import CIVILIAN, OFFICER, PROVOCATEUR, World

TIMESERIES_COLUMNS = (
    "calm",
    "active",
    "violent",
    "fleeing",
    "arrested",
    "left",
    "injured",
    "arriving",
    "arrests_total",
    "provocateurs_arrested",
    "provocateurs_at_large",
    "injuries_civilians",
    "injuries_security",
    "property_damage",
    "water_used",
    "spraying",
    "gate_breached",
    "cordon_advance",
    "officers",
    "injured_officers",
    "tear_gas_used",
    "situation",
    "force_stage",
    "legitimacy",
)

EVENTS_PER_AGENT = 8  # the most events one agent's turn can record, with margin

#: The nominal length of one step, for showing time in minutes (the app's clock): a display
#: convention, not a calibration (docs/ODD.md, Scales).
MINUTES_PER_STEP = 1.0


def unit_strengths(p: Parameters) -> tuple[int, ...]:
    """Officers per unit, in :data:`crowd_model.world.UNIT_NAMES` order: the police split by
    the shares into Dalmas Lanjut, PHH and the snatch team (rounded), the rest Dalmas Awal;
    then TNI and Linmas."""
    lanjut, phh, snatch = (round(share * p.police_officers)
                           for share in (p.dalmas_lanjut_share, p.phh_share, p.snatch_team_share))
    awal = max(0, p.police_officers - lanjut - phh - snatch)
    return awal, lanjut, phh, p.police_officers - awal - lanjut - phh, p.tni_soldiers, p.linmas_guards


class CrowdModel(mesa.Model):
    """Civil violence on a grid: Epstein (2002) Model I at its core, the KPU riot with a site.

    The state is the array :class:`~crowd_model.world.World` (``model.world``); a step runs
    the compiled step of the scenario (:func:`crowd_model.epstein.step` without a site,
    :func:`crowd_model.riot.step` with one). The Mesa agents are live views of the world's
    rows (:mod:`crowd_model.agents`).

    Args:
        parameters: the validated parameter object (defaults: Epstein's Run 2).
        rng: the seed; one seed fixes the whole run.
        **overrides: parameter values by name, applied over ``parameters``.
    """

    def __init__(self, parameters: Parameters | None = None, *, rng: int | None = None, **overrides):
        super().__init__(rng=rng)
        parameters = parameters or Parameters()
        if overrides:
            parameters = Parameters.from_mapping(overrides, base=parameters)
        self.parameters = parameters
        self.current = parameters.at_step(0)
        self.site: Site | None = None if parameters.site == "none" else load_site(parameters.site)
        self.kernel = epstein if self.site is None else riot
        self.step_parameters = kernel_parameters(self.current)
        if self.site is None:
            self._set_world(self._build_world(self.current))
        else:
            self._set_world(self._build_site_world(self.current))
        self._full_hit_points = self.world.hit_points.copy() if self.site is not None else None
        self._agent_at: list[GridAgent | None] = []
        for i, kind in enumerate(self.world.kind):
            if kind == OFFICER:
                agent = SecurityOfficer(self, i)
            elif self.world.role[i] == PROVOCATEUR:
                agent = Provocateur(self, i)
            elif self.world.role[i] == world_.KORLAP:
                agent = Korlap(self, i)
            else:
                agent = Supporter(self, i)
            self._agent_at.append(agent)
        self.water_cannons = [WaterCannon(self, c) for c in range(len(self.world.cannon_x))]
        self.n_civilians = int(np.sum(self.world.kind == CIVILIAN))
        self.n_provocateurs = int(np.sum((self.world.kind == CIVILIAN) & (self.world.role == PROVOCATEUR)))
        self._event_rows: list[np.ndarray] = []
        self.datacollector = mesa.DataCollector(model_reporters={name: name for name in TIMESERIES_COLUMNS})
        self._update_counts()
        self.datacollector.collect(self)

    @property
    def cells(self) -> int:
        return self.current.width * self.current.height

    def _set_world(self, world: World) -> None:
        self.world = world
        self.packed_world = world_.packed(world)

    # --- building -------------------------------------------------------------------

    def _civilian_traits(self, world: World, n_civ: int) -> None:
        world.hardship[:n_civ] = self.rng.random(n_civ)
        world.risk_aversion[:n_civ] = self.rng.random(n_civ)

    def _mark_provocateurs(self, world: World, n_civ: int, p: Parameters) -> None:
        n_prov = round(p.provocateur_share * n_civ)
        if n_prov:
            chosen = self.rng.choice(n_civ, size=n_prov, replace=False)
            world.role[chosen] = PROVOCATEUR
            world.hardship[chosen] = 1.0
            world.risk_aversion[chosen] = self.rng.random(n_prov) * p.provocateur_risk_aversion

    def _choose_korlap(self, world: World, n_civ: int, p: Parameters) -> None:
        """One supporter leads the crowd as its korlap (lawful, committed: H 1, R 1); a share
        ``korlap_followers`` of the other supporters follow his call."""
        supporters = np.flatnonzero(world.role[:n_civ] == world_.SUPPORTER)
        world.response[world_.RESPONSE_KORLAP] = -1
        if not len(supporters):
            return
        korlap = supporters[self.rng.integers(len(supporters))]
        world.role[korlap] = world_.KORLAP
        world.hardship[korlap] = 1.0
        world.risk_aversion[korlap] = 1.0
        world.response[world_.RESPONSE_KORLAP] = korlap
        others = supporters[supporters != korlap]
        world.follower[others] = self.rng.random(len(others)) < p.korlap_followers

    def _march(self, world: World, n_civ: int, p: Parameters) -> None:
        """The crowd arrives ``arrival_rate`` a step, in a random order behind the korlap (who
        arrives at the first step), the provocateurs mingling with the column's second half;
        until then each is ARRIVING, off the grid."""
        order = self.rng.permutation(n_civ)
        korlap = world.response[world_.RESPONSE_KORLAP]
        if korlap >= 0:
            order = np.concatenate([[korlap], order[order != korlap]])
        provocateur = world.role[order] == PROVOCATEUR  # they mingle with the column's second half
        rest = order[~provocateur]
        half = len(rest) // 2
        slots = np.sort(self.rng.integers(half, len(rest) + 1, provocateur.sum()))
        order = np.insert(rest, slots, order[provocateur])
        world.arrival[order] = 1 + np.arange(n_civ) // p.arrival_rate  # Mesa's first step is at time 1
        world.state[:n_civ] = world_.ARRIVING

    def _build_world(self, p: Parameters) -> World:
        n_cells = p.width * p.height
        n_civ = round(p.citizen_density * n_cells)
        n_off = round(p.officer_density * n_cells)
        n = n_civ + n_off
        world = _empty_world(n, p)
        world.kind[n_civ:] = OFFICER
        self._civilian_traits(world, n_civ)
        cells = self.rng.choice(n_cells, size=n, replace=False)
        self._mark_provocateurs(world, n_civ, p)
        world_.place_many(world_.packed(world), np.arange(n), cells // p.height, cells % p.height)
        return world

    def _build_site_world(self, p: Parameters) -> World:
        site = self.site
        n_civ = p.crowd_size
        strengths = unit_strengths(p)
        units = np.repeat(np.arange(len(strengths)), strengths).astype(np.int8)
        n = n_civ + len(units)
        world = _empty_world(n, p, **_site_arrays(site, p))
        world.kind[n_civ:] = OFFICER
        world.role[n_civ:] = units
        self._civilian_traits(world, n_civ)
        self._mark_provocateurs(world, n_civ, p)
        self._choose_korlap(world, n_civ, p)
        assembly = site.cells(site_codes.ASSEMBLY)
        if n_civ > len(assembly):
            raise InputError(
                f"crowd_size {n_civ} does not fit the {len(assembly)} assembly cells of site {site.name}",
                "crowd_does_not_fit", crowd=n_civ, cells=len(assembly), site=site.name,
            )
        if p.arrival_rate:
            self._march(world, n_civ, p)
        world.response[world_.RESPONSE_STAGE] = rules.PRESENCE
        staffed = [u for u in (world_.DALMAS_AWAL, world_.DALMAS_LANJUT, world_.PHH) if strengths[u] > 0]
        world.response[world_.RESPONSE_LINE_UNIT] = staffed[0] if staffed else -1
        packed = world_.packed(world)
        present = np.flatnonzero(world.state[:n_civ] != world_.ARRIVING)
        chosen = assembly[self.rng.choice(len(assembly), size=len(present), replace=False)].reshape(-1, 2)
        world_.place_many(packed, present, *np.ascontiguousarray(chosen.T))
        n_posts = riot.assign_posts(packed, p.cordon_depth, 0, world.response[world_.RESPONSE_LINE_UNIT],
                                    p.line_resistance)
        if len(units) > n_posts:
            raise InputError(
                f"{len(units)} officers do not fit site {site.name}: it has {n_posts} posts "
                f"and yard cells at cordon_depth {p.cordon_depth}",
                "officers_do_not_fit", officers=len(units), site=site.name, posts=n_posts, depth=p.cordon_depth,
            )
        officers = n_civ + np.arange(len(units))
        posts = world.post_x[officers].astype(np.int64), world.post_y[officers].astype(np.int64)  # as the crowd's: one compilation
        world_.place_many(packed, officers, *posts)
        return world

    # --- views ------------------------------------------------------------------------

    def agent(self, index: int) -> GridAgent | None:
        """The Mesa agent for row ``index`` of the array state (None once withdrawn)."""
        return self._agent_at[index]

    def cell_categories(self) -> np.ndarray:
        """What each cell shows, as a ``(width, height)`` uint8 array of codes indexing
        :data:`crowd_model.render.CELL_CATEGORIES`: the site, agents on top, spray over civilians."""
        return cell_categories(self.world, self.packed_world, self._full_hit_points)

    def timeseries(self) -> pd.DataFrame:
        """The per-step table so far: ``step``, then :data:`TIMESERIES_COLUMNS`."""
        table = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        table.insert(0, "step", range(len(table)))
        return table

    def outcomes(self) -> dict:
        """The run's outcomes so far (:func:`crowd_model.outcomes.run_outcomes`; at a site also
        :func:`crowd_model.outcomes.unit_outcomes`)."""
        timeseries = self.timeseries()
        out = run_outcomes(timeseries, self.n_civilians, self.parameters.outburst_threshold)
        if self.site is not None:
            out.update(unit_outcomes(self.events(), timeseries, world_.UNIT_NAMES))
        return out

    # --- snapshots and branches (crowd_model.replay) ---------------------------------

    def snapshot(self, previous: replay.Snapshot | None = None) -> replay.Snapshot:
        """This moment of the model (arrays equal to ``previous``'s are shared with it)."""
        return replay.take(self, previous)

    def restore(self, snapshot: replay.Snapshot) -> None:
        """Go back (or forward) to ``snapshot``: the model then runs exactly as it did from there."""
        replay.restore(self, snapshot)

    def branch(self, **changes) -> CrowdModel:
        """A second model in this one's state and random stream with ``changes`` to parameters
        that can change mid-run (:data:`crowd_model.replay.MID_RUN_PARAMETERS`)."""
        return replay.branch(self, changes)

    # --- dynamics ---------------------------------------------------------------------

    def step(self) -> None:
        t = int(self.time)
        if self.parameters.schedules:
            self.current = self.parameters.at_step(t)
            self.step_parameters = kernel_parameters(self.current)
            if self.site is None:
                self._match_officer_count(round(self.current.officer_density * self.cells))
        if self.site is None:
            counts = epstein.step(self.packed_world, self.step_parameters, self.rng)
        else:
            counts = riot.step(self.packed_world, self.step_parameters, self.rng, t)
            self._keep_events()
        self._update_counts(counts)
        self.datacollector.collect(self)

    def _keep_events(self) -> None:
        response = self.world.response
        if response[world_.RESPONSE_EVENTS_DROPPED]:
            raise RuntimeError("the event buffer overflowed: raise EVENTS_PER_AGENT")
        n = int(response[world_.RESPONSE_EVENTS])
        if n:
            self._event_rows.append(self.world.events[:n].copy())

    def events(self) -> pd.DataFrame:
        """Every event so far, one row each: :data:`crowd_model.events.EVENT_COLUMNS`
        (empty without a site)."""
        rows = np.concatenate(self._event_rows) if self._event_rows else np.zeros((0, len(EVENT_COLUMNS)), np.int64)
        return pd.DataFrame(event_records(rows), columns=list(EVENT_COLUMNS))

    def _match_officer_count(self, target: int) -> None:
        """Withdraw or deploy officers so that ``target`` are on the grid (Epstein Run 5)."""
        w = self.world
        on_duty = np.flatnonzero(w.alive & (w.kind == OFFICER))
        if target < len(on_duty):
            for i in self.rng.choice(on_duty, size=len(on_duty) - target, replace=False):
                world_.withdraw(self.packed_world, i)
                self._agent_at[i].remove()
                self._agent_at[i] = None
        elif target > len(on_duty):
            free = np.flatnonzero(w.blockers.ravel() == 0)
            need = min(target - len(on_duty), len(free))
            cells = self.rng.choice(free, size=need, replace=False)
            first = len(w.kind)
            self._set_world(world_.grown(w, need))
            new = first + np.arange(need)
            self.world.kind[new] = OFFICER
            h = self.current.height
            world_.place_many(self.packed_world, new, cells // h, cells % h)
            self._agent_at.extend(SecurityOfficer(self, i) for i in new)

    def _update_counts(self, counts: np.ndarray | None = None) -> None:
        """The model's counts (what the time series records) from the world and its
        :func:`~crowd_model.world.census` (taken afresh unless given)."""
        w = self.world
        if counts is None:
            counts = world_.census(self.packed_world)
        for code, name in enumerate(world_.STATE_NAMES):
            setattr(self, name, int(counts[code]))
        tally = w.tally
        self.arrests_total = int(tally[world_.TALLY_ARRESTS])
        self.provocateurs_arrested = int(tally[world_.TALLY_PROVOCATEURS_ARRESTED])
        self.provocateurs_at_large = int(counts[world_.CENSUS_PROVOCATEURS_AT_LARGE])
        self.injuries_civilians = int(tally[world_.TALLY_INJURIES_CIVILIANS])
        self.injuries_security = int(tally[world_.TALLY_INJURIES_SECURITY])
        self.property_damage = int(tally[world_.TALLY_DAMAGE])
        self.gate_breached = int(tally[world_.TALLY_BREACHED])
        self.water_used = float(w.cannon_used.sum())
        self.spraying = int(w.response[world_.RESPONSE_SPRAYED])
        self.cordon_advance = int(w.line[world_.LINE_ADVANCE])
        self.officers = int(counts[world_.CENSUS_OFFICERS])
        self.injured_officers = int(tally[world_.TALLY_INJURED_OFFICERS])
        self.tear_gas_used = int(tally[world_.TALLY_TEAR_GAS])
        self.situation = int(w.response[world_.RESPONSE_SITUATION])
        self.force_stage = int(w.response[world_.RESPONSE_STAGE])
        self.legitimacy = float(self.current.legitimacy)


def _empty_world(n: int, p: Parameters, **site_arrays: np.ndarray) -> World:
    """A world of ``n`` agents with the vision discs and buffers ``p`` asks for."""
    def runs(radius, torus):
        return world_.vision_runs(radius, p.width, p.height, torus)

    discs = {
        "civilian_vision": runs(p.citizen_vision, p.torus),
        "officer_vision": runs(p.officer_vision, p.torus),
        "backup_disc": runs(riot.BACKUP_RADIUS, False),
        "reach_disc": runs(p.arrest_reach, False),
        "throw_disc": runs(p.throw_range, False),
    }
    in_vision = max(discs["civilian_vision"][:, 2].sum(), discs["officer_vision"][:, 2].sum())
    most_runs = max(len(d) for d in discs.values())
    return world_.empty_world(
        n, p.width, p.height, **discs, **site_arrays,
        scratch=np.zeros(max(in_vision, 64) * 4, np.int64),
        segments=np.zeros((2 * most_runs, 3), np.int32),
        remembered=np.tile(np.array([p.height, -1], np.int32), (p.width, 1)),
    )


def _entries(site: Site) -> np.ndarray:
    """Where the march arrives: the exit cells (street ends) farther from the gate, walking,
    than the median exit cell, farthest first."""
    exits = site.cells(site_codes.EXIT)
    distance = site.distance_to(site_codes.GATE)[exits[:, 0], exits[:, 1]]
    far = exits[distance >= np.median(distance)]
    return far[np.argsort(-distance[distance >= np.median(distance)], kind="stable")].astype(np.int32)


def _site_arrays(site: Site, p: Parameters) -> dict[str, np.ndarray]:
    """The world's arrays that come from the site map: cells, distance fields, the cordon's
    geometry and the water cannons."""
    kind = site.kind
    civilian_ok = site.walkable()
    hit_points = np.zeros(kind.shape, np.int32)
    hit_points[kind == site_codes.FENCE] = p.fence_hit_points
    hit_points[kind == site_codes.GATE] = p.gate_hit_points
    hit_points[kind == site_codes.FACILITY] = p.facility_hit_points
    yard = site.cells(site_codes.YARD)
    gate = site.cells(site_codes.GATE).mean(axis=0)
    front = site.cells(site_codes.CORDON)
    step = np.zeros(2, int)
    if len(front):
        toward_gate = gate - front.mean(axis=0)
        dominant = np.argmax(np.abs(toward_gate))
        step[dominant] = int(np.sign(np.round(toward_gate))[dominant]) or -1
    rows = []  # the front line shifted toward the gate by -pushback_max .. cordon_depth - 1 rows
    for shift in range(-p.pushback_max, p.cordon_depth):
        row = front + shift * step
        rows.append(row[np.argsort(np.abs(row - gate).sum(axis=1), kind="stable")])
    cannons = site.cells(site_codes.CANNON)[: p.water_cannons]
    return {
        "cell_kind": kind,
        "seen_before": np.zeros((kind.shape[0], kind.shape[1] + 1), np.int64),
        "injured_before": np.zeros((kind.shape[0], kind.shape[1] + 1), np.int32),
        "civilian_ok": civilian_ok,
        "officer_ok": civilian_ok | np.isin(kind, (site_codes.YARD, site_codes.GATE)),
        "hit_points": hit_points,
        "gate_distance": site.distance_to(site_codes.GATE),
        "exit_distance": site.distance_to(site_codes.EXIT),
        "cordon_rows": np.array(rows, np.int32).reshape(len(rows), len(front), 2),
        "reserve_posts": yard[np.argsort(np.abs(yard - gate).sum(axis=1), kind="stable")],
        "entries": _entries(site),
        "cannon_x": cannons[:, 0],
        "cannon_y": cannons[:, 1],
        "cannon_water": np.full(len(cannons), p.water_capacity),
        "cannon_cooldown": np.zeros(len(cannons), np.int64),
        "cannon_shots": np.zeros(len(cannons), np.int64),
        "cannon_firing": np.zeros(len(cannons), np.bool_),
        "cannon_used": np.zeros(len(cannons)),
        "events": np.zeros((EVENTS_PER_AGENT * (p.crowd_size + p.police_officers + p.tni_soldiers + p.linmas_guards) + 64,
                            len(EVENT_COLUMNS)), np.int64),
    }
