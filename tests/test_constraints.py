"""First-class constraints, extensions and indexes: ``Meta.march_constraints`` (partial unique,
exclusion), ``Meta.march_extensions``, ``march.Index`` (types, conditions, INCLUDE), and NOT NULL
set through a validated CHECK under ``safe_defaults``. Real databases throughout.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from pathlib import Path

import asyncpg
import pytest

import tortoise_march_ext as march
from tests.conftest import require_postgres
from tests.harness import Backend, Project, assert_same
from tests.scenarios import ID, model, models
from tortoise_march_ext import commands, migrations
from tortoise_march_ext.exceptions import MarchError
from tortoise_march_ext.lint import lint_graph
from tortoise_march_ext.project import open_project

BOOKING_FIELDS = (
    f"{ID}\nroom = fields.IntField()\n"
    "start_at = fields.DatetimeField()\nend_at = fields.DatetimeField()"
)
NO_OVERLAP = (
    "march_constraints = (march.ExclusionConstraint(expressions=("
    "(march.FieldRef('room'), '='), "
    "(march.RawSQL(\"tstzrange(start_at, end_at, '[)')\"), '&&')), name={name!r}),)\n"
    "march_extensions = (march.PostgresExtension('btree_gist'),)"
)


def booking(meta: str = NO_OVERLAP.format(name="no_double_booking")) -> str:
    return model("Booking", BOOKING_FIELDS, meta)


@pytest.fixture
def pg(tmp_path: Path) -> Project:
    require_postgres()
    backend = Backend("postgres", tmp_path)
    yield Project(tmp_path, backend)
    backend.cleanup()


def one(project: Project, sql: str) -> object:
    rows = project.backend.execute(project.url, sql)
    return rows[0][0] if rows else None


def extension_installed(project: Project, name: str) -> bool:
    return bool(one(project, f"SELECT count(*) FROM pg_extension WHERE extname = '{name}'"))


def constraints(project: Project, table: str, kind: str) -> list[str]:
    rows = project.backend.execute(
        project.url,
        "SELECT conname FROM pg_constraint WHERE conrelid = "
        f"'{table}'::regclass AND contype = '{kind}' ORDER BY conname",
    )
    return [r[0] for r in rows]


def insert(project: Project, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(project.url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def book(room: int, start: str, end: str) -> str:
    return (
        "INSERT INTO booking (room, start_at, end_at) VALUES "
        f"({room}, '2026-01-01 {start}+00', '2026-01-01 {end}+00')"
    )


def test_exclusion_constraint_rejects_an_overlapping_booking(pg: Project) -> None:
    assert not extension_installed(pg, "btree_gist")
    pg.write_models({"app": models(booking())})
    made = pg.makemigrations().migrations
    ops = made[0].operations
    assert [type(op).__name__ for op in ops] == ["CreateExtension", "CreateModel"]
    assert 'fields.FieldRef("room")' in made[0].source
    assert pg.ruff() == ""
    pg.migrate()
    assert extension_installed(pg, "btree_gist")
    assert constraints(pg, "booking", "x") == ["no_double_booking"]
    insert(pg, book(1, "10:00", "11:00"))
    insert(pg, book(1, "11:00", "12:00"))  # adjacent: '[)' ranges do not overlap
    insert(pg, book(2, "10:30", "11:30"))  # another room
    with pytest.raises(asyncpg.ExclusionViolationError):
        insert(pg, book(1, "10:30", "11:30"))
    assert one(pg, "SELECT count(*) FROM booking") == 3
    pg.migrate("app", "zero")
    assert not extension_installed(pg, "btree_gist")


def test_extension_is_created_before_the_model_that_needs_it_and_dropped_after(
    pg: Project,
) -> None:
    # "Aardvark" sorts before "Booking"; the extension still comes first
    aardvark = model("Aardvark", ID)
    pg.write_models({"app": models(aardvark, booking())})
    first = pg.makemigrations().migrations[0]
    assert [op.describe() for op in first.operations] == [
        "Create extension btree_gist",
        "Create model Aardvark",
        "Create model Booking",
    ]
    pg.migrate()
    pg.write_models({"app": models(aardvark, booking(meta=""))})
    second = pg.makemigrations().migrations[0]
    assert [op.describe() for op in second.operations] == [
        "Remove constraint no_double_booking from Booking",
        "Drop extension btree_gist",
    ]
    pg.migrate()
    assert not extension_installed(pg, "btree_gist")
    assert constraints(pg, "booking", "x") == []
    pg.migrate("app", "0001_initial")
    assert extension_installed(pg, "btree_gist")
    assert constraints(pg, "booking", "x") == ["no_double_booking"]


def test_extension_declared_by_two_apps_stays_while_one_still_declares_it(pg: Project) -> None:
    other = model("Room", ID, "march_extensions = (march.PostgresExtension('btree_gist'),)")
    pg.write_models({"app": models(booking()), "rooms": models(other)})
    pg.makemigrations()
    pg.migrate()
    pg.write_models({"app": models(booking(meta="")), "rooms": models(other)})
    made = pg.makemigrations().migrations
    assert [op.describe() for op in made[0].operations][-1] == "Drop extension btree_gist"
    pg.migrate()
    assert extension_installed(pg, "btree_gist")  # rooms still declares it
    pg.write_models({"app": models(booking(meta="")), "rooms": models(model("Room", ID))})
    pg.makemigrations()
    pg.migrate()
    assert not extension_installed(pg, "btree_gist")


def test_renaming_an_exclusion_constraint_renames_it_and_changing_it_replaces_it(
    pg: Project,
) -> None:
    pg.write_models({"app": models(booking())})
    pg.makemigrations()
    pg.migrate()
    insert(pg, book(1, "10:00", "11:00"))
    pg.write_models({"app": models(booking(NO_OVERLAP.format(name="one_room_at_a_time")))})
    renamed = pg.makemigrations().migrations[0]
    assert renamed.operations == [
        migrations.RenameConstraint("Booking", "no_double_booking", "one_room_at_a_time")
    ]
    pg.migrate()
    assert constraints(pg, "booking", "x") == ["one_room_at_a_time"]
    changed = NO_OVERLAP.format(name="one_room_at_a_time").replace("'[)'", "'[]'")
    pg.write_models({"app": models(booking(changed))})
    replaced = pg.makemigrations().migrations[0]
    assert [op.describe() for op in replaced.operations] == [
        "Remove constraint one_room_at_a_time from Booking",
        "Add constraint one_room_at_a_time on Booking",
    ]
    pg.migrate()
    with pytest.raises(asyncpg.ExclusionViolationError):
        insert(pg, book(1, "11:00", "12:00"))  # '[]' ranges touch at 11:00
    pg.migrate("app", "0002_rename_no_double_booking_one_room_at_a_time")
    insert(pg, book(1, "11:00", "12:00"))
    assert one(pg, "SELECT count(*) FROM booking") == 2


def test_field_rename_follows_into_the_exclusion_constraint(pg: Project) -> None:
    pg.write_models({"app": models(booking())})
    pg.makemigrations()
    pg.migrate()
    pg.write_models({"app": models(booking().replace("room", "suite"))})
    rename = commands.make_questioner(noinput=True, rename_fields=["app.Booking.room=suite"])
    made = pg.makemigrations(questioner=rename).migrations[0]
    assert made.operations == [migrations.RenameField("Booking", "room", "suite")]
    pg.migrate()
    row = "INSERT INTO booking (suite, start_at, end_at) VALUES (1, now(), now() + '1h')"
    insert(pg, row)
    with pytest.raises(asyncpg.ExclusionViolationError):
        insert(pg, row)
    assert pg.makemigrations(check=True).migrations == []


def test_unnamed_constraints_get_deterministic_names(pg: Project) -> None:
    unnamed = (
        "march_constraints = ("
        "march.UniqueConstraint(fields=('room',), condition='end_at IS NULL'), "
        "march.ExclusionConstraint(expressions=(('room', '='), "
        "(march.RawSQL('tstzrange(start_at, end_at)'), '&&'))))\n"
        "march_extensions = (march.PostgresExtension('btree_gist'),)"
    )
    nullable = BOOKING_FIELDS.replace(
        "end_at = fields.DatetimeField()", "end_at = fields.DatetimeField(null=True)"
    )
    pg.write_models({"app": models(model("Booking", nullable, unnamed))})
    first = pg.makemigrations(dry_run=True).migrations[0].source
    pg.write_models({"app": models(model("Booking", nullable, unnamed))})
    assert pg.makemigrations().migrations[0].source == first
    assert pg.makemigrations(dry_run=True).migrations == []
    pg.migrate()
    names = constraints(pg, "booking", "x")
    assert len(names) == 1 and names[0].startswith("excl_booking_room_")
    index = one(pg, "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'uniq_booking_%'")
    assert isinstance(index, str)


def migrated(backend: Backend, *classes: str) -> Project:
    """Return a project on ``backend`` whose app ``app`` holds ``classes``, migrated."""
    project = Project(backend.tmp, backend)
    project.write_models({"app": models(*classes)})
    project.makemigrations()
    project.migrate()
    return project


def test_partial_unique_constraint_is_a_unique_index_with_a_condition(backend: Backend) -> None:
    member = model(
        "Member",
        f"{ID}\nemail = fields.CharField(max_length=100)\nactive = fields.BooleanField()",
        "march_constraints = (march.UniqueConstraint(fields=('email',), name='one_active_email',"
        " condition='active'),)",
    )
    if backend.name == "mysql":
        with pytest.raises(MarchError, match="one_active_email has a condition.*no partial"):
            migrated(backend, member)
        return
    project = migrated(backend, member)
    true, false = ("TRUE", "FALSE") if backend.name == "postgres" else ("1", "0")
    rows = f"INSERT INTO member (email, active) VALUES ('a@x', {false}), ('a@x', {false})"
    backend.execute(project.url, rows)
    backend.execute(project.url, f"INSERT INTO member (email, active) VALUES ('a@x', {true})")
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        backend.execute(project.url, f"INSERT INTO member (email, active) VALUES ('a@x', {true})")


def test_march_index_types_conditions_and_include_match_generate_schemas(pg: Project) -> None:
    doc = model(
        "Doc",
        f"{ID}\ntitle = fields.CharField(max_length=100)\nbody = fields.JSONField()\n"
        "score = fields.IntField(null=True)",
        "indexes = ("
        "march.Index(fields=('title',), include=('score',), name='doc_title_cover'), "
        "march.Index(fields=('body',), index_type='gin', name='doc_body_gin'), "
        "march.Index(fields=('title',), index_type='hash', name='doc_title_hash'), "
        "march.Index(fields=('score',), condition='score > 0', name='doc_positive'))",
    )
    pg.write_models({"app": models(doc)})
    pg.makemigrations()
    assert pg.ruff() == ""
    pg.migrate()
    assert_same(pg.schema(), pg.reference_schema(), "march.Index")
    definition = one(pg, "SELECT indexdef FROM pg_indexes WHERE indexname = 'doc_title_cover'")
    assert "INCLUDE (score)" in str(definition)
    # changing only the INCLUDE columns replaces the index
    pg.write_models({"app": models(doc.replace("include=('score',)", "include=('score', 'body')"))})
    made = pg.makemigrations().migrations[0]
    assert [op.describe() for op in made.operations] == [
        "Remove index doc_title_cover from Doc",
        "Add index doc_title_cover on Doc",
    ]
    pg.migrate()
    assert_same(pg.schema(), pg.reference_schema(), "march.Index include changed")


def test_a_constraint_naming_a_missing_field_is_refused_in_one_line(pg: Project) -> None:
    bad = NO_OVERLAP.format(name="x").replace("FieldRef('room')", "FieldRef('rooom')")
    pg.write_models({"app": models(booking(bad))})
    with pytest.raises(MarchError) as caught:
        pg.makemigrations()
    message = str(caught.value)
    assert "'rooom'" in message and "app.Booking" in message and "\n" not in message


def test_exclusion_constraint_on_sqlite_is_refused_in_one_line(tmp_path: Path) -> None:
    backend = Backend("sqlite", tmp_path)
    project = Project(tmp_path, backend)
    project.write_models({"app": models(booking())})
    project.makemigrations()
    with pytest.raises(MarchError, match="needs PostgreSQL"):
        project.migrate()
    assert backend.execute(project.url, "SELECT name FROM sqlite_master WHERE name='booking'") == []


def test_safe_defaults_set_not_null_through_a_validated_check(pg: Project) -> None:
    person = model("Person", f"{ID}\nemail = fields.CharField(max_length=100, null=True)")
    pg.write_models({"app": models(person)})
    pg.makemigrations()
    pg.migrate()
    insert(pg, "INSERT INTO person (email) SELECT 'p' || g FROM generate_series(1, 100) g")
    pg.write_models({"app": models(person.replace(", null=True", ""))})
    config = dataclasses.replace(pg.config, safe_defaults=True)
    made = asyncio.run(commands.makemigrations(config)).migrations
    described = [[op.describe() for op in m.operations] for m in made]
    check = made[0].operations[0].constraint.name
    assert described == [
        [f"Add constraint {check} on Person"],
        [
            f"Validate constraint {check} on Person",
            "Alter field email on Person",
            f"Remove constraint {check} from Person",
        ],
    ]
    assert """check='"email" IS NOT NULL'""" in made[0].source
    assert pg.ruff() == ""

    async def lint() -> list[str]:
        async with open_project(config) as project:
            return [f.rule for f in lint_graph(project.graph).findings]

    assert "set-not-null" not in asyncio.run(lint())
    pg.migrate("app", made[0].name)
    with pytest.raises(asyncpg.CheckViolationError):
        insert(pg, "INSERT INTO person (email) VALUES (NULL)")
    pg.migrate()
    assert (
        one(
            pg,
            "SELECT is_nullable FROM information_schema.columns "
            "WHERE table_name = 'person' AND column_name = 'email'",
        )
        == "NO"
    )
    assert constraints(pg, "person", "c") == []


def test_safe_defaults_build_unique_constraints_concurrently(pg: Project) -> None:
    fields_ = f"{ID}\nemail = fields.CharField(max_length=100)\nactive = fields.BooleanField()"
    pg.write_models({"app": models(model("Member", fields_))})
    pg.makemigrations()
    pg.migrate()
    insert(pg, "INSERT INTO member (email, active) VALUES ('a@x', FALSE), ('a@x', FALSE)")
    meta = (
        "constraints = (UniqueConstraint(fields=('id', 'email'), name='member_id_email'),)\n"
        "march_constraints = (march.UniqueConstraint(fields=('email',), name='one_active',"
        " condition='active'),)"
    )
    pg.write_models({"app": models(model("Member", fields_, meta))})
    config = dataclasses.replace(pg.config, safe_defaults=True)
    made = asyncio.run(commands.makemigrations(config)).migrations
    assert len(made) == 1 and "atomic = False" in made[0].source
    assert all(op.concurrently for op in made[0].operations)
    assert pg.ruff() == ""
    pg.migrate()
    assert constraints(pg, "member", "u") == ["member_id_email"]
    assert one(pg, "SELECT indexdef FROM pg_indexes WHERE indexname = 'one_active'") == (
        "CREATE UNIQUE INDEX one_active ON public.member USING btree (email) WHERE active"
    )
    insert(pg, "INSERT INTO member (email, active) VALUES ('a@x', TRUE)")
    with pytest.raises(asyncpg.UniqueViolationError):
        insert(pg, "INSERT INTO member (email, active) VALUES ('a@x', TRUE)")
    pg.migrate("app", "0001_initial")
    assert constraints(pg, "member", "u") == []
    assert one(pg, "SELECT count(*) FROM pg_indexes WHERE tablename = 'member'") == 1


def test_march_index_include_and_condition_on_either_backend(backend: Backend) -> None:
    doc = model(
        "Doc",
        f"{ID}\ntitle = fields.CharField(max_length=100)\nscore = fields.IntField(null=True)",
        "indexes = (march.Index(fields=('title',), include=('score',), condition='score > 0',"
        " name='doc_title_cover', index_type='btree'),)",
    )
    if backend.name == "mysql":
        with pytest.raises(MarchError, match="doc_title_cover has a condition.*no partial"):
            migrated(backend, doc)
        return
    project = migrated(backend, doc)
    assert_same(project.schema(), project.reference_schema(), "march.Index")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: march.ExclusionConstraint(expressions=(("room", "= 1; DROP"),)), "not an SQL op"),
        (lambda: march.ExclusionConstraint(expressions=(("room",),)), "not an (expression, op"),
        (lambda: march.ExclusionConstraint(expressions=((1, "="),)), "neither march.FieldRef"),
        (lambda: march.ExclusionConstraint(expressions=()), "at least one"),
        (
            lambda: march.ExclusionConstraint(expressions=(("room", "="),), index_type="brin"),
            "index_type 'brin'",
        ),
        (lambda: march.UniqueConstraint(fields="email"), "tuple of field names"),
        (lambda: march.PostgresExtension("btree gist; DROP"), "not an extension name"),
        (lambda: march.Index(fields=("a",), index_type="fancy"), "index_type 'fancy'"),
    ],
)
def test_bad_declarations_say_what_is_wrong(build: object, message: str) -> None:
    with pytest.raises(MarchError, match=re.escape(message)):
        build()  # type: ignore[operator]


def test_a_wrong_entry_in_march_options_is_refused_in_one_line(tmp_path: Path) -> None:
    project = Project(tmp_path, Backend("sqlite", tmp_path))
    for meta, expected in (
        ("march_extensions = ('btree_gist',)", "is not a march.PostgresExtension"),
        ("march_constraints = ('x',)", "is not supported"),
        (
            "march_constraints = (march.UniqueConstraint(fields=('room',), name='a'),"
            " march.UniqueConstraint(fields=('end_at',), name='a'))",
            "used twice",
        ),
    ):
        project.write_models({"app": models(booking(meta))})
        with pytest.raises(MarchError, match=expected):
            project.makemigrations()
        assert not project.migrations.exists()


def test_safe_defaults_keep_the_plain_not_null_when_rows_are_filled(pg: Project) -> None:
    person = model("Person", f"{ID}\nemail = fields.CharField(max_length=100, null=True)")
    pg.write_models({"app": models(person)})
    pg.makemigrations()
    pg.migrate()
    insert(pg, "INSERT INTO person (email) VALUES (NULL), ('a')")
    pg.write_models({"app": models(person.replace("null=True", "default='none'"))})
    config = dataclasses.replace(pg.config, safe_defaults=True)
    made = asyncio.run(commands.makemigrations(config)).migrations
    assert [[op.describe() for op in m.operations] for m in made] == [
        ["Alter field email on Person"]
    ]
    pg.migrate()
    rows = pg.backend.execute(pg.url, "SELECT email FROM person ORDER BY id")
    assert rows == [("none",), ("a",)]


def test_safe_defaults_drop_an_index_with_the_field_it_covers(pg: Project) -> None:
    doc = model(
        "Doc",
        f"{ID}\ntitle = fields.CharField(max_length=100)\nmemo = fields.TextField(null=True)",
        "indexes = (march.Index(fields=('title',), include=('memo',), name='cover'),)",
    )
    pg.write_models({"app": models(doc)})
    pg.makemigrations()
    pg.migrate()
    plain = model("Doc", f"{ID}\ntitle = fields.CharField(max_length=100)")
    pg.write_models({"app": models(plain)})
    config = dataclasses.replace(pg.config, safe_defaults=True)
    made = asyncio.run(commands.makemigrations(config)).migrations
    assert [[op.describe() for op in m.operations] for m in made] == [
        ["Remove index cover from Doc", "Remove field memo from Doc"]
    ]
    pg.migrate()
    assert_same(pg.schema(), pg.reference_schema(), "index and field removed")


def test_a_field_ref_by_column_names_the_field_and_follows_its_rename(pg: Project) -> None:
    room = model("Room", ID)
    by_column = NO_OVERLAP.format(name="no_double_booking").replace(
        "FieldRef('room')", "FieldRef('room_id')"
    )
    fk = BOOKING_FIELDS.replace(
        "room = fields.IntField()", "room = fields.ForeignKeyField('app.Room')"
    )
    pg.write_models({"app": models(room, model("Booking", fk, by_column))})
    made = pg.makemigrations().migrations[0]
    assert 'fields.FieldRef("room")' in made.source
    pg.migrate()
    renamed = model(
        "Booking", fk.replace("room =", "space ="), by_column.replace("room_id", "space_id")
    )
    pg.write_models({"app": models(room, renamed)})
    hint = commands.make_questioner(noinput=True, rename_fields=["app.Booking.room=space"])
    assert [
        type(op).__name__ for op in pg.makemigrations(questioner=hint).migrations[0].operations
    ] == ["RenameField"]
    pg.migrate()
    assert constraints(pg, "booking", "x") == ["no_double_booking"]
