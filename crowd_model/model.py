"""The Mesa model: builds the array state, applies schedules, steps the kernel, collects data.

Without a site it is Epstein's (2002) Model I on a grid; with a site (``site = "kpu"``) it is
the riot at the election commission office: a crowd with provocateurs, a cordon of police,
TNI and Linmas, water cannons, damageable property and exits.
"""

from __future__ import annotations

import mesa
import numpy as np
import pandas as pd

from crowd_model import kernel
from crowd_model import site as site_codes
from crowd_model.agents import GridAgent, SecurityOfficer, Supporter, WaterCannon
from crowd_model.errors import InputError
from crowd_model.outcomes import run_outcomes
from crowd_model.parameters import ARREST_POLICIES, RATIO_RULES, Parameters
from crowd_model.site import Site, load_site

TIMESERIES_COLUMNS = (
    "calm",
    "active",
    "violent",
    "fleeing",
    "arrested",
    "left",
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
    "legitimacy",
)
UNLIMITED_PATIENCE = np.iinfo(np.int64).max // 2


class Provocateur(Supporter):
    """A hardcore agitator (Jager et al. 2001): hardship 1, low risk aversion; raises the
    arousal of those next to it, turns violent first, hides in dense crowd."""

    @property
    def identified(self) -> bool:
        return bool(self.model.world.identified[self.index])


class CrowdModel(mesa.Model):
    """Civil violence on a grid: Epstein (2002) Model I at its core, the KPU riot with a site.

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
        self.water_used = 0.0
        self.cordon_advance = 0
        self._line_advancing = False
        self._last_advance = 0
        self._violence_seen = False
        self.world = self._build_world(self.current) if self.site is None else self._build_site_world(self.current)
        self._full_hit_points = self.world.hit_points.copy()
        self._agent_at: list[GridAgent | None] = []
        for i, kind in enumerate(self.world.kind):
            if kind == kernel.OFFICER:
                agent = SecurityOfficer(self, i)
            elif self.world.role[i] == kernel.PROVOCATEUR:
                agent = Provocateur(self, i)
            else:
                agent = Supporter(self, i)
            self._agent_at.append(agent)
        self.water_cannons = [
            WaterCannon(self, (int(x), int(y)))
            for x, y in (self.site.cells(site_codes.CANNON)[: self.current.water_cannons] if self.site else [])
        ]
        self.n_civilians = int(np.sum(self.world.kind == kernel.CIVILIAN))
        self.n_provocateurs = int(np.sum((self.world.kind == kernel.CIVILIAN) & (self.world.role == kernel.PROVOCATEUR)))
        self.step_parameters = self._step_parameters(self.current)
        self.datacollector = mesa.DataCollector(model_reporters={name: name for name in TIMESERIES_COLUMNS})
        self._update_counts()
        self.datacollector.collect(self)

    @property
    def cells(self) -> int:
        return self.current.width * self.current.height

    # --- building -------------------------------------------------------------------

    def _civilian_traits(self, world: kernel.World, n_civ: int, p: Parameters) -> None:
        world.hardship[:n_civ] = self.rng.random(n_civ)
        world.risk_aversion[:n_civ] = self.rng.random(n_civ)

    def _mark_provocateurs(self, world: kernel.World, n_civ: int, p: Parameters) -> None:
        n_prov = round(p.provocateur_share * n_civ)
        if n_prov:
            chosen = self.rng.choice(n_civ, size=n_prov, replace=False)
            world.role[chosen] = kernel.PROVOCATEUR
            world.hardship[chosen] = 1.0
            world.risk_aversion[chosen] = self.rng.random(n_prov) * p.provocateur_risk_aversion

    def _build_world(self, p: Parameters) -> kernel.World:
        n_cells = p.width * p.height
        n_civ = round(p.citizen_density * n_cells)
        n_off = round(p.officer_density * n_cells)
        n = n_civ + n_off
        world = _empty_world(n, p)
        world.kind[n_civ:] = kernel.OFFICER
        self._civilian_traits(world, n_civ, p)
        cells = self.rng.choice(n_cells, size=n, replace=False)
        self._mark_provocateurs(world, n_civ, p)
        for i, c in enumerate(cells):
            kernel.place(world, i, c // p.height, c % p.height)
        return world

    def _build_site_world(self, p: Parameters) -> kernel.World:
        site = self.site
        n_civ = p.crowd_size
        units = [kernel.POLICE] * p.police_officers + [kernel.TNI] * p.tni_soldiers + [kernel.LINMAS] * p.linmas_guards
        n = n_civ + len(units)
        world = _empty_world(n, p)
        _lay_out_site(world, site, p)
        world.kind[n_civ:] = kernel.OFFICER
        world.role[n_civ:] = units
        self._civilian_traits(world, n_civ, p)
        self._mark_provocateurs(world, n_civ, p)
        world.patience[:n_civ] = np.maximum(1, np.round(p.patience * self.rng.uniform(0.5, 1.5, n_civ)))
        assembly = site.cells(site_codes.ASSEMBLY)
        if n_civ > len(assembly):
            raise InputError(
                f"crowd_size {n_civ} does not fit the {len(assembly)} assembly cells of site {site.name}"
            )
        for i, k in enumerate(self.rng.choice(len(assembly), size=n_civ, replace=False)):
            kernel.place(world, i, *assembly[k])
        self._posts = self._cordon_posts(world, p, advance=0)
        if len(units) > len(self._posts):
            raise InputError(
                f"{len(units)} officers do not fit site {site.name}: it has {len(self._posts)} posts "
                f"and yard cells at cordon_depth {p.cordon_depth}"
            )
        officers = n_civ + np.arange(len(units))
        for i, (x, y) in zip(officers, self._posts):
            world.post_x[i], world.post_y[i] = x, y
            kernel.place(world, i, x, y)
        return world

    def _cordon_posts(self, world: kernel.World, p: Parameters, advance: int) -> np.ndarray:
        """Officer posts, best first: the cordon front line (C cells) and ``cordon_depth - 1``
        rows behind it toward the gate, central posts first, then the yard by the gate as
        reserve. ``advance`` moves the whole line that many cells toward the crowd."""
        site = self.site
        front = site.cells(site_codes.CORDON)
        gate = site.cells(site_codes.GATE).mean(axis=0)
        toward_gate = np.sign(np.round(gate - front.mean(axis=0)))
        dominant = np.argmax(np.abs(gate - front.mean(axis=0)))
        step = np.zeros(2, int)
        step[dominant] = int(toward_gate[dominant]) or -1
        posts, seen = [], set()
        for depth in range(p.cordon_depth):
            row = front + (depth - advance) * step
            order = np.argsort(np.abs(row - gate).sum(axis=1), kind="stable")
            for x, y in row[order]:
                if 0 <= x < site.width and 0 <= y < site.height and world.officer_ok[x, y] and (x, y) not in seen:
                    posts.append((x, y))
                    seen.add((x, y))
        yard = site.cells(site_codes.YARD)
        for x, y in yard[np.argsort(np.abs(yard - gate).sum(axis=1), kind="stable")]:
            if (x, y) not in seen:
                posts.append((x, y))
                seen.add((x, y))
        return np.array(posts, dtype=np.int32).reshape(-1, 2)

    def _step_parameters(self, p: Parameters) -> kernel.StepParameters:
        return kernel.StepParameters(
            legitimacy=float(p.legitimacy),
            arrest_constant=float(p.arrest_constant),
            activation_threshold=float(p.activation_threshold),
            max_jail_term=int(p.max_jail_term),
            ratio_rule=RATIO_RULES.index(p.ratio_rule),
            movement=bool(p.movement),
            torus=bool(p.torus),
            has_site=self.site is not None,
            violence_threshold=float(p.violence_threshold),
            arousal_contagion=float(p.arousal_contagion),
            arousal_decay=float(p.arousal_decay),
            provocateur_influence=float(p.provocateur_influence),
            fear_threshold=float(p.fear_threshold),
            fear_decay=float(p.fear_decay),
            spray_fear=float(p.spray_fear),
            arrest_fear=float(p.arrest_fear),
            line_fear=float(p.line_fear),
            line_advancing=bool(self._line_advancing),
            throw_hit_probability=float(p.throw_hit_probability),
            damage_probability=float(p.damage_probability),
            arrest_policy=ARREST_POLICIES.index(p.arrest_policy),
            arrest_backup=int(p.arrest_backup),
            identify_probability=float(p.identify_probability),
            arrest_injury_probability=float(p.arrest_injury_probability),
            spray_injury_probability=float(p.spray_injury_probability),
            legitimacy_feedback=bool(p.legitimacy_feedback),
            legitimacy_loss=float(p.legitimacy_loss),
            calm_standoff=float(p.calm_standoff),
            linmas_guidance=float(p.linmas_guidance),
        )

    # --- views ------------------------------------------------------------------------

    def agent(self, index: int) -> GridAgent | None:
        """The Mesa agent for row ``index`` of the array state (None once withdrawn)."""
        return self._agent_at[index]

    def cell_categories(self) -> np.ndarray:
        """What each cell shows, as a ``(width, height)`` uint8 array of codes indexing
        :data:`crowd_model.kernel.CELL_CATEGORIES`: the site, agents on top, spray over civilians."""
        out = np.zeros((self.current.width, self.current.height), np.uint8)
        w = self.world
        if self.site is not None:
            c = kernel.CELL_CATEGORIES.index
            kind = self.site.kind
            for code, name in (
                (site_codes.OFFICE, "office"), (site_codes.FENCE, "fence"), (site_codes.GATE, "gate"),
                (site_codes.FACILITY, "facility"), (site_codes.EXIT, "exit"), (site_codes.CORDON, "cordon_line"),
            ):
                out[kind == code] = c(name)
            damaged = np.isin(kind, site_codes.DAMAGEABLE) & (w.hit_points < self._full_hit_points)
            out[damaged] = c("facility_damaged")
            out[np.isin(kind, site_codes.DAMAGEABLE) & (w.hit_points == 0)] = c("facility_damaged")
        kernel.paint_agents(w, out, self.site is None)
        if self.site is not None:
            c = kernel.CELL_CATEGORIES.index
            out[w.spray & (w.officers_here == 0)] = c("spray")
            for cannon in self.water_cannons:
                out[cannon.position] = c("water_cannon")
        return out

    def timeseries(self) -> pd.DataFrame:
        """The per-step table so far: ``step``, then :data:`TIMESERIES_COLUMNS`."""
        table = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        table.insert(0, "step", range(len(table)))
        return table

    def outcomes(self) -> dict:
        """The run's outcomes so far (:func:`crowd_model.outcomes.run_outcomes`)."""
        return run_outcomes(self.timeseries(), self.n_civilians, self.parameters.outburst_threshold)

    # --- dynamics ---------------------------------------------------------------------

    def step(self) -> None:
        t = int(self.time)
        if self.parameters.schedules:
            self.current = self.parameters.at_step(t)
            if self.site is None:
                self._match_officer_count(round(self.current.officer_density * self.cells))
        if self.site is not None:
            w = self.world
            w.spray[:] = False
            w.indiscriminate[:] = 0.0
            w.recent_arrests[:] *= 0.5
            self._advance_cordon(t)
            for cannon in self.water_cannons:
                cannon.step()
        self.step_parameters = self._step_parameters(self.current)
        kernel.step(self.world, self.step_parameters, self.rng)
        self._update_counts()
        self.datacollector.collect(self)

    def _advance_cordon(self, t: int) -> None:
        """Push-back: once violence has been seen and the crowd has weakened (engaged below
        ``pushback_threshold`` of it), the line steps one cell toward the crowd every
        ``pushback_interval`` steps, up to ``pushback_max`` cells; officers then shove
        civilians in their way back until the next advance is due."""
        p = self.current
        self._line_advancing = self.cordon_advance > 0 and t - self._last_advance < p.pushback_interval
        self._violence_seen |= self.violent > 0
        if not (p.pushback and self._violence_seen and self.cordon_advance < p.pushback_max):
            return
        if self.active + self.violent >= p.pushback_threshold * self.n_civilians:
            return
        if t - self._last_advance < p.pushback_interval:
            return
        self.cordon_advance += 1
        self._last_advance = t
        self._line_advancing = True
        posts = self._cordon_posts(self.world, p, self.cordon_advance)
        officers = np.flatnonzero(self.world.kind == kernel.OFFICER)
        self.world.post_x[officers] = posts[: len(officers), 0]
        self.world.post_y[officers] = posts[: len(officers), 1]

    def _match_officer_count(self, target: int) -> None:
        """Withdraw or deploy officers so that ``target`` are on the grid (Epstein Run 5)."""
        w = self.world
        on_duty = np.flatnonzero(w.alive & (w.kind == kernel.OFFICER))
        if target < len(on_duty):
            for i in self.rng.choice(on_duty, size=len(on_duty) - target, replace=False):
                kernel.withdraw(w, i)
                self._agent_at[i].remove()
                self._agent_at[i] = None
        elif target > len(on_duty):
            free = np.flatnonzero(w.blockers.ravel() == 0)
            need = min(target - len(on_duty), len(free))
            cells = self.rng.choice(free, size=need, replace=False)
            first = len(w.kind)
            self.world = w = _grown(w, need)
            h = self.current.height
            for k, c in enumerate(cells):
                i = first + k
                w.kind[i] = kernel.OFFICER
                kernel.place(w, i, c // h, c % h)
                self._agent_at.append(SecurityOfficer(self, i))

    def _update_counts(self) -> None:
        w = self.world
        counts = kernel.civilian_state_counts(w)
        for code, name in enumerate(kernel.STATE_NAMES):
            setattr(self, name, int(counts[code]))
        tally = w.tally
        self.arrests_total = int(tally[kernel.TALLY_ARRESTS])
        self.provocateurs_arrested = int(tally[kernel.TALLY_PROVOCATEURS_ARRESTED])
        provocateurs = (w.kind == kernel.CIVILIAN) & (w.role == kernel.PROVOCATEUR)
        self.provocateurs_at_large = int(np.sum(provocateurs & (w.state != kernel.ARRESTED) & (w.state != kernel.LEFT)))
        self.injuries_civilians = int(tally[kernel.TALLY_INJURIES_CIVILIANS])
        self.injuries_security = int(tally[kernel.TALLY_INJURIES_SECURITY])
        self.property_damage = int(tally[kernel.TALLY_DAMAGE])
        self.gate_breached = int(tally[kernel.TALLY_BREACHED])
        self.spraying = int(w.spray.sum())
        self.officers = int(np.sum(w.alive & (w.kind == kernel.OFFICER)))
        self.legitimacy = float(self.current.legitimacy)


def _lay_out_site(world: kernel.World, site: Site, p: Parameters) -> None:
    kind = site.kind
    world.site[:] = kind
    world.civilian_ok[:] = site.walkable()
    world.officer_ok[:] = site.walkable() | np.isin(kind, (site_codes.YARD, site_codes.GATE))
    world.hit_points[kind == site_codes.FENCE] = p.fence_hit_points
    world.hit_points[kind == site_codes.GATE] = p.gate_hit_points
    world.hit_points[kind == site_codes.FACILITY] = p.facility_hit_points
    world.gate_distance[:] = site.distance_to(site_codes.GATE)
    world.exit_distance[:] = site.distance_to(site_codes.EXIT)


def _empty_world(n: int, p: Parameters) -> kernel.World:
    def offsets(radius):
        return kernel.vision_offsets(radius, p.width, p.height, p.torus)

    citizen, officer = offsets(p.citizen_vision), offsets(p.officer_vision)
    grid = (p.width, p.height)
    return kernel.World(
        kind=np.zeros(n, np.int8),
        alive=np.ones(n, np.bool_),
        x=np.zeros(n, np.int32),
        y=np.zeros(n, np.int32),
        state=np.zeros(n, np.int8),
        hardship=np.zeros(n),
        risk_aversion=np.zeros(n),
        jail=np.zeros(n, np.int64),
        role=np.zeros(n, np.int8),
        arousal=np.zeros(n),
        fear=np.zeros(n),
        legitimacy_deficit=np.zeros(n),
        patience=np.full(n, UNLIMITED_PATIENCE, np.int64),
        going_home=np.zeros(n, np.bool_),
        identified=np.zeros(n, np.bool_),
        post_x=np.zeros(n, np.int32),
        post_y=np.zeros(n, np.int32),
        next_in_cell=np.full(n, -1, np.int32),
        cell_head=np.full(grid, -1, np.int32),
        blockers=np.zeros(grid, np.int16),
        officers_here=np.zeros(grid, np.int16),
        actives_here=np.zeros(grid, np.int16),
        violent_here=np.zeros(grid, np.int16),
        provocateurs_here=np.zeros(grid, np.int16),
        site=np.zeros(grid, np.uint8),
        civilian_ok=np.ones(grid, np.bool_),
        officer_ok=np.ones(grid, np.bool_),
        hit_points=np.zeros(grid, np.int32),
        gate_distance=np.zeros(grid),
        exit_distance=np.zeros(grid),
        spray=np.zeros(grid, np.bool_),
        spray_x=np.zeros(grid, np.int32),
        spray_y=np.zeros(grid, np.int32),
        recent_arrests=np.zeros(grid),
        indiscriminate=np.zeros(grid),
        citizen_offsets=citizen,
        officer_offsets=officer,
        near_offsets=_moore(),
        backup_offsets=kernel.vision_offsets(2, p.width, p.height, False),
        reach_offsets=kernel.vision_offsets(p.arrest_reach, p.width, p.height, False),
        throw_offsets=kernel.vision_offsets(p.throw_range, p.width, p.height, False),
        scratch=np.zeros(max(len(citizen), len(officer), 64) * 4, np.int64),
        tally=np.zeros(kernel.TALLY_SIZE, np.int64),
    )


def _moore() -> np.ndarray:
    return np.array([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)], dtype=np.int32)


def _grown(world: kernel.World, extra: int) -> kernel.World:
    """A copy of ``world`` with ``extra`` unused agent rows appended."""
    fill = {"alive": True, "next_in_cell": -1, "patience": UNLIMITED_PATIENCE}
    n = world.kind.shape[0]
    grown = {}
    for name, arr in world._asdict().items():
        if arr.ndim == 1 and arr.shape[0] == n and name not in ("scratch", "tally"):
            grown[name] = np.concatenate([arr, np.full(extra, fill.get(name, 0), arr.dtype)])
        else:
            grown[name] = arr
    return kernel.World(**grown)
