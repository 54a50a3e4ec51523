"""Scale benchmark of tortoise_march_ext: how commands grow with the number of models.

For each size (``--sizes 50,200,1000``) the script generates, in a temporary directory, a synthetic
Tortoise project of one app (``synth``) whose models are spread over modules of 25 models. Every
model has six data fields of varied types (some ``db_index``), a ForeignKey to an earlier model,
every fourth model a ManyToManyField, a ``Meta.indexes`` entry, and ``class Meta(march.Meta)``.
Generation is seeded (``--seed``), so a size always yields the same project.

Two migration histories lead to the same final models:

* history 1: one ``makemigrations`` from scratch;
* history 300: ``makemigrations`` for all but the last models, then 299 small edits (add one of the
  remaining models, or add a field to an existing model), each followed by ``makemigrations``.
  It is built once per size, in one process, and reused by every run (``--history-cache DIR``
  reuses it across invocations too). To keep this fast the builder skips Tortoise work that no
  schema command reads (see ``_builder_shortcuts``); the files it writes are the same, and the
  timed runs, which use nothing patched, check them: no-op makemigrations must write nothing and
  migrate from zero must apply all 300.

Each measurement runs in a fresh subprocess. The timer starts inside that subprocess after the
interpreter has started and after ``tortoise``, its database backend and ``tortoise_march_ext``
are imported; importing the generated model modules (done by ``Tortoise.init``) is inside the timed
region on both sides of every comparison, and so is closing the connections. Cells are medians.
Children import a copy of ``tortoise_march_ext`` taken when the script starts (``--no-snapshot``
imports the working tree instead), so edits made during a long run do not mix two versions.

Run ``python bench/scale.py --help`` for the options. It is a benchmark: a missed target prints
FAIL but never makes the exit status non-zero (a measurement that errors does).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

APP = "synth"
PER_MODULE = 25
HISTORY = 300
LARGE = 1000
SCRIPT = Path(__file__).resolve()
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432"

# (key, label) of each row, in print order.
ROWS: list[tuple[str, str]] = [
    ("init", "Tortoise.init"),
    ("mm_scratch", "makemigrations from scratch"),
    ("mm_noop_h1", "makemigrations no-op (history 1)"),
    ("mm_noop_h300", "makemigrations no-op (history 300)"),
    ("gen", "Tortoise.init + generate_schemas (empty db)"),
    ("mig_zero_h1", "migrate from zero (history 1)"),
    ("mig_zero_h300", "migrate from zero (history 300)"),
    ("mig_noop_h1", "migrate, nothing pending (history 1)"),
    ("mig_noop_h300", "migrate, nothing pending (history 300)"),
]
# (row, floor row): the tool's own cost is the difference.
OVER_FLOOR: list[tuple[str, str]] = [
    ("mm_scratch", "init"),
    ("mm_noop_h1", "init"),
    ("mm_noop_h300", "init"),
    ("mig_zero_h1", "gen"),
    ("mig_zero_h300", "gen"),
    ("mig_noop_h1", "init"),
    ("mig_noop_h300", "init"),
]
# (numerator, denominator, label, target): the ratios the targets are about.
RATIOS: list[tuple[str, str, str, float]] = [
    ("mm_noop_h1", "init", "makemigrations no-op (history 1) / Tortoise.init", 1.3),
    ("mm_noop_h300", "init", "makemigrations no-op (history 300) / Tortoise.init", 1.3),
    ("mig_zero_h1", "gen", "migrate from zero (history 1) / generate_schemas", 1.5),
    ("mig_zero_h300", "gen", "migrate from zero (history 300) / generate_schemas", 1.5),
]


class BenchError(Exception):
    """A measurement or a setup step failed."""


# -- synthetic project ---------------------------------------------------------------------------
@dataclass
class ModelSpec:
    """One generated model: its data fields, relations and index, as source lines."""

    index: int
    fields: list[str]
    fk: int | None
    m2m: int | None
    indexed: tuple[str, str]

    @property
    def name(self) -> str:
        """Return the class name."""
        return f"M{self.index:04d}"

    @property
    def module(self) -> int:
        """Return the number of the module holding this model."""
        return self.index // PER_MODULE


@dataclass
class Edit:
    """One step of the 300-migration history: create model ``model`` or add ``line`` to it."""

    model: int
    line: str | None = None


@dataclass
class Plan:
    """A whole synthetic project and the edits that build its long history."""

    size: int
    models: list[ModelSpec]
    first: int
    edits: list[Edit]
    extras: dict[int, list[str]] = field(default_factory=dict)


def _data_field(rng: random.Random, j: int) -> str:
    idx = ", db_index=True" if rng.random() < 0.3 else ""
    choices: list[Callable[[], str]] = [
        lambda: f"c{j} = fields.CharField(max_length={rng.choice((32, 64, 128, 255))}{idx})",
        lambda: f"i{j} = fields.IntField(default={rng.randrange(10)}{idx})",
        lambda: f"b{j} = fields.BigIntField(null=True{idx})",
        lambda: f"t{j} = fields.TextField(null=True)",
        lambda: f"o{j} = fields.BooleanField(default={rng.random() < 0.5})",
        lambda: f"d{j} = fields.DecimalField(max_digits=12, decimal_places=2, default=0)",
        lambda: f"f{j} = fields.FloatField(null=True)",
        lambda: f"a{j} = fields.DateField(null=True{idx})",
        lambda: f"s{j} = fields.DatetimeField(auto_now_add=True{idx})",
        lambda: f"u{j} = fields.UUIDField(null=True)",
        lambda: f"j{j} = fields.JSONField(null=True)",
    ]
    return rng.choice(choices)()


def _model_spec(rng: random.Random, i: int) -> ModelSpec:
    lines = [
        f"name = fields.CharField(max_length={rng.choice((50, 100, 200))}, db_index=True)",
        f"rank = fields.IntField(default=0{', db_index=True' if rng.random() < 0.3 else ''})",
    ]
    lines += [_data_field(rng, j) for j in range(2, 6)]
    fk = rng.randrange(max(0, i - 40), i) if i > 0 else None
    m2m = rng.randrange(max(0, i - 60), i) if i >= 2 and i % 4 == 0 else None
    return ModelSpec(i, lines, fk, m2m, ("name", "rank"))


_EXTRA_KINDS = (
    "fields.IntField(null=True)",
    'fields.CharField(max_length=40, default="")',
    "fields.BooleanField(default=False)",
    "fields.IntField(null=True, db_index=True)",
    "fields.DatetimeField(null=True)",
)


def make_plan(size: int, seed: int) -> Plan:
    """Return the project of ``size`` models and its 299 history edits, from ``seed`` alone."""
    rng = random.Random(f"march-bench-{seed}-{size}")
    models = [_model_spec(rng, i) for i in range(size)]
    late = min(max(size // 5, 1), 100, HISTORY - 1)
    first = size - late
    steps = HISTORY - 1
    creations = set(rng.sample(range(steps), late))
    edits: list[Edit] = []
    present = first
    for step in range(steps):
        if step in creations:
            edits.append(Edit(present))
            present += 1
        else:
            kind = _EXTRA_KINDS[step % len(_EXTRA_KINDS)]
            edits.append(Edit(rng.randrange(present), f"x{step:03d} = {kind}"))
    plan = Plan(size, models, first, edits)
    for edit in edits:
        if edit.line is not None:
            plan.extras.setdefault(edit.model, []).append(edit.line)
    return plan


def _model_source(spec: ModelSpec, extras: list[str]) -> list[str]:
    out = [f"class {spec.name}(Model):", "    id = fields.IntField(primary_key=True)"]
    out += [f"    {line}" for line in spec.fields]
    if spec.fk is not None:
        out.append(
            f'    parent = fields.ForeignKeyField("{APP}.M{spec.fk:04d}", '
            f'related_name="{spec.name.lower()}_children", null=True, on_delete=fields.SET_NULL)'
        )
    if spec.m2m is not None:
        out.append(
            f'    tags = fields.ManyToManyField("{APP}.M{spec.m2m:04d}", '
            f'related_name="{spec.name.lower()}_tagged")'
        )
    out += [f"    {line}" for line in extras]
    a, b = spec.indexed
    out += [
        "",
        "    class Meta(march.Meta):",
        f'        table = "{spec.name.lower()}"',
        f'        indexes = (Index(fields=("{a}", "{b}"), name="ix_{spec.name.lower()}_{a}_{b}"),)',
        "",
        "",
    ]
    return out


def write_models(root: Path, plan: Plan, present: int, extras: dict[int, list[str]]) -> list[str]:
    """Write the first ``present`` models under ``root/synth``; return the model module names."""
    package = root / APP
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    modules: list[str] = []
    for number in range((present + PER_MODULE - 1) // PER_MODULE):
        specs = [m for m in plan.models[:present] if m.module == number]
        lines = [
            f'"""Generated models, module {number} (bench/scale.py)."""',
            "",
            "from tortoise import fields",
            "from tortoise.indexes import Index",
            "from tortoise.models import Model",
            "",
            "import tortoise_march_ext as march",
            "",
            "",
        ]
        for spec in specs:
            lines += _model_source(spec, extras.get(spec.index, []))
        path = package / f"models_{number:02d}.py"
        text = "\n".join(lines).rstrip() + "\n"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        modules.append(f"{APP}.models_{number:02d}")
    return modules


def tortoise_config(db_url: str, modules: list[str]) -> dict[str, Any]:
    """Return the Tortoise config dict of a generated project."""
    return {
        "connections": {"default": db_url},
        "apps": {APP: {"models": modules, "default_connection": "default"}},
    }


# -- child processes: one timed operation, or the history builder ------------------------------
def _preimport(db_url: str) -> None:
    """Import what every child needs before the timer starts (same for every operation)."""
    import tortoise  # noqa: F401
    import tortoise.indexes  # noqa: F401

    import tortoise_march_ext.commands  # noqa: F401

    if db_url.startswith("postgres"):
        import tortoise.backends.asyncpg  # noqa: F401
    else:
        import tortoise.backends.sqlite  # noqa: F401


async def _timed(job: dict[str, Any]) -> dict[str, Any]:
    from tortoise import Tortoise

    from tortoise_march_ext import commands
    from tortoise_march_ext.config import MarchConfig

    op: str = job["op"]
    config = tortoise_config(job["db_url"], job["modules"])
    march = MarchConfig(
        location=Path(job["location"]), root=Path(job["root"]), tortoise_config=config
    )
    info: dict[str, Any] = {}
    start = time.perf_counter()
    if op in ("init", "gen"):
        await Tortoise.init(config=config)
        if op == "gen":
            await Tortoise.generate_schemas(safe=False)
        await Tortoise.close_connections()
        await Tortoise._reset_apps()
    elif op == "makemigrations":
        made = await commands.makemigrations(march)
        info["written"] = len(made.migrations)
    elif op == "migrate":
        result = await commands.migrate(march)
        info["steps"] = len(result.steps)
    else:
        raise BenchError(f"unknown op {op!r}")
    info["seconds"] = time.perf_counter() - start
    return info


def _purge_models() -> None:
    import importlib

    for name in [n for n in sys.modules if n == APP or n.startswith(f"{APP}.")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def _builder_shortcuts() -> None:
    """Speed up the history builder without changing a byte of what makemigrations writes.

    * ``tortoise.models._get_comments`` reads each model's source with ``inspect.getsource`` to
      find ``#:`` field comments; the generated models have none, so it always returns ``{}``.
    * ``Apps._build_initial_querysets`` prepares query builders and filters, which no schema
      command reads (extraction uses ``_meta.fields_map``, ``fields_db_projection``, indexes).
    * Migration files never change once written, so each is loaded (exec + checksum) only once
      instead of once per step.

    Only the builder uses these; every timed run uses unpatched Tortoise and tortoise_march_ext,
    and the timed no-op makemigrations and migrate runs re-check the whole history.
    """
    import tortoise.apps
    import tortoise.models

    from tortoise_march_ext.files import loader

    def no_comments(cls: type) -> dict[str, str]:
        return {}

    original = loader.load_file
    cache: dict[tuple[str, str], Any] = {}

    def load_once(app: str, path: Path) -> Any:
        key = (app, str(path))
        if key not in cache:
            cache[key] = original(app, path)
        return cache[key]

    def no_querysets(self: Any) -> None:
        return None

    setattr(tortoise.models, "_get_comments", no_comments)  # noqa: B010
    setattr(tortoise.apps.Apps, "_build_initial_querysets", no_querysets)  # noqa: B010
    setattr(loader, "load_file", load_once)  # noqa: B010


async def _build_history(job: dict[str, Any]) -> dict[str, Any]:
    """Write the 300-migration history of a plan, one makemigrations per edit, in one process."""
    from tortoise_march_ext import commands
    from tortoise_march_ext.config import MarchConfig

    _builder_shortcuts()
    plan = make_plan(job["size"], job["seed"])
    root, location = Path(job["root"]), Path(job["location"])
    present, extras = plan.first, {}
    start = time.perf_counter()
    step_times: list[float] = []
    for step in range(HISTORY):
        if step > 0:
            edit = plan.edits[step - 1]
            if edit.line is None:
                present += 1
            else:
                extras.setdefault(edit.model, []).append(edit.line)
        modules = write_models(root, plan, present, extras)
        _purge_models()
        config = tortoise_config("sqlite://:memory:", modules)
        march = MarchConfig(location=location, root=root, tortoise_config=config)
        began = time.perf_counter()
        made = await commands.makemigrations(march)
        step_times.append(time.perf_counter() - began)
        if len(made.migrations) != 1:
            raise BenchError(f"history step {step}: expected 1 new migration, got {made.message!r}")
    return {"seconds": time.perf_counter() - start, "step_times": step_times}


def child_main(raw: str) -> int:
    """Run one job described by the JSON ``raw``; print its result as JSON on stdout."""
    job = json.loads(raw)
    sys.path.insert(0, job["root"])
    _preimport(job.get("db_url", "sqlite://:memory:"))
    runner = _build_history if job["op"] == "build-history" else _timed
    result = asyncio.run(runner(job))
    import tortoise_march_ext

    result["package"] = str(Path(tortoise_march_ext.__file__).resolve().parent)
    print("RESULT " + json.dumps(result))
    return 0


# -- parent: databases, runs, table --------------------------------------------------------------
class Databases:
    """Fresh empty databases: PostgreSQL databases, or SQLite files under a folder."""

    def __init__(self, backend: str, pg_dsn: str, folder: Path) -> None:
        self.backend = backend
        self.pg_dsn = pg_dsn.rstrip("/")
        self.folder = folder
        self.created: list[str] = []
        self.counter = 0

    def _admin(self, sql: str) -> None:
        import asyncpg

        async def run() -> None:
            conn = await asyncpg.connect(f"{self.pg_dsn}/postgres")
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        try:
            asyncio.run(run())
        except (OSError, asyncpg.PostgresError) as exc:
            raise BenchError(f"PostgreSQL at {self.pg_dsn}: {sql}: {exc}") from exc

    def fresh(self) -> str:
        """Create an empty database and return its Tortoise URL."""
        self.counter += 1
        if self.backend == "sqlite":
            path = self.folder / f"bench_{self.counter}.sqlite3"
            path.unlink(missing_ok=True)
            url = f"sqlite://{path}"
        else:
            name = f"march_bench_{os.getpid()}_{self.counter}"
            self._admin(f'DROP DATABASE IF EXISTS "{name}"')
            self._admin(f'CREATE DATABASE "{name}"')
            url = f"{self.pg_dsn}/{name}"
        self.created.append(url)
        return url

    def drop(self, url: str) -> None:
        """Drop a database made by :meth:`fresh`."""
        if self.backend == "sqlite":
            Path(url.removeprefix("sqlite://")).unlink(missing_ok=True)
        else:
            self._admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        if url in self.created:
            self.created.remove(url)

    def cleanup(self) -> None:
        """Drop every database still around."""
        for url in list(self.created):
            try:
                self.drop(url)
            except Exception as exc:  # cleanup must go on
                print(f"warning: could not drop {url}: {exc}", file=sys.stderr)


def run_child(
    job: dict[str, Any],
    timeout: float,
    *,
    script: Path = SCRIPT,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run one job of ``script`` in a fresh interpreter and return its JSON result."""
    proc = subprocess.run(
        [sys.executable, str(script), "--child", json.dumps(job)],
        cwd=job["root"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise BenchError(f"{job['op']} failed (exit {proc.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return result


@dataclass
class SizeRun:
    """Everything measured for one model count."""

    size: int
    repeat: int
    times: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    history_note: str = "not built"

    def median(self, key: str) -> float | None:
        """Return the median of a row, or None if it was not measured."""
        values = self.times.get(key)
        return statistics.median(values) if values else None


def _expect(info: dict[str, Any], key: str, wanted: int, what: str) -> None:
    if info.get(key) != wanted:
        raise BenchError(f"{what}: expected {key}={wanted}, got {info.get(key)}")


def package_digest(package: Path) -> str:
    """Return the SHA-256 of the package's Python sources (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def history_key(size: int, seed: int, package: Path) -> str:
    """Return the cache key of a history: this script, the package sources, Tortoise, size, seed."""
    import tortoise

    digest = hashlib.sha256(SCRIPT.read_bytes())
    digest.update(package_digest(package).encode())
    digest.update(f"{tortoise.__version__}/{size}/{seed}".encode())
    return f"n{size}-s{seed}-{digest.hexdigest()[:16]}"


def snapshot_package(tmp: Path, enabled: bool) -> tuple[Path, str]:
    """Return the package folder children import, and a description of it.

    With ``enabled``, the package sources are copied under ``tmp`` and put first on the children's
    PYTHONPATH, so every run of one invocation measures the same code even while the working tree
    changes. Without, children import the installed (editable) package.
    """
    spec = importlib.util.find_spec("tortoise_march_ext")
    if spec is None or spec.origin is None:
        raise BenchError("tortoise_march_ext is not importable; install it first")
    live = Path(spec.origin).resolve().parent
    git = "not a git checkout"
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=live, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "."], cwd=live, capture_output=True, text=True
        )
        if head.returncode == 0:
            state = "uncommitted changes" if dirty.stdout.strip() else "clean"
            git = f"git {head.stdout.strip()}, {state}"
    except OSError:
        pass
    if not enabled:
        return live, f"live package {live} ({git})"
    folder = tmp / "package"
    shutil.copytree(live, folder / live.name, ignore=shutil.ignore_patterns("__pycache__"))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(folder), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    package = folder / live.name
    return package, (
        f"snapshot of {live} ({git}; sources sha256 {package_digest(package)[:12]}) in {package}"
    )


def build_history(
    size: int, args: argparse.Namespace, build: Path, src: Path, target: Path, timeout: float
) -> str:
    """Write the 300-migration history into ``target`` (or copy it from the cache); describe it."""
    key = history_key(size, args.seed, args.package)
    cached = args.history_cache / key if args.history_cache else None
    if cached is not None and (cached / APP).is_dir():
        shutil.copytree(cached, target)
        note = f"copied from cache {cached}"
    else:
        began = time.perf_counter()
        built = run_child(
            {
                "op": "build-history",
                "root": str(build),
                "location": str(target),
                "size": size,
                "seed": args.seed,
            },
            timeout * 4,
        )
        last = statistics.median(built["step_times"][-10:])
        note = (
            f"built in {time.perf_counter() - began:.1f} s (median of its last 10 "
            f"makemigrations: {last:.3f} s)"
        )
        for path in sorted((build / APP).glob("*.py")):
            if path.read_text(encoding="utf-8") != (src / APP / path.name).read_text("utf-8"):
                raise BenchError(f"history 300 ends on other models than history 1: {path.name}")
        if cached is not None:
            shutil.copytree(target, cached, dirs_exist_ok=True)
    count = len(list((target / APP).glob("0*.py")))
    if count != HISTORY:
        raise BenchError(f"history 300 has {count} migration files, not {HISTORY}")
    return note


def measure_size(size: int, repeat: int, args: argparse.Namespace, tmp: Path) -> SizeRun:
    """Generate the project of ``size`` models, build its histories and time every row."""
    run = SizeRun(size, repeat)
    base = tmp / f"n{size}"
    src, build = base / "src", base / "build"
    mig_scratch, mig_h1, mig_h300 = base / "mig_scratch", base / "mig_h1", base / "mig_h300"
    dbs = Databases(args.backend, args.pg_dsn, base)
    plan = make_plan(size, args.seed)
    modules = write_models(src, plan, size, plan.extras)
    build.mkdir(parents=True, exist_ok=True)
    timeout = args.timeout

    def job(op: str, location: Path, db_url: str = "sqlite://:memory:") -> dict[str, Any]:
        return {
            "op": op,
            "root": str(src),
            "location": str(location),
            "db_url": db_url,
            "modules": modules,
        }

    print(f"\n[{size} models] {len(modules)} modules; building histories ...", flush=True)
    try:
        # History 1 is the output of one makemigrations from scratch (which also warms .pyc files).
        info = run_child(job("makemigrations", mig_h1), timeout)
        _expect(info, "written", 1, "makemigrations from scratch")
        if not Path(info["package"]).resolve().is_relative_to(args.package.resolve()):
            raise BenchError(f"children import {info['package']}, not {args.package}")
        run.history_note = build_history(size, args, build, src, mig_h300, timeout)
        print(f"[{size} models] history of {HISTORY}: {run.history_note}", flush=True)

        def once(key: str, action: Callable[[], float]) -> bool:
            try:
                run.times.setdefault(key, []).append(action())
            except (BenchError, subprocess.TimeoutExpired) as exc:
                run.errors.setdefault(key, str(exc))
                return False
            return True

        def timed(op: str, location: Path, db_url: str = "sqlite://:memory:", **want: int) -> float:
            info = run_child(job(op, location, db_url), timeout)
            for key, value in want.items():
                _expect(info, key, value, f"{op} on {location.name}")
            return float(info["seconds"])

        def scratch() -> float:
            shutil.rmtree(mig_scratch, ignore_errors=True)
            return timed("makemigrations", mig_scratch, written=1)

        def gen() -> float:
            url = dbs.fresh()
            try:
                return timed("gen", mig_h1, url)
            finally:
                dbs.drop(url)

        def migrate_pair(location: Path, steps: int, zero_key: str, noop_key: str) -> None:
            url = dbs.fresh()
            try:
                if once(zero_key, lambda: timed("migrate", location, url, steps=steps)):
                    once(noop_key, lambda: timed("migrate", location, url, steps=0))
            finally:
                dbs.drop(url)

        for number in range(repeat):
            # Interleaved: one run of every row per round, so machine noise spreads evenly.
            print(f"[{size} models] round {number + 1}/{repeat}", flush=True)
            once("init", lambda: timed("init", mig_h1))
            once("mm_scratch", scratch)
            once("mm_noop_h1", lambda: timed("makemigrations", mig_h1, written=0))
            once("mm_noop_h300", lambda: timed("makemigrations", mig_h300, written=0))
            once("gen", gen)
            migrate_pair(mig_h1, 1, "mig_zero_h1", "mig_noop_h1")
            migrate_pair(mig_h300, HISTORY, "mig_zero_h300", "mig_noop_h300")
    except (BenchError, OSError, subprocess.TimeoutExpired) as exc:
        run.errors.setdefault("setup", str(exc))
    finally:
        dbs.cleanup()
        shutil.rmtree(mig_scratch, ignore_errors=True)
    return run


def _fmt(value: float | None) -> str:
    return "error" if value is None else f"{value:.3f}"


def _growth_cell(runs: list[SizeRun], value: Callable[[SizeRun], float | None]) -> str:
    lo, hi = value(runs[-2]), value(runs[-1])
    return f"{hi / lo:.2f}x" if lo and hi and lo > 0 else "n/a"


def render(runs: list[SizeRun]) -> str:
    """Return the Markdown report: medians, growth factors, target ratios, time over the floor."""
    sizes = [r.size for r in runs]
    columns = [f"{s} models" for s in sizes]
    growth = len(runs) >= 2
    if growth:
        lo, hi = sizes[-2], sizes[-1]
        columns.append(f"growth {lo}→{hi} (linear ≈ {hi / lo:.1f}x)")

    def table(title: str, rows: list[tuple[str, Callable[[SizeRun], float | None]]]) -> list[str]:
        out = [f"| {title} | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
        for label, value in rows:
            cells = [label, *[_fmt(value(r)) for r in runs]]
            if growth:
                cells.append(_growth_cell(runs, value))
            out.append("| " + " | ".join(cells) + " |")
        return out

    def median_of(key: str) -> Callable[[SizeRun], float | None]:
        return lambda r: r.median(key)

    def difference(key: str, floor: str) -> Callable[[SizeRun], float | None]:
        def value(r: SizeRun) -> float | None:
            top, bottom = r.median(key), r.median(floor)
            return None if top is None or bottom is None else top - bottom

        return value

    out = table("measurement (median seconds)", [(label, median_of(key)) for key, label in ROWS])
    out += ["", "| ratio of medians (target) | " + " | ".join(columns[: len(sizes)]) + " |"]
    out.append("|---|" + "---:|" * len(sizes))
    for num, den, label, target in RATIOS:
        cells = [f"{label} (≤ {target})"]
        for r in runs:
            top, bottom = r.median(num), r.median(den)
            if top is None or bottom is None:
                cells.append("n/a")
            else:
                ratio = top / bottom
                cells.append(f"{ratio:.2f} {'PASS' if ratio <= target else 'FAIL'}")
        out.append("| " + " | ".join(cells) + " |")
    labels = dict(ROWS)
    extra = [
        (f"{labels[key]} − {labels[floor]}", difference(key, floor)) for key, floor in OVER_FLOOR
    ]
    out += [""] + table("seconds over the floor (difference of medians)", extra)
    out.append("")
    out.append("Runs per cell (median of): " + ", ".join(f"{r.size}: {r.repeat}" for r in runs))
    out.append(
        "History-300 build (299 makemigrations in one process, reused by every run): "
        + ", ".join(f"{r.size}: {r.history_note}" for r in runs)
    )
    return "\n".join(out)


def _sizes(text: str) -> list[int]:
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes {text!r}: give integers like 50,200") from None
    if not values or min(values) < 2:
        raise argparse.ArgumentTypeError("--sizes: each size must be at least 2")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python bench/scale.py",
        description="Time Tortoise.init, makemigrations, generate_schemas and migrate against "
        "synthetic projects of many models; print a Markdown table of medians.",
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
        "--repeat-large",
        type=int,
        default=None,
        help=f"runs per measurement for sizes >= {LARGE} (default: min(--repeat, 3))",
    )
    parser.add_argument(
        "--backend",
        choices=("postgres", "sqlite"),
        default="postgres",
        help="database of the migrate/generate_schemas runs (default: postgres)",
    )
    parser.add_argument(
        "--pg-dsn",
        default=DEFAULT_PG,
        help=f"PostgreSQL server, without database (default: {DEFAULT_PG})",
    )
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default: 0)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds one subprocess may take (default: 900)",
    )
    parser.add_argument("--json", type=Path, help="also write every raw timing to this file")
    parser.add_argument(
        "--history-cache",
        type=Path,
        help="reuse 300-migration histories across invocations from this folder "
        "(keyed by this script, the package sources, Tortoise, size and seed; default: off)",
    )
    parser.add_argument(
        "--no-snapshot",
        action="store_true",
        help="import the installed package in every run instead of a copy taken at start",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1 or (args.repeat_large is not None and args.repeat_large < 1):
        parser.error("--repeat and --repeat-large must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 1 only if a measurement errored, never for a missed target."""
    args = parse_args(argv)
    if args.child:
        return child_main(args.child)
    import tortoise

    tmp = Path(tempfile.mkdtemp(prefix="march-bench-"))
    try:
        args.package, package_note = snapshot_package(tmp, not args.no_snapshot)
    except (BenchError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    large = args.repeat_large if args.repeat_large is not None else min(args.repeat, 3)
    print(
        f"tortoise_march_ext scale benchmark: backend={args.backend}, sizes={args.sizes}, "
        f"repeat={args.repeat} ({large} for sizes >= {LARGE}), seed={args.seed}\n"
        f"Python {platform.python_version()}, Tortoise {tortoise.__version__}, "
        f"{os.cpu_count()} CPUs, tmp={tmp}\n"
        f"Package: {package_note}\n"
        "Method: each run in a fresh subprocess; the timer starts inside it after interpreter "
        "start-up and the imports of tortoise, its backend and tortoise_march_ext; importing the "
        "model modules and closing connections are timed on every row.",
        flush=True,
    )
    runs: list[SizeRun] = []
    try:
        for size in args.sizes:
            runs.append(measure_size(size, large if size >= LARGE else args.repeat, args, tmp))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\n" + render(runs))
    failed = [(r.size, key, msg) for r in runs for key, msg in r.errors.items()]
    for size, key, msg in failed:
        print(f"\nERROR [{size} models] {key}: {msg}")
    if args.json:
        args.json.write_text(
            json.dumps(
                [{"size": r.size, "times": r.times, "errors": r.errors} for r in runs], indent=2
            ),
            encoding="utf-8",
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
