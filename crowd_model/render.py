"""What each cell shows: one category code per cell, and the picture of the grid made of them
(the app's live view, its exports and ``crowd-model run --animation`` all draw it).

Over the cells, :func:`scene` draws what a step adds (:class:`Marks`, taken from the world and
the step's events by :func:`step_marks`): the water spray of the last few steps fading out, the
tear-gas cloud shaded by its concentration, each stone as a line from the thrower to the
officer aimed at, arrests marked where they happened for a few steps, the injured crossed until
they are evacuated, the water-cannon trucks and the korlap's command vehicle as blocks, and
labels (the office, gate, street, exits, aid post, vehicles) in the caller's language.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from crowd_model import events as ev
from crowd_model import site as site_codes
from crowd_model.compiling import compiled
from crowd_model.world import (ARRESTED, INJURED, KORLAP, LEFT, OFFICER, PROVOCATEUR, RESPONSE_EVENTS, STATE_NAMES,
                               UNIT_NAMES)

# Colour of each security unit, by its name in crowd_model.world.UNIT_NAMES (the police split
# by doctrine into Dalmas Awal, Dalmas Lanjut, PHH Brimob and the snatch team; TNI; Linmas):
# dark, cool colours (the crowd's are warm); a unit missing here is drawn in
# UNIT_FALLBACK_COLOUR.
UNIT_COLOURS: dict[str, str] = {
    "dalmas_awal": "#2962ff",
    "dalmas_lanjut": "#0a1e66",
    "phh": "#006064",
    "snatch_team": "#880e4f",
    "tni": "#1b5e20",
    "linmas": "#6a1b9a",
}
UNIT_FALLBACK_COLOUR = "#263238"

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
    *UNIT_NAMES,
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
    **{unit: UNIT_COLOURS.get(unit, UNIT_FALLBACK_COLOUR) for unit in UNIT_NAMES},
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
# The box the map is drawn to fit, in whole pixels a cell: the app's live map on a classroom
# projector's 1920×1080 (beside its controls and event log), and so the size of the exports
# (the app's PNG, GIF and MP4, ``crowd-model run --animation``), legible on a slide.
PICTURE_BOX = (1100, 660)


def fit_pixels(shape: tuple[int, int], box: tuple[int, int] = PICTURE_BOX, maps: int = 1) -> int:
    """The longer side, in pixels, of a picture of a ``shape`` (width, height) grid that fits
    ``box`` (its width shared by ``maps`` maps) in whole pixels a cell."""
    width, height = (max(1, n) for n in shape)
    scale = max(1, min(box[0] // maps // width, box[1] // height))
    return scale * max(width, height)


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


@compiled
def paint_agents(world, out, detainees_on_grid, civilian_category, unit_category):
    """Write each agent's category into ``out[x, y]``: arrested under free civilians under
    officers (by unit) under the injured waiting for evacuation; provocateurs at large are
    marked as such. Detainees taken off the grid (at a site), the evacuated and civilians
    who left are not drawn. ``civilian_category`` and ``unit_category`` give the category of
    each state and unit: arguments, not globals, because numba freezes a global array into its
    cached code, and these follow STATE_NAMES and UNIT_NAMES in another file."""
    for rank in range(4):
        for i in range(world.kind.shape[0]):
            if not world.alive[i]:
                continue
            if world.state[i] == INJURED:
                if rank == 3 and world.evacuation[i] > 0:
                    out[world.x[i], world.y[i]] = _INJURED_CATEGORY
            elif world.kind[i] == OFFICER:
                if rank == 2:
                    out[world.x[i], world.y[i]] = unit_category[world.role[i]]
            elif world.state[i] == ARRESTED:
                if rank == 0 and detainees_on_grid:
                    out[world.x[i], world.y[i]] = civilian_category[ARRESTED]
            elif world.state[i] != LEFT and rank == 1:
                if world.role[i] == PROVOCATEUR:
                    out[world.x[i], world.y[i]] = _PROVOCATEUR_CATEGORY
                elif world.role[i] == KORLAP:
                    out[world.x[i], world.y[i]] = _KORLAP_CATEGORY
                else:
                    out[world.x[i], world.y[i]] = civilian_category[world.state[i]]


def cell_categories(world, packed, full_hit_points: np.ndarray | None) -> np.ndarray:
    """A ``(width, height)`` uint8 array of codes indexing :data:`CELL_CATEGORIES`: the site
    (damaged facilities marked), agents on top, spray over civilians (not over officers or the
    injured: those the jet just knocked down stay marked), the water cannons.
    ``full_hit_points`` is the site's undamaged state, None without a site."""
    out = np.zeros(world.cell_head.shape, np.uint8)
    has_site = full_hit_points is not None
    if has_site:
        kind = world.cell_kind
        for code, name in _SITE_CATEGORIES:
            out[kind == code] = _CATEGORY[name]
        damageable = np.isin(kind, site_codes.DAMAGEABLE)
        out[damageable & (world.hit_points < full_hit_points)] = _CATEGORY["facility_damaged"]
    paint_agents(packed, out, not has_site, _CIVILIAN_CATEGORY, _UNIT_CATEGORY)
    if has_site:
        out[(world.gas >= GAS_SHOWN) & (world.officers_here == 0) & (world.injured_here == 0)] = _CATEGORY["tear_gas"]
        out[world.spray & (world.officers_here == 0) & (world.injured_here == 0)] = _CATEGORY["spray"]
        out[world.cannon_x, world.cannon_y] = _CATEGORY["water_cannon"]
    return out


# --- what a step adds over its cells ------------------------------------------------------

SPRAY_TRAIL = (0.6, 0.4, 0.25, 0.12)  # the spray of 1, 2, 3, 4 steps ago, at these opacities
ARREST_MARK_STEPS = 5  # an arrest stays marked this many steps
GAS_TINT = "#546e7a"  # the cloud, drawn at an opacity that follows its concentration
GAS_MOST_OPAQUE = 0.7
STONE_COLOUR, STONE_HIT_COLOUR = "#6d4c41", "#d50000"
ARREST_COLOUR = "#000000"
INJURED_MARK_COLOUR = "#d50000"
AID_POST = getattr(site_codes, "AID_POST", None)  # a site code a map may gain; labelled when it has one


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i: i + 2], 16) for i in (1, 3, 5)], np.float32)


@dataclass(frozen=True)
class Marks:
    """What one step adds over its cell categories: the stones thrown in it (rows: thrower x,
    y, target x, y, hit 0/1), the cells of its arrests (rows: x, y), and the tear-gas
    concentration after it (uint8 in 1/255, zlib-compressed; empty without gas), and how many
    arrested civilians are held (taken off the grid) after it."""

    stones: np.ndarray
    arrests: np.ndarray
    gas: bytes = b""
    shape: tuple[int, int] = (0, 0)
    detained: int = 0

    def gas_field(self) -> np.ndarray | None:
        if not self.gas:
            return None
        return np.frombuffer(zlib.decompress(self.gas), np.uint8).reshape(self.shape)


NO_MARKS = Marks(np.zeros((0, 5), np.int32), np.zeros((0, 2), np.int32))


def step_rows(world) -> np.ndarray:
    """The raw event rows the world recorded in its last step (codes, not names)."""
    n = min(int(world.response[RESPONSE_EVENTS]), world.events.shape[0]) if world.response.shape[0] else 0
    if n == 0:  # none (a world without a site has no event buffer at all)
        return np.zeros((0, len(ev.EVENT_COLUMNS)), np.int64)
    return world.events[:n].copy()


def step_marks(world, rows: np.ndarray) -> Marks:
    """The :class:`Marks` of the step just run, from the world after it and its event rows.
    A stone is drawn from where its thrower stands after the step (the event holds the
    target's cell and the thrower's row)."""
    event = rows[:, 1] if len(rows) else np.zeros(0, np.int64)
    thrown = rows[event == ev.STONE_THROWN]
    hits = {(int(r[5]), int(r[2]), int(r[3])) for r in rows[event == ev.STONE_HIT]}
    stones = np.zeros((len(thrown), 5), np.int32)
    for k, r in enumerate(thrown):
        thrower = int(r[5])
        stones[k] = (world.x[thrower], world.y[thrower], r[2], r[3], (thrower, int(r[2]), int(r[3])) in hits)
    arrests = rows[event == ev.ARREST][:, 2:4].astype(np.int32)
    gas = b""
    if world.gas.size and world.gas.max() > 1 / 255:
        gas = zlib.compress(np.clip(np.rint(world.gas * 255), 0, 255).astype(np.uint8).tobytes(), 1)
    detained = int(((world.state == ARRESTED) & world.alive.astype(bool)).sum())
    return Marks(stones, arrests, gas, tuple(world.gas.shape), detained)


@lru_cache(maxsize=16)
def _site_labels(kind_bytes: bytes, shape: tuple[int, int]) -> tuple:
    kind = np.frombuffer(kind_bytes, np.uint8).reshape(shape)
    w, h = shape
    out = []

    def centre(mask):
        xs, ys = np.nonzero(mask)
        return (float(xs.mean()), float(ys.mean())) if len(xs) else None

    for name, code in (("office", site_codes.OFFICE), ("gate", site_codes.GATE), ("aid_post", AID_POST)):
        if code is not None and (c := centre(kind == code)) is not None:
            out.append((name, *c, "centre"))
    street = kind == site_codes.STREET
    if street.any():
        ys = np.nonzero(street)[1]
        out.append(("street", w * 0.12, float(np.median(ys)), "centre"))
    exits = kind == site_codes.EXIT
    for side, mask, anchor in (("left", np.s_[:1, :], "left"), ("right", np.s_[w - 1:, :], "right"),
                               ("bottom", np.s_[:, :1], "centre"), ("top", np.s_[:, h - 1:], "centre")):
        part = np.zeros_like(exits)
        part[mask] = exits[mask]
        if part.sum() >= 3 and (c := centre(part)) is not None:
            out.append(("exit", *c, anchor))
    return tuple(out)


def site_labels(cell_kind: np.ndarray) -> tuple:
    """Where the site's features are labelled: ``(name, x, y, anchor)`` in cells, ``name`` one
    of office, gate, street, exit, aid_post (each exit side once)."""
    kind = np.ascontiguousarray(cell_kind, np.uint8)
    return _site_labels(kind.tobytes(), kind.shape)


@lru_cache(maxsize=4)
def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


@lru_cache(maxsize=256)
def _label_tile(text: str, size: int):
    """A label drawn once (black on a white halo, transparent around), pasted onto each frame."""
    from PIL import Image, ImageDraw

    font = _font(size)
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font, stroke_width=2)
    tile = Image.new("RGBA", (right - left, bottom - top), (255, 255, 255, 0))
    ImageDraw.Draw(tile).text((-left, -top), text, fill="#000000", font=font, stroke_width=2, stroke_fill="#ffffff")
    return tile


HOLDING_CELLS = (12, 2)  # the holding area's room, in cells: one square a detainee, the rest counted
HOLDING_COLOUR = "#455a64"


def holding_room(width: int) -> tuple[int, int]:
    """The holding area's room (columns, rows of detainees) on a grid ``width`` cells wide: at
    most :data:`HOLDING_CELLS`, at most a third of the width."""
    return min(HOLDING_CELLS[0], max(2, width // 3)), HOLDING_CELLS[1]


def _holding_area(draw, image, detained: int, text: str, scale: int, right: int | None = None) -> None:
    """The holding area at the bottom of the picture, its right edge at ``right`` pixels (beside
    the office) or at the picture's: the arrested civilians the units took off the grid, one
    grey square each (those beyond its room counted), under its label and number."""
    cols, rows = holding_room(image.width // scale)
    pad = max(2, scale // 2)
    size = label_size(scale)
    label = f"{text}: {detained}" + (f" (+{detained - cols * rows})" if detained > cols * rows else "")
    width = max(cols * scale, int(draw.textlength(label, font=_font(size)))) + 2 * pad
    height = rows * scale + size + 3 * pad
    right = image.width - scale if right is None or right < width else right
    x0, y0 = max(0, right - width), image.height - height - pad
    draw.rectangle([x0, y0, x0 + width, y0 + height], fill="#ffffff", outline=HOLDING_COLOUR, width=max(1, scale // 3))
    shown = min(detained, cols * rows)
    draw.text((x0 + pad, y0 + pad // 2), label, fill="#000000", font=_font(size))
    top = y0 + size + 2 * pad
    grey = CATEGORY_COLOURS["arrested"]
    for k in range(shown):
        cx, cy = x0 + pad + (k % cols) * scale, top + (k // cols) * scale
        draw.rectangle([cx + 1, cy + 1, cx + scale - 2, cy + scale - 2], fill=grey)


def label_size(scale: int) -> int:
    """The labels' font size (pixels) on a picture of ``scale`` pixels a cell: 12 on the
    exports' 6 pixels a cell, 22 on the live view's 11, up to 28 in presenter mode (the app
    draws the map at the size it shows it, not scaled up)."""
    return max(10, min(28, 2 * scale))


def scene(codes: np.ndarray, earlier: list[np.ndarray] = (), marks: list[Marks] = (), labels: dict | None = None,
          cell_kind: np.ndarray | None = None, pixels: int = PICTURE_PIXELS) -> np.ndarray:
    """The picture of one step (:func:`picture`) with what the steps before it left: ``earlier``
    are the category maps of the steps before (the latest first), ``marks`` the :class:`Marks`
    of this step and those before it (this one first); ``labels`` maps the label names
    (office, gate, street, exit, aid_post, water_cannon, command_vehicle, holding_area) to their
    text in the reader's language (None: no labels; with a site, the holding area is drawn with them); ``cell_kind`` is the site map (None: no site)."""
    from PIL import Image, ImageDraw

    cells = PALETTE[codes].astype(np.float32)
    spray = _CATEGORY["spray"]
    for alpha, old in zip(SPRAY_TRAIL, earlier):
        if old.shape == codes.shape:
            trail = (old == spray) & (codes != spray)
            cells[trail] = cells[trail] * (1 - alpha) + PALETTE[spray] * alpha
    gas = marks[0].gas_field() if marks else None
    if gas is not None and gas.shape == codes.shape:
        alpha = np.minimum(GAS_MOST_OPAQUE, gas.astype(np.float32) / 255 * 1.5)[..., None]
        cells = cells * (1 - alpha) + _rgb(GAS_TINT) * alpha
    scale = max(1, pixels // max(codes.shape))
    w, h = codes.shape
    rgb = np.ascontiguousarray(np.rint(cells).astype(np.uint8).transpose(1, 0, 2)[::-1])
    image = Image.fromarray(rgb)
    if scale > 1:
        image = image.resize((w * scale, h * scale), Image.NEAREST)
    draw = ImageDraw.Draw(image)

    def px(x, y):  # the centre of cell (x, y) in pixels (y up)
        return ((x + 0.5) * scale, (h - 1 - y + 0.5) * scale)

    stroke = max(1, scale // 6)  # lines as thick at any size as at the live view's 6 pixels a cell
    injured = np.argwhere(codes == _INJURED_CATEGORY)
    arm = max(1, scale // 2)
    for x, y in injured:
        cx, cy = px(x, y)
        draw.line([(cx - arm, cy), (cx + arm, cy)], fill=INJURED_MARK_COLOUR, width=max(1, scale // 3))
        draw.line([(cx, cy - arm), (cx, cy + arm)], fill=INJURED_MARK_COLOUR, width=max(1, scale // 3))
    for age, m in enumerate(marks[:ARREST_MARK_STEPS]):
        fade = age / ARREST_MARK_STEPS
        colour = tuple(int(c + (200 - c) * fade) for c in _rgb(ARREST_COLOUR))
        for x, y in m.arrests:
            cx, cy = px(x, y)
            r = scale * 1.2
            draw.rectangle([cx - r, cy - r, cx + r, cy + r], outline=colour, width=(2 if age == 0 else 1) * stroke)
    if marks:
        for x0, y0, x1, y1, hit in marks[0].stones:
            a, b = px(x0, y0), px(x1, y1)
            draw.line([a, b], fill=STONE_HIT_COLOUR if hit else STONE_COLOUR, width=stroke)
            if hit:
                dot = 2 * stroke
                draw.ellipse([b[0] - dot, b[1] - dot, b[0] + dot, b[1] + dot], fill=STONE_HIT_COLOUR)
    vehicles = []
    for code, name, colour in ((_CATEGORY["water_cannon"], "water_cannon", CATEGORY_COLOURS["water_cannon"]),
                               (_KORLAP_CATEGORY, "command_vehicle", CATEGORY_COLOURS["korlap"])):
        for x, y in np.argwhere(codes == code):
            cx, cy = px(x, y)
            draw.rectangle([cx - 1.5 * scale, cy - scale, cx + 1.5 * scale, cy + scale], fill=colour,
                           outline="#ffffff", width=stroke)
            vehicles.append((name, cx, cy - 1.6 * scale))  # above: the gate's label is below the trucks
    if labels and cell_kind is not None and marks:
        office = np.nonzero(cell_kind == site_codes.OFFICE)[0]  # beside the office, left of it
        _holding_area(draw, image, marks[0].detained, labels.get("holding_area", ""), scale,
                      int(office.min()) * scale - scale if len(office) else None)
    if labels:
        size = label_size(scale)
        placed = []
        if cell_kind is not None:
            placed = [(name, *px(x, y), anchor) for name, x, y, anchor in site_labels(cell_kind)]
        for name, cx, cy, anchor in [*placed, *((n, x, y, "centre") for n, x, y in vehicles)]:
            text = labels.get(name)
            if not text:
                continue
            tile = _label_tile(text, size)
            tw, th = tile.size
            x = {"left": cx + scale, "right": cx - scale - tw}.get(anchor, cx - tw / 2)
            x = int(min(max(0, x), image.width - tw))
            y = int(min(max(0, cy - th / 2), image.height - th))
            image.paste(tile, (x, y), tile)
    return np.asarray(image)


def png_bytes(rgb: np.ndarray, level: int = 1) -> bytes:
    """A PNG file of an RGB picture (rows, columns, 3; uint8), written here rather than by
    Pillow: every row is filtered as "Up" (its difference from the row above), so a row equal to
    the one above (most rows of a picture of square cells: 10 of 11 at 11 pixels a cell) is all
    zeros. Those runs are not compressed each time: they are deflate blocks made once
    (:func:`_same_rows`) and put between the compressed other rows, each of which starts afresh
    (a full flush), so that no block refers back to another. For the live view's 1100×660 map
    this takes about a third of the time of compressing every row (and a ninth of Pillow's)."""
    h, w, _ = rgb.shape
    rows = np.ascontiguousarray(rgb, np.uint8).reshape(h, w * 3)
    raw = np.empty((h, w * 3 + 1), np.uint8)
    raw[:, 0] = 2  # the Up filter
    raw[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])
    same = np.zeros(h, bool)
    same[1:] = ~raw[1:, 1:].any(axis=1)
    edges = np.flatnonzero(np.diff(same.astype(np.int8))) + 1
    deflate = zlib.compressobj(level, zlib.DEFLATED, -15)  # raw deflate: the zlib header and checksum are ours
    parts = [b"\x78\x01"]
    for start, end in zip([0, *edges], [*edges, h]):
        if same[start]:
            parts.append(deflate.flush(zlib.Z_FULL_FLUSH))  # byte-aligned, nothing refers back past here
            parts.append(_same_rows(int(end - start), w * 3 + 1))
        else:
            parts.append(deflate.compress(raw[start:end]))
    parts.append(deflate.flush(zlib.Z_FINISH))
    parts.append(struct.pack(">I", zlib.adler32(raw)))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts))
            + chunk(b"IEND", b""))


@lru_cache(maxsize=256)
def _same_rows(n: int, row_bytes: int) -> bytes:
    """Raw deflate blocks (not final, byte-aligned, self-contained) of ``n`` Up-filtered rows equal
    to the row above: the filter byte and zeros."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    return deflate.compress((b"\x02" + bytes(row_bytes - 1)) * n) + deflate.flush(zlib.Z_FULL_FLUSH)
