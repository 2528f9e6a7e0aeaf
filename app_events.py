"""The live view's event log, banner and chart markers: the model's events as sentences.

Each step the model records events (:mod:`crowd_model.events`); :func:`step_lines` turns one
step's events into a few log lines: noisy events (stones, damage, going home, supporters
arrested, injuries, evacuations) are counted into one line each, the others get a line of
their own. A line is an :class:`app_text.Said` text, so the log shows in the page's language
whenever it is drawn. Important events (a change of situation or of force stage, the first
water-cannon shot, the gate breached, the korlap's call, a handover) carry a short marker
label for the time-series charts.

Time: an event is shown at its step (the ``step`` column of ``events.csv``: the model's clock
during the step that recorded it, which is the step whose map and counts show its result).
The clock reads :data:`CLOCK_START` at step 0 and advances
:data:`crowd_model.model.MINUTES_PER_STEP` minutes a step: a display convention, not a
calibration.

This is UI code next to ``app.py``; the model core never imports it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import app_text
from app_text import Said, say
from crowd_model.events import FORCE_STAGE_NAMES
from crowd_model.model import MINUTES_PER_STEP
from crowd_model.world import SITUATION_NAMES

CLOCK_START = 12 * 60  # the clock at step 0, in minutes after midnight: 12:00
LOG_LINES = 60  # the log shows at most this many lines (the latest): about two screens of the panel
SITUATION_COLOURS = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828"}
MARKER_COLOUR = "#455a64"


@dataclass(frozen=True)
class LogLine:
    """One line of the log: the step that shows it, the event's name, its sentence, and for an
    important event a short label for the charts (with its colour)."""

    step: int
    event: str
    said: Said
    marker: Said | None = None
    colour: str = MARKER_COLOUR


def minutes(step: int) -> float:
    return step * MINUTES_PER_STEP


def clock(step: int) -> str:
    """``hh:mm`` of ``step`` (:data:`CLOCK_START` at step 0)."""
    total = int(CLOCK_START + minutes(step))
    return f"{(total // 60) % 24:02d}:{total % 60:02d}"


def _counted(key: str, n: int, **fields) -> Said:
    return say(f"{key}.{'one' if n == 1 else 'many'}", n=n, **fields)


def unit_name(name: str) -> Said | str:
    """A unit's display name (``unit_name.NAME`` in the catalogues; a unit they lack: its name)."""
    return say(f"unit_name.{name}") if app_text.has_text(f"unit_name.{name}") else name


def _maybe(key: str, fallback: str) -> Said | str:
    return say(key) if app_text.has_text(key) else fallback


def force_stage_name(stage: int) -> Said | str:
    name = FORCE_STAGE_NAMES[stage] if 0 < stage < len(FORCE_STAGE_NAMES) else str(stage)
    return _maybe(f"force_stage.{name}", name.replace("_", " "))


def situation_name(situation: int | str) -> Said | str:
    name = SITUATION_NAMES[situation] if isinstance(situation, int) else situation
    return _maybe(f"situation.{name}", name)


# the order of a step's lines: the commander's decisions first, then what happened on the street
_ORDER = ("situation", "force_stage", "handover", "gate_breach", "korlap_call", "negotiation", "water_cannon_shot",
          "tear_gas", "arrest", "line_advance", "injury", "evacuation", "stone_thrown", "damage", "going_home")


def step_lines(records: list[dict], step: int, shots_before: int = 0) -> list[LogLine]:
    """The log lines of the events ``records`` (:func:`crowd_model.events.event_records` of one
    step's rows), shown at ``step``; ``shots_before`` is the number of water-cannon shots in
    the steps before (the first shot of the run is marked)."""
    lines: list[tuple[int, LogLine]] = []

    def add(event: str, said: Said, marker: Said | None = None, colour: str = MARKER_COLOUR) -> None:
        rank = _ORDER.index(event) if event in _ORDER else len(_ORDER)
        lines.append((rank, LogLine(step, event, said, marker, colour)))

    counts: Counter = Counter()
    supporters_arrested: Counter = Counter()
    injured: Counter = Counter()
    going_home: Counter = Counter()
    shots = shots_before
    for r in records:
        event, detail, unit = r["event"], r["detail"], r["unit"]
        if event in ("stone_thrown", "stone_hit", "damage", "evacuation"):
            counts[event] += 1
        elif event == "going_home":
            if detail != "korlap_call":  # the korlap's call has its own line
                going_home[detail] += 1
        elif event == "arrest":
            if detail == "supporter":
                supporters_arrested[unit] += 1
            else:
                add(event, say("log.arrest", who=_maybe(f"log.who.{detail}", detail), unit=unit_name(unit)))
        elif event == "injury":
            injured[(unit, detail)] += 1
        elif event == "water_cannon_shot":
            first = shots == 0
            shots += 1
            add(event, say("log.water_cannon_first" if first else "log.water_cannon", hit=detail),
                say("marker.water_cannon") if first else None, "#0091ea")
        elif event == "tear_gas":
            add(event, say("log.tear_gas", n=detail))
        elif event == "situation":
            colour = situation_name(detail)
            add(event, say("log.situation", colour=colour), colour, SITUATION_COLOURS.get(detail, MARKER_COLOUR))
        elif event == "force_stage":
            stage = int(str(detail).split()[0])
            add(event, say("log.force_stage", stage=stage, name=force_stage_name(stage)),
                say("marker.force_stage", stage=stage), "#4a148c")
        elif event == "line_advance":
            add(event, say("log.line_advance", cells=detail))
        elif event == "gate_breach":
            add(event, say("log.gate_breach"), say("marker.gate_breach"), "#bf360c")
        elif event == "negotiation":
            key = {"0%": "talks_open", "50%": "talks_halfway", "100%": "talks_agreed",
                   "broken_off": "talks_broken_off"}.get(detail)
            add(event, say(f"log.{key}") if key else say("log.other", event=event, detail=detail))
        elif event == "korlap_call":
            add(event, say("log.korlap_call", n=detail), say("marker.korlap_call"), "#00897b")
        elif event == "handover":  # detail: "lapis_ganti from dalmas_awal" (crowd_model.events)
            kind, _, relieved = str(detail).partition(" from ")
            known = app_text.has_text(f"log.handover_{kind}")
            said = (say(f"log.handover_{kind}", unit=unit_name(unit), relieved=unit_name(relieved)) if known
                    else say("log.handover", detail=detail))
            add(event, said, say(f"marker.handover_{kind}") if known else say("marker.handover"), "#1565c0")
        else:
            add(event, say("log.other", event=event, detail=detail))
    if counts["stone_thrown"]:
        add("stone_thrown", _counted("log.stones", counts["stone_thrown"], thrown=counts["stone_thrown"],
                                     hits=counts["stone_hit"]))
    if counts["damage"]:
        add("damage", _counted("log.damage", counts["damage"]))
    if counts["evacuation"]:
        add("evacuation", _counted("log.evacuation", counts["evacuation"]))
    for unit, n in sorted(supporters_arrested.items()):
        add("arrest", _counted("log.arrest_supporters", n, unit=unit_name(unit)))
    for (unit, cause), n in sorted(injured.items()):
        cause_text = _maybe(f"log.cause.{cause}", cause)
        if unit:
            add("injury", _counted("log.injured_officers", n, unit=unit_name(unit), cause=cause_text))
        else:
            add("injury", _counted("log.injured_civilians", n, cause=cause_text))
    for reason, n in sorted(going_home.items()):
        key = f"log.home_{reason}"
        if app_text.has_text(f"{key}.one"):
            add("going_home", _counted(key, n))
        else:
            add("going_home", say("log.other", event="going_home", detail=f"{reason} × {n}"))
    lines.sort(key=lambda pair: pair[0])
    return [line for _, line in lines]


def water_cannon_shots(records: list[dict]) -> int:
    return sum(1 for r in records if r["event"] == "water_cannon_shot")
