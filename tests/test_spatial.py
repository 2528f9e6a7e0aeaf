"""Issue 12: where the riot happened. Sweeps keep events on request; ``crowd-model analyse``
draws hotspot maps over the site and counts events by type, unit and phase."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowd_model import cli
from crowd_model.analysis import spatial
from crowd_model.world import SITUATION_NAMES
from small_site import RIOT_SETS, SITE, riot_sweep_file
from test_sweeps import sweep

STEPS = 30
EVENT_COLUMNS = ["step", "event", "x", "y", "unit", "agent", "detail"]


def events_table(rows, run_id="run"):
    table = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    table.insert(0, "run_id", run_id)
    return table


def test_hotspot_counts_equal_a_hand_count():
    events = events_table([
        (1, "arrest", 2, 3, "police", 7, "supporter"),
        (1, "arrest", 2, 3, "tni", 8, "provocateur"),
        (2, "arrest", 0, 0, "police", 9, "supporter"),
        (2, "arrest", 4, 1, "police", 9, "supporter"),  # the grid's last column and last row
        (3, "stone_thrown", 2, 3, "police", 5, "violent"),
        (3, "situation", -1, -1, "", -1, "red"),  # no place: on no map
    ])
    hand = np.zeros((5, 2))  # (2, 3) lies outside a 5 x 2 grid: left out
    hand[0, 0] = 1
    hand[4, 1] = 1
    assert np.array_equal(spatial.hotspot_counts(events, "arrest", (5, 2)), hand)
    wide = np.zeros((5, 4))
    wide[2, 3], wide[0, 0], wide[4, 1] = 2, 1, 1
    assert np.array_equal(spatial.hotspot_counts(events, "arrest", (5, 4)), wide)
    assert np.array_equal(spatial.hotspot_counts(events, "arrest", (5, 4), runs=2), wide / 2)
    stones = np.zeros((5, 4))
    stones[2, 3] = 1
    assert np.array_equal(spatial.hotspot_counts(events, "stone_thrown", (5, 4)), stones)
    assert spatial.hotspot_counts(events, "situation", (5, 4)).sum() == 0
    assert spatial.hotspot_counts(events, "damage", (5, 4)).sum() == 0


def test_phases_follow_each_runs_situation_events():
    a = events_table([
        (1, "stone_thrown", 1, 1, "police", 3, "violent"),
        (2, "situation", -1, -1, "", -1, "yellow"),
        (2, "arrest", 1, 1, "police", 3, "supporter"),
        (5, "situation", -1, -1, "", -1, "red"),
        (5, "damage", 1, 0, "", 4, "3"),
        (9, "arrest", 1, 1, "tni", 3, "supporter"),
    ], run_id="a")
    b = events_table([(3, "arrest", 1, 1, "police", 3, "supporter")], run_id="b")
    events = pd.concat([a, b], ignore_index=True)
    assert spatial.phases(events, "green").tolist() == ["green", "yellow", "yellow", "red", "red", "red", "green"]


@pytest.fixture(scope="module")
def riot_run(tmp_path_factory):
    """A short kpu-riot run on the small site, its folder written by ``run --out``."""
    tmp = tmp_path_factory.mktemp("riot_run")
    (tmp / "map.txt").write_text(SITE)
    out = tmp / "run"
    args = ["run", "--scenario", "kpu-riot", "--set", f"site={tmp / 'map.txt'}", *RIOT_SETS,
            "--set", "legitimacy=0.2", "--steps", str(STEPS), "--seed", "3", "--out", str(out)]
    assert cli.main(args) == 0
    return out


def test_a_run_folder_through_analyse(riot_run, capsys):
    capsys.readouterr()
    assert cli.main(["analyse", str(riot_run)]) == 0
    printed = capsys.readouterr().out.split()
    for name in ("events_by_type.csv", "figures/hotspots.png"):
        assert str(riot_run / name) in printed
    png = (riot_run / "figures" / "hotspots.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000

    events = pd.read_csv(riot_run / "events.csv", dtype={"unit": str, "detail": str}, keep_default_na=False)
    assert {"situation", "arrest", "stone_thrown"} <= set(events["event"])  # the run did riot
    table = pd.read_csv(riot_run / "events_by_type.csv", dtype={"unit": str}, keep_default_na=False)
    assert list(table.columns) == ["event", "unit", "phase", "count"]
    assert table["count"].sum() == len(events)
    # the phase of each event is the situation the time series shows at its step
    ts = pd.read_csv(riot_run / "timeseries.csv").set_index("step")
    expected = events.assign(phase=[SITUATION_NAMES[ts.loc[s, "situation"]] for s in events["step"]])
    assert set(expected["phase"]) >= {"green", "red"}
    by_hand = expected.groupby(["event", "unit", "phase"]).size().rename("count").reset_index()
    pd.testing.assert_frame_equal(table, by_hand)


def test_a_run_folder_without_events_or_with_sweep_options_is_refused(riot_run, tmp_path, capsys):
    plain = tmp_path / "epstein"
    assert cli.main(["run", "--set", "width=10", "--set", "height=10", "--steps", "2", "--out", str(plain)]) == 0
    capsys.readouterr()
    for args, message in (
        (["analyse", str(plain)], "has no events.csv"),
        (["analyse", str(riot_run), "--by", "legitimacy"], "--by groups the runs of a sweep"),
        (["analyse", str(riot_run), "--metric", "peak_active"], "--metric is for sweep folders"),
        (["analyse", str(riot_run), "--smooth", "-1"], "--smooth"),
    ):
        assert cli.main(args) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


@pytest.fixture(scope="module")
def riot_sweep(tmp_path_factory):
    """A sweep of kpu-riot on the small site that keeps events (2 points x 2 replicates)."""
    tmp = tmp_path_factory.mktemp("riot_sweep")
    spec = riot_sweep_file(tmp, steps=STEPS)
    summary = sweep(spec, tmp / "out")
    assert summary.ok == summary.runs == 4
    return spec, tmp / "out"


def test_a_sweep_keeps_each_runs_events_as_run_out_writes_them(riot_sweep, tmp_path):
    spec, out = riot_sweep
    lines = (out / "events.csv").read_text().splitlines(keepends=True)
    assert lines[0] == "run_id,step,event,x,y,unit,agent,detail\n"
    outcomes = pd.read_csv(out / "outcomes.csv")
    by_run = {}
    for line in lines[1:]:
        run_id, rest = line.split(",", 1)
        by_run.setdefault(run_id, []).append(rest)
    assert list(by_run) == list(outcomes["run_id"])  # in (design point, replicate) order
    for row in outcomes.itertuples():
        single = tmp_path / row.run_id
        args = ["run", "--scenario", "kpu-riot", "--set", f"site={spec.parent / 'map.txt'}", *RIOT_SETS,
                "--set", f"legitimacy={row.legitimacy}", "--steps", str(STEPS), "--seed", str(row.seed),
                "--out", str(single)]
        assert cli.main(args) == 0
        own = (single / "events.csv").read_text().splitlines(keepends=True)
        assert own[0] == ",".join(EVENT_COLUMNS) + "\n"
        assert by_run[row.run_id] == own[1:], row.run_id
    sums = pd.read_csv(out / "checksums.csv")
    assert list(sums.columns) == ["run_id", "rows", "sha256", "event_rows", "event_sha256"]
    assert sums["event_rows"].tolist() == [len(by_run[r]) for r in outcomes["run_id"]]
    assert json.loads((out / "metadata.json").read_text())["record"]["events"] is True


def test_a_sweep_folder_through_analyse_by_a_varied_parameter(riot_sweep, capsys):
    _, out = riot_sweep
    capsys.readouterr()
    assert cli.main(["analyse", str(out), "--by", "legitimacy"]) == 0
    printed = capsys.readouterr().out.split()
    for name in ("summary.csv", "events_by_type.csv", "events_by_run.csv", "figures/hotspots.png",
                 "figures/hotspots_by_legitimacy.png"):
        assert str(out / name) in printed
    per_run = pd.read_csv(out / "events_by_run.csv", dtype={"unit": str}, keep_default_na=False)
    events = pd.read_csv(out / "events.csv", dtype={"unit": str, "detail": str}, keep_default_na=False)
    assert per_run["count"].sum() == len(events)
    table = pd.read_csv(out / "events_by_type.csv", dtype={"unit": str}, keep_default_na=False)
    assert list(table.columns) == ["legitimacy", "event", "unit", "phase", "runs", "mean_per_run", "sd",
                                   "ci_low", "ci_high"]
    # the mean per run, by hand: a run without such an event counts 0
    outcomes = pd.read_csv(out / "outcomes.csv")
    level = outcomes.set_index("run_id")["legitimacy"]
    for row in table.itertuples():
        runs = outcomes.loc[outcomes["legitimacy"] == row.legitimacy, "run_id"]
        counts = [per_run.loc[(per_run["run_id"] == r) & (per_run["event"] == row.event) & (per_run["unit"] == row.unit)
                              & (per_run["phase"] == row.phase), "count"].sum() for r in runs]
        assert row.runs == len(runs) == 2 and row.mean_per_run == pytest.approx(np.mean(counts))
    assert set(level) == set(table["legitimacy"])
    assert cli.main(["analyse", str(out), "--by", "seed"]) == 2
    assert "not a varied parameter" in capsys.readouterr().err
    assert cli.main(["analyse", str(out), "--by", "point"]) == 0
    assert (out / "figures" / "hotspots_by_point.png").is_file()
    by_point = pd.read_csv(out / "events_by_type.csv", dtype={"unit": str}, keep_default_na=False)
    assert set(by_point["point"]) == {0, 1} and (by_point["runs"] == 2).all()


def test_events_need_a_site(tmp_path, capsys):
    spec = tmp_path / "plain.toml"
    for record, message in (
        ("events = true", "[record] events = true needs a site"),
        ('events = "yes"', "[record] events must be true or false"),
    ):
        spec.write_text(f'scenario = "epstein"\nsteps = 3\n[set]\nwidth = 10\nheight = 10\n[record]\n{record}\n')
        assert cli.main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()
    # a site varied to the open grid is refused at that design point
    spec.write_text('scenario = "kpu-riot"\nsteps = 2\n[vary]\nsite = ["kpu", "none"]\n[record]\nevents = true\n')
    assert cli.main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "design point 1 runs on the open grid (site = 'none')" in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_the_aid_post_is_drawn_and_named_in_the_legend(tmp_path):
    """The kpu site's aid post (code P, a block in the yard) is coloured on the maps and named in
    their legend, not left as white ground like the street."""
    from crowd_model.site import load_site, site_layers

    layers = site_layers(load_site("kpu").text)
    assert layers["aid_post"].any()
    picture = spatial.site_picture(layers)  # (height, width, 3)
    white = np.array(matplotlib_rgb(spatial.GROUND))
    aid = picture[layers["aid_post"].T]
    assert not (aid == white).all(axis=1).any()
    assert "aid post" in [label for _, _, label in spatial.site_kinds(layers)]
    events = events_table([(1, "arrest", 20, 20, "phh", 3, "supporter")])
    [svg] = spatial.hotspot_figure([("all runs", events, 1)], layers, layers["yard"].shape, tmp_path / "maps", ["svg"])
    assert "aid post" in svg.read_text()  # matplotlib writes each text drawn as a comment


def test_every_kind_of_cell_the_model_has_is_drawn(tmp_path):
    """Each kind of cell of crowd_model.site is either the white ground or coloured and named;
    a kind the analysis does not know yet is drawn in a colour of its own, named as it is called."""
    from crowd_model.site import KIND_NAMES

    named = {name for name, _, _ in spatial.SITE_COLOURS}
    assert set(KIND_NAMES.values()) - set(spatial.GROUND_KINDS) <= named
    shape = (4, 3)
    layers = {name: np.zeros(shape, bool) for name in ("street", "yard", "helipad")}
    layers["street"][0] = True
    layers["yard"][1] = True
    layers["helipad"][2:] = True
    kinds = spatial.site_kinds(layers)
    assert [(name, label) for name, _, label in kinds] == [("yard", "office yard"), ("helipad", "helipad")]
    picture = spatial.site_picture(layers)
    assert (picture[:, 0] == matplotlib_rgb(spatial.GROUND)).all()
    assert (picture[:, 2] == matplotlib_rgb(kinds[1][1])).all() and (picture[:, 3] == picture[:, 2]).all()


def matplotlib_rgb(colour):
    from matplotlib.colors import to_rgb

    return np.array(to_rgb(colour))
