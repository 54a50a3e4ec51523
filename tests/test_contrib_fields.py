"""The fields Tortoise ships in tortoise.contrib: state, files and schema as generate_schemas().

``tortoise.contrib.postgres`` (TSVectorField, plain and generated with a GIN index; ArrayField
added, altered and removed) is migrated on PostgreSQL and compared with ``generate_schemas()``,
generation expressions included; on SQLite it is refused with one line. ``tortoise.contrib.mysql``
(GeometryField, its UUIDField) is mapped as ``generate_schemas()`` maps it on SQLite and
PostgreSQL. Every one round-trips through a migration file: written, imported, equal state.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from tortoise.contrib.mysql import fields as mysql_fields
from tortoise.contrib.postgres import fields as pg_fields

from tests.conftest import require_postgres
from tests.harness import Backend, Project
from tests.scenarios import ID, Scenario, model, models, one
from tests.test_scenarios import test_scenario as run_scenario
from tortoise_march_ext import migrations
from tortoise_march_ext.backends.postgres import PostgresEditor
from tortoise_march_ext.backends.sqlite import SqliteEditor
from tortoise_march_ext.exceptions import MarchError
from tortoise_march_ext.files.loader import load_migrations
from tortoise_march_ext.schema import fields
from tortoise_march_ext.schema.historical import tortoise_field
from tortoise_march_ext.schema.state import ModelState, ProjectState
from tortoise_march_ext.schema.tables import Column

CONTRIB = (
    "from tortoise.contrib.mysql.fields import GeometryField\n"
    "from tortoise.contrib.mysql.fields import UUIDField as MySQLUUIDField\n"
    "from tortoise.contrib.postgres.fields import ArrayField, TSVectorField\n"
    "from tortoise.contrib.postgres.indexes import GinIndex\n"
)
BASE = f"{ID}\ntitle = fields.CharField(max_length=100)\nbody = fields.TextField(null=True)"
SEARCH = (
    'search = TSVectorField(source_fields=("title", "body"), config="english", '
    'weights=("A", "B"))\nplain = TSVectorField(null=True)'
)
GIN = 'indexes = (GinIndex(fields=("search",)),)'
SIMPLE = 'TSVectorField(source_fields=("{}",), config="simple")'
UNSTORED = SIMPLE.format("title")[:-1] + ", stored=False)"
SAME_AS_TITLE = {"SELECT search = TO_TSVECTOR('simple', 'running fast') FROM doc": [(True,)]}
ARRAYS = 'ints = ArrayField("int", null=True)\ntags = ArrayField("VARCHAR(20)", null=True)'


def app(*classes: str) -> dict[str, str]:
    """Return the single app ``app`` made of ``classes``, with the contrib imports."""
    return {"app": CONTRIB + models(*classes)}


def doc(extra: str = "", meta: str = "") -> str:
    """Return the Doc model with ``extra`` field lines."""
    return model("Doc", f"{BASE}\n{extra}".strip(), meta)


def step(*classes: str, **kwargs: Any) -> Any:
    """Return a scenario step whose models import the contrib fields."""
    made = one(*classes, **kwargs)
    made.apps = app(*classes)
    return made


POSTGRES_SCENARIOS = [
    Scenario(
        "tsvector_plain_and_generated_with_gin",
        [
            step(doc(), rows=["INSERT INTO doc (title, body) VALUES ('running fast', 'dogs')"]),
            step(
                doc(SEARCH, GIN),
                expect={
                    "SELECT search = SETWEIGHT(TO_TSVECTOR('english', 'running fast'), 'A') "
                    "|| SETWEIGHT(TO_TSVECTOR('english', 'dogs'), 'B'), plain FROM doc": [
                        (True, None)
                    ]
                },
            ),
            step(doc(f"search = {SIMPLE.format('title')}", GIN), expect=SAME_AS_TITLE),
            step(doc(f"search = {UNSTORED}", GIN), expect=SAME_AS_TITLE),
            step(
                doc(f"search = {SIMPLE.format('body')}", GIN),
                expect={"SELECT search = TO_TSVECTOR('simple', 'dogs') FROM doc": [(True,)]},
            ),
            step(doc()),
        ],
        backends=("postgres",),
    ),
    Scenario(
        "tsvector_on_a_new_model",
        [step(doc(SEARCH, GIN))],
        backends=("postgres",),
    ),
    Scenario(
        "array_field_added_altered_removed",
        [
            step(doc(), rows=["INSERT INTO doc (title) VALUES ('a')"]),
            step(
                doc(ARRAYS),
                rows=["UPDATE doc SET ints = '{1,2}', tags = '{x,y}'"],
            ),
            step(
                doc('ints = ArrayField("bigint", null=True)\ntags = ArrayField("text", null=True)'),
                expect={"SELECT ints, tags FROM doc": [([1, 2], ["x", "y"])]},
            ),
            step(doc(), expect={"SELECT title FROM doc": [("a",)]}),
            step(
                doc(f"{ARRAYS}\nlabels = ArrayField(\"text\", default=['a \"b\"', 'c,d'])"),
                expect={"SELECT labels FROM doc": [(['a "b"', "c,d"],)]},
            ),
        ],
        backends=("postgres",),
    ),
]
MYSQL = (
    "shape = GeometryField(null=True)\nbinary = MySQLUUIDField(null=True)\n"
    "text = MySQLUUIDField(binary_compression=False, null=True)"
)
MYSQL_SCENARIOS = [
    Scenario("mysql_fields_on_sqlite", [step(doc()), step(doc(MYSQL))], backends=("sqlite",)),
    Scenario(
        "mysql_uuid_field_on_postgres",
        [step(doc()), step(doc(MYSQL.split("\n", 1)[1]))],
        backends=("postgres",),
    ),
]


def _cases(scenarios: list[Scenario]) -> list[Any]:
    return [pytest.param(s, b, id=f"{s.name}-{b}") for s in scenarios for b in s.backends]


@pytest.mark.parametrize(("scenario", "backend_name"), _cases(POSTGRES_SCENARIOS + MYSQL_SCENARIOS))
def test_contrib_scenario(scenario: Scenario, backend_name: str, tmp_path: Path) -> None:
    run_scenario(scenario, backend_name, tmp_path)


GENERATED = """
SELECT c.relname, a.attname, a.attgenerated, pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attgenerated <> '' ORDER BY 1, 2
"""


async def _generated(url: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(GENERATED)]
    finally:
        await conn.close()


def test_generated_tsvector_has_the_expression_generate_schemas_writes(tmp_path: Path) -> None:
    require_postgres()
    backend = Backend("postgres", tmp_path)
    try:
        project = Project(tmp_path, backend)
        project.write_models(app(doc()))
        project.makemigrations()
        project.migrate()
        project.write_models(app(doc(SEARCH, GIN)))
        project.makemigrations()
        project.migrate()
        migrated = asyncio.run(_generated(project.url))
        project.reference_schema()  # builds the reference database last: read it back
        reference = asyncio.run(_generated(backend.made[-1]))
        assert migrated == reference
        assert [row[:3] for row in migrated] == [("doc", "search", b"s")]
    finally:
        backend.cleanup()


def test_postgres_fields_are_refused_on_sqlite_in_one_line(tmp_path: Path) -> None:
    for extra in (SEARCH, 'tags = ArrayField("int", null=True)'):
        backend = Backend("sqlite", tmp_path)
        (tmp_path / extra[:4]).mkdir()
        project = Project(tmp_path / extra[:4], backend)
        project.write_models(app(doc(extra)))
        assert project.makemigrations().changed
        with pytest.raises(MarchError) as caught:
            project.migrate()
        message = str(caught.value)
        assert "\n" not in message
        assert "PostgreSQL" in message
        assert any(kind in message for kind in ("TSVectorField", "ArrayField"))
        assert project.schema() == {}


def test_every_contrib_field_round_trips_through_a_file(tmp_path: Path) -> None:
    project = Project(tmp_path, Backend("sqlite", tmp_path))
    project.write_models(app(doc(f"{SEARCH}\n{MYSQL}\nints = ArrayField(null=True)", GIN)))
    (made,) = project.makemigrations().migrations
    assert not project.makemigrations().changed
    source = made.path.read_text(encoding="utf-8")
    for call in (
        "fields.TSVectorField(",
        'source_fields=("title", "body")',
        'weights=("A", "B")',
        'config="english"',
        "fields.GeometryField(null=True)",
        "fields.MySQLUUIDField(null=True)",
        "fields.MySQLUUIDField(null=True, binary_compression=False)",
        'fields.ArrayField(null=True, element_type="INT")',
    ):
        assert call in source, f"{call} not in\n{source}"
    (loaded,) = load_migrations(project.migrations).values()
    written = dict(loaded.operations[0].fields)
    assert written["search"] == fields.TSVectorField(
        source_fields=("title", "body"), config="english", weights=("A", "B")
    )
    assert written["search"].generated
    assert not written["plain"].generated
    assert written["binary"].binary_compression
    assert written["text"] == fields.MySQLUUIDField(null=True, binary_compression=False)
    assert written["ints"] == fields.ArrayField(null=True, element_type="int")


def test_historical_models_get_the_contrib_field_classes() -> None:
    owner = ModelState(app="app", name="Doc", table="doc", fields=())
    search = tortoise_field(
        owner, "search", fields.TSVectorField(source_fields=("title",), config="simple")
    )
    assert isinstance(search, pg_fields.TSVectorField)
    assert (search.source_fields, search.config, search.generated) == (("title",), "simple", True)
    ints = tortoise_field(owner, "ints", fields.ArrayField(element_type="bigint", null=True))
    assert isinstance(ints, pg_fields.ArrayField) and ints.SQL_TYPE == "BIGINT[]"
    shape = tortoise_field(owner, "shape", fields.GeometryField(null=True))
    assert isinstance(shape, mysql_fields.GeometryField)
    uid = tortoise_field(owner, "uid", fields.MySQLUUIDField(binary_compression=False))
    assert isinstance(uid, mysql_fields.UUIDField) and not uid._binary_compression


def test_mysql_fields_have_the_types_generate_schemas_gives_them() -> None:
    shape = Column("shape", "GeometryField", null=True)
    binary = Column("uid", "MySQLUUIDField", binary_compression=True)
    text = Column("uid", "MySQLUUIDField")
    pg, lite = PostgresEditor(), SqliteEditor()
    assert [pg.column_sql(c) for c in (shape, binary, text)] == [
        '"shape" GEOMETRY',
        '"uid" UUID NOT NULL',
        '"uid" UUID NOT NULL',
    ]
    assert [lite.column_sql(c) for c in (shape, binary, text)] == [
        '"shape" GEOMETRY',
        '"uid" BINARY(16) NOT NULL',
        '"uid" CHAR(36) NOT NULL',
    ]


def test_renaming_a_source_field_carries_into_the_tsvector() -> None:
    state = ProjectState()
    search = fields.TSVectorField(source_fields=("title", "body"), config="simple")
    migrations.CreateModel(
        name="Doc",
        table="doc",
        fields=[
            ("id", fields.IntField(primary_key=True)),
            ("title", fields.TextField()),
            ("body", fields.TextField()),
            ("search", search),
        ],
    ).state_forwards("app", state)
    migrations.RenameField(model="Doc", old_name="title", new_name="heading").state_forwards(
        "app", state
    )
    renamed = state.get_model("app", "Doc").get_field("search")
    assert renamed.source_fields == ("heading", "body")
