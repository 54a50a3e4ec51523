"""Test-database benchmark of the pytest plugin: handing a test a fresh migrated database.

The 50-model project of ``bench/scale.py`` (same generator and seed, imported from that script,
``--size`` to change it) gets its one initial migration from ``makemigrations``. Then, per
backend (``--backends postgres,sqlite,mysql``), one fresh process (working directory in the
project) measures what one test pays for its database, through the plugin's own classes
(:class:`tortoise_march_ext.pytest.MarchDatabases`):

* **copy per test** (what ``march_db`` does): the database migrated once per session handed out
  fresh (SQLite a file copy; PostgreSQL and MariaDB the work database, reset after the test;
  ``postgres-template``: a ``CREATE DATABASE ... TEMPLATE`` copy), ``Tortoise.init`` on it, one
  INSERT and one COUNT, connections closed, the copy dropped or the database reset;
* **migrate per test**: an empty database, ``migrate`` to the latest migration, then the same
  init, INSERT, COUNT, close and drop;
* **floor**: an empty database, the same init, ``SELECT 1``, close and drop: what any fresh
  database costs, with no schema at all.

The session's one-off template migration is printed apart. Each row is a median over its
repetitions (``--copies``, ``--migrations``), wall seconds with CPU seconds of the process next
to them (the database server's CPU is not in them). Targets: migrate / copy at least 10x, and
copy under 50 ms on PostgreSQL. It is a benchmark: a missed target prints FAIL but never makes
the exit status non-zero (a measurement that errors does).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale  # noqa: E402

SCRIPT = Path(__file__).resolve()
RATIO_TARGET = 10.0
PG_COPY_TARGET = 0.050
DEFAULT_URLS = {
    "postgres": "postgres://postgres@127.0.0.1:5432/march_bench_app",
    "postgres-template": "postgres://postgres@127.0.0.1:5432/march_bench_app",
    "sqlite": "sqlite://app.sqlite3",
    "mysql": "mysql://root:@127.0.0.1:3306/march_bench_app",
}
# Each backend's TORTOISE_MARCH_TEST_DB: PostgreSQL resets its work database by default,
# "postgres-template" gives every test a CREATE DATABASE ... TEMPLATE copy.
MODES = {"postgres": "reset", "postgres-template": "template", "sqlite": "reset", "mysql": "reset"}
PYPROJECT = """\
[tool.tortoise_march_ext]
tortoise_orm = "settings.TORTOISE_ORM"
location = "migrations"
"""


def write_project(root: Path, size: int, seed: int) -> None:
    """Write the generated models, settings.py (its URL from ``$BENCH_DB``) and pyproject."""
    plan = scale.make_plan(size, seed)
    modules = scale.write_models(root, plan, size, plan.extras)
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    config = scale.tortoise_config("URL", modules)
    text = "import os\n\nTORTOISE_ORM = " + repr(config).replace("'URL'", "os.environ['BENCH_DB']")
    (root / "settings.py").write_text(text + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tortoise_march_ext", "makemigrations", "--noinput"],
        cwd=root,
        env={**os.environ, "BENCH_DB": DEFAULT_URLS["sqlite"]},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(f"makemigrations failed: {done.stdout}{done.stderr}")


# -- the child: one backend, every row ------------------------------------------------------------
def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


async def _use(model: Any, write: bool) -> None:
    from tortoise import Tortoise

    if not write:
        await Tortoise.get_connection("default").execute_query("SELECT 1")
        return
    await model.create(**_values(model))
    count = await model.all().count()
    if count != 1:
        raise SystemExit(f"the test database was not fresh: {count} rows")


def _values(model: Any) -> dict[str, Any]:
    """Return values for the model's required data fields."""
    out: dict[str, Any] = {}
    for name, field in model._meta.fields_map.items():
        kind = type(field).__name__
        if field.pk or field.null or field.default is not None or name == "tags":
            continue
        if kind in ("ForeignKeyFieldInstance", "ManyToManyFieldInstance", "BackwardFKRelation"):
            continue
        samples = {"CharField": "x", "TextField": "x", "IntField": 1, "BooleanField": True}
        samples |= {"BigIntField": 1, "SmallIntField": 1, "FloatField": 1.0}
        if kind in samples:
            out[name] = samples[kind]
        elif kind == "DecimalField":
            out[name] = 1
        elif kind == "DatetimeField":
            import datetime

            out[name] = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
        elif kind == "DateField":
            import datetime

            out[name] = datetime.date(2026, 1, 1)
        elif kind == "JSONField":
            out[name] = {}
        elif kind == "UUIDField":
            import uuid

            out[name] = uuid.uuid4()
    return out


def child(copies: int, migrations: int) -> dict[str, Any]:
    """Measure every row on the backend of ``$BENCH_DB``; return the samples."""
    from tortoise import Tortoise

    from tortoise_march_ext.commands.migrate import migrate
    from tortoise_march_ext.config import load_config
    from tortoise_march_ext.pytest import MarchDatabase, MarchDatabases

    session = MarchDatabases(load_config())
    samples: dict[str, list[tuple[float, float]]] = {"copy": [], "migrate": [], "floor": []}
    try:
        start = _clock()
        session.template()
        template = _since(start)

        def one_test(names: dict[str, str], write: bool) -> None:
            db = MarchDatabase(session, names)
            session.run(session.open_tortoise(db))
            model = Tortoise.apps.get_model("synth", "M0000") if write else None  # type: ignore[union-attr]
            session.run(_use(model, write))
            session.run(session.close_tortoise(keep=session.shared and write))

        for _ in range(copies):
            start = _clock()
            names = session.new_copy()
            one_test(names, True)
            session.release(names)
            samples["copy"].append(_since(start))
        for number in range(migrations):
            for row, label in (("migrate", f"mig{number}"), ("floor", f"floor{number}")):
                start = _clock()
                names = session.empty(label)
                if row == "migrate":
                    session.run(migrate(session.march_config(names)))
                one_test(names, row == "migrate")
                for name, server in session.servers.items():
                    session.run(server.drop(names[name]))
                samples[row].append(_since(start))
    finally:
        session.close()
    return {"template": template, "samples": samples}


# -- the parent ------------------------------------------------------------------------------------
def run_backend(root: Path, backend: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run the child for one backend in a fresh process; return its figures."""
    job = json.dumps({"copies": args.copies, "migrations": args.migrations})
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--child", job],
        cwd=root,
        env={**os.environ, "BENCH_DB": url, "TORTOISE_MARCH_TEST_DB": MODES[backend]},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise SystemExit(f"{backend}: the measurement failed:\n{done.stdout}{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _median(pairs: list[list[float]], index: int) -> float:
    return statistics.median(p[index] for p in pairs)


def render(size: int, results: dict[str, dict[str, Any]]) -> str:
    """Return the Markdown tables of the run."""
    backends = list(results)
    head = "| measurement (median) | " + " | ".join(backends) + " |"
    lines = [head, "|---|" + "---:|" * len(backends)]
    rows = (
        ("copy", "copy per test (march_db)"),
        ("migrate", "migrate per test"),
        ("floor", "floor: empty database, no schema"),
    )
    for key, label in rows:
        cells = []
        for b in backends:
            pairs = results[b]["samples"][key]
            cells.append(
                f"{_median(pairs, 0) * 1000:.1f} ms wall, {_median(pairs, 1) * 1000:.1f} ms CPU "
                f"(n={len(pairs)})"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cells = [
        f"{results[b]['template'][0]:.3f} s wall, {results[b]['template'][1]:.3f} s CPU"
        for b in backends
    ]
    lines.append("| template, once per session | " + " | ".join(cells) + " |")
    lines += ["", "| ratio of medians (target) | " + " | ".join(backends) + " |"]
    lines.append("|---|" + "---:|" * len(backends))
    ratio, over = [], []
    for b in backends:
        copy = _median(results[b]["samples"]["copy"], 0)
        mig = _median(results[b]["samples"]["migrate"], 0)
        floor = _median(results[b]["samples"]["floor"], 0)
        verdict = "PASS" if mig / copy >= RATIO_TARGET else "FAIL"
        ratio.append(f"{mig / copy:.1f}x {verdict}")
        over.append(f"{copy / floor:.2f}")
    lines.append(f"| migrate / copy (≥ {RATIO_TARGET:.0f}x) | " + " | ".join(ratio) + " |")
    lines.append("| copy / floor | " + " | ".join(over) + " |")
    if "postgres" in results:
        copy = _median(results["postgres"]["samples"]["copy"], 0)
        verdict = "PASS" if copy < PG_COPY_TARGET else "FAIL"
        lines.append(f"\nPostgreSQL copy per test: {copy * 1000:.1f} ms (< 50 ms) {verdict}")
    lines.insert(0, f"{size} models, Python {platform.python_version()}, {os.cpu_count()} CPUs\n")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--backends",
        default="postgres,postgres-template,sqlite,mysql",
        help="postgres (the default reset), postgres-template (TEMPLATE copies), sqlite, mysql",
    )
    parser.add_argument("--size", type=int, default=50, help="number of models (default 50)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--copies", type=int, default=30, help="tests timed with march_db")
    parser.add_argument("--migrations", type=int, default=5, help="tests timed migrating")
    parser.add_argument("--pg", default=DEFAULT_URLS["postgres"], help="the app's PostgreSQL URL")
    parser.add_argument("--mysql", default=DEFAULT_URLS["mysql"], help="the app's MySQL URL")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Generate the project, measure each backend in its own process, print the tables."""
    args = parse_args(argv)
    if args.child:
        job = json.loads(args.child)
        print(json.dumps(child(job["copies"], job["migrations"])))
        return 0
    urls = {**DEFAULT_URLS, "postgres": args.pg, "postgres-template": args.pg}
    urls["mysql"] = args.mysql
    root = Path(tempfile.mkdtemp(prefix="march_bench_db_"))
    try:
        write_project(root, args.size, args.seed)
        results = {b: run_backend(root, b, urls[b], args) for b in args.backends.split(",") if b}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(render(args.size, results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
