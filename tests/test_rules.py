import math

import numpy as np
import pytest

from crowd_model import rules


def test_grievance_on_numbers_and_arrays():
    assert rules.grievance(0.5, 0.8) == pytest.approx(0.1)
    np.testing.assert_allclose(rules.grievance(np.array([0.0, 1.0]), 0.25), [0.0, 0.75])


@pytest.mark.parametrize(
    "rule, cops, actives, expected_ratio",
    [
        (rules.LITERAL, 3, 1, 1.5),
        (rules.FLOOR, 3, 1, 1.0),
        (rules.ROUND, 3, 1, 2.0),  # half to even: round(1.5) = 2
        (rules.ROUND, 5, 1, 2.0),  # round(2.5) = 2
        (rules.FLOOR, 1, 1, 0.0),
        (rules.LITERAL, 0, 4, 0.0),
    ],
)
def test_ratio_rules(rule, cops, actives, expected_ratio):
    assert rules.officer_active_ratio(cops, actives, rule) == expected_ratio
    p = rules.estimated_arrest_probability(cops, actives, 2.3, rule)
    assert p == pytest.approx(1 - math.exp(-2.3 * expected_ratio))


def test_arrest_probability_on_arrays():
    cops = np.array([0.0, 1.0, 4.0])
    actives = np.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(
        rules.estimated_arrest_probability(cops, actives, 2.3, rules.FLOOR),
        1 - np.exp(-2.3 * np.array([0.0, 1.0, 2.0])),
    )


def test_floor_rule_keeps_probability_zero_when_actives_outnumber_cops():
    """The mechanism behind Epstein's outbursts: with more actives than cops in sight, P = 0."""
    assert rules.estimated_arrest_probability(2, 5, 2.3, rules.FLOOR) == 0.0
    assert rules.estimated_arrest_probability(2, 5, 2.3, rules.LITERAL) > 0.5


def test_engagement_calm_active_violent_on_numbers_and_arrays():
    """Rule A with a second threshold: 0 calm, 1 active (net > T), 2 violent (net > V)."""
    assert rules.engagement(0.05, 0.1, 0.33) == 0
    assert rules.engagement(0.2, 0.1, 0.33) == 1
    assert rules.engagement(0.5, 0.1, 0.33) == 2
    assert rules.engagement(0.1, 0.1, 0.33) == 0  # strictly above the threshold
    np.testing.assert_array_equal(rules.engagement(np.array([0.0, 0.2, 0.4]), 0.1, 0.33), [0, 1, 2])
    # a violence threshold below the activation threshold never makes anyone violent
    assert rules.engagement(0.5, 0.3, 0.2) == 1


def test_felt_grievance_reduces_to_epstein_and_adds_arousal_and_deficit():
    assert rules.felt_grievance(0.5, 0.8, 0.0, 0.0) == rules.grievance(0.5, 0.8)
    assert rules.felt_grievance(0.5, 0.8, 0.2, 0.0) == pytest.approx(0.5 * (1 - 0.6))
    assert rules.felt_grievance(0.5, 0.8, 0.0, 0.25) == pytest.approx(0.1 + 0.25)
    assert rules.felt_grievance(0.5, 0.3, 0.9, 0.0) == pytest.approx(0.5)  # legitimacy never below 0
    np.testing.assert_allclose(
        rules.felt_grievance(np.array([1.0, 0.5]), 0.5, np.array([0.0, 0.5]), np.array([0.1, 0.0])), [0.6, 0.5]
    )


def test_updated_deficit_grows_by_the_loss_up_to_one():
    assert rules.updated_deficit(0.0, 0.02) == pytest.approx(0.02)
    assert rules.updated_deficit(0.99, 0.05) == 1.0
    np.testing.assert_allclose(rules.updated_deficit(np.array([0.1, 0.98]), 0.05), [0.15, 1.0])


def test_contagion_exposure_counts_violence_double_and_provocateurs():
    # 3 active and 1 violent among 9 civilians seen: (3 + 2) / 10; plus 2 provocateurs next to it
    assert rules.contagion_exposure(3, 1, 9, 0, 1.0) == pytest.approx(0.5)
    assert rules.contagion_exposure(3, 1, 9, 2, 0.15) == pytest.approx(0.5 + 0.3)
    assert rules.contagion_exposure(0, 0, 0, 0, 1.0) == 0.0
    np.testing.assert_allclose(
        rules.contagion_exposure(np.array([0, 4]), np.array([2, 0]), np.array([3, 7]), np.array([1, 0]), 0.5),
        [4 / 4 + 0.5, 4 / 8],
    )


def test_updated_arousal_decays_grows_and_stays_in_unit_interval():
    assert rules.updated_arousal(0.5, 0.0, 0.1, 0.1) == pytest.approx(0.45)
    assert rules.updated_arousal(0.0, 2.0, 0.1, 0.1) == pytest.approx(0.2)
    assert rules.updated_arousal(0.9, 10.0, 0.5, 0.0) == 1.0
    np.testing.assert_allclose(rules.updated_arousal(np.array([0.2, 1.0]), np.array([1.0, 5.0]), 0.1, 0.5),
                               [0.2, 1.0])


def test_updated_fear_decays_and_adds_each_threat():
    # fear, sprayed, gas, arrests seen, line pressure | spray_fear, gas_fear, arrest_fear, line_fear, decay
    assert rules.updated_fear(1.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.6, 0.05, 0.1, 0.1) == pytest.approx(0.9)
    assert rules.updated_fear(0.0, 1.0, 0.0, 4.0, 1.0, 0.5, 0.6, 0.05, 0.1, 0.1) == pytest.approx(0.5 + 0.2 + 0.1)
    assert rules.updated_fear(0.0, 0.0, 0.5, 0.0, 0.0, 0.5, 0.6, 0.05, 0.1, 0.1) == pytest.approx(0.3)
    np.testing.assert_allclose(
        rules.updated_fear(np.array([0.0, 1.0]), np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([0.0, 2.0]),
                           0.0, 0.5, 0.25, 0.05, 0.1, 0.5),
        [0.5, 0.5 + 0.25 + 0.1],
    )


def test_goes_home_when_fatigue_and_fear_outweigh_grievance():
    assert not rules.goes_home(0.1, 0.1, 0.3)
    assert rules.goes_home(0.2, 0.11, 0.3)
    assert rules.goes_home(0.31, 0.0, 0.3)  # fatigue alone, in the end
    np.testing.assert_array_equal(rules.goes_home(np.array([0.0, 0.5]), np.array([0.5, 0.0]), np.array([0.6, 0.4])),
                                  [False, True])


def test_situation_green_yellow_red_from_what_officers_see():
    # engaged seen, violent seen | yellow_engaged, red_violent
    assert rules.assessed_situation(0, 0, 30, 3) == rules.GREEN
    assert rules.assessed_situation(29, 2, 30, 3) == rules.GREEN
    assert rules.assessed_situation(30, 0, 30, 3) == rules.YELLOW
    assert rules.assessed_situation(5, 3, 30, 3) == rules.RED
    np.testing.assert_array_equal(rules.assessed_situation(np.array([0, 40, 40]), np.array([0, 1, 9]), 30, 3), [0, 1, 2])


@pytest.mark.parametrize("situation, engaged, violent, doctrine, immediate, passive", [
    (rules.GREEN, 0, 0, 1, 5, 1),     # presence; immediate, once disorder was seen, stays at 5
    (rules.GREEN, 5, 0, 2, 5, 2),     # protest: appeals; immediate has seen disorder before
    (rules.YELLOW, 40, 0, 3, 5, 2),   # soft empty-hand control
    (rules.YELLOW, 40, 1, 4, 5, 2),   # someone violent: hard empty-hand control
    (rules.RED, 40, 9, 5, 5, 2),      # batons and chemical means
])
def test_force_stage_by_policy(situation, engaged, violent, doctrine, immediate, passive):
    assert rules.force_stage_target(situation, engaged, violent, rules.DOCTRINE, 1) == doctrine
    assert rules.force_stage_target(situation, engaged, violent, rules.IMMEDIATE, 1) == immediate
    assert rules.force_stage_target(situation, engaged, violent, rules.PASSIVE, 1) == passive
    # before any disorder, immediate behaves like doctrine
    assert rules.force_stage_target(situation, engaged, violent, rules.IMMEDIATE, 0) == doctrine


@pytest.mark.parametrize("situation, doctrine, immediate, passive", [
    (rules.GREEN, 0, 0, 0),   # Dalmas Awal
    (rules.YELLOW, 1, 2, 0),  # lapis ganti to Dalmas Lanjut; immediate: the PHH at once
    (rules.RED, 2, 2, 0),     # lintas ganti to the PHH
])
def test_line_level_by_situation_and_policy(situation, doctrine, immediate, passive):
    assert rules.line_level(situation, rules.DOCTRINE) == doctrine
    assert rules.line_level(situation, rules.IMMEDIATE) == immediate
    assert rules.line_level(situation, rules.PASSIVE) == passive


def test_spray_cone_on_numbers_and_arrays():
    aim = 0.0  # along +x
    assert rules.in_spray_cone(5, 0, aim, 30.0, 10)
    assert rules.in_spray_cone(5, 2, aim, 30.0, 10)  # 21.8 degrees off the aim
    assert not rules.in_spray_cone(5, 4, aim, 30.0, 10)  # 38.7 degrees off
    assert not rules.in_spray_cone(11, 0, aim, 30.0, 10)  # beyond reach
    assert not rules.in_spray_cone(0, 0, aim, 30.0, 10)  # not the truck's own cell
    assert rules.in_spray_cone(-5, 1, math.pi, 30.0, 10)  # aim wraps around +-pi
    dx, dy = np.meshgrid(np.arange(-10, 11), np.arange(-10, 11), indexing="ij")
    cone = rules.in_spray_cone(dx, dy, math.pi / 2, 45.0, 10)
    assert cone[10, 15] and not cone[10, 5] and not cone[15, 10]
    assert (cone == cone[::-1, :]).all()  # symmetric about the aim


def test_randint_draws_what_numpy_integers_draws():
    """The kernels' ``randint`` gives the numbers numpy's ``Generator.integers(0, n)`` gives from
    the same state (so a seed means the same run compiled or not)."""
    from crowd_model.world import randint

    ns = [1, 2, 9, 149, 1000, 1_000_000_000]
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert [int(randint(a, n)) for n in ns * 20] == [int(b.integers(0, n)) for n in ns * 20]


def test_shuffled_living_is_numpys_permutation_of_the_living():
    """The kernels' turn order is ``rng.permutation(np.flatnonzero(alive))``, drawn from the same
    state, leaving the generator where numpy leaves it."""
    from collections import namedtuple

    from numba import njit

    from crowd_model.world import shuffled_living

    Living = namedtuple("Living", "alive")
    shuffle = njit(lambda world, rng: shuffled_living(world, rng))
    masks = np.random.default_rng(0).random((6, 2500)) < [[0.0], [0.001], [0.5], [0.9], [1.0], [1.0]]
    for seed, alive in enumerate(masks):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        np.testing.assert_array_equal(shuffle(Living(alive), a), b.permutation(np.flatnonzero(alive)))
        assert a.random() == b.random()


def test_route_step_cost_adds_the_line_resistance_of_a_post():
    assert rules.route_step_cost(1.0, 0.0, 20.0) == 1.0
    assert rules.route_step_cost(math.sqrt(2.0), 1.0, 20.0) == pytest.approx(21.41421356)
    assert rules.route_step_cost(1.0, 1.0, 0.0) == 1.0  # no resistance: the walk alone
    np.testing.assert_allclose(
        rules.route_step_cost(np.array([1.0, 1.0, math.sqrt(2.0)]), np.array([0.0, 1.0, 1.0]), 5.0),
        [1.0, 6.0, 5.0 + math.sqrt(2.0)],
    )
