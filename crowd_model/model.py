"""The Mesa model: builds the array state, applies schedules, steps the kernel, collects data."""

from __future__ import annotations

import mesa
import numpy as np

from crowd_model import kernel
from crowd_model.agents import GridAgent, SecurityOfficer, Supporter
from crowd_model.parameters import RATIO_RULES, Parameters

TIMESERIES_COLUMNS = (
    "calm",
    "active",
    "violent",
    "fleeing",
    "arrested",
    "left",
    "arrests_total",
    "officers",
    "legitimacy",
)


class CrowdModel(mesa.Model):
    """Civil violence on a grid: Epstein (2002) Model I at its core.

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
        self.world = self._build_world(self.current)
        self._agent_at: list[GridAgent | None] = []
        for i, kind in enumerate(self.world.kind):
            self._agent_at.append(
                SecurityOfficer(self, i) if kind == kernel.OFFICER else Supporter(self, i)
            )
        self.n_civilians = int(np.sum(self.world.kind == kernel.CIVILIAN))
        self.step_parameters = self._step_parameters(self.current)
        self.datacollector = mesa.DataCollector(
            model_reporters={name: name for name in TIMESERIES_COLUMNS}
        )
        self._update_counts()
        self.datacollector.collect(self)

    @property
    def cells(self) -> int:
        return self.current.width * self.current.height

    def _build_world(self, p: Parameters) -> kernel.World:
        n_cells = p.width * p.height
        n_civ = round(p.citizen_density * n_cells)
        n_off = round(p.officer_density * n_cells)
        n = n_civ + n_off
        world = _empty_world(n, p)
        world.kind[n_civ:] = kernel.OFFICER
        world.hardship[:n_civ] = self.rng.random(n_civ)
        world.risk_aversion[:n_civ] = self.rng.random(n_civ)
        cells = self.rng.choice(n_cells, size=n, replace=False)
        for i, c in enumerate(cells):
            kernel.place(world, i, c // p.height, c % p.height)
        return world

    def _step_parameters(self, p: Parameters) -> kernel.StepParameters:
        return kernel.StepParameters(
            legitimacy=float(p.legitimacy),
            arrest_constant=float(p.arrest_constant),
            activation_threshold=float(p.activation_threshold),
            max_jail_term=int(p.max_jail_term),
            ratio_rule=RATIO_RULES.index(p.ratio_rule),
            movement=bool(p.movement),
            torus=bool(p.torus),
        )

    def agent(self, index: int) -> GridAgent | None:
        """The Mesa agent for row ``index`` of the array state (None once withdrawn)."""
        return self._agent_at[index]

    def cell_categories(self) -> np.ndarray:
        """What each cell shows, as a ``(width, height)`` uint8 array of codes indexing
        :data:`crowd_model.kernel.CELL_CATEGORIES` (site, then agents on top)."""
        out = np.zeros((self.current.width, self.current.height), np.uint8)
        kernel.paint_agents(self.world, out)
        return out

    def step(self) -> None:
        t = int(self.time)
        if self.parameters.schedules:
            self.current = self.parameters.at_step(t)
            self.step_parameters = self._step_parameters(self.current)
            self._match_officer_count(round(self.current.officer_density * self.cells))
        kernel.step(self.world, self.step_parameters, self.rng)
        self._update_counts()
        self.datacollector.collect(self)

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
        counts = kernel.civilian_state_counts(self.world)
        for code, name in enumerate(kernel.STATE_NAMES):
            setattr(self, name, int(counts[code]))
        self.arrests_total = int(self.world.tally[kernel.TALLY_ARRESTS])
        self.officers = int(np.sum(self.world.alive & (self.world.kind == kernel.OFFICER)))
        self.legitimacy = float(self.current.legitimacy)


def _empty_world(n: int, p: Parameters) -> kernel.World:
    citizen = kernel.vision_offsets(p.citizen_vision, p.width, p.height, p.torus)
    officer = kernel.vision_offsets(p.officer_vision, p.width, p.height, p.torus)
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
        next_in_cell=np.full(n, -1, np.int32),
        cell_head=np.full(grid, -1, np.int32),
        blockers=np.zeros(grid, np.int32),
        officers_here=np.zeros(grid, np.int32),
        actives_here=np.zeros(grid, np.int32),
        citizen_offsets=citizen,
        officer_offsets=officer,
        scratch=np.zeros(max(len(citizen), len(officer)), np.int64),
        tally=np.zeros(kernel.TALLY_SIZE, np.int64),
    )


def _grown(world: kernel.World, extra: int) -> kernel.World:
    """A copy of ``world`` with ``extra`` unused agent rows appended."""
    fill = {"alive": True, "next_in_cell": -1}
    grown = {}
    for name, arr in world._asdict().items():
        if arr.shape[:1] == world.kind.shape and arr.ndim == 1 and name not in ("scratch", "tally"):
            pad = np.full(extra, fill.get(name, 0), arr.dtype)
            grown[name] = np.concatenate([arr, pad])
        else:
            grown[name] = arr
    return kernel.World(**grown)
