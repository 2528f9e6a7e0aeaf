"""What each cell shows: one category code per cell, for the app's picture of the grid."""

from __future__ import annotations

import numpy as np
from numba import njit

from crowd_model import site as site_codes
from crowd_model.world import ARRESTED, INJURED, KORLAP, LEFT, OFFICER, PROVOCATEUR, STATE_NAMES, UNIT_NAMES

CELL_CATEGORIES = (
    "empty",
    "calm",
    "active",
    "violent",
    "fleeing",
    "arrested",
    "injured",
    "provocateur",
    "korlap",
    "police",
    "tni",
    "linmas",
    "water_cannon",
    "spray",
    "tear_gas",
    "office",
    "gate",
    "fence",
    "facility",
    "facility_damaged",
    "exit",
    "cordon_line",
)
_CATEGORY = {name: code for code, name in enumerate(CELL_CATEGORIES)}
_CIVILIAN_CATEGORY = np.array([_CATEGORY[s] if s != "left" else 0 for s in STATE_NAMES], dtype=np.uint8)
_UNIT_CATEGORY = np.array([_CATEGORY[u] for u in UNIT_NAMES], dtype=np.uint8)
_PROVOCATEUR_CATEGORY = _CATEGORY["provocateur"]
_KORLAP_CATEGORY = _CATEGORY["korlap"]
_INJURED_CATEGORY = _CATEGORY["injured"]
GAS_SHOWN = 0.05  # tear-gas concentration from which a cell is drawn as gas
_SITE_CATEGORIES = (
    (site_codes.OFFICE, "office"), (site_codes.FENCE, "fence"), (site_codes.GATE, "gate"),
    (site_codes.FACILITY, "facility"), (site_codes.EXIT, "exit"), (site_codes.CORDON, "cordon_line"),
)


@njit(cache=True)
def paint_agents(world, out, detainees_on_grid):
    """Write each agent's category into ``out[x, y]``: arrested under free civilians under
    officers (by unit) under the injured waiting for evacuation; provocateurs at large are
    marked as such. Detainees taken off the grid (at a site), the evacuated and civilians
    who left are not drawn."""
    for rank in range(4):
        for i in range(world.kind.shape[0]):
            if not world.alive[i]:
                continue
            if world.state[i] == INJURED:
                if rank == 3 and world.evacuation[i] > 0:
                    out[world.x[i], world.y[i]] = _INJURED_CATEGORY
            elif world.kind[i] == OFFICER:
                if rank == 2:
                    out[world.x[i], world.y[i]] = _UNIT_CATEGORY[world.role[i]]
            elif world.state[i] == ARRESTED:
                if rank == 0 and detainees_on_grid:
                    out[world.x[i], world.y[i]] = _CIVILIAN_CATEGORY[ARRESTED]
            elif world.state[i] != LEFT and rank == 1:
                if world.role[i] == PROVOCATEUR:
                    out[world.x[i], world.y[i]] = _PROVOCATEUR_CATEGORY
                elif world.role[i] == KORLAP:
                    out[world.x[i], world.y[i]] = _KORLAP_CATEGORY
                else:
                    out[world.x[i], world.y[i]] = _CIVILIAN_CATEGORY[world.state[i]]


def cell_categories(world, packed, full_hit_points: np.ndarray | None) -> np.ndarray:
    """A ``(width, height)`` uint8 array of codes indexing :data:`CELL_CATEGORIES`: the site
    (damaged facilities marked), agents on top, spray over civilians, the water cannons.
    ``full_hit_points`` is the site's undamaged state, None without a site."""
    out = np.zeros(world.cell_head.shape, np.uint8)
    has_site = full_hit_points is not None
    if has_site:
        kind = world.cell_kind
        for code, name in _SITE_CATEGORIES:
            out[kind == code] = _CATEGORY[name]
        damageable = np.isin(kind, site_codes.DAMAGEABLE)
        out[damageable & (world.hit_points < full_hit_points)] = _CATEGORY["facility_damaged"]
    paint_agents(packed, out, not has_site)
    if has_site:
        out[(world.gas >= GAS_SHOWN) & (world.officers_here == 0) & (world.injured_here == 0)] = _CATEGORY["tear_gas"]
        out[world.spray & (world.officers_here == 0)] = _CATEGORY["spray"]
        out[world.cannon_x, world.cannon_y] = _CATEGORY["water_cannon"]
    return out
