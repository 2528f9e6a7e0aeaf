"""crowd-model run --animation: GIF and MP4 of the grid, step by step (crowd_model.animation)."""

import numpy as np
import pytest

from crowd_model.animation import decode_frame_count, encode, frame, time_label
from crowd_model.cli import main

SMALL = ["run", "--set", "width=12", "--set", "height=12", "--steps", "8", "--seed", "3"]


@pytest.mark.parametrize("suffix, extra, frames", [
    ("gif", [], 9),  # steps 0..8
    ("mp4", ["--from-step", "2", "--to-step", "6", "--fps", "5"], 5),
])
def test_run_animation_writes_a_decodable_file(tmp_path, capsys, suffix, extra, frames):
    out = tmp_path / f"run.{suffix}"
    assert main([*SMALL, "--animation", str(out), *extra]) == 0
    assert f"wrote {out} ({frames} frames" in capsys.readouterr().out
    assert decode_frame_count(out.read_bytes(), suffix) == frames


def test_run_animation_is_drawn_at_the_size_of_the_apps_live_map(tmp_path):
    """kpu-riot's 100 x 60 cells at 11 pixels a cell, as the app's map (it was 640 pixels wide)."""
    import imageio.v3 as iio

    out = tmp_path / "run.gif"
    assert main(["run", "--scenario", "kpu-riot", "--steps", "1", "--animation", str(out)]) == 0
    first = iio.imread(out, index=0)
    assert first.shape[1] == 1100 and first.shape[0] >= 660


@pytest.mark.parametrize("args, fragment", [
    (["--animation", "run.avi"], "must end in .gif or .mp4"),
    (["--animation", "run.gif", "--to-step", "9"], "--to-step 9 is beyond the run's 8 steps"),
    (["--animation", "run.gif", "--from-step", "5", "--to-step", "4"], "--from-step 5 is after --to-step 4"),
    (["--animation", "run.gif", "--fps", "0"], "expected a positive number"),
    (["--animation", "run.gif", "--fps", "100"], "--fps 100 is not allowed"),
    (["--fps", "5"], "--fps only go with --animation"),
    (["--animation", "no/such/folder/run.gif"], "does not exist"),
])
def test_bad_animation_options_exit_2_with_one_line(tmp_path, monkeypatch, capsys, args, fragment):
    monkeypatch.chdir(tmp_path)
    assert main([*SMALL, *args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_frames_have_even_sides_and_a_caption_in_minutes():
    codes = np.zeros((7, 5), np.uint8)
    picture = frame(codes, 3)
    assert picture.shape[0] % 2 == 0 and picture.shape[1] % 2 == 0
    assert time_label(3) == "step 3 · 3 min"
    gif = encode([frame(codes, s) for s in range(4)], "gif", 10)
    assert decode_frame_count(gif, "gif") == 4  # identical maps stay separate frames
