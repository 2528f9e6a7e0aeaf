"""The package as users install it: a wheel that runs every preset and puts nothing generic
into site-packages, and the architecture's import arrows (import-linter)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a clean copy of the source tree, so nothing left in a local build/ folder
    can slip into it."""
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source") / "crowd-model"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "results", "__pycache__", "*.egg-info", ".pytest_cache", ".hypothesis"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(source)],
                   check=True, capture_output=True)
    (found,) = out.glob("crowd_model-*.whl")
    return found


@pytest.fixture(scope="module")
def unpacked(wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def test_wheel_holds_the_presets_site_maps_and_experiment_files_under_one_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"crowd_model"}
    for needed in ("crowd_model/presets/kpu-riot.toml", "crowd_model/presets/sites/kpu.txt",
                   "crowd_model/experiments/sweep.py", "crowd_model/experiments/specs/epstein_phase.toml",
                   "crowd_model/analysis/report.py"):
        assert needed in names


def test_import_arrows_hold(unpacked):
    """DESIGN.md's arrows: the core imports no sweeps, analysis or UI; analysis imports
    neither model nor engine; the engine does not import the analysis."""
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache",
                             str(ROOT / "pyproject.toml")], cwd=unpacked, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_core_module_is_under_the_core_contract():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    core = next(c for c in config if c["id"] == "core")
    faces = {"__init__", "__main__", "cli"}
    modules = {f"crowd_model.{p.stem}" for p in (ROOT / "crowd_model").glob("*.py") if p.stem not in faces}
    assert modules == set(core["source_modules"])
    analysis = next(c for c in config if c["id"] == "analysis")
    assert modules - {"crowd_model.errors", "crowd_model.files"} <= set(analysis["forbidden_modules"])


@pytest.mark.slow
def test_wheel_in_a_fresh_environment_runs_the_riot(wheel, tmp_path):
    """A non-editable install (dependencies from the package index or pip's cache) runs
    kpu-riot and lists every preset, from a folder that is not the source tree."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True, timeout=900)
    work = tmp_path / "elsewhere"
    work.mkdir()
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR")}
    cli = env_dir / "bin" / "crowd-model"
    listed = subprocess.run([str(cli), "scenarios"], cwd=work, env=clean, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    for preset in ("epstein", "kpu-riot", "peaceful-rally", "breach"):
        assert preset in listed.stdout
    run = subprocess.run([str(cli), "run", "--scenario", "kpu-riot", "--steps", "3", "--out", "out"],
                         cwd=work, env=clean, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    assert len((work / "out" / "timeseries.csv").read_text().splitlines()) == 1 + 4
    site_packages = next((env_dir / "lib").glob("python3.*/site-packages"))
    assert not (site_packages / "experiments").exists() and not (site_packages / "analysis").exists()
    spec = subprocess.run([str(python), "-c", "import crowd_model.experiments.sweep as s; print(s.__file__)"],
                          cwd=work, env=clean, capture_output=True, text=True)
    assert str(site_packages) in spec.stdout
