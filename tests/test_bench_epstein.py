"""The speed benchmark runs and prints its table (its numbers are not checked here: speed is
shown by the script itself, never by a timed test)."""

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_epstein.py"


def test_quick_benchmark_prints_both_rates_and_ratio_per_size():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    rows = re.findall(
        r"^\s*(\d+)x(\d+)\s+[\d,]+\s+[\d,]+\s+([\d,]+)\s+([\d,]+)\s+([\d.]+)x$",
        done.stdout,
        flags=re.MULTILINE,
    )
    assert [(w, h) for w, h, *_ in rows] == [("20", "20"), ("40", "40")]
    for *_, mesa_rate, our_rate, ratio in rows:
        mesa, ours = (float(v.replace(",", "")) for v in (mesa_rate, our_rate))
        assert mesa > 0 and ours > 0
        assert abs(float(ratio) - ours / mesa) < 0.06
    assert "our cost per agent-step 40x40 / 20x20" in done.stdout
