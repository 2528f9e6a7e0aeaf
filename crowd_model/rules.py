"""Behavioural rules as small pure functions on numbers or numpy arrays.

Each is compiled by numba and accepts numbers or numpy arrays alike: unit tests call
them on both (``tests/test_rules.py``), and the steps (:mod:`crowd_model.epstein`,
:mod:`crowd_model.riot`) call them per agent, so each rule lives in exactly one place.
"""

from __future__ import annotations

import numpy as np

from crowd_model.compiling import compiled
from crowd_model.parameters import RATIO_RULES, RESPONSE_POLICIES

LITERAL, FLOOR, ROUND = (RATIO_RULES.index(r) for r in ("literal", "floor", "round"))
DOCTRINE, IMMEDIATE, PASSIVE = (RESPONSE_POLICIES.index(r) for r in ("doctrine", "immediate", "passive"))
GREEN, YELLOW, RED = 0, 1, 2
PRESENCE, VERBAL, SOFT_HANDS, HARD_HANDS, BATONS_AND_CHEMICALS = 1, 2, 3, 4, 5


@compiled
def grievance(hardship, legitimacy):
    """G = H (1 - L). Epstein 2002, Model I, eq. 1."""
    return hardship * (1.0 - legitimacy)


@compiled
def felt_grievance(hardship, legitimacy, legitimacy_deficit, arousal):
    """The grievance an agent acts on: G = H (1 - L'), with L' the legitimacy it still grants
    (L minus what it withdrew after seeing indiscriminate force, never below 0), plus its
    arousal. Without deficit and arousal it is Epstein's G = H (1 - L)."""
    return grievance(hardship, np.maximum(0.0, legitimacy - legitimacy_deficit)) + arousal


@compiled
def updated_deficit(deficit, loss):
    """A step of seeing indiscriminate force withdraws ``loss`` more legitimacy, up to all of
    it (elaborated social identity model, Reicher, Stott and Drury)."""
    return np.minimum(1.0, deficit + loss)


@compiled
def officer_active_ratio(officers_in_vision, engaged_in_vision, ratio_rule):
    """C / (1 + A), the cops-to-actives ratio an agent sees, under a ratio rule.

    ``A`` counts the engaged (active or violent) agents in vision, the agent itself included
    when engaged (on Epstein's open grid nobody is violent, so these are his actives), and
    the 1 adds the agent as a would-be rebel. ``literal`` keeps the plain ratio
    (Epstein 2002, printed formula); ``floor`` truncates it (NetLogo Rebellion, the form
    that reproduces the paper's outbursts); ``round`` rounds half to even (Mesa's
    example, Python's ``round``).
    """
    ratio = officers_in_vision / (1.0 + engaged_in_vision)
    if ratio_rule == FLOOR:
        return np.floor(ratio)
    if ratio_rule == ROUND:
        return np.rint(ratio)
    return ratio


@compiled
def estimated_arrest_probability(officers_in_vision, engaged_in_vision, k, ratio_rule):
    """P = 1 - exp(-k * ratio). Epstein 2002, Model I, eq. 2, with k = 2.3 in the paper."""
    return 1.0 - np.exp(-k * officer_active_ratio(officers_in_vision, engaged_in_vision, ratio_rule))


@compiled
def net_risk(risk_aversion, arrest_probability):
    """N = R * P. Epstein 2002, Model I."""
    return risk_aversion * arrest_probability


@compiled
def engagement(net, activation_threshold, violence_threshold):
    """0 calm, 1 active, 2 violent: Epstein's rule A with a second, higher threshold for
    violence, so the hardcore (high G, low R) cross it first (Jager et al. 2001)."""
    return (net > activation_threshold) * 1 + (net > violence_threshold) * (violence_threshold >= activation_threshold)


@compiled
def contagion_exposure(actives, violent, civilians, provocateurs_near, provocateur_influence):
    """What arousal an agent is exposed to: the share of engaged agents among the civilians it
    sees (``actives`` active and ``violent`` violent ones; violence counts double) plus the
    agitation of provocateurs next to it."""
    return (actives + 2.0 * violent) / (1.0 + civilians) + provocateur_influence * provocateurs_near


@compiled
def updated_arousal(arousal, exposure, contagion, decay):
    """Arousal decays and is fed by contagion, kept in [0, 1] (Granovetter 1978 cascades)."""
    return np.minimum(1.0, np.maximum(0.0, (1.0 - decay) * arousal + contagion * exposure))


@compiled
def updated_fear(fear, sprayed, gas, arrests_seen, line_pressure, spray_fear, gas_fear, arrest_fear, line_fear, decay):
    """Fear decays and grows with water-cannon hits, tear gas (by its concentration), arrests
    seen nearby and an advancing line next to the agent (Helbing et al. 2000: panic from
    perceived threat)."""
    return ((1.0 - decay) * fear + spray_fear * sprayed + gas_fear * gas + arrest_fear * arrests_seen
            + line_fear * line_pressure)


@compiled
def goes_home(fatigue, fear, resolve):
    """A civilian sets off home once its reasons to go (fatigue built up over the day and
    the fear it feels now) outweigh its reasons to stay (``resolve``: its felt grievance,
    arousal included). Dispersal is earned: no timer decides it (Perkap 16/2006 aims at a
    crowd that disperses; fatigue as one documented term)."""
    return fatigue + fear > resolve


@compiled
def assessed_situation(engaged_seen, violent_seen, yellow_engaged, red_violent):
    """The situation the commander reads from what the officers see (Perkap Kapolri 16/2006):
    red (2) when at least ``red_violent`` civilians commit violence (stones, damage), yellow
    (1) when at least ``yellow_engaged`` are engaged (the crowd ignores appeals and presses
    on the line), else green (0)."""
    red = violent_seen >= red_violent
    return red * 1 + (red | (engaged_seen >= yellow_engaged)) * 1


@compiled
def force_stage_target(situation, engaged_seen, violent_seen, policy, disorder_seen):
    """The force stage (Perkap Kapolri 1/2009, stages 1-5; stage 6, firearms, is outside the
    model) the response calls for. ``doctrine``: presence, verbal appeals once people
    protest, soft then hard empty-hand control in yellow (hard once anyone is violent),
    batons and chemical means (tear gas, water spray) in red. ``immediate``: the strongest
    means from the first disorder on. ``passive``: presence and appeals only."""
    doctrine = ((situation == RED) * BATONS_AND_CHEMICALS
                + (situation == YELLOW) * (SOFT_HANDS + (violent_seen > 0))
                + (situation == GREEN) * (PRESENCE + (engaged_seen > 0)))
    if policy == IMMEDIATE:
        return (disorder_seen > 0) * BATONS_AND_CHEMICALS + (disorder_seen <= 0) * doctrine
    if policy == PASSIVE:
        return np.minimum(doctrine, VERBAL)
    return doctrine


@compiled
def line_level(situation, policy):
    """Which unit the response puts at the front of the line (Perkap Kapolri 16/2006):
    0 Dalmas Awal, 1 Dalmas Lanjut, 2 the PHH. ``doctrine``: the unit for the situation
    (green, yellow, red). ``immediate``: the PHH from the first disorder. ``passive``: Dalmas
    Awal throughout (cordon and presence)."""
    if policy == PASSIVE:
        return situation * 0
    if policy == IMMEDIATE:
        return (situation > GREEN) * RED
    return situation


@compiled
def route_step_cost(step_length, posted, line_resistance):
    """What one step on the way to the gate costs a civilian who means to get there: the
    walk (1 cell, or sqrt(2) diagonally) plus ``line_resistance`` for a cell where a post of
    the cordon stands (``posted`` 1, else 0). Summed along a way, a line ``n`` ranks deep
    costs ``n * line_resistance`` to push through, a gap nothing and a short line's end only
    the walk around it: the crowd takes the way of least resistance (Helbing & Molnar 1995,
    pedestrians walk around obstacles; Collins 2008, violence goes where the opponent is
    weak)."""
    return step_length + line_resistance * posted


@compiled
def in_spray_cone(dx, dy, aim_angle, half_angle_degrees, reach):
    """Cells at offset (dx, dy) from a water cannon that its spray hits: within ``reach``
    and within ``half_angle_degrees`` of the aim (radians from the x axis)."""
    distance2 = dx * dx + dy * dy
    diff = np.abs(np.arctan2(dy, dx) - aim_angle)
    diff = np.minimum(diff, 2.0 * np.pi - diff)
    return (distance2 <= reach * reach) & (distance2 > 0) & (diff <= np.deg2rad(half_angle_degrees))
