"""Mesa agents: the face of the array state in :mod:`crowd_model.kernel`.

Each agent is a row of the model's arrays; its attributes read that row, and its
``step`` runs the same compiled rule the model's fast step runs, so
``model.agents.shuffle_do("step")`` and the kernel agree rule for rule.
"""

from __future__ import annotations

from enum import IntEnum

import mesa

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
