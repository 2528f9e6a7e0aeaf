"""A small site map for tests: office and yard at the top, fence and gate, the street with
the cordon line and a water-cannon truck, the assembly area and exits at the bottom."""

SITE = """\
SSSSSSSSSS
####GG####
....W.....
CCCCCCCCCC
..........
EAAAAAAAAE
EAAAAAAAAE
EEEEEEEEEE
"""
#: ``--set`` arguments that fit a crowd and officers on it.
SITE_SETS = ["--set", "width=10", "--set", "height=8", "--set", "torus=false", "--set", "crowd_size=12",
             "--set", "police_officers=6", "--set", "tni_soldiers=0", "--set", "linmas_guards=0"]

#: ``--set`` arguments that make the kpu-riot scenario riot on :data:`SITE` within a few steps
#: (add a low legitimacy): a share of provocateurs, and a commander who sees yellow and red early.
RIOT_SETS = [*(a.replace("crowd_size=12", "crowd_size=14") for a in SITE_SETS), "--set", "provocateur_share=0.15",
             "--set", "yellow_engaged=3", "--set", "red_violent=1"]

RIOT_SWEEP = """\
scenario = "kpu-riot"
steps = {steps}
replications = {replications}
seed = 5
design = "grid"
[set]
site = "{site}"
width = 10
height = 8
torus = false
crowd_size = 14
police_officers = 6
tni_soldiers = 0
linmas_guards = 0
provocateur_share = 0.15
yellow_engaged = 3
red_violent = 1
[vary]
legitimacy = [0.2, 0.5]
[record]
metrics = ["active", "violent", "situation"]
events = true
"""


def riot_sweep_file(folder, steps: int = 30, replications: int = 2, name: str = "riot"):
    """An experiment file of kpu-riot on :data:`SITE` (written next to it) that keeps events:
    2 legitimacy values x ``replications`` runs."""
    from pathlib import Path

    folder = Path(folder)
    (folder / "map.txt").write_text(SITE)
    path = folder / f"{name}.toml"
    path.write_text(RIOT_SWEEP.format(steps=steps, replications=replications, site=folder / "map.txt"))
    return path
