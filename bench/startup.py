"""Start-up benchmark of tortoise_march_ext: what the drift check and ``ensure_migrated`` cost.

For each size (``--sizes 50,200,1000``) the synthetic project of ``bench/scale.py`` is generated
(same generator, same seed, imported from that script) and set up twice, once per migration
history that leads to the final models:

* history 1: one ``makemigrations`` from scratch;
* history 300: the 300-migration history of ``bench/scale.py`` (built by its child process, or
  copied from ``--history-cache DIR``, the same folder and keys as ``scale.py --history-cache``).

Each history lives in its own project root: the model package ``synth/``, ``migrations/synth/``,
and a ``pyproject.toml`` whose ``[tool.tortoise_march_ext]`` sets ``location = "migrations"``.
One database per history is migrated (checked: 1 and 300 steps), and every run uses it.

Rows, each timed in a fresh subprocess whose working directory is the project root (so the
drift check finds the pyproject.toml), with ``march.install()`` called before the timer:

* ``Tortoise.init`` alone: inside ``drift_check_suppressed()``, so the wrapper skips the check;
* ``Tortoise.init`` + drift check, warm cache: ``<location>/.march_cache/history.json`` is
  present and current (checked: the run must not rewrite it);
* ``Tortoise.init`` + drift check, cold cache: the cache folder is deleted before the run
  (checked: the run must write it);
* ``ensure_migrated()`` with nothing pending: Tortoise is initialised before the timer, the timer
  covers the call alone (its config comes from the pyproject.toml; it opens the lazy connection,
  so connecting is inside). Statements are counted by wrapping ``execute_query``,
  ``execute_script`` and ``execute_query_dict`` on the connection's client instance.

As in ``scale.py`` the timer starts after interpreter start-up and after ``tortoise``, its backend
and ``tortoise_march_ext`` are imported; importing the model modules (done by ``Tortoise.init``)
is timed on both sides of the ratio. Unlike ``scale.py`` the timer stops when ``Tortoise.init``
returns: closing connections is not part of start-up. Every drift run must run the check exactly
once and report no drift; ``init alone`` must run it zero times. Cells are medians; the rows of
one round run back to back, which also gives a median of per-round ratios.

If the warm-cache ratio misses its target for the largest size (or with ``--profile always``),
the drift check (``_after_init``, warm cache) is profiled with cProfile in a fresh process and the
top functions by cumulative time are printed.

Run ``python bench/startup.py --help`` for the options. It is a benchmark: a missed target prints
FAIL but never makes the exit status non-zero (a measurement that errors does).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale  # noqa: E402

SCRIPT = Path(__file__).resolve()
HISTORIES = (1, scale.HISTORY)
WARM_TARGET = 1.10
QUERY_TARGET = 2
CACHE_DIR = ".march_cache"  # runtime/cache.py: CACHE_DIR / CACHE_FILE under the location
CACHE_FILE = "history.json"
COUNTED = ("execute_query", "execute_script", "execute_query_dict")
# Environment variables that would change what the drift check does; children run without them.
ENV_DROPPED = ("TORTOISE_MARCH_CONFIG", "TORTOISE_MARCH_ON_DRIFT")
PYPROJECT = """\
[project]
name = "synth-startup-bench"
version = "0"

[tool.tortoise_march_ext]
location = "migrations"
"""

# (key, label) of each timed row, in print order.
ROWS: list[tuple[str, str]] = [
    ("init", "Tortoise.init alone (drift check suppressed)"),
    ("warm", "Tortoise.init + drift check, warm cache"),
    ("cold", "Tortoise.init + drift check, cold cache"),
    ("ensure", "ensure_migrated(), nothing pending"),
]


BenchError = scale.BenchError


# -- child processes --------------------------------------------------------------------------
def _counting(original: Callable[..., Awaitable[Any]], log: list[str]) -> Callable[..., Any]:
    async def counted(query: str, *args: Any, **kwargs: Any) -> Any:
        log.append(" ".join(str(query).split()))
        return await original(query, *args, **kwargs)

    return counted


def _short_path(path: str) -> str:
    for marker in ("site-packages/", "/tortoise_march_ext/"):
        if marker in path:
            tail = path.rsplit(marker, 1)[1]
            return tail if marker == "site-packages/" else f"tortoise_march_ext/{tail}"
    return path


def _hot_spots(profile: cProfile.Profile, top: int) -> dict[str, Any]:
    """Return the top functions by cumulative and by own time, as rows of plain values."""
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    raw = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    rows = []
    for (path, line, name), (prim, calls, own, cum, _callers) in raw.items():
        where = "built-in" if path == "~" else f"{_short_path(path)}:{line}"
        label = name if path == "~" else f"{name} ({where})"
        ncalls = str(calls) if prim == calls else f"{calls}/{prim}"
        rows.append({"function": label, "ncalls": ncalls, "tottime": own, "cumtime": cum})
    total = max((r["cumtime"] for r in rows), default=0.0)
    by_cum = sorted(rows, key=lambda r: r["cumtime"], reverse=True)[:top]
    by_own = sorted(rows, key=lambda r: r["tottime"], reverse=True)[: max(top // 2, 5)]
    return {"total": total, "by_cumtime": by_cum, "by_tottime": by_own}


async def _timed(job: dict[str, Any]) -> dict[str, Any]:
    from tortoise import Tortoise
    from tortoise.connection import get_connection

    import tortoise_march_ext as march
    from tortoise_march_ext.exceptions import MarchDriftWarning
    from tortoise_march_ext.project import drift_check_suppressed
    from tortoise_march_ext.runtime import drift

    op: str = job["op"]
    config = scale.tortoise_config(job["db_url"], job["modules"])
    cache = Path(job["location"]) / CACHE_DIR / CACHE_FILE
    before = cache.stat().st_mtime_ns if cache.exists() else None
    if op in ("warm", "profile") and before is None:
        raise BenchError(f"{op}: the cache file {cache} is missing before the run")
    if op == "cold" and before is not None:
        raise BenchError(f"cold: the cache file {cache} exists before the run")

    checks = [0]
    after_init = drift._after_init

    async def counted_check() -> None:
        checks[0] += 1
        await after_init()

    setattr(drift, "_after_init", counted_check)  # noqa: B010
    march.install()
    info: dict[str, Any] = {}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MarchDriftWarning)
            if op == "init":
                start = time.perf_counter()
                with drift_check_suppressed():
                    await Tortoise.init(config=config)
                info["seconds"] = time.perf_counter() - start
            elif op in ("warm", "cold"):
                start = time.perf_counter()
                await Tortoise.init(config=config)
                info["seconds"] = time.perf_counter() - start
            elif op == "ensure":
                with drift_check_suppressed():
                    await Tortoise.init(config=config)
                client = get_connection("default")
                statements: list[str] = []
                for name in COUNTED:
                    setattr(client, name, _counting(getattr(client, name), statements))
                start = time.perf_counter()
                report = await march.ensure_migrated()
                info["seconds"] = time.perf_counter() - start
                if report.applied or report.pending:
                    raise BenchError(f"ensure_migrated was not a no-op: {report}")
                if not statements:
                    raise BenchError("ensure_migrated: no statement was counted")
                info["queries"] = len(statements)
                info["statements"] = statements
            elif op == "profile":
                with drift_check_suppressed():
                    await Tortoise.init(config=config)
                profile = cProfile.Profile()
                start = time.perf_counter()
                profile.enable()
                await after_init()
                profile.disable()
                checks[0] += 1
                info["seconds"] = time.perf_counter() - start
                info["profile"] = _hot_spots(profile, job.get("top", 25))
            else:
                raise BenchError(f"unknown op {op!r}")
        drifted = [str(w.message) for w in caught if issubclass(w.category, MarchDriftWarning)]
        if drifted:
            raise BenchError(f"{op}: drift warning: {drifted[0]}")
    finally:
        await Tortoise.close_connections()
        await Tortoise._reset_apps()
    expected = 0 if op in ("init", "ensure") else 1
    if checks[0] != expected:
        raise BenchError(f"{op}: the drift check ran {checks[0]} time(s), expected {expected}")
    after = cache.stat().st_mtime_ns if cache.exists() else None
    if op == "cold" and after is None:
        raise BenchError("cold: the drift check did not write the cache")
    if op in ("warm", "profile") and after != before:
        raise BenchError(f"{op}: the cache was rewritten, so it was not current")
    return info


def child_main(raw: str) -> int:
    """Run one job described by the JSON ``raw``; print its result as JSON on stdout."""
    job = json.loads(raw)
    sys.path.insert(0, job["root"])
    scale._preimport(job["db_url"])
    import tortoise.connection  # noqa: F401

    import tortoise_march_ext
    import tortoise_march_ext.runtime.cache  # noqa: F401
    import tortoise_march_ext.runtime.drift  # noqa: F401
    import tortoise_march_ext.runtime.ensure  # noqa: F401

    result = asyncio.run(_timed(job))
    result["package"] = str(Path(tortoise_march_ext.__file__).resolve().parent)
    print("RESULT " + json.dumps(result))
    return 0


# -- parent ----------------------------------------------------------------------------------
def run_child(job: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one job of this script in a fresh interpreter, in the project root; return its result."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROPPED}
    return scale.run_child(job, timeout, script=SCRIPT, env=env)


@dataclass
class Cell:
    """Everything measured for one size and one history."""

    size: int
    history: int
    rounds: list[dict[str, float]] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    profile: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        """Return the column header."""
        return f"{self.size} models, history {self.history}"

    def values(self, key: str) -> list[float]:
        """Return every time of a row."""
        return [r[key] for r in self.rounds if key in r]

    def median(self, key: str) -> float | None:
        """Return the median of a row, or None if it was not measured."""
        values = self.values(key)
        return statistics.median(values) if values else None

    def paired_ratio(self, num: str, den: str) -> float | None:
        """Return the median of the per-round ratios ``num / den``."""
        ratios = [r[num] / r[den] for r in self.rounds if num in r and den in r and r[den] > 0]
        return statistics.median(ratios) if ratios else None


@dataclass
class SizeRun:
    """The cells of one model count, and how its histories were made."""

    size: int
    repeat: int
    cells: list[Cell]
    notes: list[str] = field(default_factory=list)


def _expect(info: dict[str, Any], key: str, wanted: int, what: str) -> None:
    if info.get(key) != wanted:
        raise BenchError(f"{what}: expected {key}={wanted}, got {info.get(key)}")


def _ratio(cell: Cell) -> float | None:
    warm, init = cell.median("warm"), cell.median("init")
    return None if warm is None or init is None or init <= 0 else warm / init


def measure_size(size: int, args: argparse.Namespace, tmp: Path, largest: bool) -> SizeRun:
    """Generate the project of ``size`` models, set up both histories and time every row."""
    cells = [Cell(size, h) for h in HISTORIES]
    run = SizeRun(size, args.repeat, cells)
    base = tmp / f"n{size}"
    src, build = base / "src", base / "build"
    dbs = scale.Databases(args.backend, args.pg_dsn, base)
    plan = scale.make_plan(size, args.seed)
    modules = scale.write_models(src, plan, size, plan.extras)
    build.mkdir(parents=True, exist_ok=True)
    timeout: float = args.timeout
    roots = {h: base / f"h{h}" for h in HISTORIES}
    urls: dict[int, str] = {}

    def job(op: str, history: int, **extra: Any) -> dict[str, Any]:
        root = roots[history]
        return {
            "op": op,
            "root": str(root),
            "location": str(root / "migrations"),
            "db_url": urls.get(history, "sqlite://:memory:"),
            "modules": modules,
            **extra,
        }

    def drop_cache(history: int) -> None:
        shutil.rmtree(roots[history] / "migrations" / CACHE_DIR, ignore_errors=True)

    say = f"[{size} models]"
    print(f"\n{say} {len(modules)} model modules; setting up histories ...", flush=True)
    try:
        for root in roots.values():
            scale.write_models(root, plan, size, plan.extras)
            (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
        began = time.perf_counter()
        info = scale.run_child(job("makemigrations", 1), timeout)
        _expect(info, "written", 1, "makemigrations from scratch (history 1)")
        if not Path(info["package"]).resolve().is_relative_to(args.package.resolve()):
            raise BenchError(f"children import {info['package']}, not {args.package}")
        run.notes.append(f"history 1 written in {time.perf_counter() - began:.1f} s")
        print(f"{say} history 1: {run.notes[-1].split(' ', 2)[2]}", flush=True)
        print(f"{say} history {scale.HISTORY}: building or copying (can take minutes) ...")
        sys.stdout.flush()
        note = scale.build_history(
            size, args, build, src, roots[scale.HISTORY] / "migrations", timeout
        )
        run.notes.append(f"history {scale.HISTORY} {note}")
        print(f"{say} history {scale.HISTORY}: {note}", flush=True)
        for history in HISTORIES:
            urls[history] = dbs.fresh()
            began = time.perf_counter()
            info = scale.run_child(job("migrate", history), timeout)
            _expect(info, "steps", history, f"migrate from zero (history {history})")
            drop_cache(history)
            run_child(job("cold", history), timeout)  # warm-up: writes the cache, checks no drift
            print(
                f"{say} history {history}: database migrated and cache written in "
                f"{time.perf_counter() - began:.1f} s",
                flush=True,
            )

        for number in range(args.repeat):
            # Interleaved: one run of every row per round, so machine noise spreads evenly.
            print(f"{say} round {number + 1}/{args.repeat}", flush=True)
            for cell in cells:
                times: dict[str, float] = {}
                cell.rounds.append(times)
                for key, _label in ROWS:
                    if key == "cold":
                        drop_cache(cell.history)
                    try:
                        info = run_child(job(key, cell.history), timeout)
                    except (BenchError, subprocess.TimeoutExpired) as exc:
                        cell.errors.setdefault(key, str(exc))
                        continue
                    times[key] = float(info["seconds"])
                    if key == "ensure":
                        cell.queries.append(int(info["queries"]))
                        cell.statements = list(info["statements"])
        if largest and args.profile != "never":
            for cell in cells:
                ratio = _ratio(cell)
                if args.profile == "always" or (ratio is not None and ratio > WARM_TARGET):
                    print(f"{say} profiling the drift check (history {cell.history}) ...")
                    sys.stdout.flush()
                    try:
                        info = run_child(job("profile", cell.history, top=args.top), timeout)
                        cell.profile = info["profile"]
                    except (BenchError, subprocess.TimeoutExpired) as exc:
                        cell.errors.setdefault("profile", str(exc))
    except (BenchError, OSError, subprocess.TimeoutExpired) as exc:
        cells[0].errors.setdefault("setup", str(exc))
    finally:
        dbs.cleanup()
    return run


def _fmt(value: float | None, digits: int = 3) -> str:
    return "error" if value is None else f"{value:.{digits}f}"


def render(runs: list[SizeRun]) -> str:
    """Return the Markdown report: medians, drift check cost, ratios against targets, queries."""
    cells = [c for r in runs for c in r.cells]
    header = " | ".join(c.label for c in cells)
    rule = "|---|" + "---:|" * len(cells)

    def line(label: str, values: list[str]) -> str:
        return "| " + " | ".join([label, *values]) + " |"

    out = [f"| measurement (median seconds) | {header} |", rule]
    for key, label in ROWS:
        out.append(line(label, [_fmt(c.median(key)) for c in cells]))
    for key, label in (("warm", "warm cache"), ("cold", "cold cache")):

        def cost(c: Cell, key: str = key) -> str:
            top, bottom = c.median(key), c.median("init")
            return _fmt(None if top is None or bottom is None else top - bottom)

        out.append(
            line(f"drift check cost, {label} (difference of medians)", list(map(cost, cells)))
        )

    out += ["", f"| ratio / count (target) | {header} |", rule]
    warm = []
    for c in cells:
        ratio = _ratio(c)
        verdict = "" if ratio is None else (" PASS" if ratio <= WARM_TARGET else " FAIL")
        warm.append("n/a" if ratio is None else f"{ratio:.3f}{verdict}")
    out.append(line(f"init + drift check (warm) / init alone (≤ {WARM_TARGET:.2f})", warm))
    out.append(
        line(
            "same, median of per-round ratios (no target)",
            ["n/a" if (p := c.paired_ratio("warm", "init")) is None else f"{p:.3f}" for c in cells],
        )
    )
    cold = []
    for c in cells:
        top, bottom = c.median("cold"), c.median("init")
        cold.append("n/a" if top is None or not bottom else f"{top / bottom:.2f}")
    out.append(line("init + drift check (cold) / init alone (no target)", cold))
    counts = []
    for c in cells:
        if not c.queries:
            counts.append("n/a")
            continue
        most = max(c.queries)
        spread = "" if min(c.queries) == most else f" (min {min(c.queries)})"
        counts.append(f"{most}{spread} {'PASS' if most <= QUERY_TARGET else 'FAIL'}")
    out.append(line(f"ensure_migrated() statements on the connection (≤ {QUERY_TARGET})", counts))

    out.append("")
    out.append("Runs per cell (median of): " + ", ".join(f"{r.size}: {r.repeat}" for r in runs))
    for r in runs:
        out.append(f"Setup, {r.size} models: " + "; ".join(r.notes))
    sample = next((c for c in reversed(cells) if c.statements), None)
    if sample is not None:
        out.append(f"Statements of ensure_migrated() ({sample.label}):")
        out += [f"  {n}. {s[:160]}" for n, s in enumerate(sample.statements, 1)]
    for c in cells:
        if c.profile is not None:
            out += ["", *render_profile(c)]
    return "\n".join(out)


def render_profile(cell: Cell) -> list[str]:
    """Return the hot-spot tables of one profiled drift check."""
    assert cell.profile is not None
    prof = cell.profile
    out = [
        f"cProfile of the drift check (`_after_init`, warm cache), {cell.label}: "
        f"{prof['total']:.3f} s under the profiler",
        "",
        "| function (by cumulative time) | ncalls | tottime s | cumtime s |",
        "|---|---:|---:|---:|",
    ]
    for row in prof["by_cumtime"]:
        out.append(
            f"| {row['function']} | {row['ncalls']} | {row['tottime']:.3f} | {row['cumtime']:.3f} |"
        )
    out += [
        "",
        "| function (by own time) | ncalls | tottime s | cumtime s |",
        "|---|---:|---:|---:|",
    ]
    for row in prof["by_tottime"]:
        out.append(
            f"| {row['function']} | {row['ncalls']} | {row['tottime']:.3f} | {row['cumtime']:.3f} |"
        )
    return out


_sizes = scale._sizes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python bench/startup.py",
        description="Time Tortoise.init with and without the tortoise_march_ext drift check "
        "(warm and cold cache) and a no-op ensure_migrated() against the synthetic projects of "
        "bench/scale.py; print a Markdown table of medians.",
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[50, 200, 1000],
        help="comma-separated model counts (default: 50,200,1000)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="runs per measurement, the median is reported (default: 5)",
    )
    parser.add_argument(
        "--backend",
        choices=("postgres", "sqlite"),
        default="postgres",
        help="database every run connects to (default: postgres)",
    )
    parser.add_argument(
        "--pg-dsn",
        default=scale.DEFAULT_PG,
        help=f"PostgreSQL server, without database (default: {scale.DEFAULT_PG})",
    )
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default: 0)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds one subprocess may take (default: 900; the history build gets 4x)",
    )
    parser.add_argument(
        "--history-cache",
        type=Path,
        help="reuse 300-migration histories across invocations from this folder, shared with "
        "`bench/scale.py --history-cache` (same keys; default: off)",
    )
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="cProfile the warm drift check of the largest size: when its ratio misses the "
        "target (auto, default), always, or never",
    )
    parser.add_argument(
        "--top", type=int, default=25, help="functions listed in the profile (default: 25)"
    )
    parser.add_argument("--json", type=Path, help="also write every raw result to this file")
    parser.add_argument(
        "--no-snapshot",
        action="store_true",
        help="import the installed package in every run instead of a copy taken at start",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.top < 1:
        parser.error("--repeat and --top must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 1 only if a measurement errored, never for a missed target."""
    args = parse_args(argv)
    if args.child:
        return child_main(args.child)
    import tortoise

    tmp = Path(tempfile.mkdtemp(prefix="march-startup-"))
    try:
        args.package, package_note = scale.snapshot_package(tmp, not args.no_snapshot)
    except (scale.BenchError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"tortoise_march_ext start-up benchmark: backend={args.backend}, sizes={args.sizes}, "
        f"histories={list(HISTORIES)}, repeat={args.repeat}, seed={args.seed}\n"
        f"Python {platform.python_version()}, Tortoise {tortoise.__version__}, "
        f"{os.cpu_count()} CPUs, tmp={tmp}\n"
        f"Package: {package_note}\n"
        "Method: each run in a fresh subprocess, cwd = the generated project root; the timer "
        "starts after the imports of tortoise, its backend and tortoise_march_ext, and stops when "
        "Tortoise.init (or ensure_migrated) returns; model imports are timed on every init row.",
        flush=True,
    )
    runs: list[SizeRun] = []
    try:
        for size in args.sizes:
            runs.append(measure_size(size, args, tmp, size == args.sizes[-1]))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\n" + render(runs))
    failed = [(c.label, key, msg) for r in runs for c in r.cells for key, msg in c.errors.items()]
    for label, key, msg in failed:
        print(f"\nERROR [{label}] {key}: {msg}")
    if args.json:
        dump = [
            {
                "size": c.size,
                "history": c.history,
                "rounds": c.rounds,
                "queries": c.queries,
                "statements": c.statements,
                "errors": c.errors,
                "profile": c.profile,
            }
            for r in runs
            for c in r.cells
        ]
        args.json.write_text(json.dumps(dump, indent=2), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
