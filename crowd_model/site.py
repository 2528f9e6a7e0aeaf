"""The site: a map file of the KPU office, its gate and fence, the street, facilities and exits.

A site is a text file, one character per cell, top row first (y = 0 is the office side)::

    .  street                 A  assembly area (where the crowd starts; street)
    E  exit (street edge)     C  cordon front line (street; officers' first row of posts)
    O  office building        S  office yard (behind the fence)
    #  fence (damageable)     G  gate (damageable; the crowd breaches it at zero hit points)
    F  facility: lamp post, guard post, parked vehicle (damageable)
    W  water-cannon truck position
    P  aid post (first aid; where the injured are carried)

Presets live in ``crowd_model/presets/sites``; the ``site`` parameter takes a preset name
or a path, or the key :func:`add_site` gave a map held in memory (the app's uploads). A map
must have a gate, an exit, an assembly area and a cordon line; every assembly cell must be able
to walk to an exit, and at least one to the gate (a map that fails one of these is refused with
one line naming what is missing). Distance fields to the gate and to the exits are geodesic (walking around
obstacles, 8-neighbour moves of length 1 and √2), computed with scipy's Dijkstra.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from crowd_model.errors import InputError
from crowd_model.files import check_file, read_text_file
from crowd_model.limits import MAX_SITE_BYTES

STREET, ASSEMBLY, EXIT, CORDON, OFFICE, YARD, FENCE, GATE, FACILITY, CANNON, AID_POST = range(11)
SYMBOLS = {".": STREET, "A": ASSEMBLY, "E": EXIT, "C": CORDON, "O": OFFICE, "S": YARD,
           "#": FENCE, "G": GATE, "F": FACILITY, "W": CANNON, "P": AID_POST}
# What each kind of cell is called outside the model (the layers of :func:`site_layers`).
KIND_NAMES = {STREET: "street", ASSEMBLY: "assembly", EXIT: "exit", CORDON: "cordon", OFFICE: "office",
              YARD: "yard", FENCE: "fence", GATE: "gate", FACILITY: "facility", CANNON: "water_cannon",
              AID_POST: "aid_post"}
DAMAGEABLE = (FENCE, GATE, FACILITY)
CIVILIAN_WALKABLE = (STREET, ASSEMBLY, EXIT, CORDON)


@dataclass(frozen=True)
class Site:
    """A parsed site: ``kind[x, y]`` codes and the fields derived from them."""

    name: str
    kind: np.ndarray  # uint8[w, h]
    text: str = ""  # the map file's text

    @property
    def sha256(self) -> str:
        """The hash of the map's text: what identifies the site in run ids and metadata."""
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def width(self) -> int:
        return self.kind.shape[0]

    @property
    def height(self) -> int:
        return self.kind.shape[1]

    def cells(self, *kinds: int) -> np.ndarray:
        """(n, 2) array of (x, y) of the cells of the given kinds, in row-major order."""
        xs, ys = np.nonzero(np.isin(self.kind, kinds).T)
        return np.stack([ys, xs], axis=1)

    def walkable(self) -> np.ndarray:
        return np.isin(self.kind, CIVILIAN_WALKABLE)

    def distance_to(self, *targets: int) -> np.ndarray:
        """Geodesic walking distance from every walkable cell to the nearest target cell.

        Target cells count as reachable even when not walkable (the gate); cells that
        cannot reach a target get ``inf``.
        """
        passable = self.walkable() | np.isin(self.kind, targets)
        return _geodesic(passable, np.isin(self.kind, targets))


def _geodesic(passable: np.ndarray, target: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix  # here: the kernels import this module, and need no scipy
    from scipy.sparse.csgraph import dijkstra

    w, h = passable.shape
    index = np.arange(w * h).reshape(w, h)
    rows, cols, weights = [], [], []
    for dx, dy in ((1, 0), (0, 1), (1, 1), (1, -1)):
        xs = slice(max(0, -dx), w - max(0, dx))
        ys = slice(max(0, -dy), h - max(0, dy))
        xt = slice(max(0, dx), w - max(0, -dx))
        yt = slice(max(0, dy), h - max(0, -dy))
        a, b = index[xs, ys], index[xt, yt]
        ok = passable[xs, ys] & passable[xt, yt]
        length = np.hypot(dx, dy)
        rows += [a[ok], b[ok]]
        cols += [b[ok], a[ok]]
        weights += [np.full(ok.sum() * 2, length)]
    graph = coo_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(w * h, w * h)
    ).tocsr()
    sources = np.flatnonzero(target.ravel())
    if len(sources) == 0:
        return np.full((w, h), np.inf)
    dist = dijkstra(graph, directed=False, indices=sources, min_only=True)
    return dist.reshape(w, h)


def parse_site(text: str, name: str) -> Site:
    lines = [line.rstrip("\n") for line in text.strip("\n").splitlines()]
    if not lines:
        raise InputError(f"site {name}: the map is empty", "map_empty", site=name)
    width = len(lines[0])
    for row, line in enumerate(lines):
        if len(line) != width:
            raise InputError(
                f"site {name}: row {row} has {len(line)} cells, the first row has {width}; rows must be equal",
                "map_rows_unequal", site=name, row=row, cells=len(line), width=width,
            )
        bad = set(line) - set(SYMBOLS)
        if bad:
            raise InputError(
                f"site {name}: unknown symbol(s) {''.join(sorted(bad))!r} in row {row}; "
                f"allowed: {''.join(SYMBOLS)}",
                "map_unknown_symbols", site=name, symbols=repr("".join(sorted(bad))), row=row, allowed="".join(SYMBOLS),
            )
    kind = np.array([[SYMBOLS[c] for c in line] for line in lines], dtype=np.uint8).T.copy()
    site = Site(name, kind, text)
    for needed, code, label in (
        (GATE, "gate", "a gate (G)"), (EXIT, "exit", "an exit (E)"), (ASSEMBLY, "assembly", "an assembly area (A)"),
        (CORDON, "cordon", "a cordon line (C), where the officers' first row of posts stands"),
    ):
        if not np.any(kind == needed):
            raise InputError(f"site {name}: the map needs {label}", f"map_needs_{code}", site=name)
    _check_reachable(site)
    return site


def _check_reachable(site: Site) -> None:
    """Refuse a map on which the crowd can never leave, or never reach the gate."""
    assembly = site.kind == ASSEMBLY
    trapped = assembly & ~np.isfinite(site.distance_to(EXIT))
    if trapped.any():
        x, y = (int(v) for v in np.argwhere(trapped)[0])
        raise InputError(
            f"site {site.name}: {int(trapped.sum())} assembly cell(s) (A) cannot walk to any exit (E), "
            f"the first at x={x}, y={y}; open a way through street cells",
            "map_trapped", site=site.name, cells=int(trapped.sum()), x=x, y=y,
        )
    if not (assembly & np.isfinite(site.distance_to(GATE))).any():
        raise InputError(f"site {site.name}: no assembly cell (A) can walk to the gate (G); open a way through street cells",
                         "map_no_way_to_gate", site=site.name)


def site_names() -> list[str]:
    folder = resources.files("crowd_model") / "presets" / "sites"
    return sorted(p.name.removesuffix(".txt") for p in folder.iterdir() if p.name.endswith(".txt"))


IN_MEMORY_PREFIX = "memory:"
IN_MEMORY_KEEP = 32
_IN_MEMORY: dict[str, Site] = {}


def add_site(text: str, label: str | None = None) -> str:
    """Parse a map held in memory (never read from a path) and return the key, ``memory:``
    and a hash of the text, that the ``site`` parameter then takes in this process; ``label``
    names the map in messages. The last :data:`IN_MEMORY_KEEP` maps are kept."""
    key = IN_MEMORY_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:16]
    site = _IN_MEMORY.pop(key, None) or Site(key, parse_site(text, label or key).kind, text)
    _IN_MEMORY[key] = site
    while len(_IN_MEMORY) > IN_MEMORY_KEEP:
        _IN_MEMORY.pop(next(iter(_IN_MEMORY)))
    return key


def load_site(name_or_path: str) -> Site:
    """A site preset by name (``kpu``), a map added by :func:`add_site`, or a map file by path
    (read again at each call, so an edited map is seen; parsed once per distinct text)."""
    if name_or_path in _IN_MEMORY:
        return _IN_MEMORY[name_or_path]
    if name_or_path in site_names():
        text = (resources.files("crowd_model") / "presets" / "sites" / f"{name_or_path}.txt").read_text()
        return _parse_cached(text, name_or_path)
    path = Path(name_or_path)
    if not path.exists():
        raise InputError(
            f"unknown site {name_or_path!r}; presets: {', '.join(site_names())}, 'none', or a path to a map file"
        )
    check_file(path, "site map", hint=", not a map file")
    return _parse_cached(read_text_file(path, "site map", MAX_SITE_BYTES), path.stem)


def site_layers(text: str, name: str = "map") -> dict[str, np.ndarray]:
    """The map ``text`` as one boolean ``(width, height)`` mask per kind of cell, named as in
    :data:`KIND_NAMES`: what a drawing of the site needs (``crowd-model analyse`` hands this
    function to the analysis, which reads the map's text from a result folder's metadata but
    does not import the model)."""
    kind = _parse_cached(text, name).kind
    return {label: kind == code for code, label in KIND_NAMES.items()}


@lru_cache(maxsize=16)
def _parse_cached(text: str, name: str) -> Site:
    return parse_site(text, name)

