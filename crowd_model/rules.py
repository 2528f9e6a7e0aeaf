"""Behavioural rules as small pure functions on numbers or numpy arrays.

Each is compiled by numba and accepts numbers or numpy arrays alike: unit tests call
them on both, and the step kernel (:mod:`crowd_model.kernel`) calls them per agent, so
each rule lives in exactly one place.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from crowd_model.parameters import RATIO_RULES

LITERAL, FLOOR, ROUND = (RATIO_RULES.index(r) for r in ("literal", "floor", "round"))


@njit(cache=True)
def grievance(hardship, legitimacy):
    """G = H (1 - L). Epstein 2002, Model I, eq. 1."""
    return hardship * (1.0 - legitimacy)


@njit(cache=True)
def officer_active_ratio(officers_in_vision, actives_in_vision, ratio_rule):
    """C / (1 + A), the cops-to-actives ratio an agent sees, under a ratio rule.

    ``A`` counts the active agents in vision (the agent itself included when active) and
    the 1 adds the agent as a would-be rebel. ``literal`` keeps the plain ratio
    (Epstein 2002, printed formula); ``floor`` truncates it (NetLogo Rebellion, the form
    that reproduces the paper's outbursts); ``round`` rounds half to even (Mesa's
    example, Python's ``round``).
    """
    ratio = officers_in_vision / (1.0 + actives_in_vision)
    if ratio_rule == FLOOR:
        return np.floor(ratio)
    if ratio_rule == ROUND:
        return np.round(ratio)
    return ratio


@njit(cache=True)
def estimated_arrest_probability(officers_in_vision, actives_in_vision, k, ratio_rule):
    """P = 1 - exp(-k * ratio). Epstein 2002, Model I, eq. 2, with k = 2.3 in the paper."""
    return 1.0 - np.exp(-k * officer_active_ratio(officers_in_vision, actives_in_vision, ratio_rule))


@njit(cache=True)
def net_risk(risk_aversion, arrest_probability):
    """N = R * P. Epstein 2002, Model I."""
    return risk_aversion * arrest_probability


@njit(cache=True)
def turns_active(grievance_, net_risk_, threshold):
    """Rule A: active when G - N > T (Epstein 2002, Model I)."""
    return grievance_ - net_risk_ > threshold
