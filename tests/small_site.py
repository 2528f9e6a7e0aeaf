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
