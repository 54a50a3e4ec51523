"""The migration lock's own connection is opened like the application's connections.

PostgreSQL: the options Tortoise hands asyncpg (``ssl``, timeouts, statement cache, server
settings) reach the dedicated lock connection too, seen in what ``asyncpg.connect`` received and
in ``pg_stat_activity`` while the lock is held. An unknown dialect is one clear error.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.lockproject import INITIAL, NotesProject
from tortoise_march_ext.backends.locks import lock_for
from tortoise_march_ext.exceptions import MarchError

# An application with extra asyncpg options in its credentials: a pool-only one
# (max_inactive_connection_lifetime) and connection ones. While the lock is held (pre_migrate of
# the migration), read which application holds the advisory lock.
APP = textwrap.dedent(
    """
    import asyncio, json, sys
    import asyncpg
    from tortoise import Tortoise
    import tortoise_march_ext as march

    url, database = sys.argv[1], sys.argv[2]
    connects, holders = [], []
    real_connect = asyncpg.connect

    async def spy(*args, **kwargs):
        connects.append({k: repr(v) for k, v in kwargs.items()})
        return await real_connect(*args, **kwargs)

    asyncpg.connect = spy

    async def during(*, migration=None, **_):
        if migration:
            conn = await real_connect(url)
            try:
                holders.extend(await conn.fetch(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
                    "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"))
            finally:
                await conn.close()

    CONFIG = {
        "connections": {"default": {"engine": "tortoise.backends.asyncpg", "credentials": {
            "host": "127.0.0.1", "port": 5432, "user": "postgres", "database": database,
            "application_name": "march-app", "ssl": "disable", "command_timeout": 37,
            "statement_cache_size": 0, "max_inactive_connection_lifetime": 30.0,
        }}},
        "apps": {"notes": {"models": ["notes_models"], "default_connection": "default"}},
    }

    async def main():
        await Tortoise.init(config=CONFIG)
        march.signals.pre_migrate.connect(during)
        try:
            report = await march.ensure_migrated()
        finally:
            await Tortoise.close_connections()
        print(json.dumps({
            "applied": report.applied,
            "connects": connects,
            "holders": [h["application_name"] for h in holders],
        }))

    asyncio.run(main())
    """
)


def test_lock_connection_gets_the_app_connection_options(pg_url: str, tmp_path: Path) -> None:
    project = NotesProject(tmp_path / "project", pg_url)
    project.write("0001_initial", INITIAL)
    env = project.env()
    env["TORTOISE_MARCH_ON_DRIFT"] = "ignore"
    done = subprocess.run(
        [sys.executable, "-c", APP, pg_url, pg_url.rsplit("/", 1)[1]],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["applied"] == ["notes.0001_initial"]
    assert len(result["connects"]) == 1, result
    passed = result["connects"][0]
    assert passed.get("ssl") == repr("disable"), passed
    assert passed.get("command_timeout") == "37", passed
    assert passed.get("statement_cache_size") == "0", passed
    assert "max_inactive_connection_lifetime" not in passed, passed
    assert "march-app" in passed.get("server_settings", ""), passed
    assert result["holders"] == ["march-app"], result


def test_unknown_dialect_is_one_clear_error() -> None:
    client = SimpleNamespace(capabilities=SimpleNamespace(dialect="mssql"))
    with pytest.raises(MarchError) as caught:
        lock_for(client, "'default'")
    message = str(caught.value)
    assert "'mssql'" in message, message
    assert "postgres" in message and "sqlite" in message, message
    assert "'default'" in message, message
