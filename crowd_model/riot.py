"""The riot at a site: the whole step, in one place.

A step (:func:`step`) is: yesterday's spray and force fade and arrests seen are halved;
the cordon advances when the crowd has weakened (:func:`advance_cordon`); the water
cannons fire (:func:`fire_water_cannons`); then every living agent, in a fresh random
order, takes its turn (:func:`civilian_step`, :func:`officer_step`); last, jail terms count
down. Agents change the world only through :mod:`crowd_model.world`; the behavioural
rules are the pure functions of :mod:`crowd_model.rules`. The ODD (``docs/ODD.md``)
describes each rule with its source.
"""

from __future__ import annotations

import math

import numpy as np

from crowd_model import events as ev
from crowd_model import rules
from crowd_model.parameters import ARREST_POLICIES
from crowd_model.site import EXIT, GATE, YARD
from crowd_model.world import (
    compiled, inner,
    ACTIVE, ARRESTED, CALM, CIVILIAN, FLEEING, INJURED, LEFT, LINE_ADVANCE, LINE_ADVANCING,
    LINE_LAST_ADVANCE, LINE_VIOLENCE_SEEN, LINMAS, CENSUS_OFFICERS, KORLAP, OFFICER, PROVOCATEUR,
    LANE_BLOCKERS, LANE_ENGAGED, LANE_MASK, LANE_OFFICERS, LANE_VIOLENT,
    DALMAS_AWAL, DALMAS_LANJUT, PHH, SNATCH_TEAM, TNI,
    RESPONSE_CALLED_OFF, RESPONSE_KORLAP, RESPONSE_LINE_UNIT, RESPONSE_TALKS,
    RESPONSE_DISORDER_SEEN, RESPONSE_EASED, RESPONSE_ENGAGED_SEEN, RESPONSE_EVENTS,
    RESPONSE_GAS_COOLDOWN, RESPONSE_REASSIGN, RESPONSE_SINCE_CHANGE, RESPONSE_SITUATION,
    RESPONSE_SPRAYED, RESPONSE_STAGE, RESPONSE_STEP, RESPONSE_VIOLENT_SEEN, SUPPORTER, TALLY_BREACHED, TALLY_DAMAGE,
    TALLY_INJURED_OFFICERS, TALLY_INJURIES_CIVILIANS, TALLY_INJURIES_SECURITY,
    TALLY_PROVOCATEURS_ARRESTED, TALLY_TEAR_GAS, VIOLENT, arrest, census, count_in_disc, disc,
    ARRIVING, RESPONSE_NEXT_ENTRY, arrive, evacuate, fade_memories, free_civilian_in, may_remember,
    move, moore, randint, record, see_arrest, see_force, shuffled_living,
    serve_jail_terms, set_state, swap,
    take_off_grid,
)

PROVOCATEURS_FIRST = ARREST_POLICIES.index("provocateurs_first")
INDISCRIMINATE = ARREST_POLICIES.index("indiscriminate")
SEIZE_STAGE = rules.SOFT_HANDS  # arrests: empty-hand control
PUSHBACK_STAGE = rules.HARD_HANDS  # the line pushes: hard empty-hand control, shields
CHEMICAL_STAGE = rules.BATONS_AND_CHEMICALS  # water spray and tear gas
ENGAGEMENT_STATES = (CALM, ACTIVE, VIOLENT)  # what rules.engagement's 0, 1, 2 mean

# Numbers the ODD documents (section 7).
BACKUP_RADIUS = 2  # cells: backup for an arrest, and the crowd a provocateur hides in
ARREST_MEMORY = 0.5  # share of recent arrests still seen the next step
SIDESTEP_PROBABILITY = 0.3  # a blocked walker sidesteps to an equally low cell
SIDESTEP_SLACK = 0.5  # ... at most this much higher on the field than its own cell
WANDER_SHARE = 0.5  # calm civilians away from the front wander this share of steps
HIDE_OFFICER_WEIGHT = 4.0  # a provocateur's cell score: crowd - 4 officers - 1.5 gate distance
HIDE_GATE_WEIGHT = 1.5
GAS_CLOUD_RADIUS = 2  # cells a canister fills when it lands

# The formation (Perkap 16/2006), by the unit holding the front (row 0: Dalmas Awal, 1:
# Dalmas Lanjut, 2: PHH): the order in which units are given posts, and the row of the
# line each unit fills first, central posts first (0 the front row; clipped to the line's
# depth; columns in unit-code order). The unit for the situation holds the front's centre,
# the snatch team and the next relief stand right behind it, the TNI back the line on the
# flanks and the Linmas hold the rear; whoever finds no post in the rows waits in the yard.
LINE_ORDER = np.array((
    (DALMAS_AWAL, SNATCH_TEAM, DALMAS_LANJUT, PHH, TNI, LINMAS),
    (DALMAS_LANJUT, SNATCH_TEAM, DALMAS_AWAL, PHH, TNI, LINMAS),
    (PHH, SNATCH_TEAM, DALMAS_LANJUT, DALMAS_AWAL, TNI, LINMAS),
), dtype=np.int64)
START_ROW = np.array((
    (0, 1, 2, 1, 0, 2),
    (1, 0, 2, 1, 0, 2),
    (2, 1, 0, 1, 0, 2),
), dtype=np.int64)


# --- movement -----------------------------------------------------------------------------


@inner
def _free_for_civilian(world, cx, cy):
    return world.civilian_ok[cx, cy] and world.blockers[cx, cy] == 0


@inner
def step_down_field(world, rng, i, field):
    """Move to the free neighbouring cell lowest on ``field`` if lower than here (ties at
    random); else, now and then, sidestep to an equally low one so jams loosen
    (Helbing & Molnar 1995, reduced to a grid). True if the civilian moved."""
    w, h = world.cell_head.shape
    x, y = world.x[i], world.y[i]
    here = field[x, y]
    best = here
    n = 0
    side_x, side_y = -1, -1  # the first free cell no higher than here + SIDESTEP_SLACK
    start = randint(rng, 9)
    for kk in range(9):
        cx, cy = moore(x, y, (start + kk) % 9, w, h)
        if cx < 0 or (cx == x and cy == y) or not _free_for_civilian(world, cx, cy):
            continue
        f = field[cx, cy]
        if side_x < 0 and f <= here + SIDESTEP_SLACK:
            side_x, side_y = cx, cy
        if f < best:
            best = f
            world.scratch[0] = cx * h + cy
            n = 1
        elif f == best and f < here:
            world.scratch[n] = cx * h + cy
            n += 1
    if n == 0:
        if side_x >= 0 and rng.random() < SIDESTEP_PROBABILITY:
            move(world, i, side_x, side_y)
            return True
        return False
    c = world.scratch[randint(rng, n)]
    move(world, i, c // h, c % h)
    return True


@inner
def push_through(world, rng, i, field):
    """Steps down ``field``, and where the crowd blocks the way trades places with a
    non-violent supporter further down it: the violent working their way to the front,
    the fleeing forcing their way out (pushing, Helbing et al. 2000, reduced to a swap)."""
    if step_down_field(world, rng, i, field):
        return
    w, h = world.cell_head.shape
    x, y = world.x[i], world.y[i]
    here = field[x, y]
    start = randint(rng, 9)
    for kk in range(9):
        cx, cy = moore(x, y, (start + kk) % 9, w, h)
        if cx < 0 or field[cx, cy] >= here or world.officers_here[cx, cy] > 0:
            continue
        j = free_civilian_in(world, cx, cy)
        if j >= 0 and world.state[j] != VIOLENT and world.state[j] != FLEEING and world.role[j] != PROVOCATEUR:
            swap(world, i, j)
            return


@inner
def _wander(world, rng, i):
    w, h = world.cell_head.shape
    cx, cy = moore(world.x[i], world.y[i], randint(rng, 9), w, h)
    if cx >= 0 and _free_for_civilian(world, cx, cy):
        move(world, i, cx, cy)


@inner
def _pushed_by_spray(world, i):
    """A water-cannon hit pushes the civilian one cell straight away from the truck."""
    w, h = world.cell_head.shape
    x, y = world.x[i], world.y[i]
    sx, sy = world.spray_x[x, y], world.spray_y[x, y]
    best = (x - sx) ** 2 + (y - sy) ** 2
    bx, by = -1, -1
    for k in range(9):
        cx, cy = moore(x, y, k, w, h)
        if cx >= 0 and _free_for_civilian(world, cx, cy):
            d = (cx - sx) ** 2 + (cy - sy) ** 2
            if d > best:
                best, bx, by = d, cx, cy
    if bx >= 0:
        move(world, i, bx, by)


@inner
def _blend_into_crowd(world, rng, i):
    """Provocateurs near officers keep away from them by moving where the crowd is dense
    and officers are few, drifting toward the gate (Jager et al. 2001: hardcore members in
    the crowd); out of throwing range of any officer they push forward like the violent."""
    w, h = world.cell_head.shape
    x, y = world.x[i], world.y[i]
    best = -1e9
    bx, by = x, y
    start = randint(rng, 9)
    for kk in range(9):
        cx, cy = moore(x, y, (start + kk) % 9, w, h)
        if cx < 0 or not ((cx == x and cy == y) or _free_for_civilian(world, cx, cy)):
            continue
        crowd = 0
        officers = 0
        for k in range(disc(world, world.backup_disc, cx, cy, False)):
            ax = world.segments[k, 0]
            for ay in range(world.segments[k, 1], world.segments[k, 2]):
                officers += world.officers_here[ax, ay]
                crowd += world.blockers[ax, ay] - world.officers_here[ax, ay]
        score = crowd - HIDE_OFFICER_WEIGHT * officers - HIDE_GATE_WEIGHT * world.gate_route[cx, cy]
        if score > best:
            best, bx, by = score, cx, cy
    if bx != x or by != y:
        move(world, i, bx, by)


# --- civilians ----------------------------------------------------------------------------


@inner
def _damage_property(world, p, rng, i):
    """A violent civilian next to a fence, gate or facility damages it (one hit point)."""
    w, h = world.cell_head.shape
    x, y = world.x[i], world.y[i]
    for k in range(9):
        cx, cy = moore(x, y, k, w, h)
        if cx < 0 or world.hit_points[cx, cy] <= 0:
            continue
        if rng.random() < p.damage_probability:
            world.hit_points[cx, cy] -= 1
            world.tally[TALLY_DAMAGE] += 1
            record(world, ev.DAMAGE, cx, cy, -1, i, world.hit_points[cx, cy])
            if world.hit_points[cx, cy] == 0:
                world.civilian_ok[cx, cy] = True
                world.officer_ok[cx, cy] = True
                if world.cell_kind[cx, cy] == GATE and world.tally[TALLY_BREACHED] == 0:
                    world.tally[TALLY_BREACHED] = 1
                    record(world, ev.GATE_BREACH, cx, cy, -1, i, 0)
                    for ax in range(w):
                        for ay in range(h):
                            if world.cell_kind[ax, ay] == YARD:
                                world.civilian_ok[ax, ay] = True
        return


@inner
def _officers_within(world, x, y, runs):
    return count_in_disc(world, world.officers_here, runs, x, y, False)


@inner
def _officer_within(world, rng, x, y, runs):
    """An officer on duty on a random cell of a disc around (x, y) holding any, or -1."""
    n = 0
    segments = world.segments
    for k in range(disc(world, runs, x, y, False)):
        cx = segments[k, 0]
        for cy in range(segments[k, 1], segments[k, 2]):
            if world.officers_here[cx, cy] > 0:
                world.scratch[n] = cx * world.cell_head.shape[1] + cy
                n += 1
    if n == 0:
        return -1
    c = world.scratch[randint(rng, n)]
    j = world.cell_head[c // world.cell_head.shape[1], c % world.cell_head.shape[1]]
    while j >= 0:
        if world.kind[j] == OFFICER and world.state[j] != INJURED:
            return j
        j = world.next_in_cell[j]
    return -1


@inner
def _linmas_in(world, cx, cy):
    j = world.cell_head[cx, cy]
    while j >= 0:
        if world.kind[j] == OFFICER and world.role[j] == LINMAS:
            return True
        j = world.next_in_cell[j]
    return False


@inner
def injure(world, p, i, cause):
    """Agent ``i`` is hurt: it stops acting and lies where it fell until carried to the aid
    post ``evacuation_delay`` steps later; an injured officer leaves a gap in the line
    until the posts are dealt out again. Counted once, as a person."""
    set_state(world, i, INJURED)
    world.jail[i] = 0
    world.evacuation[i] = p.evacuation_delay
    unit = -1
    if world.kind[i] == OFFICER:
        unit = world.role[i]
        world.tally[TALLY_INJURED_OFFICERS] += 1
        world.response[RESPONSE_REASSIGN] = 1
    record(world, ev.INJURY, world.x[i], world.y[i], unit, i, cause)


@inner
def _throw_stone(world, p, rng, i):
    """A violent civilian with officers within throwing range throws a stone at one of them;
    it hits with ``throw_hit_probability`` and a hit injures the officer with
    ``officer_injury_probability``."""
    target = _officer_within(world, rng, world.x[i], world.y[i], world.throw_disc)
    if target < 0:
        return
    record(world, ev.STONE_THROWN, world.x[target], world.y[target], world.role[target], i, world.state[i])
    if rng.random() < p.throw_hit_probability:
        world.tally[TALLY_INJURIES_SECURITY] += 1
        record(world, ev.STONE_HIT, world.x[target], world.y[target], world.role[target], i, target)
        shielded = world.role[target] == DALMAS_LANJUT or world.role[target] == PHH
        if rng.random() < p.officer_injury_probability * (1.0 - p.shield_protection if shielded else 1.0):
            injure(world, p, target, ev.BY_STONE)


@inner
def korlap_step(world, rng, i, p):
    """The korlap (field coordinator) leads a lawful protest from the front of the crowd, on
    the command vehicle with a loudspeaker: active, never violent, never fleeing; once he has
    called the crowd off he goes home too."""
    if world.going_home[i]:
        set_state(world, i, CALM)
        step_down_field(world, rng, i, world.exit_distance)
        if world.cell_kind[world.x[i], world.y[i]] == EXIT:
            take_off_grid(world, i, LEFT)
        return
    set_state(world, i, ACTIVE)
    if world.gate_distance[world.x[i], world.y[i]] > p.calm_standoff:
        step_down_field(world, rng, i, world.gate_distance)


@inner
def _hears_talks(world, p, x, y):
    """How far the talks have come (0..1) as a civilian at (x, y) hears it from the korlap's
    loudspeaker; 0 out of earshot, without talks or once the korlap is gone."""
    r = world.response
    k = r[RESPONSE_KORLAP]
    if k < 0 or r[RESPONSE_TALKS] <= 0 or world.state[k] >= ARRESTED or world.jail[k] > 0:
        return 0.0
    dx = world.x[k] - x
    dy = world.y[k] - y
    if dx * dx + dy * dy > p.loudspeaker_range * p.loudspeaker_range:
        return 0.0
    return r[RESPONSE_TALKS] / 1000.0


@inner
def civilian_step(world, p, rng, i):
    """A civilian (supporter or provocateur) at the site: perceive, feel, decide, act, move."""
    if world.jail[i] > 0 or world.state[i] >= ARRESTED:
        return
    if world.role[i] == KORLAP:
        korlap_step(world, rng, i, p)
        return
    w, h = world.cell_head.shape
    x, y = world.x[i], world.y[i]
    seen = 0
    injured = 0
    arrests_seen = 0.0
    force_seen = 0.0
    for k in range(disc(world, world.civilian_vision, x, y, False)):
        # world.<array> read where used, not bound to a name: its reference count then
        # changes nowhere (numba drops the pair), where a name held across the loop costs
        # two atomic operations per array and civilian
        cx, y0, y1 = world.segments[k, 0], world.segments[k, 1], world.segments[k, 2]
        seen += world.seen_before[cx, y1] - world.seen_before[cx, y0]
        injured += world.injured_before[cx, y1] - world.injured_before[cx, y0]
        if may_remember(world, cx, y0, y1):
            for cy in range(y0, y1):
                arrests_seen += world.recent_arrests[cx, cy]
                force_seen += world.indiscriminate[cx, cy]
    officers = (seen >> LANE_OFFICERS) & LANE_MASK
    engaged = (seen >> LANE_ENGAGED) & LANE_MASK
    violent = (seen >> LANE_VIOLENT) & LANE_MASK
    civilians = ((seen >> LANE_BLOCKERS) & LANE_MASK) - officers
    provocateurs_near = 0
    line_pressure = 0.0
    guided = False
    for k in range(9):
        cx, cy = moore(x, y, k, w, h)
        if cx >= 0:
            provocateurs_near += world.provocateurs_here[cx, cy]
            if world.officers_here[cx, cy] > 0:
                if world.line[LINE_ADVANCING]:
                    line_pressure = 1.0
                if _linmas_in(world, cx, cy):
                    guided = True
    if world.role[i] == PROVOCATEUR:
        provocateurs_near -= 1

    exposure = rules.contagion_exposure(engaged - violent, violent, civilians, provocateurs_near, p.provocateur_influence)
    arousal = rules.updated_arousal(world.arousal[i], exposure, p.arousal_contagion, p.arousal_decay)
    arousal = min(1.0, arousal + p.injury_arousal * injured)
    if world.watched[x, y] and world.response[RESPONSE_STAGE] >= rules.VERBAL:
        arousal *= 1.0 - p.appeal_calming
    world.arousal[i] = arousal
    if p.legitimacy_feedback and (force_seen > 0 or injured > 0):
        world.legitimacy_deficit[i] = rules.updated_deficit(world.legitimacy_deficit[i], p.legitimacy_loss)
    sprayed = world.spray[x, y]
    gas = world.gas[x, y]
    if sprayed and rng.random() < p.spray_injury_probability:
        world.tally[TALLY_INJURIES_CIVILIANS] += 1
        injure(world, p, i, ev.BY_WATER_CANNON)
        return
    if gas > 0.0 and rng.random() < p.gas_injury_probability * gas:
        world.tally[TALLY_INJURIES_CIVILIANS] += 1
        injure(world, p, i, ev.BY_TEAR_GAS)
        return
    world.fear[i] = rules.updated_fear(
        world.fear[i], 1.0 if sprayed else 0.0, gas, arrests_seen, line_pressure,
        p.spray_fear, p.gas_fear, p.arrest_fear, p.line_fear, p.fear_decay,
    )
    world.fatigue[i] += p.fatigue_rate
    grievance = rules.felt_grievance(world.hardship[i], p.legitimacy, world.legitimacy_deficit[i], world.arousal[i])
    if world.role[i] == SUPPORTER:
        grievance *= 1.0 - p.negotiation_relief * _hears_talks(world, p, x, y)
    if not world.going_home[i]:
        if rules.goes_home(world.fatigue[i], world.fear[i], grievance):
            world.going_home[i] = True
            record(world, ev.GOING_HOME, x, y, -1, i, ev.BY_FATIGUE_AND_FEAR)
        elif guided and world.state[i] == CALM and rng.random() < p.linmas_guidance:
            world.going_home[i] = True
            record(world, ev.GOING_HOME, x, y, LINMAS, i, ev.GUIDED_HOME)

    state = world.state[i]
    if state != FLEEING:
        if world.fear[i] > p.fear_threshold:
            state = FLEEING
        elif world.going_home[i]:
            state = CALM
        else:
            p_arrest = rules.estimated_arrest_probability(officers, engaged, p.arrest_constant, p.ratio_rule)
            net = grievance - rules.net_risk(world.risk_aversion[i], p_arrest)
            state = ENGAGEMENT_STATES[rules.engagement(net, p.activation_threshold, p.violence_threshold)]
    set_state(world, i, state)

    if state == VIOLENT:
        if (world.role[i] == PROVOCATEUR and rng.random() < p.identify_probability
                and _officers_within(world, x, y, world.officer_vision) > 0):
            world.identified[i] = True
        _throw_stone(world, p, rng, i)
        _damage_property(world, p, rng, i)

    if sprayed:
        _pushed_by_spray(world, i)
    elif state == FLEEING or world.going_home[i]:
        if state == FLEEING:
            push_through(world, rng, i, world.exit_distance)
        else:
            step_down_field(world, rng, i, world.exit_distance)
        if world.cell_kind[world.x[i], world.y[i]] == EXIT:
            take_off_grid(world, i, LEFT)
    elif world.role[i] == PROVOCATEUR:
        if state == VIOLENT and _officers_within(world, x, y, world.throw_disc) == 0:
            push_through(world, rng, i, world.gate_route)
        else:
            _blend_into_crowd(world, rng, i)
    elif state == CALM:
        if world.gate_distance[world.x[i], world.y[i]] < p.calm_standoff:
            step_down_field(world, rng, i, world.exit_distance)
        elif rng.random() < WANDER_SHARE:
            _wander(world, rng, i)
        else:
            step_down_field(world, rng, i, world.gate_distance)
    elif state == VIOLENT:
        push_through(world, rng, i, world.gate_route)
    else:
        step_down_field(world, rng, i, world.gate_route)


# --- officers -----------------------------------------------------------------------------


@inner
def _arrest_target(world, p, rng, i):
    """Whom officer ``i`` may seize, by the arrest policy: violent civilians within reach;
    identified provocateurs first (anywhere in vision for the snatch team, within reach for
    the others), else violent ones within reach; or anyone engaged within reach
    (indiscriminate, and always under the ``immediate`` response)."""
    x, y = world.x[i], world.y[i]
    size = world.scratch.shape[0] // 2
    n_first = 0
    if p.arrest_policy == PROVOCATEURS_FIRST:
        runs = world.officer_vision if world.role[i] == SNATCH_TEAM else world.reach_disc
        n_first = _suspects(world, runs, x, y, True, False, 0, size)
    indiscriminate = p.arrest_policy == INDISCRIMINATE or p.response_policy == rules.IMMEDIATE
    n_other = _suspects(world, world.reach_disc, x, y, False, indiscriminate, size, size)
    if n_first > 0:
        return world.scratch[randint(rng, n_first)]
    if n_other > 0:
        return world.scratch[size + randint(rng, n_other)]
    return -1


@inner
def _suspects(world, runs, x, y, snatch, indiscriminate, start, size):
    """Put into ``world.scratch[start:start + size]`` the civilians on a disc around (x, y) an
    officer may seize: identified provocateurs (``snatch``), or else violent civilians and,
    ``indiscriminate``, active ones too. Returns how many."""
    n = 0
    segments = world.segments
    counts = world.provocateurs_here if snatch else world.engaged_here
    for k in range(disc(world, runs, x, y, False)):
        cx = segments[k, 0]
        for cy in range(segments[k, 1], segments[k, 2]):
            if counts[cx, cy] == 0:
                continue
            j = world.cell_head[cx, cy]
            while j >= 0:
                if world.kind[j] == CIVILIAN and n < size:
                    s = world.state[j]
                    if snatch:
                        wanted = world.role[j] == PROVOCATEUR and world.identified[j] and s < ARRESTED
                    else:
                        wanted = s == VIOLENT or (s == ACTIVE and indiscriminate)
                    if wanted:
                        world.scratch[start + n] = j
                        n += 1
                j = world.next_in_cell[j]
    return n


@inner
def _seize(world, p, rng, officer, suspect):
    """Officer ``officer`` arrests ``suspect``; the arrest may injure him (then he is carried
    to the aid post instead of the holding area)."""
    cx, cy = world.x[suspect], world.y[suspect]
    if world.state[suspect] != VIOLENT:
        see_force(world, cx, cy)
    see_arrest(world, cx, cy)
    if world.role[suspect] == PROVOCATEUR:
        world.tally[TALLY_PROVOCATEURS_ARRESTED] += 1
    record(world, ev.ARREST, cx, cy, world.role[officer], suspect, world.role[suspect])
    arrest(world, rng, suspect, p.max_jail_term)
    if rng.random() < p.arrest_injury_probability:
        world.tally[TALLY_INJURIES_CIVILIANS] += 1
        injure(world, p, suspect, ev.BY_ARREST)
    elif world.jail[suspect] > 0:
        take_off_grid(world, suspect, world.state[suspect])


@inner
def _shove(world, j):
    """Push civilian ``j`` one cell away from the gate, if there is room; True if it moved."""
    w, h = world.cell_head.shape
    x, y = world.x[j], world.y[j]
    best = world.gate_distance[x, y]
    bx, by = -1, -1
    for k in range(9):
        cx, cy = moore(x, y, k, w, h)
        if cx >= 0 and _free_for_civilian(world, cx, cy) and world.gate_distance[cx, cy] > best:
            best, bx, by = world.gate_distance[cx, cy], cx, cy
    if bx < 0:
        return False
    move(world, j, bx, by)
    return True


@inner
def _passes(world, i, j, cx, cy):
    """Officer ``i`` may pass through officer ``j`` on (cx, cy), trading places, when ``j`` is
    not hurt and the trade does not take ``j`` away from its own post, or only by a cell
    (a post-holder steps back into its post after the relief has passed: the lapis ganti)."""
    if world.state[j] == INJURED:
        return False
    qx, qy = world.post_x[j], world.post_y[j]
    before = (cx - qx) ** 2 + (cy - qy) ** 2
    after = (world.x[i] - qx) ** 2 + (world.y[i] - qy) ** 2
    return after <= before or after <= 2


@inner
def _toward_post(world, i):
    """An officer steps toward its post, passing through officers it may trade places with
    (:func:`_passes`); while the line advances it shoves a civilian in its way one cell back
    (the push-back)."""
    w, h = world.cell_head.shape
    x, y = world.x[i], world.y[i]
    px, py = world.post_x[i], world.post_y[i]
    here = (x - px) ** 2 + (y - py) ** 2
    if here == 0:
        return
    best = here
    bx, by = -1, -1
    shove_best = here
    sx, sy = -1, -1
    pass_best = here
    partner = -1
    for k in range(9):
        cx, cy = moore(x, y, k, w, h)
        if cx < 0 or not world.officer_ok[cx, cy]:
            continue
        d = (cx - px) ** 2 + (cy - py) ** 2
        if world.blockers[cx, cy] == 0 and d < best:
            best, bx, by = d, cx, cy
        elif world.officers_here[cx, cy] == 0 and world.blockers[cx, cy] > 0 and d < shove_best:
            shove_best, sx, sy = d, cx, cy
        elif world.officers_here[cx, cy] > 0 and d < pass_best:
            j = world.cell_head[cx, cy]
            if world.kind[j] == OFFICER and world.blockers[cx, cy] == 1 and _passes(world, i, j, cx, cy):
                pass_best, partner = d, j
    if bx >= 0:
        move(world, i, bx, by)
    elif partner >= 0:
        swap(world, i, partner)
    elif world.line[LINE_ADVANCING] and sx >= 0:
        j = free_civilian_in(world, sx, sy)
        if j >= 0 and _shove(world, j):
            move(world, i, sx, sy)


@inner
def officer_step(world, p, rng, i):
    """A police officer (and a TNI soldier with ``tni_arrests``), once the force stage allows
    empty-hand control, seizes a target when backed up by enough officers (Lemos et al.
    2016); otherwise every officer, Linmas included, keeps its post. The injured do nothing."""
    if world.state[i] == INJURED:
        return
    unit = world.role[i]
    arrests = unit != LINMAS and (unit != TNI or p.tni_arrests)
    if arrests and world.response[RESPONSE_STAGE] >= SEIZE_STAGE:
        if _officers_within(world, world.x[i], world.y[i], world.backup_disc) >= p.arrest_backup:
            suspect = _arrest_target(world, p, rng, i)
            if suspect >= 0:
                _seize(world, p, rng, i, suspect)
                return
    _toward_post(world, i)


# --- the line and the water cannons -------------------------------------------------------


@compiled
def assign_posts(world, depth_rows, advance, line_unit, line_resistance):
    """Give every officer on duty a post of the line (at ``advance`` cells of push-back) in
    the formation for ``line_unit`` (:data:`LINE_ORDER`, :data:`START_ROW`): unit by unit,
    each officer the most central free post of its unit's first row with one, rows behind
    it before rows in front, then the yard; then find the crowd's way around or through
    the new line (:func:`route_to_gate`). Returns how many officers got a post."""
    w, h = world.cell_head.shape
    taken = world.taken
    for x in range(w):
        for y in range(h):
            taken[x, y] = False
    rows = world.cordon_rows
    advance_max = rows.shape[0] - depth_rows
    cursor = np.zeros(depth_rows, np.int64)
    reserve = world.reserve_posts
    next_reserve = 0
    level = max(0, line_unit)
    placed = 0
    for unit in LINE_ORDER[level]:
        start = min(START_ROW[level, unit], depth_rows - 1)
        for i in range(world.kind.shape[0]):
            if not (world.kind[i] == OFFICER and world.role[i] == unit and world.alive[i]
                    and world.state[i] != INJURED):
                continue
            got = False
            for r in range(depth_rows):
                depth = start + r if start + r < depth_rows else depth_rows - 1 - r
                row = depth - advance + advance_max
                while not got and cursor[depth] < rows.shape[1]:
                    x, y = rows[row, cursor[depth], 0], rows[row, cursor[depth], 1]
                    cursor[depth] += 1
                    if 0 <= x < w and 0 <= y < h and world.officer_ok[x, y] and not taken[x, y]:
                        world.post_x[i], world.post_y[i] = x, y
                        taken[x, y] = got = True
                if got:
                    break
            while not got and next_reserve < reserve.shape[0]:
                x, y = reserve[next_reserve, 0], reserve[next_reserve, 1]
                next_reserve += 1
                if not taken[x, y]:
                    world.post_x[i], world.post_y[i] = x, y
                    taken[x, y] = got = True
            placed += got
    route_to_gate(world, line_resistance)
    return placed


@inner
def route_to_gate(world, line_resistance):
    """The way to the gate of those who mean to get there (``world.gate_route``): the least
    cost to a gate cell over the walkable cells, 8 neighbours, where each step costs
    :func:`rules.route_step_cost` -- the walk plus ``line_resistance`` for each cell given
    as a post. Found by sweeping the grid in both directions until nothing improves
    (a distance transform; exact for these costs). With ``line_resistance`` 0 it equals
    the walking distance ``gate_distance``. Cells that cannot reach the gate stay at inf."""
    w, h = world.cell_head.shape
    route, walking, posted = world.gate_route, world.gate_distance, world.taken
    for x in range(w):
        for y in range(h):
            route[x, y] = 0.0 if walking[x, y] == 0.0 else math.inf
    diagonal = math.sqrt(2.0)
    changed = True
    sweep = 0
    while changed:
        changed = False
        for k in range(w * h):
            c = k if sweep % 2 == 0 else w * h - 1 - k
            x, y = c // h, c % h
            if walking[x, y] == 0.0 or walking[x, y] == math.inf:
                continue
            best = route[x, y]
            for dx in range(-1, 2):
                for dy in range(-1, 2):
                    nx, ny = x + dx, y + dy
                    if (dx == 0 and dy == 0) or nx < 0 or ny < 0 or nx >= w or ny >= h:
                        continue
                    if route[nx, ny] < best:
                        step = diagonal if dx != 0 and dy != 0 else 1.0
                        cost = route[nx, ny] + rules.route_step_cost(step, 1.0 if posted[x, y] else 0.0, line_resistance)
                        if cost < best:
                            best = cost
            if best < route[x, y]:
                route[x, y] = best
                changed = True
        sweep += 1


@inner
def deal_posts(world, p):
    """Deal the posts of the line out again (:func:`assign_posts`) after an advance, a
    handover or the loss of an officer: the lost leave the rear thinner, not the front."""
    assign_posts(world, p.cordon_depth, world.line[LINE_ADVANCE], world.response[RESPONSE_LINE_UNIT], p.line_resistance)
    world.response[RESPONSE_REASSIGN] = 0


@inner
def _on_duty(world, unit):
    """How many officers of ``unit`` are on duty (not hurt)."""
    n = 0
    for i in range(world.kind.shape[0]):
        if world.kind[i] == OFFICER and world.role[i] == unit and world.alive[i] and world.state[i] != INJURED:
            n += 1
    return n


@inner
def hand_over(world, p):
    """The unit for the situation takes the front of the line (Perkap 16/2006): Dalmas Awal
    in green; in yellow Dalmas Lanjut relieves it (lapis ganti); in red the PHH relieves
    Dalmas Lanjut (lintas ganti); as the situation eases the line is handed back. A unit
    with nobody on duty is skipped for the next one up (or down). The relief walks through
    the line to its posts (:func:`_toward_post`), so a handover takes the steps it takes."""
    r = world.response
    wanted = rules.line_level(r[RESPONSE_SITUATION], p.response_policy)
    if wanted == r[RESPONSE_LINE_UNIT]:
        return
    unit = -1
    for k in range(3):
        for level in (wanted + k, wanted - k):
            if unit < 0 and 0 <= level <= PHH and _on_duty(world, level) > 0:
                unit = level
    if unit < 0 or unit == r[RESPONSE_LINE_UNIT]:
        return
    record(world, ev.HANDOVER, -1, -1, unit, -1, r[RESPONSE_LINE_UNIT])
    r[RESPONSE_LINE_UNIT] = unit
    deal_posts(world, p)


@inner
def advance_cordon(world, p, t, officers):
    """Push-back: from force stage 4 (hard empty-hand control, shields), while the violent
    civilians the officers see number at most ``pushback_threshold`` of the officers on
    duty, the line steps one cell toward the crowd every ``pushback_interval`` steps, up to
    ``pushback_max`` cells; officers then shove civilians in their way back until the next
    advance is due."""
    line = world.line
    advancing = line[LINE_ADVANCE] > 0 and t - line[LINE_LAST_ADVANCE] < p.pushback_interval
    line[LINE_ADVANCING] = 1 if advancing else 0
    if world.response[RESPONSE_VIOLENT_SEEN] > 0:
        line[LINE_VIOLENCE_SEEN] = 1
    if not (p.pushback and world.response[RESPONSE_STAGE] >= PUSHBACK_STAGE and line[LINE_ADVANCE] < p.pushback_max):
        return
    if world.response[RESPONSE_VIOLENT_SEEN] > p.pushback_threshold * officers:
        return
    if t - line[LINE_LAST_ADVANCE] < p.pushback_interval:
        return
    line[LINE_ADVANCE] += 1
    line[LINE_LAST_ADVANCE] = t
    line[LINE_ADVANCING] = 1
    deal_posts(world, p)
    x1, y1 = _front_middle(world, p, line[LINE_ADVANCE])
    x0, y0 = _front_middle(world, p, line[LINE_ADVANCE] - 1)
    for c in range(world.cannon_x.shape[0]):  # the trucks move up behind the line
        world.cannon_x[c] += x1 - x0
        world.cannon_y[c] += y1 - y0
    record(world, ev.LINE_ADVANCE, -1, -1, -1, -1, line[LINE_ADVANCE])


@inner
def _violent_centre(world, x0, y0, reach):
    """How many violent civilians stand within ``reach`` of (x0, y0), and the mean offset
    to them."""
    n = 0
    sum_dx = 0
    sum_dy = 0
    for i in range(world.kind.shape[0]):
        if world.alive[i] and world.kind[i] == CIVILIAN and world.state[i] == VIOLENT:
            dx = world.x[i] - x0
            dy = world.y[i] - y0
            if dx * dx + dy * dy <= reach * reach:
                n += 1
                sum_dx += dx
                sum_dy += dy
    if n == 0:
        return 0, 0.0, 0.0
    return n, sum_dx / n, sum_dy / n


@inner
def _front_middle(world, p, advance):
    """The middle cell of the line's front row after ``advance`` cells of push-back."""
    rows = world.cordon_rows
    row = rows[rows.shape[0] - p.cordon_depth - advance]
    return row[0, 0], row[0, 1]



@inner
def fire_water_cannons(world, p, t):
    """At force stage 5, each truck (it moves up behind the line as the line advances) fires when enough violent civilians are within range,
    its cooldown has passed and its tank holds a shot: the spray hits every cell of a cone
    aimed at the centre of the violent ones in range (pushing and frightening the civilians
    there, whoever they are)."""
    w, h = world.cell_head.shape
    for c in range(world.cannon_x.shape[0]):
        world.cannon_firing[c] = False
        world.cannon_cooldown[c] = max(0, world.cannon_cooldown[c] - 1)
        if (t < p.water_cannon_start or world.response[RESPONSE_STAGE] < CHEMICAL_STAGE
                or world.cannon_cooldown[c] > 0 or world.cannon_water[c] < p.water_per_shot):
            continue
        x0, y0 = world.cannon_x[c], world.cannon_y[c]
        n, mx, my = _violent_centre(world, x0, y0, p.water_cannon_range)
        if n < p.water_cannon_trigger:
            continue
        aim = math.atan2(my, mx)
        hit = 0
        for cx in range(w):
            for cy in range(h):
                if rules.in_spray_cone(cx - x0, cy - y0, aim, p.water_cannon_cone, p.water_cannon_range):
                    if not world.spray[cx, cy]:
                        world.response[RESPONSE_SPRAYED] += 1
                    world.spray[cx, cy] = True
                    world.spray_x[cx, cy] = x0
                    world.spray_y[cx, cy] = y0
                    bystanders = world.blockers[cx, cy] - world.officers_here[cx, cy]
                    hit += bystanders
                    if bystanders - world.violent_here[cx, cy] > 0:
                        see_force(world, cx, cy)
        world.cannon_water[c] -= p.water_per_shot
        world.cannon_used[c] += p.water_per_shot
        world.cannon_cooldown[c] = p.water_cannon_cooldown
        world.cannon_firing[c] = True
        world.cannon_shots[c] += 1
        record(world, ev.WATER_CANNON_SHOT, x0 + int(round(mx)), y0 + int(round(my)), DALMAS_LANJUT, c, hit)


@inner
def fire_tear_gas(world, p, t):
    """At force stage 5 the tear-gas squad (of Dalmas Lanjut, or of the PHH while it holds the
    line; none if that unit has nobody on duty) throws a canister at the centre of the violent
    civilians within ``tear_gas_range`` of the line's middle when at least
    ``tear_gas_trigger`` are there: the cloud fills a small disc and then drifts and thins
    (:func:`spread_gas`). Gas is indiscriminate: everyone in it counts as force seen."""
    r = world.response
    r[RESPONSE_GAS_COOLDOWN] = max(0, r[RESPONSE_GAS_COOLDOWN] - 1)
    if (not p.tear_gas or r[RESPONSE_STAGE] < CHEMICAL_STAGE or r[RESPONSE_GAS_COOLDOWN] > 0
            or world.tally[TALLY_TEAR_GAS] >= p.tear_gas_canisters):
        return
    x0, y0 = _front_middle(world, p, world.line[LINE_ADVANCE])
    n, mx, my = _violent_centre(world, x0, y0, p.tear_gas_range)
    if n < p.tear_gas_trigger:
        return
    squad = r[RESPONSE_LINE_UNIT] if r[RESPONSE_LINE_UNIT] == PHH else DALMAS_LANJUT
    if _on_duty(world, squad) == 0:
        return
    w, h = world.cell_head.shape
    tx = min(w - 1, max(0, x0 + int(round(mx))))
    ty = min(h - 1, max(0, y0 + int(round(my))))
    inside = 0
    for dx in range(-GAS_CLOUD_RADIUS, GAS_CLOUD_RADIUS + 1):
        for dy in range(-GAS_CLOUD_RADIUS, GAS_CLOUD_RADIUS + 1):
            cx, cy = tx + dx, ty + dy
            if 0 <= cx < w and 0 <= cy < h and dx * dx + dy * dy <= GAS_CLOUD_RADIUS * GAS_CLOUD_RADIUS \
                    and world.civilian_ok[cx, cy]:
                world.gas[cx, cy] = 1.0
                inside += world.blockers[cx, cy] - world.officers_here[cx, cy]
    world.tally[TALLY_TEAR_GAS] += 1
    r[RESPONSE_GAS_COOLDOWN] = p.tear_gas_cooldown
    record(world, ev.TEAR_GAS, tx, ty, squad, -1, inside)


@inner
def spread_gas(world, p):
    """Tear gas drifts: each open cell passes ``gas_spread`` of its gas to its four
    neighbours in equal shares (none into walls) and ``gas_decay`` of it thins out; the
    civilians in it count as having seen force (indiscriminate by nature)."""
    w, h = world.cell_head.shape
    gas, nxt, ok = world.gas, world.gas_next, world.civilian_ok
    if not np.any(gas):
        return
    for x in range(w):
        for y in range(h):
            nxt[x, y] = 0.0
    for x in range(w):
        for y in range(h):
            g = gas[x, y]
            if g == 0.0:
                continue
            share = p.gas_spread * g / 4.0
            kept = g
            for k in range(4):
                cx = x + (k == 0) - (k == 1)
                cy = y + (k == 2) - (k == 3)
                if 0 <= cx < w and 0 <= cy < h and ok[cx, cy]:
                    nxt[cx, cy] += share
                    kept -= share
            nxt[x, y] += kept
    for x in range(w):
        for y in range(h):
            g = nxt[x, y] * (1.0 - p.gas_decay)
            gas[x, y] = g if g > 0.01 else 0.0
            if gas[x, y] > 0.0 and world.blockers[x, y] - world.officers_here[x, y] - world.violent_here[x, y] > 0:
                see_force(world, x, y)


@inner
def assess_situation(world, p):
    """The commander's reading (Perkap Kapolri 16/2006): count the engaged and violent
    civilians within sight of any officer on duty, set the situation (escalating at once,
    easing one level after ``deescalation_delay`` calmer steps) and the force stage the
    response policy calls for (stepping up one stage a step, down one stage after
    ``deescalation_delay`` steps; ``immediate`` jumps to the strongest means)."""
    w, h = world.cell_head.shape
    watched, edges = world.watched, world.sight_edges
    for x in range(w):
        for y in range(h):
            edges[x, y] = 0
    for i in range(world.kind.shape[0]):  # each stretch of cells in an officer's sight: +1 where it starts, -1 after it
        if world.alive[i] and world.kind[i] == OFFICER and world.state[i] != INJURED:
            for k in range(disc(world, world.officer_vision, world.x[i], world.y[i], False)):
                cx, y0, y1 = world.segments[k, 0], world.segments[k, 1], world.segments[k, 2]
                edges[cx, y0] += 1
                if y1 < h:
                    edges[cx, y1] -= 1
    engaged = 0
    violent = 0
    for x in range(w):
        in_sight = 0
        for y in range(h):
            in_sight += edges[x, y]
            watched[x, y] = in_sight > 0
            if in_sight > 0:
                engaged += world.engaged_here[x, y]
                violent += world.violent_here[x, y]
    r = world.response
    r[RESPONSE_ENGAGED_SEEN] = engaged
    r[RESPONSE_VIOLENT_SEEN] = violent
    r[RESPONSE_SINCE_CHANGE] += 1
    assessed = rules.assessed_situation(engaged, violent, p.yellow_engaged, p.red_violent)
    situation = r[RESPONSE_SITUATION]
    if assessed > situation:
        situation = assessed
        r[RESPONSE_EASED] = 0
    elif assessed < situation:
        r[RESPONSE_EASED] += 1
        if r[RESPONSE_EASED] >= p.deescalation_delay:
            situation -= 1
            r[RESPONSE_EASED] = 0
    else:
        r[RESPONSE_EASED] = 0
    if situation != r[RESPONSE_SITUATION]:
        r[RESPONSE_SITUATION] = situation
        record(world, ev.SITUATION, -1, -1, -1, -1, situation)
    if situation > 0:
        r[RESPONSE_DISORDER_SEEN] = 1
    target = rules.force_stage_target(situation, engaged, violent, p.response_policy, r[RESPONSE_DISORDER_SEEN])
    stage = r[RESPONSE_STAGE]
    if target > stage:
        stage = target if p.response_policy == rules.IMMEDIATE else stage + 1
    elif target < stage and r[RESPONSE_SINCE_CHANGE] >= p.deescalation_delay:
        stage -= 1
    if stage != r[RESPONSE_STAGE]:
        r[RESPONSE_STAGE] = stage
        r[RESPONSE_SINCE_CHANGE] = 0
        record(world, ev.FORCE_STAGE, -1, -1, -1, -1, stage)


@inner
def negotiate(world, p):
    """The negotiator and the korlap talk from the start (Perkap 16/2006): the talks advance
    ``negotiation_rate`` each step the situation is not red, and break off for good if the
    korlap is arrested or injured. At agreement the korlap calls the crowd off: his followers
    (``korlap_followers`` of the supporters) and he set off home."""
    r = world.response
    k = r[RESPONSE_KORLAP]
    if not p.negotiation or k < 0 or r[RESPONSE_CALLED_OFF] or r[RESPONSE_TALKS] < 0:
        return
    if world.state[k] >= ARRESTED or world.jail[k] > 0:
        r[RESPONSE_TALKS] = -1
        record(world, ev.NEGOTIATION, world.x[k], world.y[k], -1, k, ev.TALKS_BROKEN_OFF)
        return
    before = r[RESPONSE_TALKS]
    if before == 0:  # the talks open
        record(world, ev.NEGOTIATION, world.x[k], world.y[k], -1, k, 0)
        before = r[RESPONSE_TALKS] = 1
    if r[RESPONSE_SITUATION] == rules.RED:
        return
    after = min(1000, before + int(round(1000.0 * p.negotiation_rate)))
    r[RESPONSE_TALKS] = after
    if before < 500 <= after < 1000:
        record(world, ev.NEGOTIATION, world.x[k], world.y[k], -1, k, 50)
    if after >= 1000:
        record(world, ev.NEGOTIATION, world.x[k], world.y[k], -1, k, 100)
        r[RESPONSE_CALLED_OFF] = 1
        called = 0
        for j in range(world.kind.shape[0]):
            if world.follower[j] and world.state[j] < ARRESTED and world.jail[j] == 0 and not world.going_home[j]:
                world.going_home[j] = True
                called += 1
                record(world, ev.GOING_HOME, world.x[j], world.y[j], -1, j, ev.CALLED_OFF)
        world.going_home[k] = True
        record(world, ev.KORLAP_CALL, world.x[k], world.y[k], -1, k, called)


@inner
def march_in(world, t):
    """The march (Perkap 16/2006 has the crowd arrive behind its korlap): each marcher whose
    arrival step has come steps onto the first free entry cell of the street, taking the
    entries in turn; with none free it waits a step."""
    entries = world.entries
    n = entries.shape[0]
    r = world.response
    for i in range(world.kind.shape[0]):
        if world.state[i] != ARRIVING or world.arrival[i] > t:
            continue
        for k in range(n):
            e = (r[RESPONSE_NEXT_ENTRY] + k) % n
            x, y = entries[e, 0], entries[e, 1]
            if world.blockers[x, y] == 0:
                arrive(world, i, x, y)
                r[RESPONSE_NEXT_ENTRY] = (e + 1) % n
                break


@inner
def serve_evacuations(world):
    """End of step: the injured wait for the stretcher; when their wait is over they are
    carried to the aid post (off the grid)."""
    for i in range(world.kind.shape[0]):
        if world.evacuation[i] > 0:
            world.evacuation[i] -= 1
            if world.evacuation[i] == 0:
                record(world, ev.EVACUATION, world.x[i], world.y[i],
                       world.role[i] if world.kind[i] == OFFICER else -1, i, 0)
                evacuate(world, i)


# --- the step -----------------------------------------------------------------------------


@compiled
def activate(world, p, rng, i):
    """Give agent ``i`` its turn."""
    if not world.alive[i]:
        return
    if world.kind[i] == OFFICER:
        officer_step(world, p, rng, i)
    else:
        civilian_step(world, p, rng, i)


@inner
def begin_step(world, p, t):
    """What happens before the agents act: spray and force fade, arrests seen are halved,
    tear gas drifts, the commander reads the situation and sets the force stage, lost
    officers are replaced in the line, the line may advance, the cannons and the tear-gas
    squad may fire."""
    w, h = world.cell_head.shape
    world.response[RESPONSE_STEP] = t
    world.response[RESPONSE_EVENTS] = 0
    for x in range(w):
        for y in range(h):
            world.spray[x, y] = False
    world.response[RESPONSE_SPRAYED] = 0
    fade_memories(world, ARREST_MEMORY)
    march_in(world, t)
    spread_gas(world, p)
    assess_situation(world, p)
    hand_over(world, p)
    negotiate(world, p)
    if world.response[RESPONSE_REASSIGN]:
        deal_posts(world, p)
    counts = census(world)
    advance_cordon(world, p, t, counts[CENSUS_OFFICERS])
    fire_water_cannons(world, p, t)
    fire_tear_gas(world, p, t)


@compiled
def step(world, p, rng, t):
    """One step at clock ``t``: :func:`begin_step`; every living agent, in an order shuffled
    afresh, takes its turn; then the jail clock (detainees were taken away and, released, go
    home) and the stretchers. Returns the :func:`~crowd_model.world.census` after it."""
    order = shuffled_living(world, rng)
    begin_step(world, p, t)
    for i in order:  # activate(world, p, rng, i), spelled out: one compiled layer less to build
        if world.kind[i] == OFFICER:
            officer_step(world, p, rng, i)
        else:
            civilian_step(world, p, rng, i)
    serve_jail_terms(world, LEFT)
    serve_evacuations(world)
    return census(world)
