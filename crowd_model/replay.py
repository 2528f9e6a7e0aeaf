"""Snapshots of a running model, restoring one, and branching a second model from it.

A :class:`Snapshot` holds everything a :class:`~crowd_model.model.CrowdModel` needs to go on
exactly as it would have: every array of the world (iterated from the tables of
:mod:`crowd_model.world`, :data:`~crowd_model.world.AGENT_ARRAYS`, :data:`~crowd_model.world.CELL_ARRAYS`
and :data:`~crowd_model.world.OTHER_ARRAYS`, so an array added there is kept without a change
here), the state of both random generators (numpy's ``model.rng`` and Python's
``model.random``), the parameters in force, Mesa's clock (``model.time``, ``model.steps``) and
the data collector's time series so far. The per-step counts the model shows (``calm``,
``arrests_total``, ...) are recomputed from the world on restore.

Memory: a snapshot copies the arrays that changed since the snapshot it is given as
``previous`` and shares the others (the site, the distance fields, the vision discs), so a
chain of snapshots of ``kpu-riot`` costs about its agent arrays and a few cell arrays each,
about 0.2 MB, plus the time series so far (18 numbers a step).

Branching: :func:`branch` forks a model into a second one with some parameters changed and
the same state and random stream. Only parameters the compiled step reads afresh each step
can change mid-run (:data:`MID_RUN_PARAMETERS`), plus ``water_cannons`` (trucks added stand on
the site's free W cells with full tanks; trucks taken away leave the scene). Those that shape
the world when it is built (grid, site, population, officers, vision and reach discs, cordon
depth and push-back room) cannot.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from crowd_model import world as world_
from crowd_model.errors import InputError
from crowd_model.parameters import Parameters, kernel_parameters, parameter_specs

if TYPE_CHECKING:
    from crowd_model.model import CrowdModel

# Kernel parameters that the world's geometry was built from: not changeable mid-run.
SHAPING_PARAMETERS = ("torus", "cordon_depth", "pushback_max")
#: Parameters a branch may change: those the compiled step reads each step, and the trucks.
MID_RUN_PARAMETERS = tuple(
    s.name for s in parameter_specs() if s.kernel and s.name not in SHAPING_PARAMETERS
) + ("water_cannons",)


@dataclass(frozen=True)
class Snapshot:
    """One moment of a model (see the module's description)."""

    time: int
    steps: int
    arrays: dict[str, np.ndarray]
    rng_state: dict
    random_state: tuple
    parameters: Parameters
    current: Parameters
    model_vars: dict[str, list]
    collection_steps: list
    agent_id_counter: int
    event_rows: tuple  # the events recorded so far, per step (arrays never changed after)

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays (shared ones included) and of the time series."""
        rows = sum(len(v) for v in self.model_vars.values())
        return sum(a.nbytes for a in self.arrays.values()) + 8 * rows


def take(model: CrowdModel, previous: Snapshot | None = None) -> Snapshot:
    """A snapshot of ``model`` now; arrays equal to those of ``previous`` are shared with it."""
    arrays = {}
    for name in world_.FIELDS:
        array = getattr(model.world, name)
        old = previous.arrays.get(name) if previous is not None else None
        same = old is not None and old.shape == array.shape and old.dtype == array.dtype and np.array_equal(old, array)
        arrays[name] = old if same else array.copy()
    return Snapshot(
        time=int(model.time),
        steps=int(model.steps),
        arrays=arrays,
        rng_state=_copy_state(model.rng.bit_generator.state),
        random_state=model.random.getstate(),
        parameters=model.parameters,
        current=model.current,
        model_vars={name: list(values) for name, values in model.datacollector.model_vars.items()},
        collection_steps=list(model.datacollector._collection_steps),  # noqa: SLF001
        agent_id_counter=model.agent_id_counter,
        event_rows=tuple(model._event_rows),  # noqa: SLF001
    )


def restore(model: CrowdModel, snapshot: Snapshot, parameters: Parameters | None = None) -> None:
    """Put ``model`` back to ``snapshot``: it then steps exactly as the model did from there.
    With ``parameters`` (a branch), the model runs on with those instead of the snapshot's;
    a per-truck array whose length they change keeps the snapshot's trucks and the model's
    own new ones."""
    arrays = {}
    for name in world_.FIELDS:
        saved = snapshot.arrays[name]
        own = getattr(model.world, name)
        if parameters is not None and name.startswith("cannon_") and own.shape != saved.shape:
            kept = min(len(own), len(saved))
            array = own.copy()
            array[:kept] = saved[:kept]
        else:
            array = saved.copy()
        arrays[name] = array
    model._set_world(world_.World(**arrays))  # noqa: SLF001
    _match_agents(model)
    state = _copy_state(snapshot.rng_state)
    model.rng.bit_generator.state = state
    model.random.setstate(snapshot.random_state)
    if parameters is None:
        model.parameters, model.current = snapshot.parameters, snapshot.current
    else:
        model.parameters = parameters
        model.current = parameters.at_step(max(0, snapshot.time - 1))
    model.step_parameters = kernel_parameters(model.current)
    collector = model.datacollector
    collector.model_vars = {name: list(values) for name, values in snapshot.model_vars.items()}
    collector._collection_steps = list(snapshot.collection_steps)  # noqa: SLF001
    model.agent_id_counter = snapshot.agent_id_counter
    model._event_rows = list(snapshot.event_rows)  # noqa: SLF001
    _set_clock(model, snapshot.time, snapshot.steps)
    model._update_counts()  # noqa: SLF001


def branch(model: CrowdModel, changes: dict[str, Any]) -> CrowdModel:
    """A second model in ``model``'s state and random stream, with ``changes`` to parameters of
    :data:`MID_RUN_PARAMETERS` (checked against their bounds); ``model`` is not changed."""
    refused = [name for name in changes if name not in MID_RUN_PARAMETERS]
    if refused:
        raise InputError(
            f"{', '.join(map(str, refused))[:120]} cannot change mid-run; a branch may change: "
            f"{', '.join(MID_RUN_PARAMETERS)}")
    parameters = Parameters.from_mapping(changes, base=model.parameters)
    snapshot = take(model)
    other = type(model)(parameters, rng=model._seed)  # noqa: SLF001 (its state is replaced below)
    restore(other, snapshot, parameters)
    return other


def _copy_state(state: dict) -> dict:
    """A deep copy of a bit generator's state (nested dicts of numbers and arrays)."""
    return {k: _copy_state(v) if isinstance(v, dict) else (v.copy() if isinstance(v, np.ndarray) else v)
            for k, v in state.items()}


def _match_agents(model: CrowdModel) -> None:
    """Mesa agents for the restored world's rows: withdrawn officers' agents removed, revived
    or deployed officers' agents made (only officers come and go: Epstein's Run 5)."""
    from crowd_model.agents import SecurityOfficer, WaterCannon

    w = model.world
    agents = model._agent_at  # noqa: SLF001
    while len(agents) > len(w.kind):
        agent = agents.pop()
        if agent is not None:
            agent.remove()
    for i in range(len(w.kind)):
        agent = agents[i] if i < len(agents) else None
        if agent is not None and not w.alive[i]:
            agent.remove()
            agent = None
        elif agent is None and w.alive[i]:
            agent = SecurityOfficer(model, i)
        if i < len(agents):
            agents[i] = agent
        else:
            agents.append(agent)
    if len(model.water_cannons) != len(w.cannon_x):
        for cannon in model.water_cannons:
            cannon.remove()
        model.water_cannons = [WaterCannon(model, c) for c in range(len(w.cannon_x))]


def _set_clock(model: CrowdModel, time: int, steps: int) -> None:
    """Set Mesa's clock to ``time``, its next step due at ``time + 1`` (Mesa 3.5 steps by an
    event generator that holds the next step's time)."""
    generator = model._default_schedule  # noqa: SLF001
    generator.stop()
    model.time = float(time)
    model.steps = steps
    generator.schedule = dataclasses.replace(generator.schedule, start=float(time) + 1.0)
    generator._execution_count = steps  # noqa: SLF001
    generator.start()


__all__ = ["MID_RUN_PARAMETERS", "Snapshot", "branch", "restore", "take"]
