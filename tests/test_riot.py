"""The KPU riot at a site: invariants, reductions and reproducibility."""

import numpy as np
import pytest

from crowd_model import world as world_
from crowd_model.errors import InputError
from crowd_model.model import CrowdModel
from crowd_model.parameters import Parameters
from crowd_model.runner import simulate
from crowd_model.scenario import load_scenario
from crowd_model.site import GATE, load_site, parse_site

STATES = list(world_.STATE_NAMES)


@pytest.fixture(scope="module")
def riot():
    """A smaller kpu-riot crowd before the full line, run 150 steps, checking invariants after
    every step."""
    params = load_scenario("kpu-riot").parameters.with_overrides(["crowd_size=800"])
    model = CrowdModel(params, rng=5)
    jailed_positions = {}
    for _ in range(150):
        w = model.world
        before = {i: (w.x[i], w.y[i], w.state[i]) for i in np.flatnonzero(w.jail > 1)}
        model.step()
        for i, snapshot in before.items():
            assert (w.x[i], w.y[i], w.state[i]) == snapshot, "an arrested agent acted"
        jailed_positions.update(before)
        assert w.hit_points.min() >= 0
        check_counts(model)
    return model


def check_counts(model):
    w = model.world
    linked = np.zeros(len(w.kind), bool)
    for x, y in zip(*np.nonzero(w.cell_head >= 0)):
        j = w.cell_head[x, y]
        while j >= 0:
            assert (w.x[j], w.y[j]) == (x, y)
            linked[j] = True
            j = w.next_in_cell[j]
    civ = w.kind == world_.CIVILIAN
    gone = civ & np.isin(w.state, (world_.LEFT, world_.ARRESTED, world_.ARRIVING))
    gone |= (w.state == world_.INJURED) & (w.evacuation < 0)
    assert not linked[gone].any(), "detained, departed, evacuated or still marching agents on the grid"
    assert linked[~gone].all()
    lying = civ & (w.state == world_.INJURED) & (w.evacuation > 0)
    injured = np.zeros_like(w.injured_here)
    np.add.at(injured, (w.x[lying], w.y[lying]), 1)
    np.testing.assert_array_equal(injured, w.injured_here)
    on_duty = (w.kind == world_.OFFICER) & w.alive & (w.state != world_.INJURED)
    officers = np.zeros_like(w.officers_here)
    np.add.at(officers, (w.x[on_duty], w.y[on_duty]), 1)
    np.testing.assert_array_equal(officers, w.officers_here)
    for name, states in (("engaged_here", (world_.ACTIVE, world_.VIOLENT)), ("violent_here", (world_.VIOLENT,))):
        grid = np.zeros_like(getattr(w, name))
        chosen = civ & np.isin(w.state, states)
        np.add.at(grid, (w.x[chosen], w.y[chosen]), 1)
        np.testing.assert_array_equal(grid, getattr(w, name))
    assert w.blockers.max() <= 1, "two agents standing on one cell"
    lanes = sum(getattr(w, name).astype(np.int64) << lane for name, lane in (
        ("officers_here", world_.LANE_OFFICERS), ("engaged_here", world_.LANE_ENGAGED),
        ("violent_here", world_.LANE_VIOLENT), ("blockers", world_.LANE_BLOCKERS)))
    def along_columns(counts):
        return np.concatenate([np.zeros((counts.shape[0], 1), np.int64), np.cumsum(counts, axis=1)], axis=1)

    np.testing.assert_array_equal(along_columns(lanes), w.seen_before)
    np.testing.assert_array_equal(along_columns(w.injured_here.astype(np.int64)), w.injured_before)
    assert not (w.blockers.astype(bool) & ~w.civilian_ok & ~w.officer_ok).any()
    remembered_x, remembered_y = np.nonzero((w.recent_arrests != 0) | (w.indiscriminate != 0))
    assert (w.remembered[remembered_x, world_.REMEMBERED_FIRST] <= remembered_y).all()
    assert (w.remembered[remembered_x, world_.REMEMBERED_LAST] >= remembered_y).all()


def test_the_watched_cells_are_those_in_sight_of_an_officer_on_duty():
    """The commander's reading counts the cells within officer_vision of an officer on duty
    as the officers stood when the step began (before any of them moved)."""
    params = load_scenario("kpu-riot").parameters.with_overrides(["crowd_size=800"])
    model = CrowdModel(params, rng=2)
    w = model.world
    runs = world_.vision_runs(params.officer_vision, params.width, params.height, False)
    offsets = [(dx, dy0 + k) for dx, dy0, length in runs for k in range(length)]
    for _ in range(40):
        on_duty = (w.kind == world_.OFFICER) & w.alive & (w.state != world_.INJURED)
        expected = np.zeros_like(w.watched)
        for x, y in zip(w.x[on_duty], w.y[on_duty]):
            for dx, dy in offsets:
                if 0 <= x + dx < params.width and 0 <= y + dy < params.height:
                    expected[x + dx, y + dy] = True
        engaged_seen = w.engaged_here[expected].sum()
        model.step()
        np.testing.assert_array_equal(w.watched, expected)
        assert w.response[world_.RESPONSE_ENGAGED_SEEN] == engaged_seen
    assert 0 < expected.sum() < expected.size


def test_states_add_up_every_step(riot):
    ts = riot.datacollector.get_model_vars_dataframe()
    assert (ts[STATES].sum(axis=1) == riot.n_civilians).all()


def test_riot_produces_violence_arrests_and_damage(riot):
    ts = riot.datacollector.get_model_vars_dataframe()
    assert ts["violent"].max() > 0
    assert ts["arrests_total"].iloc[-1] > 0
    assert ts["property_damage"].iloc[-1] > 0
    assert (np.diff(ts["arrests_total"]) >= 0).all()


def test_civilians_never_walk_into_walls(riot):
    w = riot.world
    on_grid = (w.kind == world_.CIVILIAN) & ~np.isin(w.state, (world_.LEFT, world_.ARRESTED, world_.ARRIVING))
    assert w.civilian_ok[w.x[on_grid], w.y[on_grid]].all()


def test_linmas_never_arrest():
    params = load_scenario("kpu-riot").parameters.with_overrides(
        ["crowd_size=600", "police_officers=0", "tni_soldiers=0", "linmas_guards=98", "water_cannons=0"]
    )
    result = simulate(params, steps=120, seed=2)
    assert result.timeseries["violent"].max() > 0
    assert result.outcomes["arrests_total"] == 0


def test_reproducible_by_seed():
    params = load_scenario("kpu-riot").parameters.with_overrides(["crowd_size=500"])
    a = simulate(params, steps=60, seed=9)
    b = simulate(params, steps=60, seed=9)
    c = simulate(params, steps=60, seed=10)
    assert a.timeseries.equals(b.timeseries) and a.outcomes == b.outcomes
    assert not a.timeseries.equals(c.timeseries)


def test_epstein_preset_untouched_by_riot_machinery():
    """No site, no provocateurs, violence unreachable: every riot setting is inert."""
    base = load_scenario("epstein").parameters.with_overrides(["width=20", "height=20"])
    tweaked = base.with_overrides(
        ["arousal_contagion=0.0", "water_cannons=3", "fear_threshold=0.01", "arrest_policy=indiscriminate",
         "pushback=false", "fatigue_rate=0.5", "legitimacy_feedback=true", "response_policy=immediate",
         "tear_gas_trigger=1", "officer_injury_probability=1", "injury_arousal=1"]
    )
    a = simulate(base, steps=100, seed=3).timeseries
    b = simulate(tweaked, steps=100, seed=3).timeseries
    assert a.equals(b)
    assert a["violent"].max() == 0 and a["fleeing"].max() == 0 and a["left"].max() == 0


def test_site_map_validation(tmp_path):
    with pytest.raises(InputError, match="rows must be equal"):
        parse_site("EAG\nEA\n", "x")
    with pytest.raises(InputError, match="unknown symbol"):
        parse_site("EAGZ\n", "x")
    with pytest.raises(InputError, match="needs a gate"):
        parse_site("EAA.\n", "x")
    with pytest.raises(InputError, match="width and height must be 100 and 60"):
        Parameters(site="kpu", torus=False)
    with pytest.raises(InputError, match="torus = false"):
        Parameters(site="kpu", width=100, height=60)


def test_custom_site_from_a_map_file(tmp_path):
    path = tmp_path / "square.txt"
    path.write_text(
        "SSSSSSSSSS\n####GG####\n..........\nCCCCCCCCCC\n..........\nEAAAAAAAAE\nEAAAAAAAAE\nEEEEEEEEEE\n"
    )
    params = Parameters(site=str(path), width=10, height=8, torus=False, crowd_size=12, police_officers=6,
                        tni_soldiers=0, linmas_guards=0, water_cannons=0)
    result = simulate(params, steps=30, seed=1)
    assert len(result.timeseries) == 31
    d = load_site(str(path)).distance_to(GATE)
    assert d[4, 1] == 0 and d[4, 2] == 1


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["kpu-riot", "kpu-riot-immediate", "peaceful-rally", "breach"])
def test_presets_behave_as_named_over_ten_seeds(preset, tmp_path):
    from crowd_model.experiments import check_presets
    from crowd_model.scenario import load_scenario

    table = check_presets.preset_outcomes(10, tmp_path, workers=1, presets=(preset,))
    table["steps"] = load_scenario(preset).steps
    assert len(table) == 10
    if preset.startswith("kpu-riot"):
        assert (table.peak_violent > 50).all()
        assert (table.water_used > 0).all() and (table.max_force_stage == 5).all()
        assert (table.provocateurs_arrested > 0).all()
        assert table.time_to_dispersal.notna().all() and (table.time_to_dispersal < table.steps).all()
        assert (table.gate_breached == 0).all()
        assert (table.first_step_red > table.first_step_yellow).all(), "the riot grows out of a protest"
        assert (table.steps_green > 0).all()
    elif preset == "peaceful-rally":
        assert (table.peak_violent == 0).all() and (table.arrests_total == 0).all()
        assert (table.peak_active > 0).all()
        assert (table.steps_red == 0).all() and (table.injured_civilians == 0).all()
    else:
        assert (table.gate_breached == 1).all()


def test_legitimacy_feedback_turns_indiscriminate_force_against_the_police():
    """ESIM switch: with indiscriminate arrests, feedback on lowers legitimacy and raises
    violence; with it off, the same run sees no change in legitimacy."""
    base = load_scenario("kpu-riot").parameters.with_overrides(
        ["crowd_size=800", "police_officers=60", "tni_soldiers=30", "linmas_guards=20",
         "arrest_policy=indiscriminate", "legitimacy_loss=0.05"]
    )
    off = CrowdModel(base, rng=4)
    on = CrowdModel(base.with_overrides(["legitimacy_feedback=true"]), rng=4)
    for _ in range(120):
        off.step()
        on.step()
    assert off.world.legitimacy_deficit.max() == 0
    assert on.world.legitimacy_deficit.max() > 0.1
    violent_on = on.datacollector.get_model_vars_dataframe()["violent"].sum()
    violent_off = off.datacollector.get_model_vars_dataframe()["violent"].sum()
    assert violent_on > violent_off


def test_linmas_guide_calm_civilians_home():
    base = load_scenario("peaceful-rally").parameters.with_overrides(
        ["crowd_size=600", "police_officers=0", "tni_soldiers=0", "linmas_guards=98", "calm_standoff=0",
         "fatigue_rate=0"]
    )
    guided = simulate(base.with_overrides(["linmas_guidance=1"]), steps=80, seed=1).timeseries
    unguided = simulate(base.with_overrides(["linmas_guidance=0"]), steps=80, seed=1).timeseries
    assert unguided["left"].iloc[-1] == 0
    assert guided["left"].iloc[-1] > 0


def _route_in_front_of_the_line(officers, resistance):
    """The engaged's way to the gate and the walking distance, from the street cell right in
    front of the middle of the kpu-riot line at the start, with ``officers`` in all."""
    p = load_scenario("kpu-riot").parameters.with_overrides(
        [f"police_officers={officers // 2}", f"tni_soldiers={officers * 3 // 10}", f"linmas_guards={officers // 5}",
         f"line_resistance={resistance}", "arrival_rate=0", "crowd_size=200"])
    world = CrowdModel(p, rng=1).world
    rows = world.cordon_rows
    middle = rows[rows.shape[0] - p.cordon_depth, 0]  # the front row's most central post
    x, y = int(middle[0]), int(middle[1]) + 1  # one cell toward the crowd (the gate is up the map)
    assert world.taken[middle[0], middle[1]] and not world.taken[x, y]
    return world.gate_route[x, y], world.gate_distance[x, y], world


def test_the_engaged_push_through_a_full_line_and_walk_round_a_short_one():
    """rules.route_step_cost over the site (riot.route_to_gate): a line closing the whole
    street, three posts deep, costs three times the resistance to get through; a short line
    is cheaper to walk round than to push through; with no resistance the way is the walk."""
    route, walk, world = _route_in_front_of_the_line(300, 20.0)
    assert route == pytest.approx(walk + 3 * 20.0)
    short, walk_short, _ = _route_in_front_of_the_line(60, 20.0)
    assert walk_short == walk
    assert walk < short < walk + 3 * 20.0  # round the ends: longer than the walk, cheaper than pushing
    free, _, world0 = _route_in_front_of_the_line(60, 0.0)
    assert free == walk
    finite = np.isfinite(world0.gate_distance)
    np.testing.assert_allclose(world0.gate_route[finite], world0.gate_distance[finite])
    assert np.isinf(world0.gate_route[~finite]).all()


@pytest.mark.slow
def test_a_short_line_is_walked_round_and_breached_more_often_than_a_full_one():
    """ODD 7.19 over ten seeds: with 60 officers the line in front of the gate is flanked and
    the gate falls in several runs; with 300 it closes the street and holds in all; with no
    line resistance (the crowd walks straight into the short line) it falls less often."""
    kpu = load_scenario("kpu-riot").parameters
    short = kpu.with_overrides(["police_officers=30", "tni_soldiers=18", "linmas_guards=12"])

    def breaches(params):
        return sum(simulate(params, steps=600, seed=seed).outcomes["gate_breached"] for seed in range(10))

    flanked = breaches(short)
    assert flanked >= 3
    assert breaches(kpu) == 0
    assert breaches(short.with_overrides(["line_resistance=0"])) < flanked
