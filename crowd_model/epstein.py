"""Epstein's (2002) Model I step, with NetLogo Rebellion's semantics.

One step is random asynchronous activation (NetLogo's ``go``): every living agent, in a
fresh random order, moves (rule M) and then decides (rule A, civilians) or enforces
(rule C, officers); jail terms count down after all have acted. Perception reads the
per-cell counts of :mod:`crowd_model.world` over the vision disc, column stretch by
column stretch (:func:`crowd_model.world.disc`). The rules are the pure functions of
:mod:`crowd_model.rules`.
"""

from __future__ import annotations

from crowd_model import rules
from crowd_model.world import (
    compiled, inner,
    ACTIVE, CALM, CIVILIAN, LEFT, OFFICER, VIOLENT, arrest, disc, disc_segments, move, randint, serve_jail_terms,
    census, set_state, shuffled_living,
)

ENGAGEMENT_STATES = (CALM, ACTIVE, VIOLENT)  # what rules.engagement's 0, 1, 2 mean


@inner
def move_to_random_empty_cell(world, p, rng, i, runs):
    """Rule M: move to a random cell in vision with no officer and no free civilian."""
    w, h = world.cell_head.shape
    c = _random_empty_cell(world.blockers, world.segments, world.scratch, runs, world.x[i], world.y[i], p.torus, w, h,
                           rng)
    if c >= 0:
        move(world, i, c // h, c % h)


@inner
def _random_empty_cell(blockers, segments, scratch, runs, x, y, torus, w, h, rng):
    n = 0
    for k in range(disc_segments(segments, runs, x, y, torus, w, h)):
        cx = segments[k, 0]
        for cy in range(segments[k, 1], segments[k, 2]):
            scratch[n] = cx * h + cy  # kept only if the cell is empty (no branch to mispredict)
            n += blockers[cx, cy] == 0
    if n == 0:
        return -1
    return scratch[randint(rng, n)]


@inner
def count_in_vision(world, p, i, runs):
    """Officers and engaged (active or violent) civilians within vision of agent ``i``."""
    w, h = world.cell_head.shape
    return _count_two(world.officers_here, world.engaged_here, world.segments, runs, world.x[i], world.y[i], p.torus,
                      w, h)


@inner
def _count_two(first, second, segments, runs, x, y, torus, w, h):
    a = 0
    b = 0
    for k in range(disc_segments(segments, runs, x, y, torus, w, h)):
        cx = segments[k, 0]
        for cy in range(segments[k, 1], segments[k, 2]):
            a += first[cx, cy]
            b += second[cx, cy]
    return a, b


@inner
def random_engaged_in_vision(world, p, rng, i, runs):
    """One engaged civilian chosen uniformly among those within vision, or -1."""
    engaged_here = world.engaged_here
    segments = world.segments
    n = disc(world, runs, world.x[i], world.y[i], p.torus)
    total = 0
    for k in range(n):
        cx = segments[k, 0]
        for cy in range(segments[k, 1], segments[k, 2]):
            total += engaged_here[cx, cy]
    if total == 0:
        return -1
    pick = randint(rng, total)
    for k in range(n):
        cx = segments[k, 0]
        for cy in range(segments[k, 1], segments[k, 2]):
            here = engaged_here[cx, cy]
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


@inner
def civilian_step(world, p, rng, i):
    """Epstein's agent: rule M, then rule A. Jailed civilians do nothing."""
    if world.jail[i] > 0 or world.state[i] == LEFT:
        return
    if p.movement:
        move_to_random_empty_cell(world, p, rng, i, world.civilian_vision)
    officers, engaged = count_in_vision(world, p, i, world.civilian_vision)
    # Epstein's G = H (1 - L): rules.felt_grievance without deficit or arousal, which stay 0
    # on the open grid (two memory reads per agent saved on large grids)
    grievance = rules.grievance(world.hardship[i], p.legitimacy)
    p_arrest = rules.estimated_arrest_probability(officers, engaged, p.arrest_constant, p.ratio_rule)
    net = grievance - rules.net_risk(world.risk_aversion[i], p_arrest)
    set_state(world, i, ENGAGEMENT_STATES[rules.engagement(net, p.activation_threshold, p.violence_threshold)])


@inner
def officer_step(world, p, rng, i):
    """Epstein's cop: rule M, then rule C (arrest a random engaged civilian in vision)."""
    if p.movement:
        move_to_random_empty_cell(world, p, rng, i, world.officer_vision)
    suspect = random_engaged_in_vision(world, p, rng, i, world.officer_vision)
    if suspect >= 0:
        move(world, i, world.x[suspect], world.y[suspect])
        arrest(world, rng, suspect, p.max_jail_term)


@compiled
def activate(world, p, rng, i):
    """Give agent ``i`` its turn."""
    if not world.alive[i]:
        return
    if world.kind[i] == OFFICER:
        officer_step(world, p, rng, i)
    else:
        civilian_step(world, p, rng, i)


@compiled
def step(world, p, rng):
    """One step: every living agent, in an order shuffled afresh, takes its turn, then the
    jail clock (a civilian whose term ends is free and calm where it stood). Returns the
    :func:`~crowd_model.world.census` after it."""
    for i in shuffled_living(world, rng):  # activate(world, p, rng, i), spelled out: one compiled layer less to build
        if world.kind[i] == OFFICER:
            officer_step(world, p, rng, i)
        else:
            civilian_step(world, p, rng, i)
    serve_jail_terms(world, CALM)
    return census(world)
