"""The MySQL/MariaDB editor on a real server: strict sessions, server detection, name limits, the
indexes foreign keys need, and what the scenario suite does not reach."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _mysql_parts
from tests.harness import Backend, Project, assert_same
from tests.scenarios import ID, model, models
from tortoise_march_ext import commands
from tortoise_march_ext.backends import editor_for
from tortoise_march_ext.backends.mysql import MySQLEditor, fk_name, seconds
from tortoise_march_ext.backends.mysql_run import (
    AlterTable,
    ByServer,
    DropCheck,
    OnlineRefused,
    PinnedConnection,
    Server,
    server_of,
)
from tortoise_march_ext.exceptions import MigrationFailed, StateError
from tortoise_march_ext.schema.tables import Column, Table

EDITOR = MySQLEditor()


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[PinnedConnection]:
    """Yield one autocommit connection to the database of ``url``, as the editor's statements
    see one."""
    import asyncmy

    raw = await asyncmy.connect(**_mysql_parts(), db=url.rsplit("/", 1)[1], autocommit=True)
    try:
        yield PinnedConnection(raw)
    finally:
        raw.close()


def run(url: str, body: Callable[[PinnedConnection], Awaitable[Any]]) -> Any:
    """Run ``body`` on a fresh connection to ``url``."""

    async def main() -> Any:
        async with connected(url) as conn:
            return await body(conn)

    return asyncio.run(main())


@pytest.fixture
def mysql(tmp_path: Path) -> Any:
    from tests.conftest import require_mysql

    require_mysql()
    backend = Backend("mysql", tmp_path)
    yield backend
    backend.cleanup()


def test_the_registry_has_the_mysql_editor() -> None:
    assert isinstance(editor_for("mysql"), MySQLEditor)


@pytest.mark.parametrize(
    ("text", "mariadb", "version"),
    [
        ("10.11.19-MariaDB-0+deb12u1", True, (10, 11, 19)),
        ("5.5.5-10.6.12-MariaDB-log", True, (5, 5, 5)),
        ("8.0.36", False, (8, 0, 36)),
        ("8.4.0-commercial", False, (8, 4, 0)),
    ],
)
def test_server_is_read_from_its_version(
    text: str, mariadb: bool, version: tuple[int, int, int]
) -> None:
    server = Server.parse(text)
    assert (server.mariadb, server.version) == (mariadb, version)


def test_the_live_server_is_detected(mysql_url: str) -> None:
    server = run(mysql_url, server_of)
    _, rows = run(mysql_url, lambda c: c.execute_query("SELECT VERSION() AS v"))
    assert server.mariadb == ("MariaDB" in rows[0]["v"])
    assert server.version[0] >= 5


def test_a_check_is_dropped_with_the_servers_own_syntax(mysql_url: str) -> None:
    async def body(conn: PinnedConnection) -> Any:
        await conn.execute_script(
            "CREATE TABLE t (n INT, CONSTRAINT t_positive CHECK (n > 0)) CHARACTER SET utf8mb4"
        )
        await AlterTable("t", (DropCheck("t_positive"),), EDITOR.quote).run(conn)
        await conn.execute_script("INSERT INTO t (n) VALUES (-1)")
        return await conn.execute_query("SELECT n FROM t")

    assert run(mysql_url, body)[1] == [{"n": -1}]
    shown = str(AlterTable("t", (DropCheck("t_positive"),), EDITOR.quote))
    assert shown.startswith("ALTER TABLE `t` DROP CONSTRAINT `t_positive`;")
    assert "DROP CHECK" in shown


def test_by_server_runs_the_form_of_the_server(mysql_url: str) -> None:
    async def body(conn: PinnedConnection) -> Any:
        server = await server_of(conn)
        await ByServer("SET @which = 'mariadb'", "SET @which = 'mysql'").run(conn)
        _, rows = await conn.execute_query("SELECT @which AS w")
        return server, rows[0]["w"]

    server, which = run(mysql_url, body)
    assert which == ("mariadb" if server.mariadb else "mysql")


def test_session_settings_are_strict_and_map_the_lock_timeout(mysql_url: str) -> None:
    settings = EDITOR.session_settings("2500ms", "30s", local=True)
    assert "SET SESSION lock_wait_timeout = 2;" in settings

    async def body(conn: PinnedConnection) -> Any:
        await conn.execute_script("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'")
        for sql in settings:
            await (sql.run(conn) if not isinstance(sql, str) else conn.execute_script(sql))
        _, during = await conn.execute_query(
            "SELECT @@SESSION.sql_mode AS mode, @@SESSION.lock_wait_timeout AS lock_wait"
        )
        for sql in EDITOR.reset_settings():
            await (sql.run(conn) if not isinstance(sql, str) else conn.execute_script(sql))
        _, after = await conn.execute_query("SELECT @@SESSION.sql_mode AS mode")
        return during[0], after[0]

    during, after = run(mysql_url, body)
    modes = set(during["mode"].split(","))
    assert {"STRICT_ALL_TABLES", "NO_ZERO_DATE", "NO_ZERO_IN_DATE"} <= modes
    assert "ERROR_FOR_DIVISION_BY_ZERO" in modes
    assert "NO_BACKSLASH_ESCAPES" not in modes
    assert int(during["lock_wait"]) == 2
    assert after["mode"] == "NO_BACKSLASH_ESCAPES"


def test_durations_become_seconds() -> None:
    assert seconds("500ms") == 0.5
    assert seconds("2s") == 2.0
    assert seconds("1min") == 60.0
    assert seconds("250") == 0.25
    assert EDITOR.session_settings("100ms", None, local=False)[2:] == [
        "SET SESSION lock_wait_timeout = 1;",
        "SET SESSION innodb_lock_wait_timeout = 1;",
    ]


def test_lock_wait_timeout_is_recognised(mysql_url: str) -> None:
    async def body(conn: PinnedConnection) -> Any:
        await conn.execute_script("CREATE TABLE t (id INT PRIMARY KEY)")
        await conn.execute_script("INSERT INTO t VALUES (1)")
        async with connected(mysql_url) as other:
            await conn.raw.begin()
            await conn.execute_query("SELECT id FROM t WHERE id = 1 FOR UPDATE")
            await other.execute_script("SET SESSION innodb_lock_wait_timeout = 1")
            try:
                await other.execute_script("UPDATE t SET id = 2 WHERE id = 1")
            except Exception as exc:  # noqa: BLE001 - the error is what is checked
                return exc
            finally:
                await conn.raw.rollback()
        return None

    error = run(mysql_url, body)
    assert error is not None and EDITOR.is_lock_timeout(error)
    assert not EDITOR.is_lock_timeout(ValueError("1205"))


def test_names_longer_than_64_characters_are_refused_before_the_server() -> None:
    assert EDITOR.quote("x" * 64) == f"`{'x' * 64}`"
    with pytest.raises(StateError, match="65 characters.*at most 64"):
        EDITOR.quote("x" * 65)


def test_64_character_names_migrate(mysql: Backend, tmp_path: Path) -> None:
    table, index = "t" * 64, "i" * 64
    project = Project(tmp_path, mysql)
    body = f"{ID}\n{'c' * 64} = fields.IntField()"
    meta = f'indexes = (Index(fields=["{"c" * 64}"], name="{index}"),)'
    project.write_models({"app": models(model("Long", body, meta, table=table))})
    project.makemigrations()
    project.migrate()
    schema = project.schema()
    assert [i[0] for i in schema[table]["indexes"]] == [index]
    project.migrate("app", "zero")
    assert project.schema() == {}


def test_foreign_key_names_are_tortoises() -> None:
    # Tortoise's _get_fk_name for child.parent_id -> everything.id
    assert fk_name("child", "parent_id", "everything", "id") == "fk_child_everythi_48b578e0"


PERSON = model("Person", f"{ID}\nname = fields.CharField(max_length=20)")
AGED = model("Person", f"{ID}\nname = fields.CharField(max_length=20)\nage = fields.IntField()")


def _add_age_without_default(tmp_path: Path, mysql: Backend, *rows: str) -> Project:
    """Return a migrated project with Person rows, and a hand-written AddField of a NOT NULL
    ``age`` without any default or one-off value (as if the questioner had been bypassed)."""
    project = Project(tmp_path, mysql)
    project.write_models({"app": models(PERSON)})
    project.makemigrations()
    project.migrate()
    for row in rows:
        mysql.execute(project.url, f"INSERT INTO person (name) VALUES ('{row}')")
    nullable = AGED.replace("IntField()", "IntField(null=True)")
    project.write_models({"app": models(nullable)})
    project.makemigrations()
    written = next(project.migrations.glob("app/0002_*.py"))
    text = written.read_text(encoding="utf-8")
    written.write_text(text.replace("IntField(null=True)", "IntField()"), encoding="utf-8")
    project.write_models({"app": models(AGED)})
    return project


def test_not_null_column_without_value_refuses_a_table_with_rows(
    mysql: Backend, tmp_path: Path
) -> None:
    project = _add_age_without_default(tmp_path, mysql, "ann", "bob")
    with pytest.raises(MigrationFailed) as failed:
        project.migrate()
    message = str(failed.value)
    assert '"person" has 2 rows' in message and '"age"' in message
    assert "default" in message and "null=True" in message
    assert mysql.execute(project.url, "SELECT name FROM person ORDER BY id") == [
        ("ann",),
        ("bob",),
    ]
    assert "age" not in project.schema()["person"]["columns"]


def test_not_null_column_without_value_goes_on_an_empty_table(
    mysql: Backend, tmp_path: Path
) -> None:
    project = _add_age_without_default(tmp_path, mysql)
    project.migrate()
    age = project.schema()["person"]["columns"]["age"]
    assert age["nullable"] is False


def test_narrowing_a_column_over_longer_values_fails_and_keeps_them(
    mysql: Backend, tmp_path: Path
) -> None:
    project = Project(tmp_path, mysql)
    project.write_models({"app": models(PERSON)})
    project.makemigrations()
    project.migrate()
    mysql.execute(project.url, "INSERT INTO person (name) VALUES ('a name too long')")
    project.write_models({"app": models(PERSON.replace("max_length=20", "max_length=4"))})
    project.makemigrations()
    with pytest.raises(MigrationFailed, match="Data too long|Data truncated"):
        project.migrate()
    assert mysql.execute(project.url, "SELECT name FROM person") == [("a name too long",)]


def test_a_new_foreign_key_column_comes_with_its_constraint(mysql: Backend, tmp_path: Path) -> None:
    owner = model("Owner", ID)
    project = Project(tmp_path, mysql)
    project.write_models({"app": models(owner, model("Pet", ID))})
    project.makemigrations()
    project.migrate()
    pet = model("Pet", f'{ID}\nowner = fields.ForeignKeyField("app.Owner", null=True)')
    project.write_models({"app": models(owner, pet)})
    made = project.makemigrations()
    name = made.migrations[0].name
    step = asyncio.run(commands.sqlmigrate(project.config, "app", name))
    statements = [str(s) for _, batch in step.statements for s in batch]
    assert len(statements) == 1, statements
    assert "ADD COLUMN `owner_id` INT" in statements[0], statements
    assert "ADD CONSTRAINT `fk_pet_owner_" in statements[0], statements
    project.migrate()
    assert project.schema()["pet"]["foreign_keys"] == [(("owner_id",), "owner", ("id",), "CASCADE")]


def test_dropping_the_index_a_foreign_key_uses_keeps_one_for_it(
    mysql: Backend, tmp_path: Path
) -> None:
    owner = model("Owner", ID)
    indexed = model(
        "Pet",
        f'{ID}\nowner = fields.ForeignKeyField("app.Owner", related_name="pets", db_index=True)',
    )
    project = Project(tmp_path, mysql)
    project.write_models({"app": models(owner, indexed)})
    project.makemigrations()
    project.migrate()
    mysql.execute(project.url, "INSERT INTO owner (id) VALUES (1)")
    mysql.execute(project.url, "INSERT INTO pet (id, owner_id) VALUES (1, 1)")
    project.write_models({"app": models(owner, indexed.replace(", db_index=True", ""))})
    project.makemigrations()
    project.migrate()
    name = fk_name("pet", "owner_id", "owner", "id")
    indexes = mysql.execute(
        project.url,
        "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'pet' AND INDEX_NAME <> 'PRIMARY'",
    )
    assert indexes == [(name, "owner_id")]
    assert project.schema() == project.reference_schema()
    assert mysql.execute(project.url, "SELECT owner_id FROM pet") == [(1,)]


def test_create_table_is_what_tortoise_writes() -> None:
    table = Table(
        "t",
        (
            Column("id", "IntField", primary_key=True, generated=True),
            Column("note", "CharField", max_length=9, description="it's a \\ note"),
        ),
        description="Table",
    )
    assert EDITOR.create_table(table) == [
        "CREATE TABLE `t` (\n"
        "    `id` INT NOT NULL PRIMARY KEY AUTO_INCREMENT,\n"
        "    `note` VARCHAR(9) NOT NULL COMMENT 'it''s a \\\\ note'\n"
        ") CHARACTER SET utf8mb4 COMMENT='Table';"
    ]


class OnlineProject(Project):
    """A project whose config has ``safe_defaults = true``."""

    @property
    def config(self) -> Any:
        return dataclasses.replace(super().config, safe_defaults=True)


def _sql_of_last(project: Project) -> list[str]:
    made = project.makemigrations()
    name = made.migrations[0].name
    step = asyncio.run(commands.sqlmigrate(project.config, "app", name))
    return [str(s) for _, batch in step.statements for s in batch]


def test_safe_defaults_ask_for_online_algorithms(mysql: Backend, tmp_path: Path) -> None:
    project = OnlineProject(tmp_path, mysql)
    project.write_models({"app": models(PERSON)})
    project.makemigrations()
    project.migrate()
    mysql.execute(project.url, "INSERT INTO person (name) VALUES ('ann')")
    added = PERSON + "\n    age = fields.IntField(null=True)"
    project.write_models({"app": models(added)})
    (statement,) = _sql_of_last(project)
    assert statement.startswith("ALTER TABLE `person` ADD COLUMN `age` INT, ALGORITHM=INSTANT;")
    project.migrate()
    indexed = added.replace("IntField(null=True)", "IntField(null=True, db_index=True)")
    project.write_models({"app": models(indexed)})
    (statement,) = _sql_of_last(project)
    assert statement.endswith(", ALGORITHM=INPLACE, LOCK=NONE;"), statement
    project.migrate()
    retyped = indexed.replace("IntField(null=True, db_index=True)", "BigIntField(null=True)")
    project.write_models({"app": models(retyped)})
    (statement,) = _sql_of_last(project)
    assert "ALGORITHM" not in statement, statement  # a type change copies: lint's business
    project.migrate()
    assert mysql.execute(project.url, "SELECT name, age FROM person") == [("ann", None)]
    assert project.schema() == project.reference_schema()


def test_an_online_change_the_server_cannot_do_is_refused(mysql_url: str) -> None:
    online = ("ALGORITHM=INPLACE, LOCK=NONE",)

    async def body(conn: PinnedConnection) -> Any:
        await conn.execute_script(
            "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20)) CHARACTER SET utf8mb4"
        )
        try:
            await AlterTable("t", ("ADD FULLTEXT KEY ft (s)",), EDITOR.quote, online).run(conn)
        except OnlineRefused as exc:
            refused = str(exc)
        else:
            refused = ""
        _, rows = await conn.execute_query(
            "SELECT INDEX_NAME AS i FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 't' AND INDEX_NAME = 'ft'"
        )
        return refused, rows

    refused, rows = run(mysql_url, body)
    assert "table t: the server cannot make this change without copying" in refused
    assert "safe_defaults = false" in refused
    assert rows == []


def test_instant_falls_back_to_inplace_without_locks(mysql_url: str) -> None:
    both = ("ALGORITHM=INSTANT", "ALGORITHM=INPLACE, LOCK=NONE")

    async def body(conn: PinnedConnection) -> Any:
        await conn.execute_script("CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))")
        await AlterTable("t", ("ADD KEY k (s)",), EDITOR.quote, both).run(conn)
        _, rows = await conn.execute_query(
            "SELECT INDEX_NAME AS i FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 't' AND INDEX_NAME = 'k'"
        )
        return rows

    assert run(mysql_url, body) == [{"i": "k"}]


def test_concurrent_index_operations_run_without_locks() -> None:
    from tortoise_march_ext.schema.tables import TableIndex

    (create,) = EDITOR.create_index_concurrently("t", TableIndex("i", ("a",)))
    (drop,) = EDITOR.drop_index_concurrently("t", TableIndex("i", ("a",)))
    assert str(create) == "ALTER TABLE `t` ADD KEY `i` (`a`), ALGORITHM=INPLACE, LOCK=NONE;"
    assert str(drop) == "ALTER TABLE `t` DROP INDEX `i`, ALGORITHM=INPLACE, LOCK=NONE;"


def _pet(table: str = "pet", options: str = "") -> str:
    fk = f'owner = fields.ForeignKeyField("app.Owner", related_name="pets"{options})'
    return model("Pet", f"{ID}\n{fk}", table=table)


def test_foreign_keys_follow_renames_of_both_tables(mysql: Backend, tmp_path: Path) -> None:
    # The target's rename leaves the key (and its index) named after the old target; later
    # changes find them under the name the server has, not the one derived now.
    owner, keeper = model("Owner", ID), model("Owner", ID, table="keeper")
    versions = [
        models(owner, _pet()),
        models(keeper, _pet()),
        models(keeper, _pet("animal")),
        models(keeper, _pet("animal", ", on_delete=fields.RESTRICT")),
        models(keeper, _pet("animal", ", db_index=True")),
        models(keeper, _pet("animal")),
        models(keeper, model("Pet", f"{ID}\nowner = fields.IntField()", table="animal")),
    ]
    project = Project(tmp_path, mysql)
    for number, source in enumerate(versions, start=1):
        project.write_models({"app": source})
        project.makemigrations()
        project.migrate()
        if number == 1:
            mysql.execute(project.url, "INSERT INTO owner (id) VALUES (1)")
            mysql.execute(project.url, "INSERT INTO pet (id, owner_id) VALUES (1, 1)")
        assert_same(project.schema(), project.reference_schema(), f"version {number}")
    assert mysql.execute(project.url, "SELECT id, owner FROM animal") == [(1, 1)]
    project.migrate("app", "zero")
    assert project.schema() == {}


def test_an_unknown_dialect_names_the_supported_ones() -> None:
    from tortoise_march_ext.exceptions import DatabaseError

    with pytest.raises(DatabaseError, match="'mssql' is not supported yet; use PostgreSQL, MySQL"):
        editor_for("mssql")
