"""``NUMBA_DISABLE_JIT=1`` runs the very same step code as plain Python (the way to step
through a rule in a debugger); it must give the same result files as the compiled run."""

import os
import subprocess
import sys

import pytest

RUNS = {
    "epstein": ["--scenario", "epstein", "--set", "width=15", "--set", "height=15", "--steps", "25"],
    "kpu-riot": ["--scenario", "kpu-riot", "--set", "crowd_size=300", "--set", "police_officers=40",
                 "--set", "tni_soldiers=20", "--set", "linmas_guards=10", "--steps", "12"],
}


def run(tmp_path, name, args, disable_jit):
    out = tmp_path / f"{name}-{'python' if disable_jit else 'compiled'}"
    env = dict(os.environ)
    env.pop("NUMBA_DISABLE_JIT", None)
    if disable_jit:
        env["NUMBA_DISABLE_JIT"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "crowd_model", "run", *args, "--seed", "3", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("name", RUNS)
def test_plain_python_run_gives_the_compiled_run_files(tmp_path, name):
    # numba's Generator draws the same numbers as numpy's, so the files match byte for byte.
    compiled = run(tmp_path, name, RUNS[name], disable_jit=False)
    python = run(tmp_path, name, RUNS[name], disable_jit=True)
    for file in ("timeseries.csv", "outcomes.csv"):
        assert (compiled / file).read_bytes() == (python / file).read_bytes(), file

