"""Compiled step kernel over array state; the Mesa agents in :mod:`crowd_model.agents` are its face.

One step is Epstein's random asynchronous activation (NetLogo Rebellion's ``go``):
every living agent, in a fresh random order, moves (rule M) and then decides (rule A,
civilians) or enforces (rule C, officers); jail terms count down after all have acted.
Perception is O(1) per cell read: per-cell counts of officers, active civilians and
blocking agents are kept up to date on every move and change of state, and each agent
reads them over precomputed vision offsets. The rules themselves are the pure functions
of :mod:`crowd_model.rules`, compiled here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from crowd_model import rules

CIVILIAN, OFFICER = 0, 1
CALM, ACTIVE, VIOLENT, FLEEING, ARRESTED, LEFT = range(6)
STATE_NAMES = ("calm", "active", "violent", "fleeing", "arrested", "left")

TALLY_ARRESTS = 0
TALLY_SIZE = 4



class World(NamedTuple):
    """Array state of one model. Agent ``i`` is row ``i`` of every per-agent array."""

    kind: np.ndarray  # int8[n]: CIVILIAN or OFFICER
    alive: np.ndarray  # bool[n]: False once withdrawn
    x: np.ndarray  # int32[n]
    y: np.ndarray  # int32[n]
    state: np.ndarray  # int8[n]: CALM..LEFT for civilians
    hardship: np.ndarray  # float64[n]: H ~ U(0,1)
    risk_aversion: np.ndarray  # float64[n]: R ~ U(0,1)
    jail: np.ndarray  # int64[n]: steps of jail left
    next_in_cell: np.ndarray  # int32[n]: linked list of agents sharing a cell
    cell_head: np.ndarray  # int32[w, h]: first agent in the cell, -1 if none
    blockers: np.ndarray  # int32[w, h]: officers and free civilians in the cell
    officers_here: np.ndarray  # int32[w, h]
    actives_here: np.ndarray  # int32[w, h]
    citizen_offsets: np.ndarray  # int32[m, 2]: cells within civilian vision
    officer_offsets: np.ndarray  # int32[m, 2]
    scratch: np.ndarray  # int64[k]: candidate buffer
    tally: np.ndarray  # int64[TALLY_SIZE]: running totals


class StepParameters(NamedTuple):
    """The scalars the kernel reads, taken from :class:`~crowd_model.parameters.Parameters`."""

    legitimacy: float
    arrest_constant: float
    activation_threshold: float
    max_jail_term: int
    ratio_rule: int
    movement: bool
    torus: bool


def vision_offsets(radius: int, width: int, height: int, torus: bool) -> np.ndarray:
    """Cells within Euclidean ``radius`` (own cell included), as NetLogo's ``in-radius``.

    On a torus the offsets are wrapped into ``[0, width) x [0, height)`` and de-duplicated,
    so a cell is seen once even when the radius exceeds half the grid.
    """
    r = int(radius)
    d = np.arange(-r, r + 1)
    dx, dy = np.meshgrid(d, d, indexing="ij")
    inside = dx**2 + dy**2 <= r * r
    offsets = np.stack([dx[inside], dy[inside]], axis=1)
    order = np.lexsort((offsets[:, 1], offsets[:, 0]))
    offsets = offsets[order]
    if torus:
        offsets = np.stack([offsets[:, 0] % width, offsets[:, 1] % height], axis=1)
        _, first = np.unique(offsets, axis=0, return_index=True)
        offsets = offsets[np.sort(first)]
    return np.ascontiguousarray(offsets, dtype=np.int32)


@njit(cache=True, inline="always")
def _cell(x, y, dx, dy, w, h, torus):
    nx = x + dx
    ny = y + dy
    if torus:
        if nx >= w:
            nx -= w
        if ny >= h:
            ny -= h
        return nx, ny
    if nx < 0 or ny < 0 or nx >= w or ny >= h:
        return -1, -1
    return nx, ny


@njit(cache=True)
def _link(world, i, cx, cy):
    world.next_in_cell[i] = world.cell_head[cx, cy]
    world.cell_head[cx, cy] = i
    world.x[i] = cx
    world.y[i] = cy


@njit(cache=True)
def _unlink(world, i):
    cx, cy = world.x[i], world.y[i]
    j = world.cell_head[cx, cy]
    if j == i:
        world.cell_head[cx, cy] = world.next_in_cell[i]
    else:
        while world.next_in_cell[j] != i:
            j = world.next_in_cell[j]
        world.next_in_cell[j] = world.next_in_cell[i]
    world.next_in_cell[i] = -1


@njit(cache=True)
def _presence(world, i, sign):
    """Add (sign=+1) or remove (-1) agent ``i``'s contribution to the per-cell counts."""
    cx, cy = world.x[i], world.y[i]
    if world.kind[i] == OFFICER:
        world.officers_here[cx, cy] += sign
        world.blockers[cx, cy] += sign
    else:
        s = world.state[i]
        if s == ACTIVE:
            world.actives_here[cx, cy] += sign
        if s != ARRESTED and s != LEFT:
            world.blockers[cx, cy] += sign


@njit(cache=True)
def place(world, i, cx, cy):
    _link(world, i, cx, cy)
    _presence(world, i, 1)


@njit(cache=True)
def withdraw(world, i):
    """Take agent ``i`` off the grid for good (an officer withdrawn by a schedule)."""
    _presence(world, i, -1)
    _unlink(world, i)
    world.alive[i] = False


@njit(cache=True)
def set_state(world, i, new_state):
    if world.state[i] == new_state:
        return
    _presence(world, i, -1)
    world.state[i] = new_state
    _presence(world, i, 1)


@njit(cache=True)
def _move_to(world, i, cx, cy):
    _presence(world, i, -1)
    _unlink(world, i)
    _link(world, i, cx, cy)
    _presence(world, i, 1)


@njit(cache=True)
def move_to_random_empty_cell(world, p, rng, i, offsets):
    """Rule M: move to a random cell in vision with no officer and no free civilian."""
    w, h = world.blockers.shape
    x, y = world.x[i], world.y[i]
    n = 0
    for k in range(offsets.shape[0]):
        cx, cy = _cell(x, y, offsets[k, 0], offsets[k, 1], w, h, p.torus)
        if cx >= 0 and world.blockers[cx, cy] == 0:
            world.scratch[n] = cx * h + cy
            n += 1
    if n > 0:
        c = world.scratch[rng.integers(0, n)]
        _move_to(world, i, c // h, c % h)


@njit(cache=True)
def count_in_vision(world, p, i, offsets):
    """Officers and active civilians within vision of agent ``i``."""
    w, h = world.blockers.shape
    x, y = world.x[i], world.y[i]
    officers = 0
    actives = 0
    for k in range(offsets.shape[0]):
        cx, cy = _cell(x, y, offsets[k, 0], offsets[k, 1], w, h, p.torus)
        if cx >= 0:
            officers += world.officers_here[cx, cy]
            actives += world.actives_here[cx, cy]
    return officers, actives


@njit(cache=True)
def random_active_in_vision(world, p, rng, i, offsets):
    """One active civilian chosen uniformly among those within vision, or -1."""
    _, total = count_in_vision(world, p, i, offsets)
    if total == 0:
        return -1
    pick = rng.integers(0, total)
    w, h = world.blockers.shape
    x, y = world.x[i], world.y[i]
    for k in range(offsets.shape[0]):
        cx, cy = _cell(x, y, offsets[k, 0], offsets[k, 1], w, h, p.torus)
        if cx < 0:
            continue
        here = world.actives_here[cx, cy]
        if pick < here:
            j = world.cell_head[cx, cy]
            while j >= 0:
                if world.kind[j] == CIVILIAN and world.state[j] == ACTIVE:
                    if pick == 0:
                        return j
                    pick -= 1
                j = world.next_in_cell[j]
        pick -= here
    return -1


@njit(cache=True)
def arrest(world, p, rng, suspect):
    """Jail a suspect for a uniform 0..J_max-1 steps (NetLogo: ``random max-jailterm``)."""
    term = rng.integers(0, p.max_jail_term)
    world.jail[suspect] = term
    set_state(world, suspect, ARRESTED if term > 0 else CALM)
    world.tally[TALLY_ARRESTS] += 1


@njit(cache=True)
def civilian_step(world, p, rng, i):
    """Epstein's agent: rule M, then rule A. Jailed civilians do nothing."""
    if world.jail[i] > 0 or world.state[i] == LEFT:
        return
    if p.movement:
        move_to_random_empty_cell(world, p, rng, i, world.citizen_offsets)
    officers, actives = count_in_vision(world, p, i, world.citizen_offsets)
    grievance = rules.grievance(world.hardship[i], p.legitimacy)
    p_arrest = rules.estimated_arrest_probability(officers, actives, p.arrest_constant, p.ratio_rule)
    risk = rules.net_risk(world.risk_aversion[i], p_arrest)
    set_state(world, i, ACTIVE if rules.turns_active(grievance, risk, p.activation_threshold) else CALM)


@njit(cache=True)
def officer_step(world, p, rng, i):
    """Epstein's cop: rule M, then rule C (arrest a random active civilian in vision)."""
    if p.movement:
        move_to_random_empty_cell(world, p, rng, i, world.officer_offsets)
    suspect = random_active_in_vision(world, p, rng, i, world.officer_offsets)
    if suspect >= 0:
        _move_to(world, i, world.x[suspect], world.y[suspect])
        arrest(world, p, rng, suspect)


@njit(cache=True)
def activate(world, p, rng, i):
    """Give agent ``i`` its turn."""
    if not world.alive[i]:
        return
    if world.kind[i] == OFFICER:
        officer_step(world, p, rng, i)
    else:
        civilian_step(world, p, rng, i)


@njit(cache=True)
def serve_jail_terms(world):
    """End of step: jail terms count down; a civilian whose term ends is free and calm."""
    for i in range(world.kind.shape[0]):
        if world.jail[i] > 0:
            world.jail[i] -= 1
            if world.jail[i] == 0:
                set_state(world, i, CALM)


@njit(cache=True)
def step(world, p, rng):
    """One step: every living agent in a fresh random order, then the jail clock."""
    order = rng.permutation(np.flatnonzero(world.alive))
    for i in order:
        activate(world, p, rng, i)
    serve_jail_terms(world)


@njit(cache=True)
def civilian_state_counts(world):
    counts = np.zeros(6, dtype=np.int64)
    for i in range(world.kind.shape[0]):
        if world.kind[i] == CIVILIAN and world.alive[i]:
            counts[world.state[i]] += 1
    return counts


CELL_CATEGORIES = (
    "empty",
    "calm",
    "active",
    "violent",
    "fleeing",
    "arrested",
    "provocateur",
    "police",
    "tni",
    "linmas",
    "water_cannon",
    "spray",
    "office",
    "gate",
    "fence",
    "facility",
    "facility_damaged",
    "exit",
    "cordon_line",
)
_CATEGORY = {name: code for code, name in enumerate(CELL_CATEGORIES)}
_CIVILIAN_CATEGORY = np.array(
    [_CATEGORY[s] if s != "left" else 0 for s in STATE_NAMES], dtype=np.uint8
)
_OFFICER_CATEGORY = _CATEGORY["police"]


@njit(cache=True)
def paint_agents(world, out):
    """Write each agent's category into ``out[x, y]``: arrested under free civilians under officers."""
    for rank in range(3):
        for i in range(world.kind.shape[0]):
            if not world.alive[i]:
                continue
            if world.kind[i] == OFFICER:
                if rank == 2:
                    out[world.x[i], world.y[i]] = _OFFICER_CATEGORY
            elif world.state[i] == ARRESTED:
                if rank == 0:
                    out[world.x[i], world.y[i]] = _CIVILIAN_CATEGORY[ARRESTED]
            elif world.state[i] != LEFT and rank == 1:
                out[world.x[i], world.y[i]] = _CIVILIAN_CATEGORY[world.state[i]]
