"""Runtime: the Tortoise.init drift check, the state cache, ensure_migrated, signals, lifespan."""

from __future__ import annotations

import ast
import asyncio
import inspect
import subprocess
import sys
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise

import tortoise_march_ext as march
from tests.harness import Backend, Project
from tests.scenarios import ID, model, models
from tortoise_march_ext.config import load_config
from tortoise_march_ext.exceptions import PendingMigrations
from tortoise_march_ext.runtime import cache, drift
from tortoise_march_ext.runtime.signals import SignalError

V1 = models(model("Person", f"{ID}\nname = fields.CharField(max_length=50)"))
V2 = models(
    model("Person", f"{ID}\nname = fields.CharField(max_length=50)\nemail = fields.TextField()")
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A SQLite project with V1 migrated files (not applied), cwd inside it, wrapper installed."""
    backend = Backend("sqlite", tmp_path)
    proj = Project(tmp_path, backend)
    proj.write_models({"app": V1})
    proj.makemigrations()
    (tmp_path / "pyproject.toml").write_text('[tool.tortoise_march_ext]\nlocation = "migrations"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TORTOISE_MARCH_ON_DRIFT", raising=False)
    march.install()
    return proj


async def _close() -> None:
    await Tortoise.close_connections()
    await Tortoise._reset_apps()


def in_tortoise(proj: Project, body: Callable[[], Awaitable[Any]], *, check: bool = True) -> Any:
    """Run ``body`` between Tortoise.init and closing the connections, in one event loop."""

    async def run() -> Any:
        try:
            if check:
                await Tortoise.init(config=proj.tortoise_config())
            else:
                from tortoise_march_ext.project import drift_check_suppressed

                with drift_check_suppressed():
                    await Tortoise.init(config=proj.tortoise_config())
            return await body()
        finally:
            await _close()

    return asyncio.run(run())


def init(proj: Project) -> list[warnings.WarningMessage]:
    """Run Tortoise.init for the project's current models; return the drift warnings."""

    async def run() -> None:
        try:
            await Tortoise.init(config=proj.tortoise_config())
        finally:
            await _close()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(run())
    return [w for w in caught if issubclass(w.category, march.MarchDriftWarning)]


def test_no_warning_when_models_match_the_files(project: Project) -> None:
    assert init(project) == []


def test_drift_warning_names_each_difference_and_the_fix(project: Project) -> None:
    project.write_models({"app": V2})
    caught = init(project)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "app.Person: field email added" in message
    assert "makemigrations" in message


def test_on_drift_error_raises_from_tortoise_init(project: Project, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.tortoise_march_ext]\nlocation = "migrations"\non_drift = "error"\n'
    )
    project.write_models({"app": V2})
    with pytest.raises(march.MarchDriftError, match="field email added"):
        init(project)


ON_DRIFT_ERROR = '[tool.tortoise_march_ext]\nlocation = "migrations"\non_drift = "error"\n'


def _broken_file(tmp_path: Path) -> None:
    (tmp_path / "migrations" / "app" / "0002_broken.py").write_text("class Migration(:\n")


def _missing_import(tmp_path: Path) -> None:
    (tmp_path / "migrations" / "app" / "0002_gone.py").write_text("import no_such_module_x\n")


def _bad_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.tortoise_march_ext]\non_drift = "maybe"\n')


def _replay_fails(tmp_path: Path) -> None:
    (tmp_path / "migrations" / "app" / "0002_ghost.py").write_text(
        "from tortoise_march_ext import migrations\n"
        "from tortoise_march_ext.schema import fields\n\n\n"
        "class Migration(migrations.Migration):\n"
        '    dependencies = (("app", "0001_initial"),)\n'
        "    operations = (\n"
        '        migrations.AddField(model="Ghost", name="x", field=fields.IntField()),\n'
        "    )\n"
    )


def _a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("a bug in the autodetector")

    monkeypatch.setattr(drift, "detect_changes", boom)


def _database_down(monkeypatch: pytest.MonkeyPatch) -> None:
    async def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionRefusedError("connection refused")

    from tortoise_march_ext.runtime import ensure

    monkeypatch.setattr(ensure, "pending_migrations", down)
    real = drift.check
    monkeypatch.setattr(drift, "check", lambda config: real(config, database=True))


FAILURES: dict[str, Callable[..., None]] = {
    "broken migration file": _broken_file,
    "migration imports a missing module": _missing_import,
    "bad config": _bad_config,
    "a migration that cannot replay": _replay_fails,
    "a bug": _a_bug,
    "database down": _database_down,
}


@pytest.mark.parametrize("on_drift", ["warn", "error"])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_an_internal_failure_is_one_warning_and_init_goes_on(
    project: Project,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
    on_drift: str,
) -> None:
    if on_drift == "error":
        (tmp_path / "pyproject.toml").write_text(ON_DRIFT_ERROR)
    break_it = FAILURES[failure]
    break_it(*(tmp_path if "tmp_path" in inspect.signature(break_it).parameters else monkeypatch,))
    seen: list[bool] = []

    async def body() -> None:
        seen.append(Tortoise.apps is not None)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        in_tortoise(project, body)
    drifted = [w for w in caught if issubclass(w.category, march.MarchDriftWarning)]
    assert seen == [True], "Tortoise.init returned and the app went on"
    assert len(drifted) == 1, [str(w.message) for w in drifted]
    assert "drift check skipped" in str(drifted[0].message)
    assert drifted[0].filename == __file__


def test_a_failing_drift_handler_is_a_warning_and_the_drift_still_reported(
    project: Project, tmp_path: Path
) -> None:
    def handler(**_: Any) -> None:
        raise RuntimeError("handler bug")

    march.signals.drift_detected.connect(handler)
    try:
        project.write_models({"app": V2})
        caught = init(project)
        (tmp_path / "pyproject.toml").write_text(ON_DRIFT_ERROR)
        with pytest.raises(march.MarchDriftError, match="field email added"):
            init(project)
    finally:
        march.signals.drift_detected.disconnect(handler)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2
    assert "handler bug" in messages[0] and "field email added" in messages[1]


def test_environment_overrides_on_drift(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORTOISE_MARCH_ON_DRIFT", "ignore")
    project.write_models({"app": V2})
    assert init(project) == []


def test_drift_detected_signal_gets_the_report(project: Project) -> None:
    seen: list[Any] = []

    @march.signals.drift_detected
    async def handler(*, report: drift.DriftReport, **_: Any) -> None:
        seen.append(report)

    try:
        project.write_models({"app": V2})
        init(project)
    finally:
        march.signals.drift_detected.disconnect(handler)
    assert [r.differences for r in seen] == [["app.Person: field email added"]]


def test_install_is_idempotent_and_keeps_the_signature() -> None:
    march.uninstall()
    original = Tortoise.init
    signature = inspect.signature(original)
    march.install()
    wrapped = Tortoise.init
    march.install()
    assert Tortoise.init == wrapped
    assert inspect.signature(Tortoise.init) == signature
    assert drift.installed()
    march.uninstall()
    assert Tortoise.init == original
    assert not drift.installed()
    march.install()


def test_importing_the_package_installs_the_wrapper() -> None:
    code = (
        "from tortoise import Tortoise\n"
        "before = Tortoise.init\n"
        "import tortoise_march_ext\n"
        "from tortoise_march_ext.runtime import drift\n"
        "assert drift.installed() and Tortoise.init != before\n"
        "assert Tortoise.init.__func__.__march_wrapped__\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_meta_imports_nothing_of_the_package() -> None:
    tree = ast.parse(Path(march.meta.__file__ or "").read_text())
    imported = [
        node.module or "."
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.level or "march" in (node.module or ""))
    ]
    imported += [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if "march" in alias.name
    ]
    assert imported == []


def test_warm_cache_does_not_import_migrations(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert init(project) == []
    assert (tmp_path / "migrations" / ".march_cache" / cache.CACHE_FILE).is_file()
    calls: list[Path] = []
    real = cache.load_migrations

    def counting(location: Path, *rest: Any) -> Any:
        calls.append(location)
        return real(location, *rest)

    monkeypatch.setattr(cache, "load_migrations", counting)
    assert init(project) == []
    assert calls == []
    migration = next((tmp_path / "migrations" / "app").glob("0001_*.py"))
    migration.write_text(migration.read_text() + "\n# edited\n")
    assert init(project) == []
    assert len(calls) == 1


def test_check_reports_without_changing_anything(project: Project) -> None:
    project.write_models({"app": V2})

    report = in_tortoise(project, lambda: march.check(database=True), check=False)
    assert report.differences == ["app.Person: field email added"]
    assert report.pending == ["app.0001_initial"]
    assert project.backend.execute(project.url, "SELECT name FROM sqlite_master") == []


class QueryCounter:
    """Count the statements a Tortoise client runs (the database still runs them)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, client: Any) -> None:
        self.count = 0
        for name in ("execute_query", "execute_script", "execute_query_dict"):
            real = getattr(client, name)
            monkeypatch.setattr(client, name, self._counting(real))

    def _counting(self, real: Any) -> Any:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await real(*args, **kwargs)

        return wrapper


def test_ensure_migrated_applies_once_then_takes_the_fast_path(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str | None]] = []

    @march.signals.pre_migrate
    def before(*, migration: str | None, **_: Any) -> None:
        events.append(("pre", migration))

    @march.signals.post_migrate
    async def after(*, migration: str | None, **_: Any) -> None:
        events.append(("post", migration))

    async def body() -> tuple[march.MigrationReport, march.MigrationReport, int]:
        first = await march.ensure_migrated()
        counter = QueryCounter(monkeypatch, Tortoise.get_connection("default"))
        second = await march.ensure_migrated()
        return first, second, counter.count

    try:
        first, second, queries = in_tortoise(project, body)
    finally:
        march.signals.pre_migrate.disconnect(before)
        march.signals.post_migrate.disconnect(after)
    assert first.applied == ["app.0001_initial"]
    assert second.applied == [] and not second.changed
    assert queries <= 2
    assert events == [
        ("pre", None),
        ("pre", "app.0001_initial"),
        ("post", "app.0001_initial"),
        ("post", None),
    ]
    assert project.backend.execute(project.url, "SELECT count(*) FROM person") == [(0,)]


def test_check_only_lists_pending_and_applies_nothing(project: Project) -> None:
    with pytest.raises(PendingMigrations, match="app.0001_initial") as error:
        in_tortoise(project, lambda: march.ensure_migrated(check_only=True))
    assert error.value.pending == ["app.0001_initial"]
    tables = "SELECT name FROM sqlite_master WHERE name = 'person'"
    assert project.backend.execute(project.url, tables) == []


def test_failing_signal_handler_fails_the_run_and_names_itself(project: Project) -> None:
    def broken(**_: Any) -> None:
        raise RuntimeError("boom")

    march.signals.pre_migrate.connect(broken)

    try:
        with pytest.raises(SignalError, match="pre_migrate handler .*broken raised RuntimeError"):
            in_tortoise(project, march.ensure_migrated)
    finally:
        march.signals.pre_migrate.disconnect(broken)
    tables = "SELECT name FROM sqlite_master WHERE name = 'person'"
    assert project.backend.execute(project.url, tables) == []


def test_lifespan_initialises_migrates_and_closes(project: Project) -> None:
    async def run() -> march.MigrationReport:
        config = load_config(tortoise_config=project.tortoise_config())
        async with march.lifespan(config) as report:
            assert Tortoise.apps is not None
        return report

    report = asyncio.run(run())
    assert report.applied == ["app.0001_initial"]
    tables = "SELECT name FROM sqlite_master WHERE name = 'person'"
    assert project.backend.execute(project.url, tables) == [("person",)]
