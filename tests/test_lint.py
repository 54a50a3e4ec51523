"""The migration linter: each rule on a migration that breaks it and on one that does not.

Histories are built in memory (a graph of small nodes), from files on disk, or by makemigrations in
a real project; none needs a database.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Backend
from tests.harness import Project as HarnessProject
from tests.scenarios import ID, model, models
from tortoise_march_ext import migrations
from tortoise_march_ext.commands.lint import lint, lint_migration
from tortoise_march_ext.engine.graph import MigrationGraph
from tortoise_march_ext.exceptions import GraphError
from tortoise_march_ext.files.loader import load_migrations
from tortoise_march_ext.lint import RULES, LintReport, lint_graph, lint_operations
from tortoise_march_ext.operations import Operation
from tortoise_march_ext.project import open_project
from tortoise_march_ext.schema import fields
from tortoise_march_ext.schema.state import ProjectState


@dataclass
class Node:
    """An in-memory migration: what the linter reads of a loaded one."""

    operations: list[Operation] = field(default_factory=list)
    atomic: bool = True


def history(*steps: list[Operation] | Node, app: str = "app") -> MigrationGraph:
    """Return a linear history ``0001``, ``0002``, ... of ``app``."""
    nodes: dict[tuple[str, str], Any] = {}
    deps: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for number, step in enumerate(steps, start=1):
        key = (app, f"{number:04d}")
        nodes[key] = step if isinstance(step, Node) else Node(list(step))
        deps[key] = [(app, f"{number - 1:04d}")] if number > 1 else []
    return MigrationGraph(nodes, deps)


def run(*steps: list[Operation] | Node) -> LintReport:
    """Lint a history whose first migration creates the models A and B."""
    return lint_graph(history(base(), *steps))


def rules(report: LintReport) -> list[str]:
    """Return the rule ids of the findings left, in order."""
    return [f.rule for f in report.findings]


def base() -> list[Operation]:
    """Return the operations of the first migration (big primary keys: no int-pk-overflow)."""
    pk = ("id", fields.BigIntField(primary_key=True))
    return [
        migrations.CreateModel(name="B", table="b", fields=[pk]),
        migrations.CreateModel(
            name="A",
            table="a",
            fields=[
                pk,
                ("name", fields.CharField(max_length=50, null=True)),
                ("n", fields.IntField(null=True)),
                ("body", fields.TextField(null=True)),
                ("price", fields.DecimalField(max_digits=10, decimal_places=2, null=True)),
                ("title", fields.CharField(max_length=10, null=True, source_field="title_col")),
            ],
            indexes=[fields.Index(fields=["name"], name="a_name_idx")],
            unique_together=[("name", "n")],
        ),
    ]


def with_attrs(op: Operation, **attrs: Any) -> Operation:
    """Set attributes after construction (as a loaded migration would have them)."""
    for key, value in attrs.items():
        setattr(op, key, value)
    return op


def add(name: str, state: Any, **attrs: Any) -> Operation:
    return with_attrs(migrations.AddField(model="A", name=name, field=state), **attrs)


def alter(name: str, state: Any, **attrs: Any) -> Operation:
    return with_attrs(migrations.AlterField(model="A", name=name, field=state), **attrs)


def add_index(**attrs: Any) -> Operation:
    return with_attrs(migrations.AddIndex(model="A", index=fields.Index(fields=["n"])), **attrs)


def add_unique(**attrs: Any) -> Operation:
    unique = fields.UniqueConstraint(fields=["n"], name="a_n_u")
    return migrations.AddConstraint(model="A", constraint=unique, **attrs)


def exclusion(model: str = "A") -> Operation:
    """Add an exclusion constraint on ``n`` to A (existing), or create C with one (new)."""
    constraint = fields.ExclusionConstraint(
        expressions=[(fields.FieldRef("n"), "=")], name=f"{model.lower()}_excl"
    )
    if model == "A":
        return migrations.AddConstraint(model="A", constraint=constraint)
    fields_ = [("id", fields.BigIntField(primary_key=True)), ("n", fields.IntField())]
    return migrations.CreateModel(name=model, table="c", fields=fields_, constraints=[constraint])


def not_null_check(**attrs: Any) -> Operation:
    check = fields.CheckConstraint(check='"n" IS NOT NULL', name="a_n_nn")
    return with_attrs(migrations.AddConstraint(model="A", constraint=check), **attrs)


Steps = Callable[[], list[Any]]
# rule -> (histories after base() that break it, histories that do not)
CASES: dict[str, tuple[list[Steps], list[Steps]]] = {
    "add-column-volatile-default": (
        [
            lambda: [[add("tok", fields.CharField(max_length=32, db_default=fields.RandomHex()))]],
            lambda: [
                [add("u", fields.UUIDField(db_default=fields.SqlDefault("gen_random_uuid()")))]
            ],
        ],
        [
            lambda: [
                [add("s", fields.CharField(max_length=9, db_default=fields.SqlDefault("'a'")))]
            ],
            lambda: [[add("at", fields.DatetimeField(auto_now_add=True, null=True))]],
            lambda: [[add("s", fields.CharField(max_length=9, default="a"))]],
            # now() is stable: PostgreSQL 11+ stores it once, without rewriting the table.
            lambda: [[add("at", fields.DatetimeField(db_default=fields.Now()))]],
            lambda: [[add("at", fields.DatetimeField(auto_now_add=True))]],
        ],
    ),
    "alter-column-type-rewrite": (
        [
            lambda: [[alter("n", fields.BigIntField(null=True))]],
            lambda: [[alter("name", fields.IntField(null=True))]],
            lambda: [[alter("body", fields.CharField(max_length=100, null=True))]],
            lambda: [
                [alter("price", fields.DecimalField(max_digits=12, decimal_places=4, null=True))]
            ],
            lambda: [
                [add("tags", fields.ArrayField(null=True))],
                [alter("tags", fields.ArrayField(element_type="bigint", null=True))],
            ],
        ],
        [
            lambda: [
                [add("uid", fields.UUIDField(null=True))],
                [alter("uid", fields.MySQLUUIDField(null=True))],
            ],
            lambda: [[alter("name", fields.CharField(max_length=100, null=True))]],
            lambda: [[alter("name", fields.TextField(null=True))]],
            lambda: [[alter("n", fields.IntField(null=True, description="count"))]],
            lambda: [[alter("name", fields.CharField(max_length=20, null=True))]],
        ],
    ),
    "narrow-varchar": (
        [lambda: [[alter("name", fields.CharField(max_length=20, null=True))]]],
        [
            lambda: [[alter("name", fields.CharField(max_length=51, null=True))]],
            lambda: [[alter("name", fields.TextField(null=True))]],
        ],
    ),
    "set-not-null": (
        [
            lambda: [[alter("n", fields.IntField())]],
            lambda: [[not_null_check(not_valid=True)], [alter("n", fields.IntField())]],
        ],
        [
            lambda: [[alter("n", fields.IntField(null=True, db_index=True))]],
            lambda: [[not_null_check()], [alter("n", fields.IntField())]],
            lambda: [
                [not_null_check(not_valid=True)],
                [migrations.RunSQL('ALTER TABLE "a" VALIDATE CONSTRAINT "a_n_nn"')],
                [alter("n", fields.IntField())],
            ],
        ],
    ),
    "add-fk-without-not-valid": (
        [
            lambda: [[add("b", fields.ForeignKeyField("app.B", null=True))]],
            lambda: [[alter("n", fields.ForeignKeyField("app.B", null=True, source_field="n"))]],
        ],
        [
            lambda: [[add("b", fields.ForeignKeyField("app.B", null=True), not_valid=True)]],
            lambda: [[add("b", fields.ForeignKeyField("app.B", null=True, db_constraint=False))]],
            lambda: [[add("bs", fields.ManyToManyField("app.B"))]],
        ],
    ),
    "add-exclusion-constraint": (
        [lambda: [[exclusion()]]],
        [
            lambda: [[exclusion(model="C")]],
            lambda: [
                [
                    migrations.AddConstraint(
                        model="A",
                        constraint=fields.CheckConstraint(check="n > 0", name="c"),
                        not_valid=True,
                    )
                ]
            ],
        ],
    ),
    "add-check-without-not-valid": (
        [lambda: [[not_null_check()]]],
        [lambda: [[not_null_check(not_valid=True)]]],
    ),
    "index-without-concurrently": (
        [
            lambda: [[add_index()]],
            lambda: [[migrations.RemoveIndex(model="A", name="a_name_idx")]],
            lambda: [[add("code", fields.CharField(max_length=5, null=True, db_index=True))]],
            lambda: [[alter("n", fields.IntField(null=True, db_index=True))]],
        ],
        [
            lambda: [Node([add_index(concurrently=True)], atomic=False)],
            lambda: [[add("code", fields.CharField(max_length=5, null=True))]],
            lambda: [[add("code", fields.CharField(max_length=5, null=True, unique=True))]],
        ],
    ),
    "concurrently-in-transaction": (
        [
            lambda: [[add_index(concurrently=True)]],
            lambda: [
                [
                    with_attrs(
                        migrations.RemoveIndex(model="A", name="a_name_idx"), concurrently=True
                    )
                ]
            ],
            lambda: [[migrations.RunSQL("CREATE INDEX CONCURRENTLY a_n ON a (n)")]],
            lambda: [[add_unique(concurrently=True)]],
        ],
        [
            lambda: [Node([add_index(concurrently=True)], atomic=False)],
            lambda: [Node([add_unique(concurrently=True)], atomic=False)],
            lambda: [[add_index()]],
            lambda: [Node([migrations.RunSQL("CREATE INDEX CONCURRENTLY a_n ON a (n)")], False)],
            lambda: [[migrations.RunSQL("SELECT 'concurrently'")]],
        ],
    ),
    "unique-without-concurrent-index": (
        [
            lambda: [[add("code", fields.CharField(max_length=5, null=True, unique=True))]],
            lambda: [[alter("n", fields.IntField(null=True, unique=True))]],
            lambda: [[add("one", fields.OneToOneField("app.B", null=True), not_valid=True)]],
            lambda: [[add_unique()]],
            lambda: [
                [migrations.AlterUniqueTogether(model="A", unique_together=[("name", "n"), ("n",)])]
            ],
        ],
        [
            lambda: [Node([add_unique(concurrently=True)], atomic=False)],
            lambda: [[migrations.AlterUniqueTogether(model="A", unique_together=[("name", "n")])]],
            lambda: [[migrations.AlterUniqueTogether(model="A", unique_together=[])]],
        ],
    ),
    "drop-or-rename-in-use": (
        [
            lambda: [[migrations.RemoveField(model="A", name="n")]],
            lambda: [[migrations.DeleteModel(name="B")]],
            lambda: [[migrations.RenameField(model="A", old_name="n", new_name="count")]],
            lambda: [[migrations.AlterModelTable(name="A", table="a_new")]],
            lambda: [[alter("n", fields.IntField(null=True, source_field="count"))]],
        ],
        [
            lambda: [[migrations.RenameModel(old_name="B", new_name="C")]],
            lambda: [[migrations.RenameField(model="A", old_name="title", new_name="heading")]],
            lambda: [[migrations.AlterModelTable(name="A", table="a")]],
        ],
    ),
    "run-sql": (
        [lambda: [[migrations.RunSQL("UPDATE a SET n = 0")]]],
        [lambda: [[migrations.RunPython(lambda apps: None)]]],
    ),
    "json-not-jsonb": (
        [
            lambda: [[migrations.RunSQL("ALTER TABLE a ADD COLUMN data json")]],
            lambda: [[migrations.RunSQL(["SELECT 1", "SELECT '{}'::JSON"])]],
        ],
        [
            lambda: [[migrations.RunSQL("ALTER TABLE a ADD COLUMN data jsonb")]],
            lambda: [[migrations.RunSQL("SELECT json_build_object('json', 1) -- json")]],
        ],
    ),
    "int-pk-overflow": (
        [
            lambda: [
                [
                    migrations.CreateModel(
                        name="C", table="c", fields=[("id", fields.IntField(primary_key=True))]
                    )
                ]
            ],
            lambda: [[alter("id", fields.SmallIntField(primary_key=True))]],
        ],
        [
            lambda: [
                [
                    migrations.CreateModel(
                        name="C", table="c", fields=[("id", fields.BigIntField(primary_key=True))]
                    )
                ]
            ],
            lambda: [[alter("id", fields.BigIntField(primary_key=True, description="key"))]],
        ],
    ),
}


def _params(which: int) -> list[Any]:
    return [
        pytest.param(rule, make, id=f"{rule}-{n}")
        for rule, cases in CASES.items()
        for n, make in enumerate(cases[which])
    ]


def test_every_rule_has_cases() -> None:
    assert set(CASES) | {"ignore-without-reason"} == set(RULES)
    assert all(triggers and safe for triggers, safe in CASES.values())


@pytest.mark.parametrize(("rule", "make"), _params(0))
def test_rule_is_triggered(rule: str, make: Steps) -> None:
    report = run(*make())
    assert rule in rules(report), report.as_text()
    finding = next(f for f in report.findings if f.rule == rule)
    assert finding.reason and finding.alternative and "{" not in finding.reason


@pytest.mark.parametrize(("rule", "make"), _params(1))
def test_rule_is_not_triggered(rule: str, make: Steps) -> None:
    report = run(*make())
    assert rule not in rules(report), report.as_text()


def test_a_model_created_in_the_same_migration_is_never_locked() -> None:
    ops = [
        *base(),
        add("at", fields.DatetimeField(db_default=fields.Now())),
        alter("n", fields.BigIntField()),
        alter("name", fields.CharField(max_length=5)),
        add("b", fields.ForeignKeyField("app.B", null=True)),
        not_null_check(),
        add_index(),
        add("code", fields.CharField(max_length=5, null=True, unique=True)),
        migrations.RemoveField(model="A", name="body"),
        migrations.AlterModelTable(name="A", table="a2"),
    ]
    assert lint_graph(history(ops)).findings == []


def test_a_model_renamed_in_the_migration_still_exists() -> None:
    report = run(
        [
            migrations.RenameModel(old_name="A", new_name="Z"),
            migrations.AddIndex(model="Z", index=fields.Index(fields=["n"])),
        ]
    )
    assert rules(report) == ["index-without-concurrently"]


def test_a_model_deleted_and_created_again_is_new() -> None:
    pk = ("id", fields.BigIntField(primary_key=True))
    report = run(
        [
            with_attrs(
                migrations.DeleteModel(name="B"), march_ignore=("drop-or-rename-in-use", "x")
            ),
            migrations.CreateModel(name="B", table="b", fields=[pk]),
            migrations.AddIndex(model="B", index=fields.Index(fields=["id"])),
        ]
    )
    assert rules(report) == []


def test_a_finding_names_its_migration_operation_and_position() -> None:
    report = run([migrations.RunPython(lambda apps: None), add_index()])
    (finding,) = report.findings
    assert (finding.app, finding.migration, finding.index) == ("app", "0002", 1)
    assert finding.operation == "Add index n on A"
    assert finding.reason.startswith("building or dropping index A.(n) without CONCURRENTLY")


# -- silencing -----------------------------------------------------------------------------------
def test_a_pair_with_a_reason_silences_its_rule() -> None:
    report = run([with_attrs(migrations.RunSQL("SELECT 1"), march_ignore=("run-sql", "reviewed"))])
    assert report.findings == []
    ((finding, why),) = report.ignored
    assert (finding.rule, why) == ("run-sql", "reviewed")


def test_a_tuple_of_pairs_silences_each_rule_and_only_those() -> None:
    sql = migrations.RunSQL("ALTER TABLE a ADD COLUMN data json")
    ignore = (("run-sql", "reviewed"), ("json-not-jsonb", "legacy column"))
    assert run([with_attrs(sql, march_ignore=ignore)]).findings == []
    other = with_attrs(migrations.RunSQL("SELECT 1"), march_ignore=(("set-not-null", "no"),))
    report = run([other])
    assert rules(report) == ["run-sql"] and report.ignored == []


def test_a_pair_without_a_reason_silences_nothing_and_is_reported() -> None:
    report = run([with_attrs(migrations.RunSQL("SELECT 1"), march_ignore=("run-sql", " "))])
    assert rules(report) == ["run-sql", "ignore-without-reason"]
    assert report.findings[1].reason == (
        "march_ignore names run-sql without a reason, so it silences nothing"
    )
    bare = run([with_attrs(migrations.RunSQL("SELECT 1"), march_ignore=("run-sql",))])
    assert rules(bare) == ["run-sql", "ignore-without-reason"]


# -- the report ----------------------------------------------------------------------------------
def test_text_report_has_one_line_per_finding_and_a_summary() -> None:
    silenced = with_attrs(migrations.RunSQL("SELECT 1"), march_ignore=("run-sql", "reviewed"))
    report = run([silenced, migrations.RemoveField(model="A", name="n")])
    assert report.as_text() == (
        "app.0002[#1] drop-or-rename-in-use: dropping or renaming field A.n breaks the running "
        "code that still uses it; instead: deploy code that stops using it first, then drop or "
        "rename it in a later release\n"
        "1 finding(s), 1 ignored"
    )
    assert report.exit_code == 1
    assert LintReport().as_text() == "0 finding(s), 0 ignored"
    assert LintReport().exit_code == 0


def test_json_report_lists_findings_and_ignored_ones_with_their_reason() -> None:
    silenced = with_attrs(migrations.RunSQL("SELECT 1"), march_ignore=("run-sql", "reviewed"))
    data = json.loads(run([silenced, add_index()]).as_json())
    assert set(data) == {"findings", "ignored"}
    (finding,) = data["findings"]
    assert finding == {
        "rule": "index-without-concurrently",
        "app": "app",
        "migration": "0002",
        "index": 1,
        "operation": "Add index n on A",
        "reason": "building or dropping index A.(n) without CONCURRENTLY blocks writes to the "
        "table",
        "alternative": "use concurrently=True in a migration with atomic = False",
    }
    (ignored,) = data["ignored"]
    assert (ignored["rule"], ignored["index"], ignored["ignore_reason"]) == (
        "run-sql",
        0,
        "reviewed",
    )


# -- selection, files on disk, a real project -----------------------------------------------------
def test_only_selected_migrations_are_linted_against_the_replayed_state() -> None:
    graph = history(base(), [add_index()], [migrations.RunSQL("SELECT 1")])
    report = lint_graph(graph, [("app", "0003")])
    assert [(f.migration, f.rule) for f in report.findings] == [("0003", "run-sql")]
    with pytest.raises(GraphError, match="app.0009"):
        lint_graph(graph, [("app", "0009")])


def test_lint_operations_checks_unwritten_operations_on_a_state() -> None:
    state = ProjectState()
    for op in base():
        op.state_forwards("app", state)
    report = lint_operations(("app", "0002_new"), [add_index()], state)
    assert rules(report) == ["index-without-concurrently"]
    assert [i.fields for i in state.get_model("app", "A").indexes] == [("name",)]


FILE = """from tortoise_march_ext import migrations
from tortoise_march_ext.schema import fields


class Migration(migrations.Migration):
    dependencies = {deps}
    atomic = {atomic}

    operations = [
        {ops}
    ]
"""


def test_migrations_loaded_from_files_honour_migration_atomic(tmp_path: Path) -> None:
    folder = tmp_path / "migrations" / "app"
    folder.mkdir(parents=True)
    create = (
        'migrations.CreateModel(name="A", table="a", '
        'fields=[("id", fields.BigIntField(primary_key=True)), ("n", fields.IntField())])'
    )
    index = 'migrations.AddIndex(model="A", index=fields.Index(fields=["n"]))'
    files = {
        "0001_initial": ([], True, create),
        "0002_index": ([("app", "0001_initial")], True, index),
        "0003_concurrent": ([("app", "0002_index")], False, index.replace("]", "], name='x'")),
    }
    for name, (deps, atomic, ops) in files.items():
        (folder / f"{name}.py").write_text(FILE.format(deps=deps, atomic=atomic, ops=ops + ","))
    loaded = load_migrations(tmp_path / "migrations")
    with_attrs(loaded[("app", "0003_concurrent")].operations[0], concurrently=True)
    graph = MigrationGraph(loaded, {k: m.dependencies for k, m in loaded.items()})
    report = lint_graph(graph)
    assert [(f.migration, f.rule) for f in report.findings] == [
        ("0002_index", "index-without-concurrently")
    ]


def test_lint_command_reads_only_the_files_and_selects_by_app_and_since(tmp_path: Path) -> None:
    project = HarnessProject(tmp_path, Backend("sqlite", tmp_path))
    project.write_models({"app": models(model("Person", ID))})
    project.makemigrations()
    code = "code = fields.CharField(max_length=5, null=True, db_index=True)"
    project.write_models({"app": models(model("Person", f"{ID}\n{code}"))})
    (second,) = project.makemigrations().migrations
    config = project.config

    def found(report: LintReport) -> list[tuple[str, str]]:
        return [(f.migration, f.rule) for f in report.findings]

    everything = found(asyncio.run(lint(config)))
    assert everything == [
        ("0001_initial", "int-pk-overflow"),
        (second.name, "index-without-concurrently"),
    ]
    assert found(asyncio.run(lint(config, "app"))) == everything
    assert found(asyncio.run(lint(config, "app", since="0001"))) == everything[1:]
    assert found(asyncio.run(lint(config, "app", since="zero"))) == everything
    assert found(asyncio.run(lint(config, "app", since=second.name))) == []
    with pytest.raises(GraphError, match="--since needs an app"):
        asyncio.run(lint(config, since="0001"))
    assert not Path(project.url.removeprefix("sqlite://")).exists()

    async def one() -> list[str]:
        async with open_project(config) as opened:
            return [f.rule for f in lint_migration(opened, ("app", second.name))]

    assert asyncio.run(one()) == ["index-without-concurrently"]


def test_excluded_rules_report_nothing_even_an_ignore_without_reason(tmp_path: Path) -> None:
    project = HarnessProject(tmp_path, Backend("sqlite", tmp_path))
    project.write_models({"app": models(model("Person", ID))})
    project.makemigrations()
    config = replace(project.config, lint_exclude=("int-pk-overflow",))
    assert asyncio.run(lint(project.config)).findings
    report = asyncio.run(lint(config))
    assert (report.findings, report.ignored) == ([], [])
    ops = [migrations.RunSQL("SELECT 1")]
    with_attrs(ops[0], march_ignore="run-sql")
    kept = lint_operations(("app", "0002"), ops, ProjectState(), exclude=("run-sql",))
    assert [f.rule for f in kept.findings] == ["ignore-without-reason"]
    both = ("run-sql", "ignore-without-reason")
    assert lint_operations(("app", "0002"), ops, ProjectState(), exclude=both).findings == []
