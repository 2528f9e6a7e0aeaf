"""The security response (Perkap 16/2006, 1/2009): situations, force stages, policies,
tear gas, injuries as persons, earned dispersal and the events that record them."""

import numpy as np
import pandas as pd
import pytest

from crowd_model import world as world_
from crowd_model.events import EVENT_COLUMNS, EVENT_NAMES
from crowd_model import site as site_codes
from crowd_model.errors import InputError
from crowd_model.model import CrowdModel, unit_strengths
from crowd_model.runner import simulate, write_run
from crowd_model.scenario import load_scenario

# A smaller crowd before the full line: 300 officers close the street (fewer would leave a short
# line the crowd walks round, ODD 7.19, and the riot would not be contained).
SMALL = ["crowd_size=800", "police_officers=150", "tni_soldiers=90", "linmas_guards=60"]


def riot_params(*more):
    return load_scenario("kpu-riot").parameters.with_overrides([*SMALL, *more])


@pytest.fixture(scope="module")
def doctrine_run(tmp_path_factory):
    result = simulate(riot_params(), steps=200, seed=3)
    out = tmp_path_factory.mktemp("run")
    write_run(result, out)
    return result, out


def test_events_csv_has_the_contract_columns_and_known_names(doctrine_run):
    result, out = doctrine_run
    events = pd.read_csv(out / "events.csv", keep_default_na=False)
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert set(events.event) <= set(EVENT_NAMES)
    assert events.step.is_monotonic_increasing
    assert {"situation", "force_stage", "arrest", "stone_thrown", "going_home"} <= set(events.event)


def test_events_agree_with_the_tallies(doctrine_run):
    result, _ = doctrine_run
    events, ts, out = result.events, result.timeseries, result.outcomes
    counts = events.event.value_counts()
    assert counts.get("arrest", 0) == out["arrests_total"]
    assert counts.get("stone_hit", 0) == out["injuries_security"]
    assert counts.get("damage", 0) == out["property_damage"]
    assert counts.get("tear_gas", 0) == out["tear_gas_used"]
    injuries = events[events.event == "injury"]
    assert len(injuries) == out["injured_civilians"] + out["injured_officers"]
    assert injuries.agent.is_unique, "a person is injured at most once"
    assert (events[events.event == "arrest"].detail == "provocateur").sum() == out["provocateurs_arrested"]
    situations = events[events.event == "situation"]
    changes = np.flatnonzero(np.diff(ts.situation.to_numpy())) + 1
    assert list(situations.step) == list(ts.step.to_numpy()[changes])


def test_doctrine_steps_force_up_one_stage_at_a_time_and_back_down(doctrine_run):
    result, _ = doctrine_run
    stages = result.events[result.events.event == "force_stage"].detail.str.split().str[0].astype(int).to_numpy()
    assert np.all(np.abs(np.diff(np.concatenate([[1], stages]))) == 1)
    assert stages.max() == 5 and result.outcomes["max_force_stage"] == 5
    assert stages[-1] < 5, "de-escalation: force steps down once the situation eases"
    ts = result.timeseries
    assert ts.situation.iloc[-1] < 2


def test_immediate_jumps_to_full_force_and_arrests_indiscriminately():
    doctrine = simulate(riot_params(), steps=80, seed=4)
    immediate = simulate(riot_params("response_policy=immediate"), steps=80, seed=4)
    stages = immediate.events[immediate.events.event == "force_stage"].detail.str.split().str[0].astype(int)
    first_disorder = min(s for s in (immediate.outcomes["first_step_yellow"], immediate.outcomes["first_step_red"])
                         if s is not None)
    assert stages.iloc[-1] == 5 and (stages.diff().dropna() >= 0).all(), "immediate never steps down"
    assert immediate.timeseries.force_stage[first_disorder] == 5
    arrested = immediate.events[immediate.events.event == "arrest"]
    assert (arrested.detail == "supporter").sum() > (
        doctrine.events[doctrine.events.event == "arrest"].detail == "supporter").sum()


def test_passive_uses_no_force():
    result = simulate(riot_params("response_policy=passive"), steps=150, seed=3)
    out = result.outcomes
    assert out["max_force_stage"] <= 2
    assert out["arrests_total"] == 0 and out["water_used"] == 0 and out["tear_gas_used"] == 0
    assert result.timeseries.cordon_advance.max() == 0
    assert out["peak_violent"] > 0


def test_no_means_before_their_stage(doctrine_run):
    result, _ = doctrine_run
    ts, events = result.timeseries, result.events
    stage_at = ts.set_index("step").force_stage
    for name, stage in (("arrest", 3), ("line_advance", 4), ("water_cannon_shot", 5), ("tear_gas", 5)):
        steps = events[events.event == name].step
        # means act within a step at the stage set at that step's start
        assert (stage_at[steps].to_numpy() >= stage).all(), name


def test_tear_gas_lingers_spreads_and_thins():
    params = riot_params("water_cannons=0")
    model = CrowdModel(params, rng=3)
    fired = None
    for t in range(150):
        model.step()
        if model.tear_gas_used and fired is None:
            fired = t
            cloud = model.world.gas.copy()
            break
    assert fired is not None
    model.step()
    after = model.world.gas
    assert (after > 0).sum() > (cloud > 0).sum(), "the cloud spreads"
    assert after.max() < cloud.max(), "and thins"
    assert not (after[~model.world.civilian_ok] > 0).any()


def test_officers_injured_leave_the_line_and_are_evacuated():
    result = simulate(riot_params("officer_injury_probability=1", "throw_hit_probability=0.2"), steps=80, seed=2)
    out, ts = result.outcomes, result.timeseries
    assert out["injured_officers"] > 0
    assert ts.officers.iloc[-1] == sum(unit_strengths(result.parameters)) - out["injured_officers"]
    evac = result.events[(result.events.event == "evacuation") & (result.events.unit != "")]
    injured = result.events[(result.events.event == "injury") & (result.events.unit != "")]
    assert set(evac.agent) <= set(injured.agent) and len(evac) > 0
    delay = result.parameters.evacuation_delay
    waits = evac.set_index("agent").step - injured.set_index("agent").step.reindex(evac.agent).to_numpy()
    assert (waits == delay - 1).all(), "carried off at the end of the delay-th step, the injury's step counted"


def test_dispersal_is_earned_not_timed():
    """Without fatigue, fear or guidance nobody goes home; fatigue alone sends them home in
    time; the response's means (water, gas, arrests, the advancing line) send them sooner."""
    still = simulate(riot_params("fatigue_rate=0", "linmas_guidance=0", "response_policy=passive"), 150, seed=1)
    assert still.outcomes["left"] == 0
    tired = simulate(riot_params("fatigue_rate=0.01", "linmas_guidance=0", "response_policy=passive"), 150, seed=1)
    assert tired.outcomes["left"] > 0.9 * 800 - tired.outcomes["injured_civilians"]


def test_korlap_talks_and_calls_his_followers_home():
    """Talks open at once, advance while the situation is not red, and at agreement the
    korlap calls the crowd off: his followers set off home (Perkap 16/2006)."""
    params = riot_params("negotiation_rate=0.05", "fatigue_rate=0")
    model = CrowdModel(params, rng=7)
    korlap = int(model.world.response[world_.RESPONSE_KORLAP])
    assert model.world.role[korlap] == world_.KORLAP
    for _ in range(120):
        model.step()
    events = model.events()
    talks = events[events.event == "negotiation"]
    assert list(talks.detail)[:1] == ["0%"] and "100%" in set(talks.detail)
    call = events[events.event == "korlap_call"]
    assert len(call) == 1 and int(call.detail.iloc[0]) > 0
    called = events[(events.event == "going_home") & (events.detail == "korlap_call")]
    assert set(called.agent) <= set(np.flatnonzero(model.world.follower))
    assert int(call.detail.iloc[0]) == len(called)
    never = simulate(riot_params("negotiation=false", "fatigue_rate=0"), 120, seed=7).events
    assert not (never.event == "korlap_call").any() and not (never.event == "negotiation").any()


def test_talks_break_off_for_good_when_the_korlap_is_detained():
    model = CrowdModel(riot_params(), rng=1)
    model.step()
    korlap = int(model.world.response[world_.RESPONSE_KORLAP])
    model.world.jail[korlap] = 50  # detained where he stands
    for _ in range(3):
        model.step()
    talks = model.events()[lambda e: e.event == "negotiation"]
    assert list(talks.detail) == ["0%", "broken_off"]
    assert model.world.response[world_.RESPONSE_TALKS] == -1


def test_per_unit_outcomes_add_up(doctrine_run):
    result, _ = doctrine_run
    out = result.outcomes
    units = world_.UNIT_NAMES
    assert sum(out[f"arrests_{u}"] for u in units) == out["arrests_total"]
    assert sum(out[f"injured_officers_{u}"] for u in units) == out["injured_officers"]
    assert out["arrests_linmas"] == 0 and out["max_force_stage_linmas"] == 1, "Linmas never use force"
    assert out["max_force_stage_dalmas_lanjut"] == out["max_force_stage"] == 5, "the water cannon and tear gas are theirs"
    assert out["arrests_tni"] == 0, "TNI assist; arrests are the police's (tni_arrests off)"


def test_unit_strengths_split_the_police_by_the_shares():
    params = load_scenario("kpu-riot").parameters.with_overrides(
        ["crowd_size=800", "police_officers=101", "tni_soldiers=30", "linmas_guards=20",
         "dalmas_lanjut_share=0.3", "phh_share=0.2", "snatch_team_share=0.1"])
    strengths = unit_strengths(params)
    assert strengths == (41, 30, 20, 10, 30, 20)
    model = CrowdModel(params, rng=0)
    roles = model.world.role[model.world.kind == world_.OFFICER]
    assert tuple(np.bincount(roles, minlength=6)) == strengths
    with pytest.raises(InputError, match="exceed 1: they are shares of police_officers"):
        riot_params("dalmas_lanjut_share=0.6", "phh_share=0.5")


def _front_share(model, unit, cells=15):
    """Share of the officers on the ``cells`` most central posts of the line's front row who
    belong to ``unit``."""
    w = model.world
    row = w.cordon_rows.shape[0] - model.parameters.cordon_depth - w.line[world_.LINE_ADVANCE]
    units = [w.role[j] for x, y in w.cordon_rows[row, :cells]
             for j in [w.cell_head[x, y]] if j >= 0 and w.kind[j] == world_.OFFICER]
    return float(np.mean(np.array(units) == unit)) if units else 0.0


def test_the_line_is_handed_over_with_the_situation():
    """Green: Dalmas Awal hold the front. Yellow: Dalmas Lanjut relieve them (lapis ganti);
    red: the PHH relieve Dalmas Lanjut (lintas ganti), walking through the line in a few
    steps; as it eases the line is handed back (Perkap 16/2006)."""
    model = CrowdModel(riot_params(), rng=3)
    assert _front_share(model, world_.DALMAS_AWAL) == 1.0
    seen = {}
    phh_front = []
    for t in range(200):
        model.step()
        unit = int(model.world.response[world_.RESPONSE_LINE_UNIT])
        if unit not in seen:
            seen[unit] = t
        if world_.PHH in seen and t <= seen[world_.PHH] + 15:
            phh_front.append(_front_share(model, world_.PHH))
    assert phh_front[0] < 0.3 and max(phh_front) > 0.6, "the PHH walk through the line to its front in a few steps"
    handovers = model.events()[lambda e: e.event == "handover"]
    assert list(handovers.detail[:2]) == ["lapis_ganti from dalmas_awal", "lintas_ganti from dalmas_lanjut"]
    assert list(handovers.unit[:2]) == ["dalmas_lanjut", "phh"]
    assert "hand_back from phh" in set(handovers.detail)
    situations = model.events()[lambda e: e.event == "situation"]
    assert set(handovers.step) <= set(situations.step), "a handover follows a change of situation"
    passive = simulate(riot_params("response_policy=passive"), 100, seed=3).events
    assert not (passive.event == "handover").any(), "passive: Dalmas Awal hold the line throughout"


def test_shields_spare_dalmas_lanjut_and_phh():
    params = ["officer_injury_probability=1", "throw_hit_probability=0.5", "shield_protection=1"]
    events = simulate(riot_params(*params), steps=80, seed=2).events
    hurt = events[(events.event == "injury") & (events.detail == "stone")]
    hit = events[events.event == "stone_hit"]
    assert len(hurt) > 0 and {"dalmas_lanjut", "phh"} & set(hit.unit), "they were hit"
    assert not set(hurt.unit) & {"dalmas_lanjut", "phh"}, "but never hurt by a stone"


def test_tni_arrest_only_when_asked_and_the_snatch_team_takes_provocateurs():
    # the full crowd: 800 press on the middle of the line, away from the TNI on its flanks
    kpu = load_scenario("kpu-riot").parameters
    out = simulate(kpu.with_overrides(["tni_arrests=true", "arrest_policy=violent"]), steps=120, seed=3).outcomes
    assert out["arrests_tni"] > 0
    events = simulate(load_scenario("kpu-riot").parameters, steps=200, seed=3).events  # provocateurs_first
    snatched = events[(events.event == "arrest") & (events.unit == "snatch_team")]
    assert len(snatched) > 0 and (snatched.detail == "provocateur").mean() > 0.8


def test_no_tear_gas_without_the_equipped_units():
    out = simulate(riot_params("dalmas_lanjut_share=0", "phh_share=0"), steps=150, seed=3).outcomes
    assert out["tear_gas_used"] == 0 and out["max_force_stage"] == 5


def test_the_march_arrives_behind_the_korlap():
    """With an arrival rate the crowd is not assembled at step 1: the korlap reaches the
    street first, then arrival_rate marchers a step at the street's far ends."""
    model = CrowdModel(riot_params("arrival_rate=20"), rng=5)
    w = model.world
    korlap = int(w.response[world_.RESPONSE_KORLAP])
    civilians = w.kind == world_.CIVILIAN
    assert (w.state[civilians] == world_.ARRIVING).all()
    provocateurs = civilians & (w.role == world_.PROVOCATEUR)
    assert w.arrival[provocateurs].min() >= np.median(w.arrival[civilians & ~provocateurs]) - 1, \
        "provocateurs mingle with the column's second half"
    assert w.blockers.sum() == w.officers_here.sum(), "nobody on the street yet"
    model.step()
    assert w.state[korlap] != world_.ARRIVING and w.arrival[korlap] == 1
    gap = np.abs(w.entries - [w.x[korlap], w.y[korlap]]).max(axis=1).min()
    assert gap <= 1 and model.site.kind[tuple(w.entries[0])] == site_codes.EXIT, "at the street's end"
    for _ in range(59):
        model.step()
    arriving = model.timeseries().arriving.to_numpy()
    on_street = 800 - arriving
    assert (np.diff(arriving) <= 0).all() and arriving[-1] == 0
    assert len(arriving) == 61 and (on_street <= 20 * np.arange(61)).all(), "no faster than the arrival rate"
    assert on_street[10] >= 0.9 * 20 * 10, "and about as fast, room allowing"
    out = simulate(riot_params("arrival_rate=20"), 200, seed=5).outcomes
    assert out["time_to_clearance"] is None or out["time_to_clearance"] > 40, "clearance counts after the arrival"
