"""Tests of the schema introspection helper in ``tests/introspect.py``, on real databases.

PostgreSQL tests create a fresh database per test (dropped afterwards) on the server named by
``PGHOST``/``PGPORT``/``PGUSER``/``PGPASSWORD`` (default ``postgres@127.0.0.1:5432``). They are
skipped when that server is unreachable, except with ``CI=true`` where they fail instead.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sqlite3
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import pytest

try:
    from tests.introspect import diff_schemas, introspect_postgres, introspect_sqlite
except ImportError:  # tests/ is not a package: import the helper from beside this file
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from introspect import diff_schemas, introspect_postgres, introspect_sqlite

# ----------------------------------------------------------------------------------------------
# PostgreSQL plumbing
# ----------------------------------------------------------------------------------------------

PG_HOST = os.environ.get("PGHOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PGPORT", "5432"))
PG_USER = os.environ.get("PGUSER", "postgres")
PG_PASSWORD = os.environ.get("PGPASSWORD") or None

_pg_unreachable: list[str | None] = []  # memo: [None] when reachable, [reason] when not


def _pg_kwargs(database: str) -> dict[str, Any]:
    return {
        "host": PG_HOST,
        "port": PG_PORT,
        "user": PG_USER,
        "password": PG_PASSWORD,
        "database": database,
        "timeout": 10,
    }


async def _admin(*statements: str) -> None:
    conn = await asyncpg.connect(**_pg_kwargs("postgres"))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _pg_problem() -> str | None:
    """Return why PostgreSQL cannot be used, or None when it can (checked once)."""
    if not _pg_unreachable:
        try:
            asyncio.run(_admin("SELECT 1"))
        except (
            OSError,
            asyncio.TimeoutError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
        ) as exc:
            _pg_unreachable.append(
                f"PostgreSQL unreachable at {PG_USER}@{PG_HOST}:{PG_PORT}: {exc!r}"
            )
        else:
            _pg_unreachable.append(None)
    return _pg_unreachable[0]


def _require_postgres() -> None:
    problem = _pg_problem()
    if problem is None:
        return
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{problem} (CI=true: PostgreSQL tests must run)", pytrace=False)
    pytest.skip(problem)


@pytest.fixture
def pg_database() -> Iterator[Callable[[], str]]:
    """Return a factory of fresh, empty PostgreSQL databases, all dropped after the test."""
    _require_postgres()
    created: list[str] = []

    def make() -> str:
        name = f"tm_introspect_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return name

    yield make
    for name in created:
        try:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except asyncpg.PostgresSyntaxError:  # server older than 13
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}"'))


async def _pg_build(database: str, ddl: str, **kwargs: Any) -> dict:
    conn = await asyncpg.connect(**_pg_kwargs(database))
    try:
        if ddl:
            await conn.execute(ddl)
        return await introspect_postgres(conn, **kwargs)
    finally:
        await conn.close()


def pg_schema(database: str, ddl: str = "", **kwargs: Any) -> dict:
    """Run ``ddl`` in ``database`` and return its introspected schema."""
    return asyncio.run(_pg_build(database, ddl, **kwargs))


# ----------------------------------------------------------------------------------------------
# PostgreSQL
# ----------------------------------------------------------------------------------------------

PG_DDL = """
CREATE TABLE company (
    id serial PRIMARY KEY,
    name varchar(100) NOT NULL,
    CONSTRAINT uid_company_name UNIQUE (name)
);
COMMENT ON TABLE company IS 'Companies';
CREATE TABLE contact (
    id serial PRIMARY KEY,
    email varchar(100) NOT NULL,
    first_name varchar(50) NOT NULL DEFAULT '',
    last_name varchar(50),
    age integer CONSTRAINT ck_contact_age CHECK (age >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    company_id integer NOT NULL REFERENCES company (id) ON DELETE CASCADE,
    CONSTRAINT uid_contact_company_email UNIQUE (company_id, email)
);
COMMENT ON COLUMN contact.email IS 'E-mail address';
CREATE INDEX idx_contact_last_first ON contact (last_name, first_name);
CREATE UNIQUE INDEX uidx_contact_email_live ON contact (email) WHERE deleted_at IS NULL;
CREATE INDEX idx_contact_lower_email ON contact USING hash (lower(email));
CREATE INDEX idx_contact_created ON contact (created_at DESC);
CREATE TABLE tag (
    id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    label text NOT NULL,
    owner_id integer REFERENCES contact ON DELETE SET NULL
);
CREATE TABLE tortoise_march_migrations (id serial PRIMARY KEY, app varchar(100) NOT NULL);
"""

# The same schema, with columns, constraints and statements in another order.
PG_DDL_REORDERED = """
CREATE TABLE company (
    name varchar(100) NOT NULL,
    id serial,
    CONSTRAINT uid_company_name UNIQUE (name),
    PRIMARY KEY (id)
);
CREATE TABLE contact (
    company_id integer NOT NULL,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    age integer,
    last_name varchar(50),
    first_name varchar(50) NOT NULL DEFAULT '',
    email varchar(100) NOT NULL,
    id serial PRIMARY KEY,
    CONSTRAINT uid_contact_company_email UNIQUE (company_id, email),
    CONSTRAINT ck_contact_age CHECK (age >= 0),
    FOREIGN KEY (company_id) REFERENCES company (id) ON DELETE CASCADE
);
CREATE TABLE tag (
    owner_id integer REFERENCES contact (id) ON DELETE SET NULL,
    label text NOT NULL,
    id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY
);
CREATE INDEX idx_contact_created ON contact (created_at DESC);
CREATE INDEX idx_contact_lower_email ON contact USING hash (lower(email));
CREATE UNIQUE INDEX uidx_contact_email_live ON contact (email) WHERE deleted_at IS NULL;
CREATE INDEX idx_contact_last_first ON contact (last_name, first_name);
COMMENT ON COLUMN contact.email IS 'E-mail address';
COMMENT ON TABLE company IS 'Companies';
"""


def _pg_col(
    type_: str,
    nullable: bool = False,
    default: str | None = None,
    pk: bool = False,
    comment: str | None = None,
) -> dict[str, Any]:
    return {"type": type_, "nullable": nullable, "default": default, "pk": pk, "comment": comment}


PG_EXPECTED = {
    "company": {
        "columns": {
            "id": _pg_col("integer", default="nextval('company_id_seq'::regclass)", pk=True),
            "name": _pg_col("character varying(100)"),
        },
        "primary_key": ("id",),
        "foreign_keys": [],
        "uniques": [("uid_company_name", ("name",))],
        "indexes": [],
        "checks": [],
        "comment": "Companies",
    },
    "contact": {
        "columns": {
            "id": _pg_col("integer", default="nextval('contact_id_seq'::regclass)", pk=True),
            "email": _pg_col("character varying(100)", comment="E-mail address"),
            "first_name": _pg_col("character varying(50)", default="''::character varying"),
            "last_name": _pg_col("character varying(50)", nullable=True),
            "age": _pg_col("integer", nullable=True),
            "created_at": _pg_col("timestamp with time zone", default="now()"),
            "deleted_at": _pg_col("timestamp with time zone", nullable=True),
            "company_id": _pg_col("integer"),
        },
        "primary_key": ("id",),
        "foreign_keys": [(("company_id",), "company", ("id",), "CASCADE")],
        "uniques": [
            ("uid_contact_company_email", ("company_id", "email")),
            ("uidx_contact_email_live", ("email",), "deleted_at IS NULL"),
        ],
        "indexes": [
            ("idx_contact_created", ("created_at DESC",), False, "btree", None),
            ("idx_contact_last_first", ("last_name", "first_name"), False, "btree", None),
            ("idx_contact_lower_email", ("lower(email::text)",), False, "hash", None),
            ("uidx_contact_email_live", ("email",), True, "btree", "deleted_at IS NULL"),
        ],
        "checks": [("ck_contact_age", "age >= 0")],
        "comment": None,
    },
    "tag": {
        "columns": {
            "id": _pg_col("integer", default="GENERATED BY DEFAULT AS IDENTITY", pk=True),
            "label": _pg_col("text"),
            "owner_id": _pg_col("integer", nullable=True),
        },
        "primary_key": ("id",),
        "foreign_keys": [(("owner_id",), "contact", ("id",), "SET NULL")],
        "uniques": [],
        "indexes": [],
        "checks": [],
        "comment": None,
    },
}


def test_pg_introspect_exact(pg_database: Callable[[], str]) -> None:
    schema = pg_schema(pg_database(), PG_DDL)
    assert diff_schemas(schema, PG_EXPECTED) == []
    assert schema == PG_EXPECTED


def test_pg_exclude(pg_database: Callable[[], str]) -> None:
    database = pg_database()
    schema = pg_schema(database, PG_DDL, exclude=frozenset())
    assert set(schema) == {"company", "contact", "tag", "tortoise_march_migrations"}
    assert schema["tortoise_march_migrations"]["primary_key"] == ("id",)
    assert set(pg_schema(database, exclude={"tag", "tortoise_march_migrations"})) == {
        "company",
        "contact",
    }


def test_pg_only_current_schema(pg_database: Callable[[], str]) -> None:
    schema = pg_schema(
        pg_database(),
        "CREATE SCHEMA other; CREATE TABLE other.elsewhere (id int);"
        "CREATE TABLE here (id int PRIMARY KEY);",
    )
    assert set(schema) == {"here"}


def test_pg_column_order_does_not_matter(pg_database: Callable[[], str]) -> None:
    first = pg_schema(pg_database(), PG_DDL)
    second = pg_schema(pg_database(), PG_DDL_REORDERED)
    assert diff_schemas(first, second) == []
    assert first == second
    assert list(first["contact"]["columns"]) != list(second["contact"]["columns"])


def test_pg_diff_reports_changes(pg_database: Callable[[], str]) -> None:
    base = pg_schema(pg_database(), PG_DDL)
    changed = pg_schema(
        pg_database(),
        PG_DDL
        + """
        ALTER TABLE contact ALTER COLUMN last_name TYPE text;
        ALTER TABLE contact ALTER COLUMN deleted_at SET NOT NULL;
        ALTER TABLE contact ALTER COLUMN first_name DROP DEFAULT;
        COMMENT ON COLUMN contact.email IS NULL;
        DROP INDEX idx_contact_last_first;
        CREATE INDEX idx_contact_last_first ON contact (first_name, last_name);
        ALTER TABLE tag DROP COLUMN owner_id;
        CREATE TABLE extra (id bigserial PRIMARY KEY);
        DROP TABLE company CASCADE;
        """,
    )
    assert diff_schemas(base, changed) == [
        "table company: only in first",
        "contact.deleted_at: nullable True != False",
        "contact.email: comment 'E-mail address' != None",
        "contact.first_name: default \"''::character varying\" != None",
        "contact.last_name: type character varying(50) != text",
        "contact: foreign_keys differ: [(('company_id',), 'company', ('id',), 'CASCADE')] vs []",
        "contact: indexes differ: "
        "[('idx_contact_last_first', ('last_name', 'first_name'), False, 'btree', None)] vs "
        "[('idx_contact_last_first', ('first_name', 'last_name'), False, 'btree', None)]",
        "table extra: only in second",
        "tag.owner_id: only in first",
        "tag: foreign_keys differ: [(('owner_id',), 'contact', ('id',), 'SET NULL')] vs []",
    ]
    assert diff_schemas(changed, base)[0] == "table company: only in second"


def test_pg_unique_index_versus_constraint(pg_database: Callable[[], str]) -> None:
    """A unique index and a unique constraint on the same columns are told apart."""
    as_constraint = pg_schema(
        pg_database(), "CREATE TABLE t (a int, b int, CONSTRAINT u_ab UNIQUE (a, b));"
    )
    as_index = pg_schema(
        pg_database(), "CREATE TABLE t (a int, b int); CREATE UNIQUE INDEX u_ab ON t (a, b);"
    )
    assert as_constraint["t"]["uniques"] == as_index["t"]["uniques"] == [("u_ab", ("a", "b"))]
    assert as_constraint["t"]["indexes"] == []
    assert as_index["t"]["indexes"] == [("u_ab", ("a", "b"), True, "btree", None)]
    assert diff_schemas(as_constraint, as_index) == [
        "t: indexes differ: [] vs [('u_ab', ('a', 'b'), True, 'btree', None)]"
    ]


def test_pg_identity_and_serial_are_told_apart(pg_database: Callable[[], str]) -> None:
    serial = pg_schema(pg_database(), "CREATE TABLE t (id serial PRIMARY KEY);")
    identity = pg_schema(
        pg_database(), "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY);"
    )
    big = pg_schema(pg_database(), "CREATE TABLE t (id bigserial PRIMARY KEY);")
    generated = pg_schema(
        pg_database(),
        "CREATE TABLE t (id int PRIMARY KEY, twice int GENERATED ALWAYS AS (id * 2) STORED);",
    )
    assert generated["t"]["columns"]["twice"]["default"] == (
        "GENERATED ALWAYS AS ((id * 2)) STORED"
    )
    assert diff_schemas(serial, identity) == [
        "t.id: default \"nextval('t_id_seq'::regclass)\" != 'GENERATED ALWAYS AS IDENTITY'"
    ]
    assert diff_schemas(serial, big) == ["t.id: type integer != bigint"]


# ----------------------------------------------------------------------------------------------
# SQLite
# ----------------------------------------------------------------------------------------------

SQLITE_DDL = """
CREATE TABLE "company" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(100) NOT NULL /* The (name) of it, "quoted" */,
    CONSTRAINT "uid_company_name" UNIQUE ("name")
) /* Companies */;
CREATE TABLE contact (
    id integer PRIMARY KEY NOT NULL,
    email varchar(100) NOT NULL UNIQUE,
    first_name varchar(50) NOT NULL DEFAULT '',
    last_name varchar(50),
    age int CONSTRAINT "ck_contact_age" CHECK(age>=0),
    created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    deleted_at timestamp,
    company_id integer NOT NULL REFERENCES company ON DELETE CASCADE,
    CHECK (length(email) > 3),
    CONSTRAINT uid_contact_company_email UNIQUE (company_id, email)
);
CREATE INDEX idx_contact_last_first ON contact (last_name, first_name DESC);
CREATE UNIQUE INDEX uidx_contact_email_live ON contact (email) WHERE deleted_at IS NULL;
CREATE INDEX idx_contact_lower_email ON contact (lower( "email" ));
CREATE TABLE tag (
    label TEXT NOT NULL,
    owner_id INT REFERENCES contact (id) ON DELETE SET NULL,
    PRIMARY KEY (label, owner_id)
);
CREATE TABLE tortoise_march_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT);
"""

SQLITE_DDL_REORDERED = """
CREATE TABLE tag (
    owner_id INT REFERENCES contact (id) ON DELETE SET NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (label, owner_id)
);
CREATE TABLE contact (
    company_id integer NOT NULL,
    deleted_at timestamp,
    created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    age int,
    last_name varchar(50),
    first_name varchar(50) NOT NULL DEFAULT '',
    email varchar(100) NOT NULL UNIQUE,
    id integer NOT NULL PRIMARY KEY,
    CONSTRAINT "ck_contact_age" CHECK (  age >= 0  ),
    CHECK (length("email")>3),
    CONSTRAINT uid_contact_company_email UNIQUE (company_id, email),
    FOREIGN KEY (company_id) REFERENCES company (id) ON DELETE CASCADE
);
CREATE TABLE company (
    name VARCHAR(100) NOT NULL,
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    CONSTRAINT uid_company_name UNIQUE (name)
);
CREATE INDEX idx_contact_lower_email ON contact (lower(email));
CREATE UNIQUE INDEX uidx_contact_email_live ON "contact" ("email")
    WHERE "deleted_at" IS NULL;
CREATE INDEX idx_contact_last_first ON contact (last_name ASC, first_name DESC);
"""


def _sq_col(
    type_: str, nullable: bool = False, default: str | None = None, pk: bool = False
) -> dict[str, Any]:
    return {"type": type_, "nullable": nullable, "default": default, "pk": pk}


SQLITE_EXPECTED = {
    "company": {
        "columns": {
            "id": _sq_col("INTEGER", default="AUTOINCREMENT", pk=True),
            "name": _sq_col("VARCHAR(100)"),
        },
        "primary_key": ("id",),
        "foreign_keys": [],
        "uniques": [("uid_company_name", ("name",))],
        "indexes": [],
        "checks": [],
        "comment": None,
    },
    "contact": {
        "columns": {
            "id": _sq_col("INTEGER", pk=True),
            "email": _sq_col("VARCHAR(100)"),
            "first_name": _sq_col("VARCHAR(50)", default="''"),
            "last_name": _sq_col("VARCHAR(50)", nullable=True),
            "age": _sq_col("INT", nullable=True),
            "created_at": _sq_col("TIMESTAMP", default="CURRENT_TIMESTAMP"),
            "deleted_at": _sq_col("TIMESTAMP", nullable=True),
            "company_id": _sq_col("INTEGER"),
        },
        "primary_key": ("id",),
        "foreign_keys": [(("company_id",), "company", ("id",), "CASCADE")],
        "uniques": [
            (None, ("email",)),
            ("uid_contact_company_email", ("company_id", "email")),
            ("uidx_contact_email_live", ("email",), "deleted_at IS NULL"),
        ],
        "indexes": [
            ("idx_contact_last_first", ("last_name", "first_name DESC"), False, "btree", None),
            ("idx_contact_lower_email", ("lower(email)",), False, "btree", None),
            ("uidx_contact_email_live", ("email",), True, "btree", "deleted_at IS NULL"),
        ],
        "checks": [(None, "length(email) > 3"), ("ck_contact_age", "age >= 0")],
        "comment": None,
    },
    "tag": {
        "columns": {
            "label": _sq_col("TEXT", pk=True),
            "owner_id": _sq_col("INT", nullable=True, pk=True),
        },
        "primary_key": ("label", "owner_id"),
        "foreign_keys": [(("owner_id",), "contact", ("id",), "SET NULL")],
        "uniques": [],
        "indexes": [],
        "checks": [],
        "comment": None,
    },
}


def sqlite_db(path: Path, ddl: str) -> Path:
    conn = sqlite3.connect(path)
    try:
        conn.executescript(ddl)
        conn.commit()
    finally:
        conn.close()
    return path


def test_sqlite_introspect_exact(tmp_path: Path) -> None:
    path = sqlite_db(tmp_path / "db.sqlite3", SQLITE_DDL)
    schema = introspect_sqlite(path)
    assert diff_schemas(schema, SQLITE_EXPECTED) == []
    assert schema == SQLITE_EXPECTED
    assert introspect_sqlite(str(path)) == SQLITE_EXPECTED


def test_sqlite_accepts_connection(tmp_path: Path) -> None:
    path = sqlite_db(tmp_path / "db.sqlite3", SQLITE_DDL)
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row  # whatever the caller uses, rows are read by position
    try:
        assert introspect_sqlite(conn) == SQLITE_EXPECTED
        conn.execute("SELECT 1")  # left open
    finally:
        conn.close()
    memory = sqlite3.connect(":memory:")
    try:
        memory.executescript(SQLITE_DDL)
        assert introspect_sqlite(memory) == SQLITE_EXPECTED
    finally:
        memory.close()


def test_sqlite_missing_file_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError):
        introspect_sqlite(tmp_path / "missing.sqlite3")
    assert not (tmp_path / "missing.sqlite3").exists()
    with pytest.raises(TypeError):
        introspect_sqlite(42)  # type: ignore[arg-type]


def test_sqlite_exclude_and_internal_tables(tmp_path: Path) -> None:
    path = sqlite_db(tmp_path / "db.sqlite3", SQLITE_DDL)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO company (name) VALUES ('x')")  # fills sqlite_sequence
    conn.execute("ANALYZE")  # creates sqlite_stat1
    conn.commit()
    conn.close()
    assert set(introspect_sqlite(path)) == {"company", "contact", "tag"}
    assert set(introspect_sqlite(path, exclude=())) == {
        "company",
        "contact",
        "tag",
        "tortoise_march_migrations",
    }


def test_sqlite_column_order_does_not_matter(tmp_path: Path) -> None:
    first = introspect_sqlite(sqlite_db(tmp_path / "a.sqlite3", SQLITE_DDL))
    second = introspect_sqlite(sqlite_db(tmp_path / "b.sqlite3", SQLITE_DDL_REORDERED))
    assert diff_schemas(first, second) == []
    assert first == second


def test_sqlite_diff_reports_changes(tmp_path: Path) -> None:
    changed_ddl = (
        SQLITE_DDL.replace("last_name varchar(50),", "last_name TEXT,")
        .replace("deleted_at timestamp,", "deleted_at timestamp NOT NULL,")
        .replace("DEFAULT ''", "DEFAULT 'x'")
        .replace('"id" INTEGER PRIMARY KEY AUTOINCREMENT', '"id" INTEGER PRIMARY KEY')
        .replace("(last_name, first_name DESC)", "(last_name, first_name)")
        .replace("CHECK(age>=0)", "CHECK(age>0)")
        .replace("ON DELETE CASCADE", "ON DELETE RESTRICT")
    )
    first = introspect_sqlite(sqlite_db(tmp_path / "a.sqlite3", SQLITE_DDL))
    second = introspect_sqlite(sqlite_db(tmp_path / "b.sqlite3", changed_ddl))
    assert diff_schemas(first, second) == [
        "company.id: default 'AUTOINCREMENT' != None",
        "contact.deleted_at: nullable True != False",
        "contact.first_name: default \"''\" != \"'x'\"",
        "contact.last_name: type VARCHAR(50) != TEXT",
        "contact: foreign_keys differ: [(('company_id',), 'company', ('id',), 'CASCADE')] vs "
        "[(('company_id',), 'company', ('id',), 'RESTRICT')]",
        "contact: indexes differ: "
        "[('idx_contact_last_first', ('last_name', 'first_name DESC'), False, 'btree', None)] vs "
        "[('idx_contact_last_first', ('last_name', 'first_name'), False, 'btree', None)]",
        "contact: checks differ: "
        "[('ck_contact_age', 'age >= 0')] vs [('ck_contact_age', 'age > 0')]",
    ]


def test_sqlite_generated_and_autoincrement_columns(tmp_path: Path) -> None:
    path = sqlite_db(
        tmp_path / "db.sqlite3",
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "twice INT GENERATED ALWAYS AS (id*2) STORED, next AS (id + 1));",
    )
    assert introspect_sqlite(path)["t"]["columns"] == {
        "id": _sq_col("INTEGER", nullable=True, default="AUTOINCREMENT", pk=True),
        "twice": _sq_col("INT", nullable=True, default="GENERATED ALWAYS AS (id * 2) STORED"),
        "next": _sq_col("", nullable=True, default="GENERATED ALWAYS AS (id + 1) VIRTUAL"),
    }


def test_sqlite_built_with_aiosqlite(tmp_path: Path) -> None:
    aiosqlite = pytest.importorskip("aiosqlite")
    path = tmp_path / "db.sqlite3"

    async def build() -> None:
        async with aiosqlite.connect(path) as conn:
            await conn.executescript(SQLITE_DDL)
            await conn.commit()

    asyncio.run(build())
    assert introspect_sqlite(path) == SQLITE_EXPECTED


# ----------------------------------------------------------------------------------------------
# diff_schemas on plain values
# ----------------------------------------------------------------------------------------------


def test_diff_schemas_plain_values() -> None:
    table = {
        "columns": {"id": {"type": "integer", "nullable": False, "default": None, "pk": True}},
        "primary_key": ("id",),
        "foreign_keys": [],
        "uniques": [],
        "indexes": [],
        "checks": [],
        "comment": None,
    }
    other = {**table, "comment": "Hello", "primary_key": ()}
    assert diff_schemas({}, {}) == []
    assert diff_schemas({"t": table}, {"t": table}) == []
    assert diff_schemas({"t": table}, {}) == ["table t: only in first"]
    assert diff_schemas({"t": table}, {"t": other}) == [
        "t: primary_key ('id',) != ()",
        "t: comment None != Hello",
    ]


# ----------------------------------------------------------------------------------------------
# What Tortoise.generate_schemas() builds introspects cleanly and reproducibly
# ----------------------------------------------------------------------------------------------

MODELS_SOURCE = '''
from tortoise import fields
from tortoise.models import Model


class Company(Model):
    """Companies we know"""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True, description="The (name) of it")

    class Meta:
        table = "company"


class Contact(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=100, db_index=True)
    nick = fields.CharField(max_length=20, db_default="anon")
    age = fields.IntField(null=True)
    company = fields.ForeignKeyField("models.Company", on_delete=fields.CASCADE)

    class Meta:
        table = "contact"
        unique_together = (("company", "email"),)
'''


def _models_module(tmp_path: Path) -> ModuleType:
    path = tmp_path / "introspect_models.py"
    path.write_text(MODELS_SOURCE)
    name = f"introspect_models_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


async def _generate(db_url: str, module: ModuleType) -> None:
    # Tortoise wants module names: the module is registered in sys.modules under its own.
    from tortoise.context import TortoiseContext

    async with TortoiseContext() as ctx:
        await ctx.init(db_url=db_url, modules={"models": [module.__name__]})
        await ctx.generate_schemas(safe=False)


def test_sqlite_tortoise_generated_schema(tmp_path: Path) -> None:
    module = _models_module(tmp_path)
    schemas = []
    for name in ("a.sqlite3", "b.sqlite3"):
        asyncio.run(_generate(f"sqlite://{tmp_path / name}", module))
        schemas.append(introspect_sqlite(tmp_path / name))
    first, second = schemas
    assert diff_schemas(first, second) == []
    assert set(first) == {"company", "contact"}
    contact = first["contact"]
    assert contact["columns"]["nick"] == _sq_col("VARCHAR(20)", default="'anon'")
    assert contact["foreign_keys"] == [(("company_id",), "company", ("id",), "CASCADE")]
    assert [u[1] for u in contact["uniques"]] == [("company_id", "email")]
    assert [i[1] for i in contact["indexes"]] == [("email",)]
    assert first["company"]["uniques"] == [(None, ("name",))]
    assert first["company"]["columns"]["id"] == _sq_col("INTEGER", default="AUTOINCREMENT", pk=True)


def test_pg_tortoise_generated_schema(tmp_path: Path, pg_database: Callable[[], str]) -> None:
    module = _models_module(tmp_path)
    password = f":{PG_PASSWORD}" if PG_PASSWORD else ""
    schemas = []
    for _ in range(2):
        database = pg_database()
        url = f"postgres://{PG_USER}{password}@{PG_HOST}:{PG_PORT}/{database}"
        asyncio.run(_generate(url, module))
        schemas.append(pg_schema(database))
    first, second = schemas
    assert diff_schemas(first, second) == []
    company = first["company"]
    assert company["comment"] == "Companies we know"
    assert company["columns"]["name"]["comment"] == "The (name) of it"
    assert company["columns"]["id"]["default"] == "nextval('company_id_seq'::regclass)"
    contact = first["contact"]
    assert contact["foreign_keys"] == [(("company_id",), "company", ("id",), "CASCADE")]
    assert contact["columns"]["nick"]["default"] == "'anon'::character varying"
    assert company["uniques"] == [("company_name_key", ("name",))]
    assert [i[1:] for i in contact["indexes"]] == [(("email",), False, "btree", None)]
