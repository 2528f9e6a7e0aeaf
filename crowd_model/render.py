"""What each cell shows: one category code per cell, and the picture of the grid made of them
(the app's live view, its exports and ``crowd-model run --animation`` all draw it)."""

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
    "dalmas_awal",
    "dalmas_lanjut",
    "phh",
    "snatch_team",
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
    "aid_post",
)
# Colour of each category (its legend text is in the app's catalogues, locales/*.toml): dark,
# saturated security units and site features on a near-white ground, warm colours for an
# aroused crowd, so that the picture stays readable on a washed-out projector.
CATEGORY_COLOURS: dict[str, str] = {
    "empty": "#f7f7f7",
    "calm": "#8ec5f0",
    "active": "#ff9800",
    "violent": "#d50000",
    "fleeing": "#b2dc00",
    "arrested": "#7a7a7a",
    "injured": "#fff200",
    "provocateur": "#ff00d4",
    "korlap": "#00bfa5",
    "dalmas_awal": "#5c6bc0",
    "dalmas_lanjut": "#0d2c8c",
    "phh": "#880e4f",
    "snatch_team": "#004d40",
    "tni": "#1b5e20",
    "linmas": "#6a1b9a",
    "water_cannon": "#000000",
    "spray": "#00e5ff",
    "tear_gas": "#cfd8dc",
    "office": "#6d4c41",
    "gate": "#ffc400",
    "fence": "#37474f",
    "facility": "#bcaaa4",
    "facility_damaged": "#3e2000",
    "exit": "#00a651",
    "cordon_line": "#90a4ae",
    "aid_post": "#f48fb1",
}
PALETTE = np.array(
    [[int(CATEGORY_COLOURS[c][i : i + 2], 16) for i in (1, 3, 5)] for c in CELL_CATEGORIES], dtype=np.uint8
)
PICTURE_PIXELS = 640


def picture(codes: np.ndarray, pixels: int = PICTURE_PIXELS) -> np.ndarray:
    """The RGB picture (rows, columns, 3; uint8) of a ``(width, height)`` category map: x to
    the right, y up, square cells of a whole number of pixels, the longer side at most about
    ``pixels`` (at least one pixel a cell)."""
    scale = max(1, pixels // max(codes.shape))
    rgb = PALETTE[codes.T[::-1]]
    if scale > 1:
        rgb = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
    return rgb


_CATEGORY = {name: code for code, name in enumerate(CELL_CATEGORIES)}
_CIVILIAN_CATEGORY = np.array([_CATEGORY[s] if s not in ("left", "arriving") else 0 for s in STATE_NAMES],
                              dtype=np.uint8)
_UNIT_CATEGORY = np.array([_CATEGORY[u] for u in UNIT_NAMES], dtype=np.uint8)
_PROVOCATEUR_CATEGORY = _CATEGORY["provocateur"]
_KORLAP_CATEGORY = _CATEGORY["korlap"]
_INJURED_CATEGORY = _CATEGORY["injured"]
GAS_SHOWN = 0.05  # tear-gas concentration from which a cell is drawn as gas
_SITE_CATEGORIES = (
    (site_codes.OFFICE, "office"), (site_codes.FENCE, "fence"), (site_codes.GATE, "gate"),
    (site_codes.FACILITY, "facility"), (site_codes.EXIT, "exit"), (site_codes.CORDON, "cordon_line"),
    (site_codes.AID_POST, "aid_post"),
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
