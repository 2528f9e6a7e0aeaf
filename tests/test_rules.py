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


def test_activation_rule():
    g = rules.grievance(0.9, 0.5)
    risk = rules.net_risk(0.5, 0.2)
    assert rules.turns_active(g, risk, 0.1)
    assert not rules.turns_active(g, risk, 0.4)
    np.testing.assert_array_equal(
        rules.turns_active(np.array([0.3, 0.1]), np.array([0.1, 0.05]), 0.1), [True, False]
    )
