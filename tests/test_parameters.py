import pytest

from crowd_model.errors import InputError
from crowd_model.parameters import Parameters, parameter_specs
from crowd_model.schedules import parse_schedule


def test_defaults_are_epstein_run2():
    p = Parameters()
    assert (p.width, p.height, p.legitimacy, p.citizen_vision, p.max_jail_term) == (40, 40, 0.82, 7, 30)
    assert p.ratio_rule == "floor"


def test_every_parameter_is_documented():
    for spec in parameter_specs():
        assert spec.help, spec.name
        if spec.type in (int, float):
            assert spec.low is not None and spec.high is not None, spec.name
            assert spec.low <= spec.default <= spec.high, spec.name


@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"legitimacy": 1.5}, "legitimacy: 1.5 is out of bounds"),
        ({"legitimcy": 0.5}, "did you mean legitimacy"),
        ({"width": 10.5}, "width"),
        ({"width": -3}, "out of bounds"),
        ({"ratio_rule": "ceil"}, "one of literal, floor, round"),
        ({"torus": "maybe"}, "true or false"),
        ({"citizen_density": 0.98}, "do not fit the grid"),
        ({"width": "nan"}, "width"),
    ],
)
def test_bad_values_get_one_clear_message(values, fragment):
    with pytest.raises(InputError, match=fragment.replace("(", r"\(")) as info:
        Parameters.from_mapping(values)
    assert "\n" not in str(info.value)


def test_overrides_coerce_strings():
    p = Parameters().with_overrides(["width=20", "torus=false", "legitimacy=0.7", "ratio_rule=round"])
    assert (p.width, p.torus, p.legitimacy, p.ratio_rule) == (20, False, 0.7, "round")
    with pytest.raises(InputError, match="name=value"):
        Parameters().with_overrides(["legitimacy"])


def test_schedules_step_and_ramp():
    step = parse_schedule("legitimacy", {"schedule": "step", "at": 100, "before": 0.9, "after": 0.7})
    assert [step.value_at(t) for t in (0, 99, 100, 500)] == [0.9, 0.9, 0.7, 0.7]
    ramp = parse_schedule("legitimacy", {"schedule": "ramp", "start": 10, "end": 20, "from": 0.9, "to": 0.4})
    assert ramp.value_at(0) == 0.9 and ramp.value_at(15) == pytest.approx(0.65) and ramp.value_at(99) == 0.4


def test_schedule_in_parameters():
    p = Parameters.from_mapping(
        {"legitimacy": {"schedule": "ramp", "start": 0, "end": 10, "from": 0.9, "to": 0.5},
         "max_jail_term": {"schedule": "step", "at": 5, "before": 10, "after": 20}}
    )
    assert p.legitimacy == 0.9
    assert p.at_step(5).legitimacy == pytest.approx(0.7)
    assert p.at_step(5).max_jail_term == 20 and isinstance(p.at_step(5).max_jail_term, int)
    with pytest.raises(InputError, match="cannot follow a schedule"):
        Parameters.from_mapping({"width": {"schedule": "step", "at": 5, "before": 10, "after": 20}})
    with pytest.raises(InputError, match="out of bounds"):
        Parameters.from_mapping({"legitimacy": {"schedule": "step", "at": 5, "before": 0.5, "after": 2}})
    with pytest.raises(InputError, match="unknown key"):
        Parameters.from_mapping({"legitimacy": {"schedule": "ramp", "start": 0, "stop": 5, "from": 0.5, "to": 1}})


def test_officer_schedule_must_fit_grid():
    with pytest.raises(InputError, match="do not fit"):
        Parameters.from_mapping(
            {"officer_density": {"schedule": "ramp", "start": 0, "end": 10, "from": 0.04, "to": 0.5}}
        )


def test_the_compiled_steps_read_exactly_the_parameters_marked_kernel():
    """Every ``p.<name>`` the compiled modules read is a parameter declared with
    ``kernel=True``, and every such parameter is read by them: the kernel's record is derived
    from the declarations, so a new parameter needs nothing but its declaration and its rule."""
    import inspect
    import re

    from crowd_model import epstein, render, riot, world
    from crowd_model.parameters import KernelParameters

    read = set()
    for module in (epstein, riot, world, render):
        read |= set(re.findall(r"\bp\.([a-z_]+)", inspect.getsource(module)))
    specs = {s.name: s for s in parameter_specs()}
    marked = {name for name, s in specs.items() if s.kernel}
    assert read - set(specs) == set(), "read by the kernel but not declared"
    assert read == marked
    assert set(KernelParameters.names) == marked


def test_kernel_record_holds_choices_as_indices():
    from crowd_model.parameters import ARREST_POLICIES, RATIO_RULES, kernel_parameters

    p = kernel_parameters(Parameters(ratio_rule="round", arrest_policy="indiscriminate", movement=False))
    assert p.ratio_rule == RATIO_RULES.index("round") and p.arrest_policy == ARREST_POLICIES.index("indiscriminate")
    assert not p.movement and p.max_jail_term == Parameters().max_jail_term and p.legitimacy == Parameters().legitimacy
    assert p.dtype["movement"] == bool and p.dtype["max_jail_term"] == "int64" and p.dtype["legitimacy"] == "float64"
