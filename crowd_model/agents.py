"""Mesa agents: live, read-only views of the rows of the model's world.

The model's state is the array :class:`~crowd_model.world.World`; a step is the compiled
step of the scenario (:func:`crowd_model.epstein.step`, :func:`crowd_model.riot.step`), which
activates every agent in a fresh random order. Each Mesa agent here reads its row of that
world, so ``model.agents`` can be inspected, filtered and counted as in any Mesa model.
An agent's :meth:`GridAgent.step` gives that one agent its turn under the same compiled
rules (handy to follow one agent in a debugger, with ``NUMBA_DISABLE_JIT=1``); it does not
run what a model step does before and after the agents act.
"""

from __future__ import annotations

from enum import IntEnum

import mesa

from crowd_model import rules, world


class CivilianState(IntEnum):
    CALM = world.CALM
    ACTIVE = world.ACTIVE
    VIOLENT = world.VIOLENT
    FLEEING = world.FLEEING
    ARRESTED = world.ARRESTED
    LEFT = world.LEFT
    INJURED = world.INJURED


class GridAgent(mesa.Agent):
    """An agent whose state lives in row ``index`` of ``model.world``."""

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index

    @property
    def position(self) -> tuple[int, int]:
        """(x, y) of the cell the agent stands on."""
        w = self.model.world
        return int(w.x[self.index]), int(w.y[self.index])

    def step(self) -> None:
        """This agent's turn, by the scenario's compiled rules (``model.kernel.activate``)."""
        self.model.kernel.activate(self.model.packed_world, self.model.step_parameters, self.model.rng, self.index)


class Civilian(GridAgent):
    """A civilian (Epstein's 'agent'; every agent not in the security forces): hardship H,
    risk aversion R, a state. Its role is :class:`Supporter` or :class:`Provocateur`.

    Each turn it moves, then takes the state its net grievance calls for: calm, active
    when ``felt grievance - R * P > activation_threshold``, violent above
    ``violence_threshold`` (:func:`crowd_model.rules.engagement`), where P is the arrest
    probability it estimates from officers and engaged civilians in vision. Without a site,
    it moves to a random empty cell in vision (Epstein's rule M) and that is all. At a site
    it also catches arousal from engaged neighbours and provocateurs, grows afraid of
    water-cannon hits, arrests and an advancing line (and flees past ``fear_threshold``),
    goes home once fatigue and fear outweigh its grievance, and, violent, throws stones and
    damages property
    (:func:`crowd_model.riot.civilian_step`; the ODD gives every rule).
    """

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
    def arousal(self) -> float:
        return float(self.model.world.arousal[self.index])

    @property
    def fear(self) -> float:
        return float(self.model.world.fear[self.index])

    @property
    def grievance(self) -> float:
        """The grievance it acts on: ``H (1 - L')`` plus arousal, where L' is the legitimacy it
        still grants (:func:`crowd_model.rules.felt_grievance`, the rule both steps use)."""
        w = self.model.world
        return float(rules.felt_grievance(
            w.hardship[self.index], self.model.current.legitimacy, w.legitimacy_deficit[self.index],
            w.arousal[self.index],
        ))

    @property
    def jail_term(self) -> int:
        return int(self.model.world.jail[self.index])


class Supporter(Civilian):
    """A supporter of the losing candidate pair: most of the crowd."""


class Provocateur(Civilian):
    """A hardcore agitator (Jager et al. 2001): hardship 1, low risk aversion; raises the
    arousal of those next to it, turns violent first, hides in dense crowd away from officers,
    and may be identified by officers, who then seize it first under ``provocateurs_first``."""

    @property
    def identified(self) -> bool:
        return bool(self.model.world.identified[self.index])


class Korlap(Civilian):
    """The crowd's field coordinator (koordinator lapangan), on the command vehicle with a
    loudspeaker: leads a lawful protest (active, never violent, never fleeing), talks with the
    police negotiator, and when the talks succeed calls the crowd off: his followers go home
    (:func:`crowd_model.riot.negotiate`, :func:`crowd_model.riot.korlap_step`)."""

    @property
    def followers(self) -> int:
        """Supporters who follow his call."""
        return int(self.model.world.follower.sum())


class SecurityOfficer(GridAgent):
    """A security officer of a unit (``unit``): the police's Dalmas Awal, Dalmas Lanjut, PHH
    or snatch team, TNI, or Linmas.

    Without a site it is Epstein's cop: it moves to a random empty cell in vision and
    arrests a random engaged civilian there (:func:`crowd_model.epstein.officer_step`). At a
    site, from force stage 3 the police (and TNI with ``tni_arrests``) seize a target by the
    ``arrest_policy`` when at least ``arrest_backup`` officers stand within 2 cells: a
    violent civilian within ``arrest_reach``, and under ``provocateurs_first`` an identified
    provocateur first (the snatch team anywhere in its vision); otherwise, and always for
    Linmas, it holds or walks back to its post, passing through the line where a handover
    calls for it and shoving civilians back while the line advances; Linmas guide calm
    civilians next to them home (:func:`crowd_model.riot.officer_step`). Which unit holds
    the front follows the situation (:func:`crowd_model.riot.hand_over`); shields spare
    Dalmas Lanjut and the PHH some stone injuries.
    """

    @property
    def unit(self) -> str:
        return world.UNIT_NAMES[int(self.model.world.role[self.index])]


class WaterCannon(mesa.Agent):
    """A water-cannon truck (read-only view of ``model.world``'s ``cannon_*`` arrays). It fires
    when enough violent civilians are in range, its cooldown has passed and its tank holds a
    shot; the spray hits every cell in a cone aimed at the centre of the violent ones,
    pushing the civilians there away and frightening them
    (:func:`crowd_model.riot.fire_water_cannons`)."""

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index

    @property
    def position(self) -> tuple[int, int]:
        w = self.model.world
        return int(w.cannon_x[self.index]), int(w.cannon_y[self.index])

    @property
    def water(self) -> float:
        return float(self.model.world.cannon_water[self.index])

    @property
    def cooldown(self) -> int:
        return int(self.model.world.cannon_cooldown[self.index])

    @property
    def firing(self) -> bool:
        return bool(self.model.world.cannon_firing[self.index])

    @property
    def shots(self) -> int:
        return int(self.model.world.cannon_shots[self.index])
