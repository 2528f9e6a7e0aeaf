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
from crowd_model.parameters import ARREST_POLICIES

CIVILIAN, OFFICER = 0, 1
CALM, ACTIVE, VIOLENT, FLEEING, ARRESTED, LEFT = range(6)
STATE_NAMES = ("calm", "active", "violent", "fleeing", "arrested", "left")

SUPPORTER, PROVOCATEUR = 0, 1
PROVOCATEURS_FIRST = ARREST_POLICIES.index("provocateurs_first")
INDISCRIMINATE = ARREST_POLICIES.index("indiscriminate")
POLICE, TNI, LINMAS = 0, 1, 2
UNIT_NAMES = ("police", "tni", "linmas")

TALLY_ARRESTS = 0
TALLY_PROVOCATEURS_ARRESTED = 1
TALLY_INJURIES_CIVILIANS = 2
TALLY_INJURIES_SECURITY = 3
TALLY_DAMAGE = 4
TALLY_BREACHED = 5
TALLY_SIZE = 6

_STREET, _ASSEMBLY, _EXIT, _CORDON, _OFFICE, _YARD, _FENCE, _GATE, _FACILITY, _CANNON = range(10)



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
    role: np.ndarray  # int8[n]: SUPPORTER or PROVOCATEUR (civilians); POLICE, TNI or LINMAS (officers)
    arousal: np.ndarray  # float64[n]: added to grievance, spread by contagion
    fear: np.ndarray  # float64[n]: above fear_threshold the civilian flees
    legitimacy_deficit: np.ndarray  # float64[n]: legitimacy withdrawn after seeing indiscriminate force
    patience: np.ndarray  # int64[n]: steps left before going home
    going_home: np.ndarray  # bool[n]
    identified: np.ndarray  # bool[n]: a provocateur the officers know
    post_x: np.ndarray  # int32[n]: an officer's cordon post
    post_y: np.ndarray  # int32[n]
    next_in_cell: np.ndarray  # int32[n]: linked list of agents sharing a cell
    cell_head: np.ndarray  # int32[w, h]: first agent in the cell, -1 if none
    blockers: np.ndarray  # int16[w, h]: officers and free civilians in the cell
    officers_here: np.ndarray  # int16[w, h]
    actives_here: np.ndarray  # int16[w, h]
    violent_here: np.ndarray  # int16[w, h]
    provocateurs_here: np.ndarray  # int16[w, h]: free provocateurs
    site: np.ndarray  # uint8[w, h]: site cell kind (crowd_model.site codes)
    civilian_ok: np.ndarray  # bool[w, h]: civilians may stand here
    officer_ok: np.ndarray  # bool[w, h]: officers may stand here
    hit_points: np.ndarray  # int32[w, h]: fences, gate, facilities
    gate_distance: np.ndarray  # float64[w, h]: walking distance to the gate
    exit_distance: np.ndarray  # float64[w, h]: walking distance to an exit
    spray: np.ndarray  # bool[w, h]: hit by a water cannon this step
    spray_x: np.ndarray  # int32[w, h]: where the spray came from
    spray_y: np.ndarray  # int32[w, h]
    recent_arrests: np.ndarray  # float64[w, h]: arrests here, halving each step
    indiscriminate: np.ndarray  # float64[w, h]: force used on non-violent civilians this step
    citizen_offsets: np.ndarray  # int32[m, 2]: cells within civilian vision
    officer_offsets: np.ndarray  # int32[m, 2]
    near_offsets: np.ndarray  # int32[9, 2]: own cell and the 8 around it
    backup_offsets: np.ndarray  # int32[m, 2]: radius 2
    reach_offsets: np.ndarray  # int32[m, 2]: arrest reach
    throw_offsets: np.ndarray  # int32[m, 2]: throwing range
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
    has_site: bool
    violence_threshold: float
    arousal_contagion: float
    arousal_decay: float
    provocateur_influence: float
    fear_threshold: float
    fear_decay: float
    spray_fear: float
    arrest_fear: float
    line_fear: float
    line_advancing: bool
    throw_hit_probability: float
    damage_probability: float
    arrest_policy: int
    arrest_backup: int
    identify_probability: float
    arrest_injury_probability: float
    spray_injury_probability: float
    legitimacy_feedback: bool
    legitimacy_loss: float
    calm_standoff: float
    linmas_guidance: float


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


@njit(cache=True, inline="always")
def _link(world, i, cx, cy):
    world.next_in_cell[i] = world.cell_head[cx, cy]
    world.cell_head[cx, cy] = i
    world.x[i] = cx
    world.y[i] = cy


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
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
        elif s == VIOLENT:
            world.violent_here[cx, cy] += sign
        if s != ARRESTED and s != LEFT:
            world.blockers[cx, cy] += sign
            if world.role[i] == PROVOCATEUR:
                world.provocateurs_here[cx, cy] += sign


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


@njit(cache=True, inline="always")
def set_state(world, i, new_state):
    if world.state[i] == new_state:
        return
    _presence(world, i, -1)
    world.state[i] = new_state
    _presence(world, i, 1)


@njit(cache=True, inline="always")
def _move_to(world, i, cx, cy):
    _presence(world, i, -1)
    _unlink(world, i)
    _link(world, i, cx, cy)
    _presence(world, i, 1)


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
def count_in_vision(world, p, i, offsets):
    """Officers and engaged (active or violent) civilians within vision of agent ``i``."""
    w, h = world.blockers.shape
    x, y = world.x[i], world.y[i]
    officers = 0
    actives = 0
    for k in range(offsets.shape[0]):
        cx, cy = _cell(x, y, offsets[k, 0], offsets[k, 1], w, h, p.torus)
        if cx >= 0:
            officers += world.officers_here[cx, cy]
            actives += world.actives_here[cx, cy] + world.violent_here[cx, cy]
    return officers, actives


@njit(cache=True, inline="always")
def random_active_in_vision(world, p, rng, i, offsets):
    """One engaged civilian chosen uniformly among those within vision, or -1."""
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
        here = world.actives_here[cx, cy] + world.violent_here[cx, cy]
        if pick < here:
            j = world.cell_head[cx, cy]
            while j >= 0:
                if world.kind[j] == CIVILIAN and (world.state[j] == ACTIVE or world.state[j] == VIOLENT):
                    if pick == 0:
                        return j
                    pick -= 1
                j = world.next_in_cell[j]
        pick -= here
    return -1


@njit(cache=True, inline="always")
def arrest(world, p, rng, suspect):
    """Jail a suspect for a uniform 0..J_max-1 steps (NetLogo: ``random max-jailterm``)."""
    term = rng.integers(0, p.max_jail_term)
    world.jail[suspect] = term
    set_state(world, suspect, ARRESTED if term > 0 else CALM)
    world.tally[TALLY_ARRESTS] += 1


@njit(cache=True, inline="always")
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
    set_state(world, i, (CALM, ACTIVE, VIOLENT)[rules.engagement(grievance - risk, p.activation_threshold, p.violence_threshold)])


@njit(cache=True, inline="always")
def officer_step(world, p, rng, i):
    """Epstein's cop: rule M, then rule C (arrest a random active civilian in vision)."""
    if p.movement:
        move_to_random_empty_cell(world, p, rng, i, world.officer_offsets)
    suspect = random_active_in_vision(world, p, rng, i, world.officer_offsets)
    if suspect >= 0:
        _move_to(world, i, world.x[suspect], world.y[suspect])
        arrest(world, p, rng, suspect)

# --- The riot at a site --------------------------------------------------------------


@njit(cache=True, inline="always")
def _free_for_civilian(world, cx, cy):
    return world.civilian_ok[cx, cy] and world.blockers[cx, cy] == 0


@njit(cache=True, inline="always")
def _free_for_officer(world, cx, cy):
    return world.officer_ok[cx, cy] and world.blockers[cx, cy] == 0


@njit(cache=True)
def step_down_field(world, p, rng, i, field):
    """Move to the free neighbouring cell lowest on ``field`` if lower than here (ties at
    random); else, now and then, sidestep to an equally low one so jams loosen
    (Helbing & Molnar 1995, reduced to a grid)."""
    w, h = world.blockers.shape
    x, y = world.x[i], world.y[i]
    here = field[x, y]
    best = here
    n = 0
    start = rng.integers(0, 9)
    for kk in range(9):
        k = (start + kk) % 9
        cx, cy = _cell(x, y, world.near_offsets[k, 0], world.near_offsets[k, 1], w, h, False)
        if cx < 0 or (cx == x and cy == y) or not _free_for_civilian(world, cx, cy):
            continue
        f = field[cx, cy]
        if f < best:
            best = f
            world.scratch[0] = cx * h + cy
            n = 1
        elif f == best and f < here:
            world.scratch[n] = cx * h + cy
            n += 1
    if n == 0:
        for kk in range(9):
            k = (start + kk) % 9
            cx, cy = _cell(x, y, world.near_offsets[k, 0], world.near_offsets[k, 1], w, h, False)
            if cx >= 0 and not (cx == x and cy == y) and _free_for_civilian(world, cx, cy) and field[cx, cy] <= here + 0.5:
                if rng.random() < 0.3:
                    _move_to(world, i, cx, cy)
                    return True
                return False
        return False
    c = world.scratch[rng.integers(0, n)]
    _move_to(world, i, c // h, c % h)
    return True


@njit(cache=True, inline="always")
def _free_civilian_in(world, cx, cy):
    j = world.cell_head[cx, cy]
    while j >= 0:
        if world.kind[j] == CIVILIAN and world.state[j] != ARRESTED and world.state[j] != LEFT:
            return j
        j = world.next_in_cell[j]
    return -1


@njit(cache=True)
def push_through(world, p, rng, i, field):
    """Steps down ``field``, and where the crowd blocks the way trades places with a
    non-violent supporter further down it: the violent working their way to the front,
    the fleeing forcing their way out (pushing, Helbing et al. 2000, reduced to a swap)."""
    if step_down_field(world, p, rng, i, field):
        return
    w, h = world.blockers.shape
    x, y = world.x[i], world.y[i]
    here = field[x, y]
    start = rng.integers(0, 9)
    for kk in range(9):
        k = (start + kk) % 9
        cx, cy = _cell(x, y, world.near_offsets[k, 0], world.near_offsets[k, 1], w, h, False)
        if cx < 0 or field[cx, cy] >= here or world.officers_here[cx, cy] > 0:
            continue
        j = _free_civilian_in(world, cx, cy)
        if j >= 0 and world.state[j] != VIOLENT and world.state[j] != FLEEING and world.role[j] != PROVOCATEUR:
            _presence(world, j, -1)
            _unlink(world, j)
            _move_to(world, i, cx, cy)
            _link(world, j, x, y)
            _presence(world, j, 1)
            return


@njit(cache=True)
def _wander(world, rng, i):
    w, h = world.blockers.shape
    k = rng.integers(0, 9)
    cx, cy = _cell(world.x[i], world.y[i], world.near_offsets[k, 0], world.near_offsets[k, 1], w, h, False)
    if cx >= 0 and _free_for_civilian(world, cx, cy):
        _move_to(world, i, cx, cy)


@njit(cache=True)
def _pushed_by_spray(world, i):
    """A water-cannon hit pushes the civilian one cell straight away from the truck."""
    w, h = world.blockers.shape
    x, y = world.x[i], world.y[i]
    sx, sy = world.spray_x[x, y], world.spray_y[x, y]
    best = (x - sx) ** 2 + (y - sy) ** 2
    bx, by = -1, -1
    for k in range(9):
        cx, cy = _cell(x, y, world.near_offsets[k, 0], world.near_offsets[k, 1], w, h, False)
        if cx >= 0 and _free_for_civilian(world, cx, cy):
            d = (cx - sx) ** 2 + (cy - sy) ** 2
            if d > best:
                best, bx, by = d, cx, cy
    if bx >= 0:
        _move_to(world, i, bx, by)


@njit(cache=True)
def _blend_into_crowd(world, rng, i):
    """Provocateurs near officers keep away from them by moving where the crowd is dense
    and officers are few, drifting toward the gate (Jager et al. 2001: hardcore members in
    the crowd); out of throwing range of any officer they push forward like the violent."""
    w, h = world.blockers.shape
    x, y = world.x[i], world.y[i]
    best = -1e9
    bx, by = x, y
    start = rng.integers(0, 9)
    for kk in range(9):
        k = (start + kk) % 9
        cx, cy = _cell(x, y, world.near_offsets[k, 0], world.near_offsets[k, 1], w, h, False)
        if cx < 0 or not ((cx == x and cy == y) or _free_for_civilian(world, cx, cy)):
            continue
        crowd = 0
        officers = 0
        for m in range(world.backup_offsets.shape[0]):
            ax, ay = _cell(cx, cy, world.backup_offsets[m, 0], world.backup_offsets[m, 1], w, h, False)
            if ax >= 0:
                officers += world.officers_here[ax, ay]
                crowd += world.blockers[ax, ay] - world.officers_here[ax, ay]
        score = crowd - 4.0 * officers - 1.5 * world.gate_distance[cx, cy]
        if score > best:
            best, bx, by = score, cx, cy
    if bx != x or by != y:
        _move_to(world, i, bx, by)


@njit(cache=True)
def _damage_property(world, p, rng, i):
    """A violent civilian next to a fence, gate or facility damages it (one hit point)."""
    w, h = world.blockers.shape
    x, y = world.x[i], world.y[i]
    for k in range(9):
        cx, cy = _cell(x, y, world.near_offsets[k, 0], world.near_offsets[k, 1], w, h, False)
        if cx < 0 or world.hit_points[cx, cy] <= 0:
            continue
        if rng.random() < p.damage_probability:
            world.hit_points[cx, cy] -= 1
            world.tally[TALLY_DAMAGE] += 1
            if world.hit_points[cx, cy] == 0:
                world.civilian_ok[cx, cy] = True
                world.officer_ok[cx, cy] = True
                if world.site[cx, cy] == _GATE:
                    world.tally[TALLY_BREACHED] = 1
                    for ax in range(w):
                        for ay in range(h):
                            if world.site[ax, ay] == _YARD:
                                world.civilian_ok[ax, ay] = True
        return


@njit(cache=True, inline="always")
def _officers_within(world, x, y, offsets):
    w, h = world.blockers.shape
    n = 0
    for k in range(offsets.shape[0]):
        cx, cy = _cell(x, y, offsets[k, 0], offsets[k, 1], w, h, False)
        if cx >= 0:
            n += world.officers_here[cx, cy]
    return n


@njit(cache=True, inline="always")
def _linmas_in(world, cx, cy):
    j = world.cell_head[cx, cy]
    while j >= 0:
        if world.kind[j] == OFFICER and world.role[j] == LINMAS:
            return True
        j = world.next_in_cell[j]
    return False


@njit(cache=True)
def riot_civilian_step(world, p, rng, i):
    """A supporter or provocateur at the site: perceive, feel, decide, act, move."""
    if world.jail[i] > 0 or world.state[i] == LEFT:
        return
    w, h = world.blockers.shape
    x, y = world.x[i], world.y[i]
    offsets = world.citizen_offsets
    officers = 0
    actives = 0
    violent = 0
    civilians = 0
    arrests_seen = 0.0
    force_seen = 0.0
    for k in range(offsets.shape[0]):
        cx, cy = _cell(x, y, offsets[k, 0], offsets[k, 1], w, h, False)
        if cx >= 0:
            officers += world.officers_here[cx, cy]
            actives += world.actives_here[cx, cy]
            violent += world.violent_here[cx, cy]
            civilians += world.blockers[cx, cy] - world.officers_here[cx, cy]
            arrests_seen += world.recent_arrests[cx, cy]
            force_seen += world.indiscriminate[cx, cy]
    provocateurs_near = 0
    line_pressure = 0.0
    guided = False
    for k in range(9):
        cx, cy = _cell(x, y, world.near_offsets[k, 0], world.near_offsets[k, 1], w, h, False)
        if cx >= 0:
            provocateurs_near += world.provocateurs_here[cx, cy]
            if world.officers_here[cx, cy] > 0:
                if p.line_advancing:
                    line_pressure = 1.0
                if _linmas_in(world, cx, cy):
                    guided = True
    if world.role[i] == PROVOCATEUR:
        provocateurs_near -= 1

    exposure = rules.contagion_exposure(actives, violent, civilians, provocateurs_near, p.provocateur_influence)
    world.arousal[i] = rules.updated_arousal(world.arousal[i], exposure, p.arousal_contagion, p.arousal_decay)
    if p.legitimacy_feedback and force_seen > 0:
        world.legitimacy_deficit[i] = min(1.0, world.legitimacy_deficit[i] + p.legitimacy_loss)
    sprayed = world.spray[x, y]
    if sprayed and rng.random() < p.spray_injury_probability:
        world.tally[TALLY_INJURIES_CIVILIANS] += 1
    world.fear[i] = rules.updated_fear(
        world.fear[i], 1.0 if sprayed else 0.0, arrests_seen, line_pressure,
        p.spray_fear, p.arrest_fear, p.line_fear, p.fear_decay,
    )
    world.patience[i] -= 1
    if world.patience[i] <= 0 or (
        guided and world.state[i] == CALM and rng.random() < p.linmas_guidance
    ):
        world.going_home[i] = True

    state = world.state[i]
    if state != FLEEING:
        if world.fear[i] > p.fear_threshold:
            state = FLEEING
        elif world.going_home[i]:
            state = CALM
        else:
            legitimacy = max(0.0, p.legitimacy - world.legitimacy_deficit[i])
            grievance = rules.grievance(world.hardship[i], legitimacy) + world.arousal[i]
            p_arrest = rules.estimated_arrest_probability(officers, actives + violent, p.arrest_constant, p.ratio_rule)
            net = grievance - rules.net_risk(world.risk_aversion[i], p_arrest)
            state = (CALM, ACTIVE, VIOLENT)[rules.engagement(net, p.activation_threshold, p.violence_threshold)]
    set_state(world, i, state)

    if state == VIOLENT:
        if (world.role[i] == PROVOCATEUR and rng.random() < p.identify_probability
                and _officers_within(world, x, y, world.officer_offsets) > 0):
            world.identified[i] = True
        if _officers_within(world, x, y, world.throw_offsets) > 0 and rng.random() < p.throw_hit_probability:
            world.tally[TALLY_INJURIES_SECURITY] += 1
        _damage_property(world, p, rng, i)

    if sprayed:
        _pushed_by_spray(world, i)
    elif state == FLEEING or world.going_home[i]:
        if state == FLEEING:
            push_through(world, p, rng, i, world.exit_distance)
        else:
            step_down_field(world, p, rng, i, world.exit_distance)
        if world.site[world.x[i], world.y[i]] == _EXIT:
            set_state(world, i, LEFT)
            _unlink(world, i)
    elif world.role[i] == PROVOCATEUR:
        if state == VIOLENT and _officers_within(world, x, y, world.throw_offsets) == 0:
            push_through(world, p, rng, i, world.gate_distance)
        else:
            _blend_into_crowd(world, rng, i)
    elif state == CALM:
        if world.gate_distance[world.x[i], world.y[i]] < p.calm_standoff:
            step_down_field(world, p, rng, i, world.exit_distance)
        elif rng.random() < 0.5:
            _wander(world, rng, i)
        else:
            step_down_field(world, p, rng, i, world.gate_distance)
    elif state == VIOLENT:
        push_through(world, p, rng, i, world.gate_distance)
    else:
        step_down_field(world, p, rng, i, world.gate_distance)


@njit(cache=True)
def _arrest_target(world, p, rng, i):
    """Whom officer ``i`` may seize, by the arrest policy: violent civilians within reach;
    identified provocateurs anywhere in vision (a snatch squad), else violent ones within
    reach; or anyone engaged within reach (indiscriminate)."""
    w, h = world.blockers.shape
    x, y = world.x[i], world.y[i]
    n_first = 0
    n_other = 0
    size = world.scratch.shape[0] // 2
    if p.arrest_policy == PROVOCATEURS_FIRST:
        for k in range(world.officer_offsets.shape[0]):
            cx, cy = _cell(x, y, world.officer_offsets[k, 0], world.officer_offsets[k, 1], w, h, False)
            if cx < 0 or world.provocateurs_here[cx, cy] == 0:
                continue
            j = world.cell_head[cx, cy]
            while j >= 0:
                if world.kind[j] == CIVILIAN and world.role[j] == PROVOCATEUR and world.identified[j] and n_first < size:
                    world.scratch[n_first] = j
                    n_first += 1
                j = world.next_in_cell[j]
    for k in range(world.reach_offsets.shape[0]):
        cx, cy = _cell(x, y, world.reach_offsets[k, 0], world.reach_offsets[k, 1], w, h, False)
        if cx < 0 or world.actives_here[cx, cy] + world.violent_here[cx, cy] == 0:
            continue
        j = world.cell_head[cx, cy]
        while j >= 0:
            s = world.state[j]
            if world.kind[j] == CIVILIAN and (s == VIOLENT or (s == ACTIVE and p.arrest_policy == INDISCRIMINATE)):
                if n_other < size:
                    world.scratch[size + n_other] = j
                    n_other += 1
            j = world.next_in_cell[j]
    if n_first > 0:
        return world.scratch[rng.integers(0, n_first)]
    if n_other > 0:
        return world.scratch[size + rng.integers(0, n_other)]
    return -1


@njit(cache=True)
def _seize(world, p, rng, suspect):
    cx, cy = world.x[suspect], world.y[suspect]
    if world.state[suspect] != VIOLENT:
        world.indiscriminate[cx, cy] += 1.0
    world.recent_arrests[cx, cy] += 1.0
    if world.role[suspect] == PROVOCATEUR:
        world.tally[TALLY_PROVOCATEURS_ARRESTED] += 1
    if rng.random() < p.arrest_injury_probability:
        world.tally[TALLY_INJURIES_CIVILIANS] += 1
    arrest(world, p, rng, suspect)
    if world.jail[suspect] > 0:
        _unlink(world, suspect)


@njit(cache=True)
def _shove(world, j):
    """Push civilian ``j`` one cell away from the gate, if there is room; True if it moved."""
    w, h = world.blockers.shape
    x, y = world.x[j], world.y[j]
    best = world.gate_distance[x, y]
    bx, by = -1, -1
    for k in range(9):
        cx, cy = _cell(x, y, world.near_offsets[k, 0], world.near_offsets[k, 1], w, h, False)
        if cx >= 0 and _free_for_civilian(world, cx, cy) and world.gate_distance[cx, cy] > best:
            best, bx, by = world.gate_distance[cx, cy], cx, cy
    if bx < 0:
        return False
    _move_to(world, j, bx, by)
    return True


@njit(cache=True)
def _toward_post(world, p, i):
    """An officer steps toward its post; while the line advances it shoves a civilian in its
    way one cell back (the push-back)."""
    w, h = world.blockers.shape
    x, y = world.x[i], world.y[i]
    px, py = world.post_x[i], world.post_y[i]
    here = (x - px) ** 2 + (y - py) ** 2
    if here == 0:
        return
    best = here
    bx, by = -1, -1
    shove_best = here
    sx, sy = -1, -1
    for k in range(9):
        cx, cy = _cell(x, y, world.near_offsets[k, 0], world.near_offsets[k, 1], w, h, False)
        if cx < 0 or not world.officer_ok[cx, cy]:
            continue
        d = (cx - px) ** 2 + (cy - py) ** 2
        if world.blockers[cx, cy] == 0 and d < best:
            best, bx, by = d, cx, cy
        elif world.officers_here[cx, cy] == 0 and world.blockers[cx, cy] > 0 and d < shove_best:
            shove_best, sx, sy = d, cx, cy
    if bx >= 0:
        _move_to(world, i, bx, by)
    elif p.line_advancing and sx >= 0:
        j = _free_civilian_in(world, sx, sy)
        if j >= 0 and _shove(world, j):
            _move_to(world, i, sx, sy)


@njit(cache=True)
def riot_officer_step(world, p, rng, i):
    """A police or TNI officer seizes a target within reach when backed up by enough
    officers (Lemos et al. 2016); otherwise every officer, Linmas included, keeps its post."""
    if world.role[i] != LINMAS:
        if _officers_within(world, world.x[i], world.y[i], world.backup_offsets) >= p.arrest_backup:
            suspect = _arrest_target(world, p, rng, i)
            if suspect >= 0:
                _seize(world, p, rng, suspect)
                return
    _toward_post(world, p, i)



@njit(cache=True, inline="always")
def activate(world, p, rng, i):
    """Give agent ``i`` its turn."""
    if not world.alive[i]:
        return
    if p.has_site:
        if world.kind[i] == OFFICER:
            riot_officer_step(world, p, rng, i)
        else:
            riot_civilian_step(world, p, rng, i)
    elif world.kind[i] == OFFICER:
        officer_step(world, p, rng, i)
    else:
        civilian_step(world, p, rng, i)


@njit(cache=True)
def serve_jail_terms(world, p):
    """End of step: jail terms count down. A civilian whose term ends is free and calm where
    it stood (Epstein); at a site, detainees were taken away and, released, go home."""
    for i in range(world.kind.shape[0]):
        if world.jail[i] > 0:
            world.jail[i] -= 1
            if world.jail[i] == 0:
                set_state(world, i, LEFT if p.has_site else CALM)


@njit(cache=True)
def step(world, p, rng):
    """One step: every living agent in a fresh random order, then the jail clock."""
    order = rng.permutation(np.flatnonzero(world.alive))
    for i in order:
        activate(world, p, rng, i)
    serve_jail_terms(world, p)


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
_UNIT_CATEGORY = np.array([_CATEGORY[u] for u in UNIT_NAMES], dtype=np.uint8)
_PROVOCATEUR_CATEGORY = _CATEGORY["provocateur"]


@njit(cache=True)
def paint_agents(world, out, detainees_on_grid):
    """Write each agent's category into ``out[x, y]``: arrested under free civilians under
    officers (by unit); provocateurs at large are marked as such. Detainees taken off the
    grid (at a site) and civilians who left are not drawn."""
    for rank in range(3):
        for i in range(world.kind.shape[0]):
            if not world.alive[i]:
                continue
            if world.kind[i] == OFFICER:
                if rank == 2:
                    out[world.x[i], world.y[i]] = _UNIT_CATEGORY[world.role[i]]
            elif world.state[i] == ARRESTED:
                if rank == 0 and detainees_on_grid:
                    out[world.x[i], world.y[i]] = _CIVILIAN_CATEGORY[ARRESTED]
            elif world.state[i] != LEFT and rank == 1:
                if world.role[i] == PROVOCATEUR:
                    out[world.x[i], world.y[i]] = _PROVOCATEUR_CATEGORY
                else:
                    out[world.x[i], world.y[i]] = _CIVILIAN_CATEGORY[world.state[i]]
