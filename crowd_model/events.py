"""What happened, event by event: the codes the riot step records and how they read.

The compiled step appends rows ``(step, event, x, y, unit, agent, detail)`` to
``world.events`` (:func:`crowd_model.world.record`); the model turns each step's rows into
:data:`EVENT_COLUMNS` records with names in place of codes, and ``crowd-model run --out``
writes them to ``events.csv``. ``detail`` is a number whose meaning depends on the event
(:data:`DETAILS`).
"""

from __future__ import annotations

import numpy as np

from crowd_model.world import DALMAS_AWAL, DALMAS_LANJUT, SITUATION_NAMES, STATE_NAMES, UNIT_NAMES

EVENT_NAMES = (
    "stone_thrown",
    "stone_hit",
    "damage",
    "gate_breach",
    "arrest",
    "injury",
    "evacuation",
    "water_cannon_shot",
    "tear_gas",
    "situation",
    "force_stage",
    "line_advance",
    "going_home",
    "negotiation",
    "korlap_call",
    "handover",
)
(STONE_THROWN, STONE_HIT, DAMAGE, GATE_BREACH, ARREST, INJURY, EVACUATION, WATER_CANNON_SHOT,
 TEAR_GAS, SITUATION, FORCE_STAGE, LINE_ADVANCE, GOING_HOME, NEGOTIATION, KORLAP_CALL,
 HANDOVER) = range(len(EVENT_NAMES))

# Causes of an injury (the detail of an ``injury`` event).
INJURY_CAUSES = ("stone", "arrest", "water_cannon", "tear_gas")
BY_STONE, BY_ARREST, BY_WATER_CANNON, BY_TEAR_GAS = range(len(INJURY_CAUSES))

# Whom an arrest took (the detail of an ``arrest`` event).
ARRESTED_ROLES = ("supporter", "provocateur", "korlap")

# Why a civilian set off home (the detail of a ``going_home`` event).
HOME_REASONS = ("fatigue_and_fear", "guided_by_linmas", "korlap_call")
BY_FATIGUE_AND_FEAR, GUIDED_HOME, CALLED_OFF = range(len(HOME_REASONS))

# Milestones of the talks (the detail of a ``negotiation`` event): per cent of the way to an
# agreement, or why they broke off.
TALKS_BROKEN_OFF = -1  # the korlap was arrested or injured

EVENT_COLUMNS = ("step", "event", "x", "y", "unit", "agent", "detail")

FORCE_STAGE_NAMES = (
    "",
    "presence",
    "verbal_appeals",
    "soft_empty_hand",
    "hard_empty_hand",
    "batons_and_chemical_means",
)

DETAILS = {
    "stone_thrown": "the thrower's state",
    "stone_hit": "the officer hit (agent row)",
    "damage": "hit points left on the cell",
    "gate_breach": "",
    "arrest": "whom: supporter or provocateur (the agent column is the arrested, unit the arresting officer's)",
    "injury": "cause: stone, arrest, water_cannon or tear_gas; unit is set when the injured is an officer",
    "evacuation": "steps the injured waited",
    "water_cannon_shot": "civilians hit",
    "tear_gas": "civilians in the cloud when it lands",
    "situation": "the new situation: green, yellow or red (Perkap 16/2006)",
    "force_stage": "the new stage, 1-5 (Perkap 1/2009)",
    "line_advance": "cells the line has advanced",
    "going_home": "why: fatigue_and_fear, guided_by_linmas or korlap_call",
    "negotiation": "per cent of the way to an agreement (0 talks open, 50, 100 agreement), or broken_off",
    "korlap_call": "followers called home",
    "handover": "lapis_ganti (Dalmas Awal to Lanjut), lintas_ganti (to the PHH) or hand_back, and the unit relieved; "
                "unit is the unit taking the front",
}


def handover_kind(incoming: int, relieved: int) -> str:
    """The doctrine's name for a handover of the line's front (Perkap 16/2006)."""
    if relieved < 0:
        return "take_over"
    if incoming < relieved:
        return "hand_back"
    return "lapis_ganti" if (relieved, incoming) == (DALMAS_AWAL, DALMAS_LANJUT) else "lintas_ganti"


def _detail_text(event: int, detail: int, unit: int) -> str:
    name = EVENT_NAMES[event]
    if name == "injury":
        return INJURY_CAUSES[detail]
    if name == "arrest":
        return ARRESTED_ROLES[detail]
    if name == "situation":
        return SITUATION_NAMES[detail]
    if name == "force_stage":
        return f"{detail} {FORCE_STAGE_NAMES[detail]}"
    if name == "going_home":
        return HOME_REASONS[detail]
    if name == "negotiation":
        return "broken_off" if detail == TALKS_BROKEN_OFF else f"{detail}%"
    if name == "stone_thrown":
        return STATE_NAMES[detail]
    if name == "gate_breach":
        return ""
    if name == "handover":
        kind = handover_kind(unit, detail)
        return kind if detail < 0 else f"{kind} from {UNIT_NAMES[detail]}"
    return str(detail)


def event_records(rows: np.ndarray) -> list[dict]:
    """Rows of ``world.events`` as records with names: ``unit`` is the unit's name ('' when
    none), ``agent`` -1 when none."""
    out = []
    for step, event, x, y, unit, agent, detail in rows.tolist():
        out.append({
            "step": step,
            "event": EVENT_NAMES[event],
            "x": x,
            "y": y,
            "unit": UNIT_NAMES[unit] if unit >= 0 else "",
            "agent": agent,
            "detail": _detail_text(event, detail, unit),
        })
    return out
