"""Experiment files: bad ones are refused with one clear line and exit code 2; the
shipped ones are valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crowd_model import cli
from crowd_model.errors import InputError
from crowd_model.experiments.plan import make_plan
from crowd_model.experiments.spec import load_experiment

ROOT = Path(__file__).resolve().parent.parent
GOOD = """
scenario = "epstein"
steps = 10
seed = 1
design = "grid"
[set]
width = 12
height = 12
[vary]
legitimacy = [0.7, 0.8]
"""

BAD = {
    "unknown parameter": (GOOD.replace("legitimacy = [", "legitimcy = ["), "legitimcy"),
    "value out of bounds": (GOOD.replace("[0.7, 0.8]", "[0.7, 1.8]"), "legitimacy"),
    "bounds outside the parameter's": (
        GOOD.replace('"grid"', '"lhs"\nn = 8').replace("[0.7, 0.8]", "{ low = -0.5, high = 0.8 }"),
        "legitimacy"),
    "sobol n not a power of two": (
        GOOD.replace('"grid"', '"sobol"\nn = 12').replace("[0.7, 0.8]", "{ low = 0.5, high = 0.8 }"),
        "power of two"),
    "malformed TOML": (GOOD.replace("[vary]", "[vary"), "malformed TOML"),
    "unknown top-level key": (GOOD + "replicates = 3\n", "replicates"),
    "unknown design": (GOOD.replace('"grid"', '"factorial"'), "factorial"),
    "grid given bounds": (GOOD.replace("[0.7, 0.8]", "{ low = 0.5, high = 0.8 }"), "grid"),
    "lhs without n": (GOOD.replace('"grid"', '"lhs"').replace("[0.7, 0.8]", "{ low = 0.5, high = 0.8 }"), "needs n"),
    "unknown recorded metric": (GOOD + '[record]\nmetrics = ["actives"]\n', "actives"),
    "bad stop condition": (GOOD + '[stop]\nwhen = "__import__(\'os\')"\n', "stop condition"),
    "both set and varied": (GOOD.replace("height = 12", "height = 12\nlegitimacy = 0.5"), "both"),
    "densities that do not fit": (GOOD.replace("[0.7, 0.8]", "[0.7, 0.8]\nofficer_density = [0.04, 0.5]"),
                                  "officer_density"),
    "negative replications": (GOOD + "", "replications"),
}
BAD["negative replications"] = (GOOD.replace("steps = 10", "steps = 10\nreplications = -1"), "replications")


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_experiment_file_is_one_line_and_exit_2(tmp_path, capsys, case):
    text, named = BAD[case]
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    code = cli.main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    _one_clear_line(err, named, spec)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", ["unknown parameter", "sobol n not a power of two", "malformed TOML"])
def test_bad_experiment_file_in_a_subprocess(tmp_path, case):
    text, named = BAD[case]
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    result = subprocess.run([sys.executable, "-m", "crowd_model", "sweep", str(spec), "--out", str(tmp_path / "out"),
                             "--workers", "1", "--no-progress"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    _one_clear_line(result.stderr, named, spec)


def _one_clear_line(err: str, named: str, spec: Path) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert named in lines[0] and str(spec) in lines[0], lines[0]


def test_missing_experiment_file_is_one_line_and_exit_2(tmp_path, capsys):
    assert cli.main(["sweep", str(tmp_path / "nope.toml")]) == 2
    _one_clear_line(capsys.readouterr().err, "does not exist", tmp_path / "nope.toml")


def test_stepped_range_and_schedules_in_set(tmp_path):
    spec = tmp_path / "ok.toml"
    spec.write_text(GOOD.replace("[0.7, 0.8]", "{ start = 0.5, stop = 0.8, step = 0.1 }")
                    .replace("height = 12", 'height = 12\nofficer_density = { schedule = "ramp", start = 2, end = 8, from = 0.04, to = 0.0 }'))
    experiment = load_experiment(spec)
    assert experiment.vary[0].values == (0.5, 0.6, 0.7, 0.8)
    plan = make_plan(experiment)
    assert len(plan.tasks) == 4
    assert all("officer_density" in t.parameters.schedules for t in plan.tasks)


def test_sampled_integer_parameters_are_whole_numbers(tmp_path):
    spec = tmp_path / "lhs.toml"
    spec.write_text(GOOD.replace('"grid"', '"lhs"\nn = 16').replace("[0.7, 0.8]", "{ low = 0.5, high = 0.9 }\ncitizen_vision = { low = 1, high = 7 }"))
    design = make_plan(load_experiment(spec)).design
    assert design["citizen_vision"].between(1, 7).all() and design["citizen_vision"].dtype.kind == "i"
    assert len(design) == 16 and design["legitimacy"].between(0.5, 0.9).all()


def test_an_lhs_design_takes_choices_in_equal_shares(tmp_path):
    """A list in an lhs design's [vary] is a choice: the hypercube's column is cut into one
    part per value, so each value gets n / values points, and each run gets its value."""
    spec = tmp_path / "lhs.toml"
    spec.write_text(GOOD.replace('"grid"', '"lhs"\nn = 12').replace(
        "[0.7, 0.8]", '{ low = 0.5, high = 0.9 }\nratio_rule = ["literal", "floor", "round"]\nlegitimacy_feedback = [false, true]'))
    plan = make_plan(load_experiment(spec))
    design = plan.design
    assert design["ratio_rule"].value_counts().to_dict() == {"literal": 4, "floor": 4, "round": 4}
    assert design["legitimacy_feedback"].value_counts().to_dict() == {False: 6, True: 6}
    assert all(t.parameters.ratio_rule == t.varied[1] for t in plan.tasks)
    for bad, named in (('["floor", "flor"]', "flor"), ("[]", "empty"), ('["floor", "floor"]', "repeat")):
        spec.write_text(GOOD.replace('"grid"', '"lhs"\nn = 4').replace("[0.7, 0.8]", "{ low = 0.5, high = 0.9 }\n"
                                                                        f"ratio_rule = {bad}"))
        with pytest.raises(InputError, match=named):
            load_experiment(spec)
    spec.write_text(GOOD.replace('"grid"', '"sobol"\nn = 4').replace("[0.7, 0.8]", '["floor", "round"]'))
    with pytest.raises(InputError, match="low = ..., high = ..."):
        load_experiment(spec)


@pytest.mark.parametrize("path", sorted((ROOT / "experiments" / "specs").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_experiment_files_are_valid(path):
    try:
        plan = make_plan(load_experiment(path))
    except InputError as exc:
        pytest.fail(str(exc))
    assert plan.tasks


@pytest.mark.parametrize("path", sorted((ROOT / "experiments" / "specs" / "calibration").glob("*.toml")),
                         ids=lambda p: p.name)
def test_shipped_calibration_files_are_valid(path):
    from crowd_model.experiments.calibrate import load_calibration

    try:
        cal = load_calibration(path)
    except InputError as exc:
        pytest.fail(str(exc))
    assert cal.fit and cal.targets and cal.method in ("abc", "pyabc", "optimise")
