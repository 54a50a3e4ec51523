"""Reading a MySQL/MariaDB schema (``tortoise_march_ext.introspect.mysql``) on a real server.

Databases come from the ``mysql_url`` fixture / ``Backend("mysql")`` (server
``MARCH_TEST_MYSQL``, default ``mysql://root:@127.0.0.1:3306``): skipped when unreachable,
failing instead with ``CI=true``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tortoise.context import TortoiseContext
from tortoise.transactions import in_transaction

from tests.cliproject import make_project, show
from tests.conftest import require_mysql
from tests.harness import Backend, Project
from tests.scenarios import ID, model, models
from tortoise_march_ext.commands.schema_check import schema_differences
from tortoise_march_ext.engine.executor import replay
from tortoise_march_ext.exceptions import DatabaseError
from tortoise_march_ext.introspect import Schema, diff_schemas, expected, introspect
from tortoise_march_ext.introspect.expected import built_schema
from tortoise_march_ext.introspect.mysql import column_default, column_type, parse_version
from tortoise_march_ext.project import open_project
from tortoise_march_ext.schema.tables import model_tables

RICH_MODELS = """
from enum import Enum, IntEnum

from tortoise import fields
from tortoise.fields.db_defaults import Now
from tortoise.models import Model


class Color(IntEnum):
    RED = 1
    GREEN = 2


class Size(str, Enum):
    S = "small"
    L = "large"


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True, description="The (name) of it")
    founded = fields.DateField(null=True)

    class Meta:
        table = "company"
        table_description = "Companies we know"


class Contact(Model):
    id = fields.BigIntField(primary_key=True)
    email = fields.CharField(max_length=100, db_index=True)
    nick = fields.CharField(max_length=20, db_default="an'on")
    visits = fields.IntField(db_default=0)
    age = fields.SmallIntField(null=True)
    score = fields.FloatField(default=1.5)
    balance = fields.DecimalField(max_digits=10, decimal_places=2, default=0)
    active = fields.BooleanField(db_default=True)
    bio = fields.TextField(null=True)
    data = fields.JSONField(null=True)
    token = fields.UUIDField(unique=True)
    blob = fields.BinaryField(null=True)
    color = fields.IntEnumField(Color, default=Color.RED)
    size = fields.CharEnumField(Size, default=Size.S)
    created = fields.DatetimeField(auto_now_add=True)
    modified = fields.DatetimeField(auto_now=True)
    stamp = fields.DatetimeField(db_default=Now())
    seen = fields.TimeField(null=True)
    span = fields.TimeDeltaField(null=True)
    company = fields.ForeignKeyField(
        "models.Company", on_delete=fields.CASCADE, related_name="contacts"
    )
    referrer = fields.ForeignKeyField(
        "models.Contact", on_delete=fields.SET_NULL, null=True, related_name="referred"
    )
    owner = fields.ForeignKeyField(
        "models.Company", on_delete=fields.RESTRICT, null=True, related_name="owned",
        db_index=True,
    )
    keeper = fields.ForeignKeyField(
        "models.Company", on_delete=fields.NO_ACTION, null=True, related_name="kept"
    )

    class Meta:
        table = "contact"
        unique_together = (("company", "email"),)
        indexes = (("nick", "age"),)


class Profile(Model):
    id = fields.UUIDField(primary_key=True)
    contact = fields.OneToOneField(
        "models.Contact", on_delete=fields.CASCADE, related_name="profile"
    )
    tags = fields.ManyToManyField("models.Tag", related_name="profiles")


class Tag(Model):
    id = fields.SmallIntField(primary_key=True)
    label = fields.CharField(max_length=50, description="it's a label")
    members = fields.ManyToManyField(
        "models.Contact", through="tag_member", related_name="tags"
    )
"""


@pytest.fixture
def mysql() -> Iterator[Backend]:
    """Yield the MySQL backend of the harness; its databases are dropped afterwards."""
    require_mysql()
    made = Backend("mysql", Path("."))
    yield made
    made.cleanup()


def _module(tmp_path: Path, source: str) -> ModuleType:
    name = f"mysql_models_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


async def _generate(url: str, module: ModuleType) -> Schema:
    async with TortoiseContext() as ctx:
        await ctx.init(db_url=url, modules={"models": [module.__name__]})
        await ctx.generate_schemas(safe=False)
        return await introspect(ctx.connections.get("default"))


def generated(mysql: Backend, tmp_path: Path) -> tuple[str, Schema]:
    """Return a new database built by generate_schemas() from RICH_MODELS, and its schema
    as read through the Tortoise client."""
    url = mysql.new_url()
    return url, asyncio.run(_generate(url, _module(tmp_path, RICH_MODELS)))


def test_generate_schemas_twice_reads_the_same(mysql: Backend, tmp_path: Path) -> None:
    url, first = generated(mysql, tmp_path)
    _, second = generated(mysql, tmp_path)
    assert diff_schemas(first, second) == []
    assert first == second
    # The harness (asyncmy directly) reads what the Tortoise client reads.
    assert mysql.introspect(url) == first
    assert set(first) == {"company", "contact", "profile", "tag", "profile_tag", "tag_member"}

    company, contact = first["company"], first["contact"]
    assert company["comment"] == "Companies we know"
    assert company["columns"]["name"]["comment"] == "The (name) of it"
    assert company["columns"]["id"] == {
        "type": "INT",
        "nullable": False,
        "default": "AUTO_INCREMENT",
        "pk": True,
        "comment": None,
        "collation": None,
    }
    assert company["uniques"] == [("name", ("name",))]
    columns = contact["columns"]
    types = {name: column["type"] for name, column in columns.items()}
    assert types["data"] == "JSON"
    assert types["active"] == "BOOL"
    assert types["token"] == "CHAR(36)"
    assert types["balance"] == "DECIMAL(10,2)"
    assert types["blob"] == "LONGBLOB"
    assert types["created"] == "DATETIME(6)"
    assert types["color"] == "SMALLINT" and types["size"] == "VARCHAR(5)"
    assert columns["color"]["comment"] == "RED: 1\nGREEN: 2"
    assert columns["nick"]["default"] == "'an''on'"
    assert columns["visits"]["default"] == "0"
    assert columns["active"]["default"] == "1"
    assert columns["stamp"]["default"] == "current_timestamp(6)"
    assert columns["data"]["collation"] is None  # MariaDB's utf8mb4_bin for JSON is implied
    # The automatic CHECK (json_valid(data)) of MariaDB is part of the JSON type, not a check.
    assert contact["checks"] == []
    assert contact["foreign_keys"] == [
        (("company_id",), "company", ("id",), "CASCADE"),
        (("keeper_id",), "company", ("id",), "NO ACTION"),
        (("owner_id",), "company", ("id",), "RESTRICT"),
        (("referrer_id",), "contact", ("id",), "SET NULL"),
    ]
    # The indexes the server adds for keeper_id and referrer_id are not listed; the ones
    # Tortoise writes are (owner_id's db_index serves its foreign key).
    assert [i[1] for i in contact["indexes"]] == [("email",), ("nick", "age"), ("owner_id",)]
    assert all(i[2:] == (False, "btree", None) for i in contact["indexes"])
    assert [u[1] for u in contact["uniques"]] == [("token",), ("company_id", "email")]
    assert first["profile"]["uniques"] == [("contact_id", ("contact_id",))]
    assert first["profile"]["columns"]["id"]["type"] == "CHAR(36)"
    through = first["tag_member"]
    assert through["foreign_keys"] == [
        (("contact_id",), "contact", ("id",), "CASCADE"),
        (("tag_id",), "tag", ("id",), "CASCADE"),
    ]
    assert through["indexes"] == []
    assert [u[1] for u in through["uniques"]] == [("tag_id", "contact_id")]


def _changed(mysql: Backend, tmp_path: Path, *statements: str) -> tuple[Schema, Schema]:
    """Return (changed by hand, as built) for two databases built from RICH_MODELS."""
    url, changed = generated(mysql, tmp_path)
    _, reference = generated(mysql, tmp_path)
    for sql in statements:
        mysql.execute(url, sql)
    return mysql.introspect(url), reference


@pytest.mark.parametrize(
    ("statements", "diff_line", "check_line"),
    [
        (
            ["ALTER TABLE `tag` MODIFY `label` VARCHAR(60) NOT NULL COMMENT 'it''s a label'"],
            "tag.label: type VARCHAR(60) != VARCHAR(50)",
            ("tag", "column label is VARCHAR(60) in the database, VARCHAR(50) in the migrations"),
        ),
        (
            ["ALTER TABLE `contact` DROP INDEX `idx_contact_nick_a8ee39`"],
            "contact: indexes differ: [] vs "
            "[('idx_contact_nick_a8ee39', ('nick', 'age'), False, 'btree', None)]",
            (
                "contact",
                "index idx_contact_nick_a8ee39 USING btree (nick, age) is missing in the database",
            ),
        ),
        (
            ["ALTER TABLE `company` ADD CONSTRAINT `named` CHECK (CHAR_LENGTH(`name`) > 0)"],
            "company: checks differ: [('named', 'char_length(name) > 0')] vs []",
            ("company", "check named (char_length(name) > 0) is in the database only"),
        ),
        (
            ["ALTER TABLE `tag` ADD CONSTRAINT `uniq_label` UNIQUE (`label`)"],
            "tag: uniques differ: [('uniq_label', ('label',))] vs []",
            ("tag", "unique uniq_label (label) is in the database only"),
        ),
        (
            [
                "ALTER TABLE `contact` DROP FOREIGN KEY `fk_contact_company_2c6f792d`",
                "ALTER TABLE `contact` ADD CONSTRAINT `fk_contact_company_2c6f792d` "
                "FOREIGN KEY (`company_id`) REFERENCES `company` (`id`) ON DELETE RESTRICT",
            ],
            "contact: foreign_keys differ: [(('company_id',), 'company', ('id',), 'RESTRICT')]"
            " vs [(('company_id',), 'company', ('id',), 'CASCADE')]",
            (
                "contact",
                "foreign key (company_id) -> company (id) ON DELETE CASCADE is missing in the "
                "database",
                "foreign key (company_id) -> company (id) ON DELETE RESTRICT is in the database "
                "only",
            ),
        ),
        (
            ["ALTER TABLE `contact` ALTER `nick` SET DEFAULT 'anon'"],
            "contact.nick: default \"'anon'\" != \"'an''on'\"",
            ("contact", "column nick has default 'anon' in the database, default 'an''on' in the"),
        ),
        (
            ["ALTER TABLE `contact` MODIFY `data` LONGTEXT NULL"],
            "contact.data: type LONGTEXT != JSON",
            ("contact", "column data is LONGTEXT in the database, JSON in the migrations"),
        ),
        (
            ["ALTER TABLE `contact` MODIFY `visits` INT UNSIGNED NOT NULL DEFAULT 0"],
            "contact.visits: type INT UNSIGNED != INT",
            ("contact", "column visits is INT UNSIGNED in the database, INT in the migrations"),
        ),
        (
            ["ALTER TABLE `company` COMMENT = 'Firms'"],
            "company: comment Firms != Companies we know",
            ("company", "table company has comment 'Firms' in the database, 'Companies we know'"),
        ),
        (
            [
                "ALTER TABLE `tag` MODIFY `label` VARCHAR(50) COLLATE utf8mb4_bin NOT NULL "
                "COMMENT 'it''s a label'"
            ],  # fmt: skip
            "tag.label: collation 'utf8mb4_bin' != None",
            ("tag", "column label has collation utf8mb4_bin in the database, the table's"),
        ),
        (
            ["ALTER TABLE `tag` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"],
            "tag: collation utf8mb4_bin != utf8mb4_",  # the server's default for utf8mb4
            ("tag", "table tag has collation utf8mb4_bin in the database, utf8mb4_"),
        ),
    ],
    ids=[
        "type",
        "index-dropped",
        "check-added",
        "unique-added",
        "on-delete",
        "default",
        "json-check-dropped",
        "unsigned",
        "table-comment",
        "collation",
        "table-collation",
    ],
)
def test_a_change_by_hand_is_a_difference(
    mysql: Backend,
    tmp_path: Path,
    statements: list[str],
    diff_line: str,
    check_line: tuple[str, ...],
) -> None:
    live, reference = _changed(mysql, tmp_path, *statements)
    lines = diff_schemas(live, reference)
    assert len(lines) == 1, lines
    assert lines[0].startswith(diff_line), lines
    table, *expected = check_line
    reported = schema_differences(live, reference, table)
    assert len(reported) == len(expected), reported
    for line, start in zip(reported, expected, strict=True):
        assert line.startswith(start), reported
    for other in set(reference) - {table}:
        assert schema_differences(live, reference, other) == [], other


def test_the_index_the_server_adds_for_a_foreign_key(mysql: Backend) -> None:
    """However the foreign key is written (named or not, inline or added later, before or after
    an index that serves it), the table reads the same as one generate_schemas() builds."""
    tables = """
        CREATE TABLE `parent` (`id` INT NOT NULL PRIMARY KEY AUTO_INCREMENT)
            CHARACTER SET utf8mb4;
        CREATE TABLE `child` (
            `id` INT NOT NULL PRIMARY KEY AUTO_INCREMENT,
            `a_id` INT NOT NULL,
            `b_id` INT,
            KEY `idx_child_b_id_0a1b2c` (`b_id`)
            {inline}
        ) CHARACTER SET utf8mb4;
    """
    variants = {
        "inline, named": (
            ", CONSTRAINT `fk_child_parent_1` FOREIGN KEY (`a_id`) REFERENCES `parent` (`id`) "
            "ON DELETE CASCADE, CONSTRAINT `fk_child_parent_2` FOREIGN KEY (`b_id`) "
            "REFERENCES `parent` (`id`) ON DELETE SET NULL",
            [],
        ),
        "inline, unnamed": (
            ", FOREIGN KEY (`a_id`) REFERENCES `parent` (`id`) ON DELETE CASCADE, "
            "FOREIGN KEY (`b_id`) REFERENCES `parent` (`id`) ON DELETE SET NULL",
            [],
        ),
        "added later, other names": (
            "",
            [
                "ALTER TABLE `child` ADD CONSTRAINT `other` FOREIGN KEY (`a_id`) "
                "REFERENCES `parent` (`id`) ON DELETE CASCADE, ADD CONSTRAINT `another` "
                "FOREIGN KEY (`b_id`) REFERENCES `parent` (`id`) ON DELETE SET NULL"
            ],
        ),
    }
    schemas = {}
    for label, (inline, later) in variants.items():
        url = mysql.new_url()
        for statement in tables.format(inline=inline).split(";"):
            if statement.strip():
                mysql.execute(url, statement)
        for statement in later:
            mysql.execute(url, statement)
        schemas[label] = mysql.introspect(url)
    # An index written before the foreign key by hand, named like the column, serves it too.
    url = mysql.new_url()
    for statement in tables.format(inline="").split(";"):
        if statement.strip():
            mysql.execute(url, statement)
    mysql.execute(url, "CREATE INDEX `a_id` ON `child` (`a_id`)")
    mysql.execute(
        url,
        "ALTER TABLE `child` ADD FOREIGN KEY (`a_id`) REFERENCES `parent` (`id`) "
        "ON DELETE CASCADE, ADD FOREIGN KEY (`b_id`) REFERENCES `parent` (`id`) "
        "ON DELETE SET NULL",
    )
    schemas["index by hand"] = mysql.introspect(url)
    first = schemas["inline, named"]
    for label, schema in schemas.items():
        assert diff_schemas(schema, first) == [], label
    assert first["child"]["indexes"] == [("idx_child_b_id_0a1b2c", ("b_id",), False, "btree", None)]
    # An index that no foreign key needs any longer is one, whatever its name.
    mysql.execute(url, "ALTER TABLE `child` DROP FOREIGN KEY `child_ibfk_1`")
    left = mysql.introspect(url)
    assert [i[0] for i in left["child"]["indexes"]] == ["a_id", "idx_child_b_id_0a1b2c"]
    assert (("a_id",), "parent", ("id",), "CASCADE") not in left["child"]["foreign_keys"]


def test_defaults_checks_and_index_details(mysql: Backend) -> None:
    url = mysql.new_url()
    mysql.execute(
        url,
        "CREATE TABLE `t` ("
        " `id` INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " `a` VARCHAR(20) NOT NULL DEFAULT 'x',"
        " `b` INT DEFAULT NULL,"
        " `c` DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),"
        " `d` ENUM('x','Y') DEFAULT 'Y',"
        " `e` INT AS (`b` * 2) STORED,"
        " `f` INT CHECK (`f` > 1),"
        " `h` TEXT,"
        " CHECK (`b` > 0),"
        " CONSTRAINT `named` CHECK (`a` <> 'z'),"
        " KEY `px` (`a`(5), `b` DESC),"
        " FULLTEXT KEY `ft` (`h`)"
        ") CHARACTER SET utf8mb4",
    )
    table = mysql.introspect(url)["t"]
    columns = table["columns"]
    assert columns["id"]["type"] == "INT UNSIGNED"
    assert columns["a"]["default"] == "'x'"
    assert columns["b"]["default"] is None
    assert columns["c"]["default"] == "current_timestamp(6) ON UPDATE current_timestamp(6)"
    assert columns["d"]["type"] == "ENUM('x','Y')" and columns["d"]["default"] == "'Y'"
    assert columns["e"]["default"] == "GENERATED ALWAYS AS (b * 2) STORED"
    # Names the server makes up for unnamed checks are not kept.
    assert table["checks"] == [(None, "b > 0"), (None, "f > 1"), ("named", "a <> 'z'")]
    assert table["indexes"] == [
        ("ft", ("h",), False, "fulltext", None),
        ("px", ("a(5)", "b DESC"), False, "btree", None),
    ]


def test_mariadb_and_mysql_spellings_read_the_same() -> None:
    assert parse_version("10.11.6-MariaDB-0+deb12u1").mariadb
    assert parse_version("8.0.36").version == (8, 0, 36)
    assert not parse_version("8.0.36-0ubuntu0.22.04.1").mariadb
    for mariadb, mysql8 in [
        ("int(11)", "int"),
        ("bigint(20) unsigned", "bigint unsigned"),
        ("tinyint(1)", "tinyint(1)"),
        ("smallint(6)", "smallint"),
    ]:
        assert column_type(mariadb) == column_type(mysql8)
    assert column_type("tinyint(1)") == "BOOL"
    assert column_type("tinyint(4)") == "TINYINT"
    assert column_type("int(5) unsigned zerofill") == "INT(5) UNSIGNED ZEROFILL"
    assert column_type("varchar(20)") == "VARCHAR(20)"
    assert column_type("enum('a','B')") == "ENUM('a','B')"

    def row(default: Any, extra: str = "", data_type: str = "varchar") -> dict[str, Any]:
        return {"column_default": default, "extra": extra, "data_type": data_type}

    pairs = [
        (row("'it''s'"), row("it's")),
        (row("NULL"), row(None)),
        (row("3", data_type="int"), row("3", data_type="int")),
        (
            row("current_timestamp(6)", "on update current_timestamp(6)", "datetime"),
            row("CURRENT_TIMESTAMP(6)", "DEFAULT_GENERATED on update CURRENT_TIMESTAMP(6)",
                "datetime"),
        ),
        (row("current_timestamp()", data_type="datetime"),
         row("CURRENT_TIMESTAMP", "DEFAULT_GENERATED", "datetime")),
        (row("'2020-01-01'", data_type="date"), row("2020-01-01", data_type="date")),
        (row("uuid()", data_type="char"), row("(uuid())", "DEFAULT_GENERATED", "char")),
    ]  # fmt: skip
    for maria_row, mysql_row in pairs:
        assert column_default(maria_row, True) == column_default(mysql_row, False), maria_row
    assert column_default(row("NULL"), True) is None
    assert column_default(row("'NULL'"), True) == "'NULL'"
    assert column_default(row(None, "auto_increment", "int"), True) == "AUTO_INCREMENT"


# ----------------------------------------------------------------------------------------------
# check --schema end to end (the example project through the real CLI)
# ----------------------------------------------------------------------------------------------


def test_check_schema_on_mariadb(tmp_path: Path, mysql: Backend) -> None:
    project = make_project(tmp_path, mysql.new_url())
    project.ok("makemigrations")
    project.ok("migrate")
    result = project.run("check", "--schema")
    assert result.returncode == 0, show(result)
    assert "matches the applied migrations (contacts)" in result.stdout, show(result)

    url = project.database_url
    mysql.execute(url, "ALTER TABLE `tag` MODIFY `label` VARCHAR(60) NOT NULL")
    mysql.execute(
        url, "ALTER TABLE `company` ADD CONSTRAINT `named` CHECK (CHAR_LENGTH(`name`) > 0)"
    )
    result = project.run("check", "--schema")
    assert result.returncode == 1, show(result)
    lines = result.stdout.splitlines()
    assert lines == [
        "contacts.Company: check named (char_length(name) > 0) is in the database only",
        "contacts.Tag: column label is VARCHAR(60) in the database, VARCHAR(50) in the migrations",
    ], show(result)


def test_check_schema_in_process_builds_and_drops_a_scratch_database(
    tmp_path: Path, mysql: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project(tmp_path, mysql)
    project.write_models(
        {
            "shop": models(
                model(
                    "Item",
                    f"""{ID}
name = fields.CharField(max_length=40, db_index=True)
data = fields.JSONField(null=True)
price = fields.DecimalField(max_digits=8, decimal_places=2, db_default=0)
made = fields.DatetimeField(db_default=Now())
""",
                    'constraints = [CheckConstraint(check="price >= 0", name="price_positive")]',
                ),
                model(
                    "Line",
                    f"""{ID}
item = fields.ForeignKeyField("shop.Item", on_delete=fields.CASCADE)
tags = fields.ManyToManyField("shop.Item", related_name="tagged")
""",
                ),
            )
        }
    )
    project.makemigrations()
    project.migrate()
    scratch = uuid.uuid4()
    monkeypatch.setattr(expected.uuid, "uuid4", lambda: scratch)
    assert project.check_schema() == []
    name = f"march_check_{scratch.hex[:12]}"
    assert mysql.execute(project.url, f"SHOW DATABASES LIKE '{name}'") == []

    mysql.execute(project.url, "ALTER TABLE `item` DROP CONSTRAINT `price_positive`")
    mysql.execute(project.url, "ALTER TABLE `item` ALTER `price` SET DEFAULT 1")
    assert project.check_schema() == [
        "shop.Item: column price has default 1.00 in the database, default 0.00 in the migrations",
        "shop.Item: check price_positive (price >= 0) is missing in the database",
    ]
    assert mysql.execute(project.url, f"SHOW DATABASES LIKE '{name}'") == []


async def _build_twice(config: Any) -> tuple[str, int, str]:
    """Build the project's tables twice over in the scratch database (the second CREATE fails);
    return the error, and the session's foreign_key_checks and database afterwards."""
    async with open_project(config) as project:
        (app,) = project.apps
        state = replay(project.graph, set(project.graph.nodes))
        tables = [t for m in state.models.values() for t in model_tables(state, m)]
        client = project.client(app)
        connection = project.connection_name(app)
        with pytest.raises(DatabaseError) as failed:
            await built_schema(client, connection, project.editor(app), tables + tables)
        async with in_transaction(connection) as conn:
            rows = await conn.execute_query_dict(
                "SELECT @@SESSION.foreign_key_checks AS fk, DATABASE() AS db"
            )
        return str(failed.value), int(rows[0]["fk"]), str(rows[0]["db"])


def test_a_failed_build_leaves_no_scratch_database(
    tmp_path: Path, mysql: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project(tmp_path, mysql)
    project.write_models({"shop": models(model("Item", f"{ID}\nname = fields.TextField()"))})
    project.makemigrations()
    scratch = uuid.uuid4()
    monkeypatch.setattr(expected.uuid, "uuid4", lambda: scratch)
    # One connection in the pool: the session read afterwards is the one that built.
    config = replace(
        project.config, tortoise_config=project.tortoise_config(project.url + "?maxsize=1")
    )
    message, fk_checks, database = asyncio.run(_build_twice(config))
    assert message.startswith("check --schema could not build the tables"), message
    assert "item" in message and "already exists" in message, message
    assert (fk_checks, database) == (1, project.url.rsplit("/", 1)[1])
    name = f"march_check_{scratch.hex[:12]}"
    assert mysql.execute(project.url, f"SHOW DATABASES LIKE '{name}'") == []


def test_check_schema_without_the_right_to_create_a_scratch_database(
    tmp_path: Path, mysql: Backend
) -> None:
    url = mysql.new_url()
    database = url.rsplit("/", 1)[1]
    user = f"march_np_{uuid.uuid4().hex[:8]}"
    mysql.execute(url, f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")
    try:
        mysql.execute(url, f"GRANT ALL ON `{database}`.* TO '{user}'@'%'")
        host = url.rsplit("/", 1)[0].split("@", 1)[1]
        project = make_project(tmp_path, f"mysql://{user}:pw@{host}/{database}")
        project.ok("makemigrations")
        project.ok("migrate")
        result = project.run("check", "--schema")
    finally:
        mysql.execute(url, f"DROP USER '{user}'@'%'")
    assert result.returncode not in (0, 1), show(result)
    assert "Traceback" not in result.stderr, show(result)
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert "could not create 'march_check_" in line, show(result)
    assert "GRANT ALL ON `march\\_check\\_%`.* TO 'user'@'host'" in line, show(result)
