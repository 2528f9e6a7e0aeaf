import numpy as np
import pytest

from crowd_model import world as world_
from crowd_model.agents import CivilianState, SecurityOfficer, Supporter
from crowd_model.model import CrowdModel
from crowd_model.parameters import Parameters
from crowd_model.runner import simulate


def check_world_consistent(model):
    """Per-cell counts agree with a recount from the agents; civilian states add up."""
    w = model.world
    officers = np.zeros_like(w.officers_here)
    engaged = np.zeros_like(w.engaged_here)
    blockers = np.zeros_like(w.blockers)
    for i in np.flatnonzero(w.alive):
        if w.kind[i] == world_.OFFICER:
            officers[w.x[i], w.y[i]] += 1
            blockers[w.x[i], w.y[i]] += 1
        else:
            engaged[w.x[i], w.y[i]] += w.state[i] in (world_.ACTIVE, world_.VIOLENT)
            blockers[w.x[i], w.y[i]] += w.state[i] not in (world_.ARRESTED, world_.LEFT)
            assert (w.jail[i] > 0) == (w.state[i] == world_.ARRESTED)
    np.testing.assert_array_equal(officers, w.officers_here)
    np.testing.assert_array_equal(engaged, w.engaged_here)
    np.testing.assert_array_equal(blockers, w.blockers)
    assert blockers.max() <= 2


@pytest.mark.parametrize("torus", [True, False])
def test_states_add_up_and_counts_stay_consistent(small_epstein, torus):
    model = CrowdModel(Parameters.from_mapping({"torus": torus}, base=small_epstein), rng=3)
    for _ in range(60):
        model.step()
        check_world_consistent(model)
    ts = model.datacollector.get_model_vars_dataframe()
    states = ts[["calm", "active", "violent", "fleeing", "arrested", "left"]].sum(axis=1)
    assert (states == model.n_civilians).all()
    assert ts["active"].max() > 0 and ts["arrests_total"].iloc[-1] > 0


def test_population_follows_densities():
    model = CrowdModel(Parameters(width=50, height=20, citizen_density=0.5, officer_density=0.1), rng=1)
    assert model.n_civilians == 500
    assert model.officers == 100
    assert len(model.agents_by_type[Supporter]) == 500
    assert len(model.agents_by_type[SecurityOfficer]) == 100


def test_same_seed_same_run_other_seed_other_run(small_epstein):
    a = simulate(small_epstein, steps=80, seed=7).timeseries
    b = simulate(small_epstein, steps=80, seed=7).timeseries
    c = simulate(small_epstein, steps=80, seed=8).timeseries
    assert a.equals(b)
    assert not a.equals(c)


def test_mesa_agents_step_exactly_as_the_compiled_step(small_epstein):
    """Activating the Mesa agents one by one in the step's order gives the same world."""
    fast = CrowdModel(small_epstein, rng=11)
    slow = CrowdModel(small_epstein, rng=11)
    for _ in range(10):
        fast.step()
        order = slow.rng.permutation(np.flatnonzero(slow.world.alive))
        for i in order:
            slow.agent(i).step()
        world_.serve_jail_terms(slow.packed_world, world_.CALM)
    for name in ("x", "y", "state", "jail"):
        np.testing.assert_array_equal(getattr(fast.world, name), getattr(slow.world, name))


def test_arrested_agents_do_not_act(small_epstein):
    model = CrowdModel(Parameters.from_mapping({"max_jail_term": 1000}, base=small_epstein), rng=5)
    for _ in range(30):
        model.step()
    w = model.world
    jailed = np.flatnonzero(w.jail > 1)
    assert len(jailed) > 0
    before = (w.x[jailed].copy(), w.y[jailed].copy(), w.state[jailed].copy())
    for i in jailed:
        model.agent(i).step()
    np.testing.assert_array_equal(before[0], w.x[jailed])
    np.testing.assert_array_equal(before[1], w.y[jailed])
    assert all(model.agent(i).state is CivilianState.ARRESTED for i in jailed)


def test_vision_offsets_are_euclidean_discs_including_own_cell():
    offsets = world_.vision_offsets(7, 40, 40, torus=False)
    assert len(offsets) == 149 and [0, 0] in offsets.tolist()
    wrapped = world_.vision_offsets(7, 10, 10, torus=True)
    assert len(wrapped) == len({tuple(o) for o in wrapped.tolist()}) <= 100


def _disc_cells(runs, x, y, w, h, torus):
    """The cells world.disc lays out, in order, read back from its segments."""
    world = world_.empty_world(0, w, h, segments=np.zeros((2 * len(runs), 3), np.int32))
    packed = world_.packed(world)
    n = world_.disc(packed, runs, x, y, torus)
    return [(cx, cy) for cx, y0, y1 in world.segments[:n] for cy in range(y0, y1)]


@pytest.mark.parametrize(
    "radius, w, h, torus, x, y",
    [(7, 40, 40, True, 0, 0), (7, 40, 40, True, 39, 20), (7, 40, 40, False, 2, 38), (5, 100, 60, False, 50, 30),
     (7, 10, 10, True, 3, 9), (7, 9, 12, True, 8, 0), (3, 7, 5, True, 6, 4), (2, 5, 5, False, 0, 4)],
)
def test_vision_runs_visit_the_disc_cells_in_offset_order(radius, w, h, torus, x, y):
    """Column stretches cover exactly the cells of the offsets, in the same order (so the
    random choices made over them are unchanged), wrapping or clipping at the edges."""
    offsets = world_.vision_offsets(radius, w, h, torus)
    expected = []
    for dx, dy in offsets.tolist():
        cx, cy = x + dx, y + dy
        if torus:
            expected.append((cx % w, cy % h))
        elif 0 <= cx < w and 0 <= cy < h:
            expected.append((cx, cy))
    runs = world_.vision_runs(radius, w, h, torus)
    assert _disc_cells(runs, x, y, w, h, torus) == expected


def test_officer_withdrawal_schedule():
    p = Parameters.from_mapping(
        {"width": 20, "height": 20,
         "officer_density": {"schedule": "ramp", "start": 0, "end": 10, "from": 0.05, "to": 0.0}}
    )
    model = CrowdModel(p, rng=2)
    assert model.officers == 20
    for _ in range(5):
        model.step()
    assert model.officers == 10
    for _ in range(6):
        model.step()
        check_world_consistent(model)
    assert model.officers == 0
    assert len(model.agents_by_type[SecurityOfficer]) == 0


def test_officer_deployment_schedule_grows_the_force():
    p = Parameters.from_mapping(
        {"width": 20, "height": 20,
         "officer_density": {"schedule": "step", "at": 3, "before": 0.01, "after": 0.05}}
    )
    model = CrowdModel(p, rng=2)
    for _ in range(5):
        model.step()
        check_world_consistent(model)
    assert model.officers == 20


def test_literal_rule_gives_no_outburst_where_floor_does():
    base = Parameters()
    floor = simulate(base, steps=300, seed=1).outcomes
    literal = simulate(Parameters.from_mapping({"ratio_rule": "literal"}, base=base), steps=300, seed=1).outcomes
    assert floor["peak_active"] > 100 and floor["outbursts"] >= 2
    assert literal["peak_active"] <= 50 and literal["outbursts"] == 0
