"""Snapshots, restore and branches (crowd_model.replay): exact, generic over the world's tables."""

import numpy as np
import pytest

from crowd_model import replay
from crowd_model import world as world_
from crowd_model.errors import InputError
from crowd_model.model import MINUTES_PER_STEP, CrowdModel
from crowd_model.parameters import Parameters
from crowd_model.scenario import load_scenario


def riot_parameters(**changes) -> Parameters:
    return Parameters.from_mapping({"crowd_size": 800, **changes}, base=load_scenario("kpu-riot").parameters)


def assert_same_world(a: CrowdModel, b: CrowdModel) -> None:
    for name in world_.FIELDS:
        np.testing.assert_array_equal(getattr(a.world, name), getattr(b.world, name), err_msg=name)


def run(model: CrowdModel, steps: int) -> CrowdModel:
    for _ in range(steps):
        model.step()
    return model


@pytest.mark.parametrize("scenario", ["epstein", "kpu-riot"])
def test_restore_replays_exactly(scenario, small_epstein):
    parameters = small_epstein if scenario == "epstein" else riot_parameters()
    straight = run(CrowdModel(parameters, rng=5), 40)
    model = run(CrowdModel(parameters, rng=5), 15)
    snap = model.snapshot()
    run(model, 25)
    assert model.timeseries().equals(straight.timeseries())
    model.restore(snap)
    assert int(model.time) == 15 and model.steps == 15 and len(model.timeseries()) == 16
    assert model.timeseries().equals(straight.timeseries().iloc[:16])
    run(model, 25)
    assert model.timeseries().equals(straight.timeseries())
    assert_same_world(model, straight)
    assert model.outcomes() == straight.outcomes()
    assert model.events().equals(straight.events())


def test_restore_covers_every_declared_array_and_officers_that_come_and_go():
    """Epstein Run 5 withdraws officers by a schedule: restore brings their agents back."""
    parameters = Parameters.from_mapping(
        {"width": 20, "height": 20, "officer_density": {"schedule": "ramp", "start": 0, "end": 30, "from": 0.08, "to": 0.01}})
    model = run(CrowdModel(parameters, rng=2), 5)
    snap = model.snapshot()
    assert set(snap.arrays) == set(world_.FIELDS)
    officers = model.officers
    run(model, 20)
    assert model.officers < officers
    model.restore(snap)
    assert model.officers == officers == len(model.agents_by_type[replay_officer_type()])
    straight = run(CrowdModel(parameters, rng=2), 25)
    run(model, 20)
    assert model.timeseries().equals(straight.timeseries())


def replay_officer_type():
    from crowd_model.agents import SecurityOfficer

    return SecurityOfficer


def test_snapshots_share_unchanged_arrays():
    model = run(CrowdModel(riot_parameters(), rng=1), 3)
    first = model.snapshot()
    model.step()
    second = model.snapshot(previous=first)
    assert second.arrays["cell_kind"] is first.arrays["cell_kind"]
    assert second.arrays["state"] is not first.arrays["state"]


def test_branch_changes_tactics_and_keeps_the_stream():
    model = run(CrowdModel(riot_parameters(), rng=3), 20)
    same = model.branch()
    other = model.branch(water_cannons=0, arrest_policy="indiscriminate", pushback=False)
    assert other.parameters.water_cannons == 0 and len(other.world.cannon_x) == 0
    assert other.step_parameters.pushback is False or other.step_parameters.pushback == 0
    assert model.parameters.water_cannons == 1  # the original is unchanged
    assert same.timeseries().equals(model.timeseries())
    run(model, 30)
    run(same, 30)
    run(other, 30)
    assert same.timeseries().equals(model.timeseries())
    assert_same_world(same, model)
    assert other.timeseries().iloc[:21].equals(model.timeseries().iloc[:21])
    assert not other.timeseries().equals(model.timeseries())


def test_branch_refuses_what_cannot_change_mid_run():
    model = CrowdModel(riot_parameters(), rng=3)
    with pytest.raises(InputError, match="police_officers cannot change mid-run"):
        model.branch(police_officers=10)
    with pytest.raises(InputError, match="arrest_policy"):
        model.branch(arrest_policy="nobody")
    assert "cordon_depth" not in replay.MID_RUN_PARAMETERS and "legitimacy" in replay.MID_RUN_PARAMETERS


def test_minutes_per_step_is_one_nominal_minute():
    assert MINUTES_PER_STEP == 1.0


def test_a_branch_can_bring_up_a_truck_with_a_full_tank():
    model = run(CrowdModel(riot_parameters(water_cannons=0), rng=4), 5)
    other = model.branch(water_cannons=1)
    assert len(other.world.cannon_x) == 1 and other.world.cannon_water[0] == other.parameters.water_capacity
    assert len(other.water_cannons) == 1
    run(other, 3)
