"""The world: the model's array state, declared once, and the only functions that change it.

Agent ``i`` is row ``i`` of every per-agent array; the grid arrays are indexed ``[x, y]``
(y is the contiguous axis). Every array is declared once, in :data:`AGENT_ARRAYS`,
:data:`CELL_ARRAYS` and :data:`OTHER_ARRAYS`; :class:`World` (what Python code reads) and
the compiled struct the kernels receive (:func:`packed`) are both generated from them, and
share the same memory.

Where agents stand and what state they are in changes only through :func:`place`,
:func:`move`, :func:`swap`, :func:`take_off_grid`, :func:`withdraw`, :func:`arrive`,
:func:`evacuate` and :func:`set_state`.
Each keeps the per-cell counts (:data:`COUNTS`) and the per-cell lists of agents right by
construction, so no other code touches them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import config, from_dtype, types
from numba.experimental import structref
from numba.np.random.random_methods import buffered_bounded_lemire_uint32, random_interval

from crowd_model.compiling import NamedStructRef, compiled, inner  # noqa: F401  (inner: compiled functions only kernels call)

CIVILIAN, OFFICER = 0, 1
CALM, ACTIVE, VIOLENT, FLEEING, ARRESTED, LEFT, INJURED, ARRIVING = range(8)
STATE_NAMES = ("calm", "active", "violent", "fleeing", "arrested", "left", "injured", "arriving")
SUPPORTER, PROVOCATEUR, KORLAP = 0, 1, 2
DALMAS_AWAL, DALMAS_LANJUT, PHH, SNATCH_TEAM, TNI, LINMAS = range(6)
UNIT_NAMES = ("dalmas_awal", "dalmas_lanjut", "phh", "snatch_team", "tni", "linmas")
POLICE_UNITS = (DALMAS_AWAL, DALMAS_LANJUT, PHH, SNATCH_TEAM)

TALLY_ARRESTS = 0
TALLY_PROVOCATEURS_ARRESTED = 1
TALLY_INJURIES_CIVILIANS = 2
TALLY_INJURIES_SECURITY = 3
TALLY_DAMAGE = 4
TALLY_BREACHED = 5
TALLY_INJURED_OFFICERS = 6  # persons
TALLY_TEAR_GAS = 7  # canisters fired
TALLY_SIZE = 8

# The cordon's state (``world.line``).
LINE_ADVANCE = 0  # cells the line has advanced toward the crowd
LINE_LAST_ADVANCE = 1  # step of the last advance
LINE_ADVANCING = 2  # 1 while officers shove civilians back after an advance
LINE_VIOLENCE_SEEN = 3  # 1 once any civilian has been violent
LINE_SIZE = 4

# The security response's state (``world.response``).
RESPONSE_SITUATION = 0  # GREEN, YELLOW or RED
RESPONSE_STAGE = 1  # force stage 1..5 (Perkap 1/2009)
RESPONSE_SINCE_CHANGE = 2  # steps since the situation or the stage last changed
RESPONSE_EASED = 3  # consecutive steps the situation has been below the current one
RESPONSE_DISORDER_SEEN = 4  # 1 once the situation has left green
RESPONSE_EVENTS = 5  # events recorded in ``world.events`` this step
RESPONSE_EVENTS_DROPPED = 6
RESPONSE_REASSIGN = 7  # 1 when the posts must be dealt out again (an officer was lost)
RESPONSE_GAS_COOLDOWN = 8
RESPONSE_ENGAGED_SEEN = 9  # what the officers saw this step
RESPONSE_VIOLENT_SEEN = 10
RESPONSE_STEP = 11  # the clock, for the events' step column
RESPONSE_KORLAP = 12  # the korlap's row, -1 if none
RESPONSE_TALKS = 13  # negotiation progress, in thousandths (1000: agreement)
RESPONSE_CALLED_OFF = 14  # 1 once the korlap has called the crowd off
RESPONSE_LINE_UNIT = 15  # the unit holding the front of the line
RESPONSE_NEXT_ENTRY = 16  # the entry cell the next marcher tries first
RESPONSE_SPRAYED = 17  # cells the water cannons hit this step
RESPONSE_SIZE = 18
GREEN, YELLOW, RED = range(3)
SITUATION_NAMES = ("green", "yellow", "red")

# name, dtype, initial value, meaning
AGENT_ARRAYS = (
    ("kind", np.int8, CIVILIAN, "CIVILIAN or OFFICER"),
    ("alive", np.bool_, True, "False once withdrawn"),
    ("x", np.int32, 0, "cell the agent stands on"),
    ("y", np.int32, 0, ""),
    ("state", np.int8, CALM, "CALM..ARRIVING (civilians)"),
    ("hardship", np.float64, 0.0, "H ~ U(0,1)"),
    ("risk_aversion", np.float64, 0.0, "R ~ U(0,1)"),
    ("jail", np.int64, 0, "steps of jail left"),
    ("role", np.int8, SUPPORTER, "SUPPORTER, PROVOCATEUR or KORLAP (civilians); the unit, DALMAS_AWAL..LINMAS (officers)"),
    ("follower", np.bool_, False, "a supporter who follows the korlap's call"),
    ("arousal", np.float64, 0.0, "added to grievance, spread by contagion"),
    ("fear", np.float64, 0.0, "above fear_threshold the civilian flees"),
    ("legitimacy_deficit", np.float64, 0.0, "legitimacy withdrawn after seeing indiscriminate force"),
    ("fatigue", np.float64, 0.0, "grows each step at a site; a reason to go home"),
    ("evacuation", np.int64, 0, "steps until an injured person is carried to the aid post"),
    ("going_home", np.bool_, False, ""),
    ("arrival", np.int64, -1, "step at which a marcher reaches the street (-1: there from the start)"),
    ("identified", np.bool_, False, "a provocateur the officers know"),
    ("post_x", np.int32, 0, "an officer's cordon post"),
    ("post_y", np.int32, 0, ""),
    ("next_in_cell", np.int32, -1, "linked list of the agents on one cell"),
)

# Per-cell counts, kept by the functions of this module only.
COUNTS = ("blockers", "officers_here", "engaged_here", "violent_here", "provocateurs_here", "injured_here",
          "seen_before", "injured_before")

# What a civilian's perception sums over its vision disc, as sums along each column so that a
# stretch of cells (x, y0 .. y1 - 1) sums in two reads: ``seen_before[x, y1] - seen_before[x, y0]``
# (and the same for ``injured_before``). ``seen_before[x, y]`` sums over the cells (x, 0 .. y - 1)
# four counts held in 16-bit lanes of one word, officers, engaged, violent and blockers; read a
# lane of a sum with ``(total >> lane) & LANE_MASK``. Exact while no lane's sum reaches 65,536:
# one agent at most stands on a cell (``blockers`` <= 1), a column holds at most 2,000 cells and
# a disc of the largest vision (50) 7,845. Only a site's world keeps them (an open grid's are
# empty: Epstein's rules count cell by cell).
LANE_OFFICERS, LANE_ENGAGED, LANE_VIOLENT, LANE_BLOCKERS = 0, 16, 32, 48
LANE_MASK = 0xFFFF

# ``remembered[x]`` holds the first and the last y of column x where a cell may hold a
# non-zero ``recent_arrests`` or ``indiscriminate`` (first > last: none), kept by
# :func:`see_arrest`, :func:`see_force` and :func:`fade_memories`. Arrests and force happen
# on few cells, so a civilian's perception skips most columns of its view
# (:func:`may_remember`), whose sums would add only zeros.
REMEMBERED_FIRST, REMEMBERED_LAST = 0, 1

CELL_ARRAYS = (
    ("cell_head", np.int32, -1, "first agent on the cell, -1 if none"),
    ("blockers", np.int16, 0, "officers and free civilians on the cell"),
    ("officers_here", np.int16, 0, ""),
    ("engaged_here", np.int16, 0, "active or violent civilians"),
    ("violent_here", np.int16, 0, ""),
    ("provocateurs_here", np.int16, 0, "provocateurs at large"),
    ("injured_here", np.int16, 0, "injured civilians lying here, not yet evacuated"),
    ("cell_kind", np.uint8, 0, "site code of the cell (crowd_model.site)"),
    ("civilian_ok", np.bool_, True, "civilians may stand here"),
    ("officer_ok", np.bool_, True, "officers may stand here"),
    ("hit_points", np.int32, 0, "fences, gate, facilities"),
    ("gate_distance", np.float64, 0.0, "walking distance to the gate"),
    ("gate_route", np.float64, 0.0, "the engaged's way to the gate: walking plus the posts of the line crossed"),
    ("exit_distance", np.float64, 0.0, "walking distance to an exit"),
    ("spray", np.bool_, False, "hit by a water cannon this step"),
    ("spray_x", np.int32, 0, "where the spray came from"),
    ("spray_y", np.int32, 0, ""),
    ("recent_arrests", np.float64, 0.0, "arrests here, halving each step"),
    ("indiscriminate", np.float64, 0.0, "force used on non-violent civilians this step"),
    ("taken", np.bool_, False, "scratch: cells already given as posts"),
    ("watched", np.bool_, False, "within vision of an officer on duty this step"),
    ("sight_edges", np.int32, 0, "scratch: officers' lines of sight starting (+1) and ending (-1) on the cell"),
    ("gas", np.float64, 0.0, "tear-gas concentration"),
    ("gas_next", np.float64, 0.0, "scratch for the gas spreading"),
)

# Arrays of other shapes, made by the model when it builds the world: name, dtype, ndim.
OTHER_ARRAYS = (
    ("civilian_vision", np.int32, 2, "(dx, dy0, length) runs of cells within civilian vision"),
    ("officer_vision", np.int32, 2, "the same for officers"),
    ("backup_disc", np.int32, 2, "runs of the cells an officer counts as backup"),
    ("reach_disc", np.int32, 2, "runs of the cells within arrest reach"),
    ("throw_disc", np.int32, 2, "runs of the cells within throwing range"),
    ("scratch", np.int64, 1, "candidate buffer"),
    ("segments", np.int32, 2, "buffer: (x, y_start, y_end) of the cells in one agent's vision"),
    ("tally", np.int64, 1, "running totals, TALLY_*"),
    ("line", np.int64, 1, "the cordon's state, LINE_*"),
    ("cordon_rows", np.int32, 3, "rows of cordon posts, central first, by shift toward the gate"),
    ("reserve_posts", np.int32, 2, "yard cells, nearest the gate first"),
    ("entries", np.int32, 2, "street cells where the march arrives"),
    ("cannon_x", np.int32, 1, "water-cannon trucks"),
    ("cannon_y", np.int32, 1, ""),
    ("cannon_water", np.float64, 1, "litres left in each tank"),
    ("cannon_cooldown", np.int64, 1, "steps until each may fire again"),
    ("cannon_shots", np.int64, 1, ""),
    ("cannon_used", np.float64, 1, "litres each has sprayed"),
    ("cannon_firing", np.bool_, 1, "fired this step"),
    ("response", np.int64, 1, "the security response's state, RESPONSE_*"),
    ("events", np.int64, 2, "this step's events, rows of crowd_model.events.EVENT_COLUMNS"),
    ("seen_before", np.int64, 2, "per column x, officers_here, engaged_here, violent_here and blockers in 16-bit lanes summed over the cells before y"),
    ("injured_before", np.int32, 2, "per column x, injured_here summed over the cells before y"),
    ("remembered", np.int32, 2, "per column x, the first and last y where recent_arrests or indiscriminate may be non-zero"),
)

FIELDS = tuple(f[0] for f in AGENT_ARRAYS + CELL_ARRAYS + OTHER_ARRAYS)

World = NamedTuple("World", [(name, np.ndarray) for name in FIELDS])
World.__doc__ = """Array state of one model (see :data:`AGENT_ARRAYS`, :data:`CELL_ARRAYS`, :data:`OTHER_ARRAYS`)."""


def empty_world(n: int, width: int, height: int, **other: np.ndarray) -> World:
    """A world of ``n`` agents on a ``width`` x ``height`` grid, every array at its initial
    value; ``other`` gives grid arrays other than their initial value, and the arrays of
    :data:`OTHER_ARRAYS` (empty ones by default)."""
    arrays = {}
    for name, dtype, fill, _ in AGENT_ARRAYS:
        arrays[name] = np.full(n, fill, dtype)
    for name, dtype, fill, _ in CELL_ARRAYS:
        value = other.pop(name, None)
        arrays[name] = np.full((width, height), fill, dtype) if value is None else np.array(value, dtype=dtype)
    sizes = {"tally": TALLY_SIZE, "line": LINE_SIZE, "response": RESPONSE_SIZE}
    for name, dtype, ndim, _ in OTHER_ARRAYS:
        value = other.pop(name, None)
        if value is None:
            value = np.zeros(sizes.get(name, 0) if ndim == 1 else (0,) * ndim, dtype)
        arrays[name] = np.ascontiguousarray(value, dtype=dtype)
    if other:
        raise TypeError(f"unknown world arrays: {', '.join(other)}")
    return World(**arrays)


def grown(world: World, extra: int) -> World:
    """A copy of ``world`` with ``extra`` agent rows appended, at their initial values."""
    n = world.kind.shape[0]
    arrays = world._asdict()
    for name, dtype, fill, _ in AGENT_ARRAYS:
        arrays[name] = np.concatenate([arrays[name][:n], np.full(extra, fill, dtype)])
    return World(**arrays)


# --- the compiled form: one struct holding every array ----------------------------------


@structref.register
class WorldStruct(NamedStructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(t)) for name, t in fields)


class _WorldProxy(structref.StructRefProxy):
    pass


structref.define_boxing(WorldStruct, _WorldProxy)


def _struct_type() -> WorldStruct:
    fields = [(name, types.Array(from_dtype(np.dtype(dtype)), 1, "C")) for name, dtype, _, _ in AGENT_ARRAYS]
    fields += [(name, types.Array(from_dtype(np.dtype(dtype)), 2, "C")) for name, dtype, _, _ in CELL_ARRAYS]
    fields += [(name, types.Array(from_dtype(np.dtype(dtype)), ndim, "C")) for name, dtype, ndim, _ in OTHER_ARRAYS]
    return WorldStruct(fields)


STRUCT_TYPE = _struct_type()  # the compiled type of a packed world
_PACK_SOURCE = (
    f"def _pack_world({', '.join(FIELDS)}):\n    s = structref.new(STRUCT_TYPE)\n"
    + "".join(f"    s.{name} = {name}\n" for name in FIELDS)
    + "    return s\n"
)
_namespace = {"structref": structref, "STRUCT_TYPE": STRUCT_TYPE, "__name__": __name__}
# Compiled under this file's name so that numba can cache it like any function here.
exec(compile(_PACK_SOURCE, __file__, "exec"), _namespace)
_pack_world = compiled(_namespace["_pack_world"])


def packed(world: World):
    """What the kernels receive: one struct of the world's arrays (the same memory), passed
    by a single reference. Under ``NUMBA_DISABLE_JIT=1`` the kernels run as plain Python and
    take the :class:`World` itself, which reads the same way."""
    if config.DISABLE_JIT:
        return world
    return _pack_world(*world)


# --- the only functions that change where agents stand and what state they are in ------


@inner
def _counts(world, i, sign):
    """Add (sign=+1) or remove (-1) agent ``i``'s contribution to the per-cell counts."""
    cx, cy = world.x[i], world.y[i]
    s = world.state[i]
    if world.kind[i] == OFFICER:
        if s != INJURED:
            world.officers_here[cx, cy] += sign
            world.blockers[cx, cy] += sign
            _add_after(world.seen_before, cx, cy, sign * ((1 << LANE_OFFICERS) + (1 << LANE_BLOCKERS)))
        return
    if s == INJURED:
        world.injured_here[cx, cy] += sign
        _add_after(world.injured_before, cx, cy, sign)
        return
    lanes = 0
    if s == ACTIVE or s == VIOLENT:
        world.engaged_here[cx, cy] += sign
        lanes += 1 << LANE_ENGAGED
        if s == VIOLENT:
            world.violent_here[cx, cy] += sign
            lanes += 1 << LANE_VIOLENT
    if s < ARRESTED:
        world.blockers[cx, cy] += sign
        lanes += 1 << LANE_BLOCKERS
        if world.role[i] == PROVOCATEUR:
            world.provocateurs_here[cx, cy] += sign
    if lanes != 0:
        _add_after(world.seen_before, cx, cy, sign * lanes)


@inner
def _add_after(column_sums, x, y, amount):
    """Cell (x, y) counts ``amount`` more in the sums along column x (nothing if there are
    none: an open grid's world)."""
    for after in range(y + 1, column_sums.shape[1]):
        column_sums[x, after] += amount


@inner
def _link(world, i, cx, cy):
    world.next_in_cell[i] = world.cell_head[cx, cy]
    world.cell_head[cx, cy] = i
    world.x[i] = cx
    world.y[i] = cy


@inner
def _unlink(world, i):
    cx, cy = world.x[i], world.y[i]
    j = world.cell_head[cx, cy]
    if j == i:
        world.cell_head[cx, cy] = world.next_in_cell[i]
    else:
        while j >= 0 and world.next_in_cell[j] != i:
            j = world.next_in_cell[j]
        if j < 0:
            raise RuntimeError("an agent off the grid was moved or taken off it again")
        world.next_in_cell[j] = world.next_in_cell[i]
    world.next_in_cell[i] = -1


@inner
def place(world, i, cx, cy):
    """Put agent ``i`` (not yet on the grid) on cell (cx, cy)."""
    _link(world, i, cx, cy)
    _counts(world, i, 1)


@compiled
def place_many(world, agents, xs, ys):
    """:func:`place` each of ``agents`` on its cell, in order."""
    for k in range(agents.shape[0]):
        place(world, agents[k], xs[k], ys[k])


@inner
def move(world, i, cx, cy):
    """Move agent ``i`` to cell (cx, cy)."""
    _counts(world, i, -1)
    _unlink(world, i)
    _link(world, i, cx, cy)
    _counts(world, i, 1)


@inner
def swap(world, i, j):
    """Agents ``i`` and ``j`` trade cells."""
    ix, iy = world.x[i], world.y[i]
    jx, jy = world.x[j], world.y[j]
    _counts(world, j, -1)
    _unlink(world, j)
    move(world, i, jx, jy)
    _link(world, j, ix, iy)
    _counts(world, j, 1)


@inner
def set_state(world, i, new_state):
    """Change agent ``i``'s state (an officer's is INJURED or not)."""
    if world.state[i] == new_state:
        return
    _counts(world, i, -1)
    world.state[i] = new_state
    _counts(world, i, 1)


@inner
def take_off_grid(world, i, new_state):
    """Agent ``i`` leaves the grid (detained, gone home or evacuated) in ``new_state``."""
    set_state(world, i, new_state)
    _unlink(world, i)


@compiled
def withdraw(world, i):
    """Take agent ``i`` off the grid for good (an officer withdrawn by a schedule)."""
    _counts(world, i, -1)
    _unlink(world, i)
    world.alive[i] = False


@inner
def arrive(world, i, cx, cy):
    """Marcher ``i`` (ARRIVING, off the grid) reaches the street on cell (cx, cy), calm."""
    world.state[i] = CALM
    place(world, i, cx, cy)


@inner
def evacuate(world, i):
    """Carry injured agent ``i`` off the grid to the aid post."""
    _counts(world, i, -1)
    _unlink(world, i)
    world.evacuation[i] = -1


@inner
def record(world, event, x, y, unit, agent, detail):
    """Add one event (a code of :data:`crowd_model.events.EVENT_NAMES`) to this step's
    ``world.events``; the model writes them out after the step. ``unit`` and ``agent`` are
    -1 when they do not apply; ``detail`` is read by the event's formatter."""
    n = world.response[RESPONSE_EVENTS]
    if n >= world.events.shape[0]:
        world.response[RESPONSE_EVENTS_DROPPED] += 1
        return
    row = world.events[n]
    row[0] = world.response[RESPONSE_STEP]
    row[1] = event
    row[2] = x
    row[3] = y
    row[4] = unit
    row[5] = agent
    row[6] = detail
    world.response[RESPONSE_EVENTS] = n + 1


# --- random numbers -------------------------------------------------------------------------


if config.DISABLE_JIT:

    def randint(rng, n):
        return rng.integers(0, n)

    def shuffled_living(world, rng):
        return rng.permutation(np.flatnonzero(world.alive))

else:

    @compiled
    def randint(rng, n):
        """A uniform integer in [0, n), 0 < n <= 2**32: the number ``rng.integers(0, n)`` would
        give, drawn the same way (Lemire's method, as numpy and numba do) but without the
        one-element array numba's ``integers`` allocates for every draw."""
        if n == 1:
            return 0
        return np.int64(buffered_bounded_lemire_uint32(rng.bit_generator, n - 1))

    @inner
    def shuffled_living(world, rng):
        """The living agents in a random order: ``rng.permutation(np.flatnonzero(world.alive))``,
        drawn the same way (numpy's Fisher-Yates shuffle), without the array views numba's
        ``permutation`` makes for every swap."""
        order = np.empty(world.alive.shape[0], np.int64)
        n = 0
        for k in range(world.alive.shape[0]):  # np.flatnonzero, which compiles slowly
            if world.alive[k]:
                order[n] = k
                n += 1
        order = order[:n]
        for i in range(n - 1, 0, -1):
            j = np.int64(random_interval(rng.bit_generator, i))
            order[i], order[j] = order[j], order[i]
        return order


# --- reading the world --------------------------------------------------------------------


@inner
def moore(x, y, k, w, h):
    """The ``k``-th cell (0..8) of the Moore neighbourhood of (x, y), own cell included
    (k = 4), on a bounded grid; (-1, -1) off the grid. ``k`` runs x-major: (x-1, y-1),
    (x-1, y), (x-1, y+1), (x, y-1), ..."""
    cx = x + k // 3 - 1
    cy = y + k % 3 - 1
    if cx < 0 or cy < 0 or cx >= w or cy >= h:
        return -1, -1
    return cx, cy


@inner
def free_civilian_in(world, cx, cy):
    """A civilian standing free on cell (cx, cy), or -1."""
    j = world.cell_head[cx, cy]
    while j >= 0:
        if world.kind[j] == CIVILIAN and world.state[j] < ARRESTED:
            return j
        j = world.next_in_cell[j]
    return -1


N_STATES = len(STATE_NAMES)
CENSUS_PROVOCATEURS_AT_LARGE = N_STATES
CENSUS_OFFICERS = N_STATES + 1


@compiled
def census(world):
    """Civilians in each state (indices CALM..INJURED), then provocateurs free on the site
    (CENSUS_PROVOCATEURS_AT_LARGE) and officers on duty, not injured (CENSUS_OFFICERS)."""
    counts = np.zeros(N_STATES + 2, np.int64)
    for i in range(world.kind.shape[0]):
        if not world.alive[i]:
            continue
        if world.kind[i] == OFFICER:
            if world.state[i] != INJURED:
                counts[CENSUS_OFFICERS] += 1
            continue
        s = world.state[i]
        counts[s] += 1
        if world.role[i] == PROVOCATEUR and s < ARRESTED:
            counts[CENSUS_PROVOCATEURS_AT_LARGE] += 1
    return counts


@compiled
def serve_jail_terms(world, released):
    """End of step: jail terms count down; a civilian whose term ends takes state
    ``released`` where it stood."""
    for i in range(world.kind.shape[0]):
        if world.jail[i] > 0:
            world.jail[i] -= 1
            if world.jail[i] == 0:
                set_state(world, i, released)


@inner
def arrest(world, rng, suspect, max_jail_term):
    """Jail a suspect for a uniform 0..J_max-1 steps (NetLogo: ``random max-jailterm``)."""
    term = randint(rng, max_jail_term)
    world.jail[suspect] = term
    set_state(world, suspect, ARRESTED if term > 0 else CALM)
    world.tally[TALLY_ARRESTS] += 1


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


def vision_runs(radius: int, width: int, height: int, torus: bool) -> np.ndarray:
    """The cells of :func:`vision_offsets`, in the same order, as runs along the contiguous
    y axis: rows ``(dx, dy0, length)`` covering ``(dx, dy0), (dx, dy0 + 1), ...``. On a torus
    a run may continue across the wrap (``dy0 + length > height``): the kernels split it."""
    offsets = vision_offsets(radius, width, height, torus)
    runs: list[list[int]] = []
    for dx, dy in offsets.tolist():
        if runs:
            last = runs[-1]
            nxt = last[1] + last[2]
            if last[0] == dx and (dy == nxt or (torus and nxt >= height and dy == nxt - height)) and last[2] < height:
                last[2] += 1
                continue
        runs.append([dx, dy, 1])
    return np.array(runs, dtype=np.int32).reshape(-1, 3)


@compiled
def disc(world, runs, x, y, torus):
    """Lay out the cells of a disc around (x, y) (``runs`` from :func:`vision_runs`) as
    ``world.segments[k] = (cx, y_start, y_end)``, contiguous stretches of column ``cx`` in
    the order of :func:`vision_offsets`; returns how many. Cells off a bounded grid are
    left out. Read a disc as::

        for k in range(disc(world, runs, x, y, torus)):
            cx = world.segments[k, 0]
            for cy in range(world.segments[k, 1], world.segments[k, 2]):
                ...
    """
    w, h = world.cell_head.shape
    return disc_segments(world.segments, runs, x, y, torus, w, h)


@inner
def _remember(world, x, y):
    world.remembered[x, REMEMBERED_FIRST] = min(world.remembered[x, REMEMBERED_FIRST], y)
    world.remembered[x, REMEMBERED_LAST] = max(world.remembered[x, REMEMBERED_LAST], y)


@inner
def see_arrest(world, x, y):
    """An arrest at (x, y): seen by the civilians around it, halving each step."""
    world.recent_arrests[x, y] += 1.0
    _remember(world, x, y)


@inner
def see_force(world, x, y):
    """Force used on a non-violent civilian at (x, y), seen this step."""
    world.indiscriminate[x, y] += 1.0
    _remember(world, x, y)


@inner
def may_remember(world, x, y0, y1):
    """Whether a cell (x, y0 .. y1 - 1) may hold a non-zero ``recent_arrests`` or
    ``indiscriminate``; if not, both are zero there."""
    return world.remembered[x, REMEMBERED_FIRST] < y1 and world.remembered[x, REMEMBERED_LAST] >= y0


@inner
def fade_memories(world, arrest_memory):
    """A new step: the force seen last step is forgotten, the arrests seen fade to
    ``arrest_memory`` of what they were, and ``remembered`` marks where some are left."""
    w, h = world.cell_head.shape
    for x in range(w):
        first, last = h, -1
        for y in range(world.remembered[x, REMEMBERED_FIRST], world.remembered[x, REMEMBERED_LAST] + 1):
            world.indiscriminate[x, y] = 0.0
            world.recent_arrests[x, y] *= arrest_memory
            if world.recent_arrests[x, y] != 0.0:
                first = min(first, y)
                last = y
        world.remembered[x, REMEMBERED_FIRST] = first
        world.remembered[x, REMEMBERED_LAST] = last


@inner
def disc_segments(seg, runs, x, y, torus, w, h):
    """:func:`disc` on plain arrays (what the hottest loops call)."""
    n = 0
    for k in range(runs.shape[0]):
        cx = x + runs[k, 0]
        y0 = y + runs[k, 1]
        y1 = y0 + runs[k, 2]
        if torus:
            if cx >= w:
                cx -= w
            if y0 >= h:
                y0 -= h
                y1 -= h
            if y1 > h:
                seg[n, 0], seg[n, 1], seg[n, 2] = cx, y0, h
                n += 1
                y0, y1 = 0, y1 - h
        else:
            if cx < 0 or cx >= w:
                continue
            y0 = max(y0, 0)
            y1 = min(y1, h)
            if y0 >= y1:
                continue
        seg[n, 0], seg[n, 1], seg[n, 2] = cx, y0, y1
        n += 1
    return n


@inner
def count_in_disc(world, counts, runs, x, y, torus):
    """The sum of a per-cell count over a disc around (x, y)."""
    total = 0
    for k in range(disc(world, runs, x, y, torus)):
        cx = world.segments[k, 0]
        for cy in range(world.segments[k, 1], world.segments[k, 2]):
            total += counts[cx, cy]
    return total
