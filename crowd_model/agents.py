"""Mesa agents: the face of the array state in :mod:`crowd_model.kernel`.

Each agent is a row of the model's arrays; its attributes read that row, and its
``step`` runs the same compiled rule the model's fast step runs, so
``model.agents.shuffle_do("step")`` and the kernel agree rule for rule.
"""

from __future__ import annotations

from enum import IntEnum

import mesa
import numpy as np

from crowd_model import kernel, rules


class CivilianState(IntEnum):
    CALM = kernel.CALM
    ACTIVE = kernel.ACTIVE
    VIOLENT = kernel.VIOLENT
    FLEEING = kernel.FLEEING
    ARRESTED = kernel.ARRESTED
    LEFT = kernel.LEFT


class GridAgent(mesa.Agent):
    """An agent whose state lives in row ``index`` of ``model.world``."""

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index

    @property
    def position(self) -> tuple[int, int]:
        """(x, y) of the cell the agent stands on."""
        world = self.model.world
        return int(world.x[self.index]), int(world.y[self.index])

    def step(self) -> None:
        kernel.activate(self.model.world, self.model.step_parameters, self.model.rng, self.index)


class Supporter(GridAgent):
    """A civilian supporter (Epstein's 'agent'): hardship H, risk aversion R, a state."""

    @property
    def state(self) -> CivilianState:
        return CivilianState(int(self.model.world.state[self.index]))

    @property
    def hardship(self) -> float:
        return float(self.model.world.hardship[self.index])

    @property
    def risk_aversion(self) -> float:
        return float(self.model.world.risk_aversion[self.index])

    @property
    def grievance(self) -> float:
        return float(rules.grievance(self.hardship, self.model.current.legitimacy))

    @property
    def jail_term(self) -> int:
        return int(self.model.world.jail[self.index])


class SecurityOfficer(GridAgent):
    """A security officer (Epstein's 'cop'): arrests a random active civilian in vision."""


class WaterCannon(mesa.Agent):
    """A water-cannon truck. It fires when enough violent civilians are in range, its
    cooldown has passed and its tank holds a shot; the spray hits every civilian in a cone
    aimed at the centre of the violent ones, pushing them away and frightening them."""

    def __init__(self, model, position: tuple[int, int]):
        super().__init__(model)
        self.position = position
        self.water = model.current.water_capacity
        self.cooldown = 0
        self.firing = False
        self.shots = 0

    def step(self) -> None:
        p, w = self.model.current, self.model.world
        self.firing = False
        self.cooldown = max(0, self.cooldown - 1)
        if self.model.time < p.water_cannon_start or self.cooldown > 0 or self.water < p.water_per_shot:
            return
        x0, y0 = self.position
        violent = w.alive & (w.kind == kernel.CIVILIAN) & (w.state == kernel.VIOLENT)
        dx, dy = w.x[violent] - x0, w.y[violent] - y0
        in_range = dx * dx + dy * dy <= p.water_cannon_range**2
        if in_range.sum() < p.water_cannon_trigger:
            return
        aim = float(np.arctan2(dy[in_range].mean(), dx[in_range].mean()))
        gx, gy = np.meshgrid(np.arange(w.spray.shape[0]) - x0, np.arange(w.spray.shape[1]) - y0, indexing="ij")
        cone = rules.in_spray_cone(gx, gy, aim, p.water_cannon_cone, p.water_cannon_range)
        w.spray[cone] = True
        w.spray_x[cone], w.spray_y[cone] = x0, y0
        bystanders = (w.blockers - w.officers_here - w.violent_here) > 0
        w.indiscriminate[cone & bystanders] += 1.0
        self.water -= p.water_per_shot
        self.model.water_used += p.water_per_shot
        self.cooldown = p.water_cannon_cooldown
        self.firing = True
        self.shots += 1
