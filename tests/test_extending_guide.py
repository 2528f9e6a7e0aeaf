"""docs/extending.md's worked example, applied to a copy of the package and run: the guide's
code blocks must still fit the code, the new parameter needs nothing but its declaration
and its rule, and the behaviour it adds shows in a run."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "extending.md"
BLOCK = re.compile(r"^```(?:python|toml) apply=(\S+) after=([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def guide_blocks() -> list[tuple[str, str, str]]:
    return BLOCK.findall(GUIDE.read_text())


def apply_guide(tree: Path) -> None:
    for path, after, code in guide_blocks():
        file = tree / path
        text = file.read_text()
        if after == "END":
            text = text.rstrip("\n") + "\n" + code
        else:
            lines = text.splitlines(keepends=True)
            at = [k for k, line in enumerate(lines) if line.rstrip("\n") == after]
            assert len(at) == 1, f"{path}: the guide's anchor line is not there once: {after!r}"
            lines.insert(at[0] + 1, code)
            text = "".join(lines)
        file.write_text(text)


def test_guide_has_the_four_steps():
    assert [path for path, _, _ in guide_blocks()] == [
        "crowd_model/parameters.py", "crowd_model/rules.py", "tests/test_rules.py", "crowd_model/riot.py",
        "locales/id.toml",
    ]


@pytest.mark.slow
def test_guide_example_applies_and_runs(tmp_path):
    tree = tmp_path / "tree"
    for part in ("crowd_model", "tests", "locales"):
        shutil.copytree(ROOT / part, tree / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "app_text.py", tree / "app_text.py")
    apply_guide(tree)
    env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_DISABLE_JIT="1", NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tree),
         str(tree / "tests" / "test_rules.py"), str(tree / "tests" / "test_parameters.py"),
         f"{tree / 'tests' / 'test_app_text.py'}::test_every_parameter_has_its_indonesian_label_and_help",
         f"{tree / 'tests' / 'test_app_text.py'}::test_both_catalogues_hold_the_same_keys"],
        capture_output=True, text=True, env=env, cwd=tree, timeout=600,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "test_rumoured_arousal_adds_up_to_one" in subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider", str(tree / "tests" / "test_rules.py")],
        capture_output=True, text=True, env=env, cwd=tree,
    ).stdout
    run = subprocess.run(
        [sys.executable, "-c", RUN],
        capture_output=True, text=True, env=env, cwd=tree, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[0] == str(tree / "crowd_model" / "__init__.py")
    calm_arousal, rumour_arousal = map(float, run.stdout.split()[1:])
    assert rumour_arousal > calm_arousal + 0.05


RUN = """
import crowd_model
from crowd_model.model import CrowdModel
from crowd_model.scenario import load_scenario
base = load_scenario("kpu-riot").parameters.with_overrides(
    ["crowd_size=150", "police_officers=20", "tni_soldiers=10", "linmas_guards=5"])
means = []
for rumour in ("0", "0.05"):
    model = CrowdModel(base.with_overrides([f"rumour_arousal={rumour}"]), rng=1)
    for _ in range(4):
        model.step()
    means.append(model.world.arousal[: model.n_civilians].mean())
print(crowd_model.__file__, *means)
"""
