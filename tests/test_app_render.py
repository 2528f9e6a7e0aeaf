"""The map's picture in the instructor's view: unit colours over whichever units the model has,
trails of spray and gas, stones, arrests, the injured, vehicles and labels (crowd_model.render)."""

from __future__ import annotations

import numpy as np
import pytest

import app_text
from crowd_model import render, site as site_codes
from crowd_model.render import CELL_CATEGORIES, PALETTE, Marks, scene, step_marks, step_rows
from crowd_model.world import UNIT_NAMES

ALL_UNITS = ("dalmas_awal", "dalmas_lanjut", "phh", "snatch_team", "tni", "linmas")


def code(name: str) -> int:
    return CELL_CATEGORIES.index(name)


def test_the_units_categories_follow_unit_names_and_every_known_unit_has_a_colour_and_texts():
    assert [c for c in CELL_CATEGORIES if c in UNIT_NAMES] == list(UNIT_NAMES) == list(ALL_UNITS)
    assert set(ALL_UNITS) == set(render.UNIT_COLOURS)
    colours = [render.UNIT_COLOURS[u].lower() for u in ALL_UNITS]
    assert len(set(colours)) == len(colours)  # the doctrine's six units apart
    for lang in app_text.LANGUAGES:
        for unit in ALL_UNITS:
            assert app_text.category(unit, lang) and app_text.text(f"unit_name.{unit}", lang)
    assert app_text.text("unit_name.snatch_team", "id") == "tim penindak"
    assert app_text.text("unit_name.phh", "id") == "PHH Brimob"


def _pixel(rgb, x, y, h, scale):
    return rgb[(h - 1 - y) * scale + scale // 2, x * scale + scale // 2].astype(int)


def test_the_spray_fades_over_the_steps_after_it():
    w, h, scale = 10, 6, 4
    now = np.zeros((w, h), np.uint8)
    sprayed = now.copy()
    sprayed[2, 3] = code("spray")
    empty, spray = PALETTE[0].astype(int), PALETTE[code("spray")].astype(int)
    seen = []
    for age in range(len(render.SPRAY_TRAIL) + 1):
        earlier = [now] * age + [sprayed]
        rgb = scene(now, earlier, pixels=w * scale)
        seen.append(np.abs(_pixel(rgb, 2, 3, h, scale) - empty).sum())
    assert seen[0] > seen[1] > seen[2] > seen[3] > 0  # fainter each step
    assert seen[-1] == 0  # gone after the trail's length
    assert np.abs(_pixel(scene(sprayed, [], pixels=w * scale), 2, 3, h, scale) - spray).sum() == 0


def _marks(w, h, stones=(), arrests=(), gas=None):
    import zlib

    return Marks(np.array(stones, np.int32).reshape(-1, 5), np.array(arrests, np.int32).reshape(-1, 2),
                 zlib.compress(gas.tobytes()) if gas is not None else b"", (w, h))


def test_the_gas_cloud_is_shaded_by_its_concentration():
    w, h, scale = 10, 6, 4
    codes = np.zeros((w, h), np.uint8)
    gas = np.zeros((w, h), np.uint8)
    gas[1, 1], gas[5, 1] = 40, 200
    rgb = scene(codes, [], [_marks(w, h, gas=gas)], pixels=w * scale)
    light, dense, clear = (_pixel(rgb, x, 1, h, scale).sum() for x in (1, 5, 8))
    assert clear > light > dense


def test_a_stone_is_a_line_from_thrower_to_target_and_an_arrest_stays_marked_a_few_steps():
    w, h, scale = 20, 10, 6
    codes = np.zeros((w, h), np.uint8)
    stone = _marks(w, h, stones=[(2, 5, 12, 5, 1)])
    rgb = scene(codes, [], [stone], pixels=w * scale)
    middle = _pixel(rgb, 7, 5, h, scale)
    assert tuple(middle) == tuple(render._rgb(render.STONE_HIT_COLOUR).astype(int))
    arrest = _marks(w, h, arrests=[(10, 3)])
    ring = lambda rgb: rgb[(h - 1 - 3) * scale + scale // 2, int((10 + 0.5) * scale - 1.2 * scale)]  # noqa: E731
    fresh = scene(codes, [], [arrest], pixels=w * scale)
    assert tuple(ring(fresh)) == (0, 0, 0)
    older = scene(codes, [], [render.NO_MARKS] * 2 + [arrest], pixels=w * scale)
    assert 0 < ring(older).sum() < 3 * 247  # fading towards grey
    gone = scene(codes, [], [render.NO_MARKS] * render.ARREST_MARK_STEPS + [arrest], pixels=w * scale)
    assert tuple(ring(gone)) == tuple(PALETTE[0])


def test_the_injured_are_crossed_and_the_vehicles_and_site_are_labelled():
    from small_site import SITE

    kind = site_codes.parse_site(SITE, "small").kind
    w, h = kind.shape
    scale = 12
    codes = np.zeros((w, h), np.uint8)
    codes[6, 4] = code("injured")
    codes[4, 5] = code("water_cannon")
    codes[2, 2] = code("korlap")
    plain = scene(codes, pixels=w * scale)
    assert tuple(_pixel(plain, 6, 4, h, scale)) == tuple(render._rgb(render.INJURED_MARK_COLOUR).astype(int))
    labels = {"office": "KANTOR", "gate": "GERBANG", "street": "JALAN", "exit": "KELUAR", "water_cannon": "WC",
              "command_vehicle": "MOBIL KOMANDO"}
    labelled = scene(codes, labels=labels, cell_kind=kind, pixels=w * scale)
    black = (labelled.sum(axis=2) == 0) & (plain.sum(axis=2) != 0)
    assert black.sum() > 100  # the labels' letters
    assert {name for name, *_ in render.site_labels(kind)} == {"gate", "street", "exit"}  # it has no office
    kpu = [name for name, *_ in render.site_labels(site_codes.load_site("kpu").kind)]
    assert sorted(kpu) == ["aid_post", "exit", "exit", "exit", "gate", "office", "street"]  # exits left, right and at the end
    assert (scene(codes, labels=None, cell_kind=kind, pixels=w * scale) == plain).all()


@pytest.fixture(scope="module")
def stepped():
    from crowd_model.model import CrowdModel
    from crowd_model.scenario import load_scenario

    scenario = load_scenario("kpu-riot")
    model = CrowdModel(scenario.parameters, rng=scenario.seed)
    for _ in range(30):
        model.step()
        rows = step_rows(model.world)
        if (rows[:, 1] == 0).any():  # a stone thrown
            return model, rows
    pytest.fail("no stone in 30 steps of kpu-riot")


def test_step_marks_take_the_stones_and_arrests_of_the_step_just_run(stepped):
    from crowd_model import events as ev

    model, rows = stepped
    assert (rows[:, 0] == int(model.time)).all()  # the step just run (events.csv's step column)
    marks = step_marks(model.world, rows)
    thrown = rows[rows[:, 1] == ev.STONE_THROWN]
    assert len(marks.stones) == len(thrown)
    for (x0, y0, x1, y1, _), row in zip(marks.stones, thrown):
        assert (x1, y1) == (row[2], row[3])
        assert (x0, y0) == (model.world.x[row[5]], model.world.y[row[5]])
    assert marks.stones[:, 4].sum() == (rows[:, 1] == ev.STONE_HIT).sum()
    assert len(marks.arrests) == (rows[:, 1] == ev.ARREST).sum()
    gas = marks.gas_field()
    assert gas is None or gas.shape == model.world.gas.shape


def test_a_world_without_a_site_has_no_events_and_no_marks(small_epstein):
    from crowd_model.model import CrowdModel

    model = CrowdModel(small_epstein, rng=1)
    model.step()
    rows = step_rows(model.world)
    assert rows.shape == (0, 7)
    marks = step_marks(model.world, rows)
    assert len(marks.stones) == len(marks.arrests) == 0 and marks.gas_field() is None


def test_the_fast_png_decodes_to_the_same_picture():
    import io

    from PIL import Image

    rng = np.random.default_rng(1)
    codes = rng.integers(0, len(CELL_CATEGORIES), (23, 11)).astype(np.uint8)
    stripes = np.repeat(rng.integers(0, 256, (4, 9, 3)).astype(np.uint8), [3, 1, 1, 5], axis=0)  # runs at both ends
    for rgb in (render.picture(codes, 200), rng.integers(0, 256, (7, 5, 3)).astype(np.uint8), stripes,
                np.zeros((6, 4, 3), np.uint8), rng.integers(0, 256, (1, 3, 3)).astype(np.uint8)):
        back = np.asarray(Image.open(io.BytesIO(render.png_bytes(rgb))).convert("RGB"))
        assert back.shape == rgb.shape and (back == rgb).all()


def test_the_picture_and_legend_follow_the_doctrine_units_when_unit_names_change():
    """UNIT_NAMES is being split into the doctrine's units: render's categories, colours and
    texts must follow it without an edit (checked in a fresh interpreter with the new names)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import crowd_model.world as world
        world.UNIT_NAMES = ("dalmas_awal", "dalmas_lanjut", "phh", "snatch_team", "tni", "linmas")
        import numpy as np
        import app_text
        from crowd_model import render
        units = [c for c in render.CELL_CATEGORIES if c in world.UNIT_NAMES]
        assert units == list(world.UNIT_NAMES), units
        colours = [render.CATEGORY_COLOURS[c] for c in render.CELL_CATEGORIES]
        assert len(set(colours)) == len(colours)
        for lang in app_text.LANGUAGES:
            assert all(app_text.category(c, lang) for c in render.CELL_CATEGORIES)
        assert render._UNIT_CATEGORY[2] == render.CELL_CATEGORIES.index("phh")
        print("ok")
    """)
    root = __import__("pathlib").Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_a_projector_sized_picture_draws_its_labels_and_lines_at_its_size():
    """Presenter mode draws the map at the projector's size: the labels' letters and the stone
    lines grow with the cells instead of being scaled up from the small picture."""
    assert render.label_size(6) == 12 and render.label_size(16) == 28 and render.label_size(40) == 28
    assert render._label_tile("KANTOR KPU", 28).size[1] >= 2 * render._label_tile("KANTOR KPU", 12).size[1] - 4
    w, h = 20, 10
    codes = np.zeros((w, h), np.uint8)
    stone = _marks(w, h, stones=[(2, 5, 12, 5, 0)])
    for scale, thick in ((6, 1), (18, 3)):
        rgb = scene(codes, [], [stone], pixels=w * scale)
        column = rgb[:, int(7.5 * scale)]  # across the line, halfway from thrower to target
        drawn = (column == render._rgb(render.STONE_COLOUR).astype(np.uint8)).all(axis=1)
        assert drawn.sum() == thick, scale


def test_the_injured_stay_on_the_map_under_the_spray_that_hit_them():
    """On a step the water cannon fires, those it injures lie in its spray: they are drawn as
    injured (awaiting evacuation), not hidden under the jet."""
    from crowd_model.model import CrowdModel
    from crowd_model.scenario import load_scenario
    from crowd_model.world import INJURED

    scenario = load_scenario("kpu-riot")
    model = CrowdModel(scenario.parameters, rng=scenario.seed)
    sprayed_injured = 0
    for _ in range(75):  # seed 42: the cannon fires at 61, 65, 69 and 73, and injures at each
        model.step()
        w = model.world
        waiting = np.flatnonzero((w.state == INJURED) & w.alive.astype(bool) & (w.evacuation > 0))
        codes = model.cell_categories()
        cells = {(int(w.x[i]), int(w.y[i])) for i in waiting}
        assert all(codes[x, y] == code("injured") for x, y in cells), int(model.time)
        sprayed_injured += sum(bool(w.spray[x, y]) for x, y in cells)
    assert sprayed_injured > 0  # the case that hid them


def test_the_arrested_are_taken_to_a_visible_holding_area():
    """Detainees leave the grid (the model holds them off the site): the picture shows them in a
    labelled holding area, one grey square each, the rest counted."""
    from small_site import SITE

    kind = site_codes.parse_site(SITE, "small").kind
    w, h = kind.shape
    scale = 12
    codes = np.zeros((w, h), np.uint8)
    grey = np.array(PALETTE[code("arrested")])

    def squares(detained):
        marks = Marks(np.zeros((0, 5), np.int32), np.zeros((0, 2), np.int32), detained=detained)
        rgb = scene(codes, [], [marks], labels={"holding_area": "HOLDING"}, cell_kind=kind, pixels=w * scale)
        return int((rgb == grey).all(axis=2).sum()) // (scale - 2) ** 2

    assert squares(0) == 0 and squares(5) == 5
    cols, rows = render.holding_room(w)
    assert render.holding_room(100) == render.HOLDING_CELLS and (cols, rows) == (3, 2)
    assert squares(cols * rows + 9) == cols * rows  # the room is full: the rest are counted in its label
    none = scene(codes, [], [Marks(np.zeros((0, 5), np.int32), np.zeros((0, 2), np.int32), detained=7)],
                 labels=None, cell_kind=kind, pixels=w * scale)
    assert not (none == grey).all(axis=2).any()  # no labels (an export without them): no holding area


def test_step_marks_count_the_detainees(stepped):
    from crowd_model.world import ARRESTED

    model, rows = stepped
    marks = step_marks(model.world, rows)
    assert marks.detained == int(((model.world.state == ARRESTED) & model.world.alive.astype(bool)).sum())
