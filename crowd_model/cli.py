"""The ``crowd-model`` command (also ``python -m crowd_model``).

Bad input (an unknown parameter, a value out of bounds, a malformed file, a size above a
limit, an --out that cannot be written) ends with one line on stderr naming the offending
thing and what is allowed, and exit code 2, before any run starts.

Exit codes: 0 done; 1 a result file could not be written, or every run of a sweep failed;
2 bad input; 3 some runs of a sweep failed (the others' results are stored; --resume runs
the failed ones again); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
import time

import numpy as np

from crowd_model.errors import InputError
from crowd_model.files import WriteError
from crowd_model.limits import BYTES_PER_STEP, MAX_CELLS, MAX_RUNS, MAX_STEPS, MAX_STORED_VALUES, Limits
from crowd_model.parameters import parameter_specs

EXIT_WRITE_ERROR = EXIT_ALL_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_SOME_FAILED = 3
EXIT_CODES = ("exit codes: 0 done; 1 a result file could not be written, or every run of a sweep failed; "
              "2 bad input (nothing was run); 3 some runs of a sweep failed (--resume runs them again); 130 interrupted")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise InputError(f"{self.prog}: {message}")


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="crowd-model", description=__doc__.splitlines()[0], epilog=EXIT_CODES)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    scen = sub.add_parser("scenarios", help="list scenario presets (and, with --parameters, every parameter)")
    scen.add_argument("--parameters", action="store_true", help="also list every parameter with default, bounds and meaning")
    scen.set_defaults(func=cmd_scenarios)

    run = sub.add_parser("run", help="run one simulation")
    run.add_argument("--scenario", default="epstein", help="preset name or path to a scenario .toml (default: epstein)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                     help="override a parameter (repeatable, each parameter once); see 'crowd-model scenarios --parameters'")
    run.add_argument("--steps", type=_non_negative_int,
                     help=f"number of steps (default: the scenario's); a run keeps one row of its time series per "
                          f"step in memory, about {BYTES_PER_STEP / 1000:.1f} KB, so at most --max-steps steps")
    run.add_argument("--seed", type=_non_negative_int, help="random seed (default: the scenario's)")
    run.add_argument("--out", help="also write timeseries.csv, outcomes.csv and metadata.json into this folder "
                                   "(checked before the run; each file written whole or not at all)")
    run.add_argument("--animation", metavar="FILE.gif|FILE.mp4",
                     help="also write the grid, step by step, as an animated GIF or an MP4 (needs the app extra)")
    run.add_argument("--fps", type=_positive_number, default=10.0,
                     help="frames (steps) per second of --animation (default 10, at most 60)")
    run.add_argument("--from-step", type=_non_negative_int, default=0,
                     help="first step drawn in --animation (default 0, the initial state)")
    run.add_argument("--to-step", type=_non_negative_int,
                     help="last step drawn in --animation (default: the run's last)")
    _limit_flags(run, ("max_steps", "max_cells"))
    run.set_defaults(func=cmd_run)

    sweep = sub.add_parser("sweep", help="run an experiment file: many runs, crash-safe results", epilog=EXIT_CODES)
    sweep.add_argument("spec", metavar="SPEC.toml", help="experiment file (see experiments/*.toml)")
    sweep.add_argument("--out", help="result folder (default: results/<experiment name>)")
    _executor_arguments(sweep)
    sweep.add_argument("--resume", action="store_true", help="finish a killed or failed sweep in --out, skipping finished runs")
    sweep.add_argument("--format", choices=("csv", "parquet"), default="csv", help="also write Parquet files at the end (default: csv only)")
    sweep.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    _limit_flags(sweep, ("max_runs", "max_steps", "max_cells", "max_stored_values"))
    sweep.add_argument("--shard", metavar="I/N", help="run only the I-th of N slices of the plan (I = 1..N) into --out; "
                       "'crowd-model merge' joins the N folders")
    sweep.set_defaults(func=cmd_sweep)

    merge = sub.add_parser("merge", help="join the shard folders of one sweep (sweep --shard I/N) into one result folder")
    merge.add_argument("dirs", nargs="+", metavar="DIR", help="the shard folders, all N of them")
    merge.add_argument("--out", required=True, help="result folder to write (must not hold results yet)")
    merge.set_defaults(func=cmd_merge)

    calibrate = sub.add_parser("calibrate", help="fit parameters to target statistics by ABC-SMC (ours, or pyabc's: "
                                                 "method = \"pyabc\"), or by optimisation (method = \"optimise\"); "
                                                 "runs like a sweep's")
    calibrate.add_argument("spec", metavar="SPEC.toml", help="calibration file (see experiments/specs/calibration/)")
    calibrate.add_argument("--out", help="result folder (default: results/<calibration name>)")
    _executor_arguments(calibrate)
    calibrate.set_defaults(func=cmd_calibrate)

    validate = sub.add_parser("validate", help="run the cases of a validation file over paired seeds and tabulate "
                                               "each contrast with its 95%% confidence interval")
    validate.add_argument("spec", metavar="FILE.toml", help="validation file (see experiments/specs/validation/)")
    validate.add_argument("--out", default="results/validation", help="result folder (default: results/validation)")
    validate.add_argument("--replications", type=int, default=None, help="override the file's replications")
    validate.add_argument("--steps", type=int, default=None, help="override the file's steps")
    validate.add_argument("--resume", action="store_true", help="finish the cases' sweeps in --out")
    _executor_arguments(validate)
    validate.set_defaults(func=cmd_validate)

    analyse = sub.add_parser("analyse", help="summaries, sensitivity indices and figures from a sweep's result folder; "
                                             "events by type and hotspot maps from a run's or a sweep's events")
    analyse.add_argument("dir", metavar="DIR", help="a folder written by 'crowd-model sweep' or 'crowd-model run --out'")
    analyse.add_argument("--metric", action="append", default=None, help="outcome to analyse (repeatable; default: the main outcomes present)")
    analyse.add_argument("--figure-format", action="append", choices=("png", "svg"), default=None, help="figure file type (repeatable; default: png)")
    analyse.add_argument("--by", metavar="PARAMETER", help="also draw the hotspot maps and count the events per value of this "
                                                         "varied parameter, or per design point ('point'); a sweep that "
                                                         "kept events; at most 8 values")
    analyse.add_argument("--smooth", type=_non_negative_number, default=None, metavar="CELLS",
                         help="smooth the hotspot maps with a Gaussian of this many cells (default 1; 0: raw counts per cell)")
    analyse.set_defaults(func=cmd_analyse)

    discover = sub.add_parser("discover", help="scenario discovery: PRIM boxes of the parameters under which an outcome "
                                               "condition holds, from a sweep's result folder (best an lhs design)")
    discover.add_argument("dir", metavar="DIR", help="a folder written by 'crowd-model sweep'")
    discover.add_argument("--outcome", required=True, help="the outcome column, e.g. gate_breached")
    discover.add_argument("--where", required=True, metavar="CONDITION",
                          help='which runs are of interest: a comparison with a number, e.g. "== 1" or "> 100"')
    discover.add_argument("--out", help="folder for the files (default: DIR)")
    discover.add_argument("--min-coverage", type=float, default=0.8, metavar="SHARE",
                          help="pick on each box's peeling trajectory the densest box that keeps at least this share "
                               "of the cases of interest it started with (default 0.8; lower it for smaller, denser boxes)")
    discover.add_argument("--max-boxes", type=_positive_int, default=3, metavar="N", help="find at most N boxes (default 3)")
    discover.add_argument("--figure-format", action="append", choices=("png", "svg"), default=None,
                          help="figure file type (repeatable; default: png)")
    discover.set_defaults(func=cmd_discover)

    compile_ = sub.add_parser("compile", help="compile the model's kernels into numba's cache (set-up does it; "
                              "otherwise the first run after installing or changing the code compiles them)")
    compile_.set_defaults(func=cmd_compile)

    app = sub.add_parser("app", help="start the Solara app (live view) in this machine's browser")
    app.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    app.add_argument("--port", type=_non_negative_int, help="port (default: Solara's, 8765; 0 picks a free one)")
    app.set_defaults(func=cmd_app)
    return parser


def _executor_arguments(parser) -> None:
    """Where the runs happen: ``--workers`` or ``--scheduler`` (sweep, calibrate)."""
    parser.add_argument("--workers", type=_positive_int, help="local worker processes (default: the number of cores; 1 runs in this process)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run on a dask cluster at this scheduler address (needs the distributed extra)")


_LIMIT_HELP = {
    "max_runs": f"refuse a sweep of more runs than this (default {MAX_RUNS:,})",
    "max_steps": f"refuse runs of more steps than this (default {MAX_STEPS:,})",
    "max_cells": f"refuse grids of more cells, width x height, than this (default {MAX_CELLS:,})",
    "max_stored_values": f"refuse a sweep whose timeseries.csv would hold more values than this (default {MAX_STORED_VALUES:,})",
}


def _limit_flags(parser: argparse.ArgumentParser, names: tuple[str, ...]) -> None:
    """``--max-runs N`` and the like: raise a size limit of crowd_model/limits.py."""
    for name in names:
        parser.add_argument("--" + name.replace("_", "-"), dest=name, type=_positive_int, metavar="N",
                            help=_LIMIT_HELP[name])


def _limits(args) -> dict:
    """The limits raised on the command line (``--max-runs`` ...), by name."""
    return {name: getattr(args, name) for name in _LIMIT_HELP if getattr(args, name, None) is not None}


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _non_negative_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def cmd_scenarios(args) -> int:
    from crowd_model.scenario import load_scenario, preset_names

    for name in preset_names():
        sc = load_scenario(name)
        print(f"{name:<16} {sc.description}")
    if args.parameters:
        print()
        print(f"{'parameter':<22} {'default':>9} {'allowed':<34} {'unit':<10} meaning")
        for s in parameter_specs():
            sched = " (schedulable)" if s.schedulable else ""
            print(f"{s.name:<22} {str(s.default):>9} {s.describe_allowed():<34} {s.unit:<10} {s.help}{sched}")
    return 0


@contextlib.contextmanager
def _collector_paused():
    """Python's cyclic garbage collector paused: imports allocate some hundreds of thousands
    of objects that live as long as the process (modules, classes, numba's types), and the
    collector's automatic passes over them are about a tenth of a start. It finds what little
    garbage the imports leave at its next pass."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def cmd_run(args) -> int:
    from contextlib import nullcontext

    with _collector_paused():
        # Not Mesa yet, and the second process of a cold start started before the scenario is read: sooner.
        from crowd_model.ahead import compiling_ahead, start_compiling_ahead
        from crowd_model.files import FolderLock, prepare_out_dir
        from crowd_model.limits import check_run
        from crowd_model.scenario import load_scenario

        start_compiling_ahead()
        scenario = load_scenario(args.scenario)
    parameters = scenario.parameters.with_overrides(args.overrides)
    steps = scenario.steps if args.steps is None else args.steps
    seed = scenario.seed if args.seed is None else args.seed
    check_run(steps, parameters.width, parameters.height, Limits().raised(**_limits(args)))
    animation = _animation_plan(args, steps, parameters.width * parameters.height)
    out = prepare_out_dir(args.out) if args.out else None
    started = time.perf_counter()
    with FolderLock(out) if out else nullcontext(), compiling_ahead(parameters):
        with _collector_paused():
            from crowd_model.runner import simulate, write_run

        codes: dict[int, np.ndarray] = {}

        def keep_frame(model):
            if animation and animation["first"] <= int(model.time) <= animation["last"]:
                codes[int(model.time)] = model.cell_categories()

        result = simulate(parameters, steps=steps, seed=seed, scenario=scenario.name, observe=keep_frame)
        elapsed = time.perf_counter() - started
        print(summary(result, elapsed))
        if out:
            write_run(result, out)
            names = ["timeseries.csv", "outcomes.csv", "metadata.json"] + (["events.csv"] if result.events is not None else [])
            print("\nwrote " + ", ".join(str(out / name) for name in names))
        if animation:
            _write_animation(animation, codes)
    return 0


# Category maps kept in memory for --animation (one byte a cell a step) at most.
MAX_ANIMATION_BYTES = 500_000_000


def _animation_plan(args, steps: int, cells: int) -> dict | None:
    """What --animation asks for, checked before the run (one line and exit 2 when wrong)."""
    given = [f"--{n.replace('_', '-')}" for n in ("fps", "from_step", "to_step")
             if getattr(args, n) != {"fps": 10.0, "from_step": 0, "to_step": None}[n]]
    if not args.animation:
        if given:
            raise InputError(f"{', '.join(given)} only go with --animation FILE.gif|FILE.mp4")
        return None
    from crowd_model.animation import MAX_FPS, animation_format  # imports the model, and Mesa

    fmt = animation_format(args.animation)
    if args.fps > MAX_FPS:
        raise InputError(f"--fps {args.fps:g} is not allowed; expected a number in (0, {MAX_FPS}]")
    last = steps if args.to_step is None else args.to_step
    if last > steps:
        raise InputError(f"--to-step {last} is beyond the run's {steps} steps")
    if args.from_step > last:
        raise InputError(f"--from-step {args.from_step} is after --to-step {last}")
    frames = last - args.from_step + 1
    if frames * cells > MAX_ANIMATION_BYTES:
        raise InputError(f"--animation of {frames:,} steps of {cells:,} cells needs more than "
                         f"{MAX_ANIMATION_BYTES // 1_000_000} MB; draw fewer steps (--from-step, --to-step)")
    from pathlib import Path

    target = Path(args.animation)
    if not target.parent.is_dir():
        raise InputError(f"--animation {args.animation!r}: folder {str(target.parent)!r} does not exist")
    return {"path": target, "format": fmt, "fps": args.fps, "first": args.from_step, "last": last}


def _write_animation(plan: dict, codes: dict) -> None:
    from crowd_model.animation import encode, frame
    from crowd_model.files import write_atomic

    steps = sorted(codes)
    data = encode((frame(codes[s], s) for s in steps), plan["format"], plan["fps"])
    write_atomic(plan["path"], data)
    print(f"wrote {plan['path']} ({len(steps)} frames, steps {steps[0]}-{steps[-1]}, {plan['fps']:g} fps)")


def cmd_sweep(args) -> int:
    from pathlib import Path

    from crowd_model.experiments.executors import make_executor
    from crowd_model.files import prepare_out_dir
    from crowd_model.experiments.spec import load_experiment
    from crowd_model.experiments.sweep import parse_shard, run_sweep

    if args.scheduler and args.workers:
        raise InputError("use --workers or --scheduler, not both")
    shard = parse_shard(args.shard) if args.shard else None
    experiment = load_experiment(args.spec, limits=_limits(args))
    out = prepare_out_dir(Path(args.out) if args.out else Path("results") / experiment.name, create=False)
    if experiment.design == "sobol":
        from crowd_model.analysis.sensitivity import small_design_note
        from crowd_model.experiments.plan import make_plan

        note = small_design_note(make_plan(experiment).design, experiment.varied_names)
        if note:
            print(f"crowd-model: warning: {note}", file=sys.stderr)
    with make_executor(args.workers, args.scheduler) as (executor, label, in_flight):
        done = run_sweep(experiment, out, executor, in_flight=in_flight, resume=args.resume,
                         fmt=args.format, progress=not args.no_progress, executor_label=label, shard=shard)
    print(f"{done.ok} of {done.runs} runs ok ({done.resumed} already done, {done.failed} failed) "
          f"in {done.seconds:.1f} s on {label} ({done.compute_seconds:.1f} s of run time); results in {out}")
    if done.failed:
        every = done.failed == done.runs
        print(f"crowd-model: {'every run' if every else 'some runs'} failed: {done.failed} of {done.runs}; "
              f"first error: {done.first_error}; see the status and error columns of {out / 'outcomes.csv'}; "
              f"--resume runs them again", file=sys.stderr)
        return EXIT_ALL_FAILED if every else EXIT_SOME_FAILED
    return 0


def cmd_merge(args) -> int:
    from crowd_model.experiments.merge import merge_shards

    meta = merge_shards(args.dirs, args.out)
    print(f"merged {len(args.dirs)} shards: {meta['runs_ok']} of {meta['runs']} runs ok, "
          f"{meta['runs_failed']} failed; results in {args.out}")
    return 0


def cmd_calibrate(args) -> int:
    from pathlib import Path

    import pandas as pd

    from crowd_model.analysis.figures import optimisation, posterior
    from crowd_model.experiments.calibrate import ABC_METHODS, RESULT_FILES, calibrate, load_calibration
    from crowd_model.experiments.executors import make_executor

    if args.scheduler and args.workers:
        raise InputError("use --workers or --scheduler, not both")
    cal = load_calibration(args.spec)
    out = Path(args.out) if args.out else Path("results") / cal.name
    with make_executor(args.workers, args.scheduler) as (executor, label, in_flight):
        meta = calibrate(cal, out, executor, progress=lambda line: print(line, file=sys.stderr), in_flight=in_flight)
    if cal.method in ABC_METHODS:
        figure = posterior(pd.read_csv(out / "particles.csv"), list(cal.fit), cal.fit, cal.truth,
                           out / "posterior", ["png"], by_pyabc=cal.method == "pyabc")
        summary = pd.read_csv(out / "posterior_summary.csv")
        print(f"{meta['simulations']} runs on {label}{' by pyabc' if cal.method == 'pyabc' else ''}; "
              f"posterior of {len(summary)} parameter(s), "
              f"mean [95% credible interval]:")
        for row in summary.itertuples():
            print(f"  {row.parameter:<22} {row.mean:.4g} [{row.ci_low:.4g}, {row.ci_high:.4g}]{_truth(row.truth)}")
        if meta.get("stopped"):
            print(f"crowd-model: warning: {meta['stopped']}", file=sys.stderr)
    else:
        figure = optimisation(pd.read_csv(out / "evaluations.csv"), list(cal.fit), cal.fit, cal.truth,
                              out / "optimisation", ["png"])
        optimum = pd.read_csv(out / "optimum.csv")
        ended = "converged" if meta["converged"] else f"stopped ({meta['message'].rstrip('.').lower()})"
        print(f"{meta['simulations']} runs on {label}; differential evolution {ended} after {meta['rounds']} rounds; "
              f"best fit (distance {meta['distance']:.4g}):")
        for row in optimum[optimum["kind"] == "parameter"].itertuples():
            print(f"  {row.name:<22} {row.value:.4g}{_truth(row.truth)}")
    for name in RESULT_FILES[cal.method]:
        print(f"wrote {out / name}")
    print(f"wrote {figure[0]}")
    return 0


def _truth(value) -> str:
    return "" if value is None or value != value else f"   (true {value:g})"


def cmd_validate(args) -> int:
    from pathlib import Path

    from crowd_model.analysis.contrasts import contrast_figure, contrast_table, markdown
    from crowd_model.experiments.executors import make_executor
    from crowd_model.experiments.validate_response import load_validation, run_cases

    if args.scheduler and args.workers:
        raise InputError("use --workers or --scheduler, not both")
    for name in ("replications", "steps"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise InputError(f"--{name} must be at least 1")
    spec = load_validation(args.spec, args.replications, args.steps)
    out = Path(args.out)
    with make_executor(args.workers, args.scheduler) as (executor, label, in_flight):
        outcomes = run_cases(spec, out, executor, in_flight, label, args.resume)
    table = contrast_table(outcomes, spec["contrasts"], spec["outcomes"])
    table.to_csv(out / "contrasts.csv", index=False)
    (out / "contrasts.md").write_text(markdown(table) + "\n")
    contrast_figure(table, out / "contrasts.png")
    print(markdown(table))
    for name in ("contrasts.csv", "contrasts.md", "contrasts.png"):
        print(f"wrote {out / name}")
    return 0


def cmd_analyse(args) -> int:
    from pathlib import Path

    from crowd_model.analysis.report import analyse
    from crowd_model.analysis.spatial import SMOOTHING
    from crowd_model.files import FolderLock
    from crowd_model.site import site_layers
    from crowd_model.world import SITUATION_NAMES

    folder = Path(args.dir)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder written by 'crowd-model sweep' or 'crowd-model run --out'")
    with FolderLock(folder):  # analyse writes summary.csv and figures/ there: not while a sweep runs
        # The analysis reads result files only; the site's legend and the situation a run
        # starts in (the response array starts at 0) come from the model.
        for path in analyse(folder, metrics=args.metric, figure_formats=args.figure_format or ["png"],
                            site_layers=site_layers, initial_situation=SITUATION_NAMES[0], by=args.by,
                            smooth=SMOOTHING if args.smooth is None else args.smooth):
            print(f"wrote {path}")
    return 0


def cmd_discover(args) -> int:
    from pathlib import Path

    from crowd_model.analysis.discovery import describe, discover, write
    from crowd_model.files import FolderLock, prepare_out_dir

    folder = Path(args.dir)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder written by 'crowd-model sweep'")
    found = discover(folder, args.outcome, args.where, min_coverage=args.min_coverage, max_boxes=args.max_boxes)
    out = prepare_out_dir(args.out) if args.out else folder
    with FolderLock(out):  # not while a sweep writes there
        written = write(found, out, args.figure_format or ["png"])
    print("\n".join(describe(found)))
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_compile(args) -> int:
    from crowd_model.runner import compile_kernels

    started = time.perf_counter()
    compile_kernels()
    print(f"kernels compiled and cached in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_app(args) -> int:
    """Become ``solara run app.py`` (exec), so that signals reach the server itself."""
    import importlib.util
    import os
    from pathlib import Path

    app = Path(__file__).resolve().parent.parent / "app.py"
    if not app.is_file():
        raise InputError(f"{app} not found: the app runs from a source checkout of crowd-model")
    if importlib.util.find_spec("solara") is None:
        raise InputError("the app needs Solara: install the 'app' extra (scripts/bootstrap.sh app)")
    if not _is_loopback(args.host):
        print(f"crowd-model: warning: the app on {args.host} has no authentication: anyone who can reach "
              "it can run models and sweeps on this machine's CPU", file=sys.stderr)
    command = [sys.executable, "-m", "solara", "run", str(app), "--host", args.host,
               "--no-open", "--production", "--no-check-version"]
    if args.port is not None:
        command += ["--port", str(args.port)]
    # no "This website runs on Solara" corner: on a projector it covered the legend's last column
    os.environ.setdefault("SOLARA_THEME_SHOW_BANNER", "False")
    sys.stdout.flush()
    os.execv(sys.executable, command)


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sparkline(values, width: int = 60) -> str:
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return ""
    chunks = np.array_split(values, min(width, len(values)))
    peaks = np.array([c.max() for c in chunks])
    top = peaks.max()
    bars = "▁▂▃▄▅▆▇█"
    if top <= 0:
        return bars[0] * len(peaks)
    return "".join(bars[min(len(bars) - 1, int(v / top * (len(bars) - 1) + 0.5))] for v in peaks)


def summary(result, elapsed: float) -> str:
    ts = result.timeseries
    lines = [
        f"scenario {result.scenario}: seed {result.seed}, {result.steps} steps, "
        f"{result.outcomes['civilians']} civilians, {int(ts['officers'].iloc[0])} officers "
        f"({elapsed:.2f} s)",
        f"active civilians over time (peak {result.outcomes['peak_active']}):",
        "  " + sparkline(ts["active"]),
    ]
    if result.outcomes["peak_violent"] > 0:
        lines += [f"violent civilians over time (peak {result.outcomes['peak_violent']}):", "  " + sparkline(ts["violent"])]
    lines.append("")
    width = max(len(k) for k in result.outcomes)
    for key, value in result.outcomes.items():
        shown = "" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))
        lines.append(f"  {key:<{width}}  {shown}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except InputError as exc:
        print(f"crowd-model: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except WriteError as exc:
        print(f"crowd-model: error: {_one_line(exc.strerror or exc)}", file=sys.stderr)
        return EXIT_WRITE_ERROR
    except KeyboardInterrupt:
        print("crowd-model: interrupted", file=sys.stderr)
        return 130


def console() -> None:
    """The ``crowd-model`` command (and ``python -m crowd_model``): :func:`main`, and exit
    without the garbage collector's last pass over every object (``gc.freeze``): that pass
    takes 0.3-0.8 s of a short run here, and what it would free dies with the process.
    Files are closed by then (results are written and closed as they finish)."""
    code = main()
    gc.freeze()
    sys.exit(code)


def _one_line(message) -> str:
    return " ".join(str(message).split())


if __name__ == "__main__":
    console()
