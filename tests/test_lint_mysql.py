"""The MySQL/MariaDB lint rules: each on a migration that breaks it and on one that does not.

Pure tests lint in-memory histories for a MySQL target (the server's kind and version given).
The MariaDB tests check that each rule's verdict is the server's own (a change the linter flags
is refused with ``ALGORITHM=INPLACE, LOCK=NONE``, a safe one is accepted; a primary key moved in
one statement, rebuilt online but with its references retyped, is left to the pure tests), and
run the CLI on a project whose connection is MariaDB. PostgreSQL's rules are checked not to fire
where MySQL changes the table differently, and to fire as before on PostgreSQL and SQLite.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.cliproject import make_project, show
from tests.test_lint import CASES, base, history, rules
from tortoise_march_ext import migrations
from tortoise_march_ext.backends.mysql import MySQLEditor
from tortoise_march_ext.backends.mysql_run import (
    ALGORITHM_REFUSED,
    AlterTable,
    OnlineRefused,
    PinnedConnection,
    error_code,
    server_of,
)
from tortoise_march_ext.lint import (
    MYSQL_RULES,
    RULE_SETS,
    RULES,
    LintReport,
    Target,
    lint_graph,
    lint_operations,
)
from tortoise_march_ext.lint.rules import SHARED
from tortoise_march_ext.operations import Operation
from tortoise_march_ext.schema import fields
from tortoise_march_ext.schema.state import ProjectState

MARIADB = Target("mysql", True, (10, 11, 6))
MYSQL8 = Target("mysql", False, (8, 0, 36))
OLD_MARIADB = Target("mysql", True, (10, 2, 44))
OLD_MYSQL = Target("mysql", False, (8, 0, 11))
MYSQL_8_0_20 = Target("mysql", False, (8, 0, 20))
UNKNOWN = Target("mysql")

Steps = Callable[[], list[Any]]


def run_on(target: Target, *steps: list[Operation]) -> LintReport:
    """Lint the last migration of a history (first migration: models A and B) whose app runs
    on ``target``."""
    graph = history(base(), *steps)
    last = ("app", f"{len(steps) + 1:04d}")
    return lint_graph(graph, [last], targets=lambda app: target)


def alter(name: str, state: Any) -> Operation:
    return migrations.AlterField(model="A", name=name, field=state)


def add(name: str, state: Any, **attrs: Any) -> Operation:
    op = migrations.AddField(model="A", name=name, field=state)
    for key, value in attrs.items():
        setattr(op, key, value)
    return op


def fk(**kwargs: Any) -> Any:
    return fields.ForeignKeyField("app.B", null=True, **kwargs)


def fulltext(model: str = "A") -> Operation:
    index = fields.Index(fields=["body"], name=f"{model.lower()}_body_ft", index_type="FULLTEXT")
    return migrations.AddIndex(model=model, index=index)


def new_model(*extra: tuple[str, Any]) -> Operation:
    pk = ("id", fields.BigIntField(primary_key=True))
    return migrations.CreateModel(name="C", table="c", fields=[pk, *extra])


# rule -> (cases that trigger it, cases that do not); a case is (target, steps).
MY_CASES: dict[str, tuple[list[tuple[Target, Steps]], list[tuple[Target, Steps]]]] = {
    "mysql-alter-column-type": (
        [
            (MARIADB, lambda: [[alter("n", fields.BigIntField(null=True))]]),
            (MARIADB, lambda: [[alter("name", fields.CharField(max_length=100, null=True))]]),
            (MARIADB, lambda: [[alter("name", fields.CharField(max_length=20, null=True))]]),
            (MYSQL8, lambda: [[alter("name", fields.TextField(null=True))]]),
        ],
        [
            # VARCHAR(50) -> VARCHAR(60) keeps its one length byte: instant.
            (MARIADB, lambda: [[alter("name", fields.CharField(max_length=60, null=True))]]),
            (MARIADB, lambda: [[alter("n", fields.IntField())]]),
            (MARIADB, lambda: [[alter("n", fields.IntField(null=True, default=3))]]),
        ],
    ),
    "mysql-add-column-rebuild": (
        [
            (UNKNOWN, lambda: [[add("extra", fields.IntField(null=True))]]),
            (OLD_MARIADB, lambda: [[add("extra", fields.IntField(null=True))]]),
            (OLD_MYSQL, lambda: [[add("extra", fields.IntField(null=True))]]),
            (MARIADB, lambda: [[fulltext()], [add("extra", fields.IntField(null=True))]]),
            (
                MYSQL_8_0_20,
                lambda: [[migrations.RunSQL("ALTER TABLE a ADD COLUMN x INT AFTER n")]],
            ),
        ],
        [
            (MARIADB, lambda: [[add("extra", fields.IntField(null=True))]]),
            (MYSQL8, lambda: [[add("extra", fields.IntField(null=True))]]),
            (MYSQL8, lambda: [[migrations.RunSQL("ALTER TABLE a ADD COLUMN x INT AFTER n")]]),
            (MYSQL_8_0_20, lambda: [[migrations.RunSQL("ALTER TABLE a ADD COLUMN x INT")]]),
            (UNKNOWN, lambda: [[new_model(), migrations.AddField("C", "x", fields.IntField())]]),
        ],
    ),
    "mysql-primary-key": (
        [
            (MARIADB, lambda: [[add("uid", fields.UUIDField(primary_key=True))]]),
            (MARIADB, lambda: [[migrations.RemoveField(model="A", name="id")]]),
            (MARIADB, lambda: [[alter("id", fields.BigIntField(generated=False))]]),
        ],
        [
            (MARIADB, lambda: [[alter("id", fields.BigIntField(primary_key=True))]]),
            (MARIADB, lambda: [[new_model(("uid", fields.UUIDField()))]]),
        ],
    ),
    "mysql-add-foreign-key": (
        [
            (MARIADB, lambda: [[add("b", fk())]]),
            (MARIADB, lambda: [[add("b", fk(), not_valid=True)]]),
            (MARIADB, lambda: [[add("b", fk())], [alter("b", fk(on_delete="SET NULL"))]]),
            (MARIADB, lambda: [[add("b", fk())], [migrations.RenameField("A", "b", "bb")]]),
            (MARIADB, lambda: [[add("b", fk())], [migrations.AlterModelTable("A", "a2")]]),
        ],
        [
            (MARIADB, lambda: [[add("b", fk(db_constraint=False))]]),
            (MARIADB, lambda: [[new_model(("b", fk()))]]),
            (MARIADB, lambda: [[add("b", fk())], [migrations.AlterModelTable("B", "b2")]]),
            (MARIADB, lambda: [[add("b", fk())], [alter("b", fk(description="the B"))]]),
        ],
    ),
    "mysql-add-check": (
        [
            (
                MARIADB,
                lambda: [
                    [
                        migrations.AddConstraint(
                            model="A", constraint=fields.CheckConstraint(check="n > 0", name="c")
                        )
                    ]
                ],
            ),
        ],
        [
            (
                MARIADB,
                lambda: [
                    [
                        migrations.AddConstraint(
                            model="A",
                            constraint=fields.UniqueConstraint(fields=["n"], name="a_n_u"),
                        )
                    ]
                ],
            ),
        ],
    ),
    "mysql-fulltext-index": (
        [
            (MARIADB, lambda: [[fulltext()]]),
            (
                MYSQL8,
                lambda: [
                    [
                        migrations.AddIndex(
                            model="A",
                            index=fields.Index(fields=["n"], name="sp", index_type="spatial"),
                        )
                    ]
                ],
            ),
        ],
        [
            (
                MARIADB,
                lambda: [
                    [migrations.AddIndex(model="A", index=fields.Index(fields=["n"], name="i"))]
                ],
            ),
            (MARIADB, lambda: [[new_model(("body", fields.TextField())), fulltext("C")]]),
        ],
    ),
}


def _params(which: int) -> list[Any]:
    return [
        pytest.param(rule, target, make, id=f"{rule}-{n}")
        for rule, cases in MY_CASES.items()
        for n, (target, make) in enumerate(cases[which])
    ]


def test_every_mysql_rule_has_cases_and_the_rule_sets_are_as_documented() -> None:
    assert set(MY_CASES) == set(MYSQL_RULES)
    assert all(triggers and safe for triggers, safe in MY_CASES.values())
    assert RULE_SETS["mysql"] == SHARED | set(MYSQL_RULES)
    assert RULE_SETS["postgres"] == RULE_SETS["sqlite"] == set(RULES)
    assert not set(MYSQL_RULES) & set(RULES)


@pytest.mark.parametrize(("rule", "target", "make"), _params(0))
def test_mysql_rule_is_triggered(rule: str, target: Target, make: Steps) -> None:
    report = run_on(target, *make())
    assert rule in rules(report), report.as_text()
    finding = next(f for f in report.findings if f.rule == rule)
    assert finding.reason and finding.alternative and "{" not in finding.reason
    # On MySQL none of PostgreSQL's own rules report anything.
    assert set(rules(report)) <= RULE_SETS["mysql"], report.as_text()


@pytest.mark.parametrize(("rule", "target", "make"), _params(1))
def test_mysql_rule_is_not_triggered(rule: str, target: Target, make: Steps) -> None:
    report = run_on(target, *make())
    assert rule not in rules(report), report.as_text()


def test_the_add_column_reason_names_the_server_or_says_it_is_unknown() -> None:
    step = [add("extra", fields.IntField(null=True))]
    old = run_on(OLD_MARIADB, step).findings[0]
    assert "MariaDB 10.2.44 cannot add a column as the last column instantly" in old.reason
    unknown = run_on(UNKNOWN, step).findings[0]
    assert "could not read this server's version" in unknown.reason
    assert "MySQL 8.0.12 and MariaDB 10.3.2" in unknown.reason
    placed = run_on(
        MYSQL_8_0_20, [migrations.RunSQL("ALTER TABLE a ADD COLUMN x INT FIRST")]
    ).findings
    assert [f.rule for f in placed] == ["run-sql", "mysql-add-column-rebuild"]
    assert "MySQL 8.0.29 and MariaDB 10.4.0" in placed[1].reason
    assert "FULLTEXT or SPATIAL" in run_on(MARIADB, [fulltext()], step).findings[-1].reason


def test_the_foreign_key_reason_says_why_it_is_added_again() -> None:
    first = [add("b", fk())]
    again = run_on(MARIADB, first, [alter("b", fk(on_delete="SET NULL"))]).findings
    assert [f.rule for f in again] == ["mysql-add-foreign-key"]
    assert "foreign key A.b (added again for the new ON DELETE) copies" in again[0].reason
    silent = run_on(MARIADB, [add("b", fk(), not_valid=True)]).findings[0]
    assert "not_valid does nothing on MySQL" in silent.reason


# -- PostgreSQL's rules where MySQL works differently ---------------------------------------------
NOT_ON_MYSQL = sorted(set(RULES) - SHARED)


@pytest.mark.parametrize("rule", NOT_ON_MYSQL)
def test_postgres_only_rules_do_not_fire_on_mysql(rule: str) -> None:
    for make in CASES[rule][0]:
        steps = make()
        postgres = lint_graph(history(base(), *steps))
        assert rule in rules(postgres), postgres.as_text()
        for target in (Target("postgres"), Target("sqlite")):
            same = lint_graph(history(base(), *steps), targets=lambda app, t=target: t)
            assert rules(same) == rules(postgres), same.as_text()
        mysql = lint_graph(history(base(), *steps), targets=lambda app: MARIADB)
        assert rule not in rules(mysql), mysql.as_text()


@pytest.mark.parametrize("rule", sorted(SHARED - {"ignore-without-reason"}))
def test_shared_rules_fire_on_mysql_too(rule: str) -> None:
    for make in CASES[rule][0]:
        report = lint_graph(history(base(), *make()), targets=lambda app: MARIADB)
        assert rule in rules(report), report.as_text()


def test_json_and_concurrently_are_not_flagged_on_mysql() -> None:
    sql = migrations.RunSQL("ALTER TABLE a ADD COLUMN doc json")
    index = migrations.AddIndex(model="A", index=fields.Index(fields=["n"], name="i"))
    report = run_on(MARIADB, [sql, index])
    assert rules(report) == ["run-sql"], report.as_text()


# -- silencing ------------------------------------------------------------------------------------
def test_march_ignore_and_lint_exclude_work_for_mysql_rules() -> None:
    ignored = add("b", fk(), march_ignore=("mysql-add-foreign-key", "B has ten rows"))
    report = run_on(MARIADB, [ignored])
    assert rules(report) == [], report.as_text()
    assert [(f.rule, why) for f, why in report.ignored] == [
        ("mysql-add-foreign-key", "B has ten rows")
    ]
    bare = run_on(MARIADB, [add("b", fk(), march_ignore=("mysql-add-foreign-key", ""))])
    assert sorted(rules(bare)) == ["ignore-without-reason", "mysql-add-foreign-key"]
    state = ProjectState()
    for op in base():
        op.state_forwards("app", state)
    op = add("b", fk())
    kept = lint_operations(("app", "0002"), [op], state, target=MARIADB)
    assert rules(kept) == ["mysql-add-foreign-key"]
    gone = lint_operations(
        ("app", "0002"), [op], state, target=MARIADB, exclude=("mysql-add-foreign-key",)
    )
    assert gone.findings == [] and gone.ignored == []


# -- the server's verdict (MariaDB) ---------------------------------------------------------------
ONLINE = ("ALGORITHM=INPLACE, LOCK=NONE",)
# (rule, steps): the last step's changes, sent with ALGORITHM=INPLACE, LOCK=NONE, are refused
# exactly when ``rule`` fires for them on this server.
VERDICTS: list[tuple[str, Steps]] = [
    ("mysql-alter-column-type", lambda: [[alter("n", fields.BigIntField(null=True))]]),
    (
        "mysql-alter-column-type",
        lambda: [[alter("name", fields.CharField(max_length=100, null=True))]],
    ),
    (
        "mysql-alter-column-type",
        lambda: [[alter("name", fields.CharField(max_length=60, null=True))]],
    ),
    ("mysql-alter-column-type", lambda: [[alter("n", fields.IntField())]]),
    ("mysql-add-foreign-key", lambda: [[add("b", fk())]]),
    ("mysql-add-foreign-key", lambda: [[add("b", fk(db_constraint=False))]]),
    ("mysql-add-foreign-key", lambda: [[add("b", fk())], [alter("b", fk(on_delete="SET NULL"))]]),
    ("mysql-add-foreign-key", lambda: [[add("b", fk())], [migrations.RenameField("A", "b", "c")]]),
    (
        "mysql-add-check",
        lambda: [
            [
                migrations.AddConstraint(
                    model="A", constraint=fields.CheckConstraint(check="n > 0", name="a_c")
                )
            ]
        ],
    ),
    ("mysql-fulltext-index", lambda: [[fulltext()]]),
    ("mysql-primary-key", lambda: [[migrations.RemoveField(model="A", name="id")]]),
    ("mysql-primary-key", lambda: [[alter("id", fields.BigIntField(generated=False))]]),
    ("mysql-add-column-rebuild", lambda: [[add("extra", fields.IntField(null=True))]]),
    (
        "mysql-add-column-rebuild",
        lambda: [[fulltext()], [add("extra", fields.IntField(null=True))]],
    ),
]


def _online(statement: Any) -> Any:
    """Return ``statement`` asking for an in-place change without locks."""
    if isinstance(statement, AlterTable):
        return AlterTable(statement.table, statement.clauses, statement.quote, ONLINE)
    if isinstance(statement, str) and statement.startswith("ALTER TABLE"):
        return statement.rstrip(";") + f", {ONLINE[0]};"
    return statement


async def _apply(conn: PinnedConnection, steps: list[list[Operation]], online: bool) -> bool:
    """Create A and B, apply ``steps`` (the last one online when asked); return whether the
    server accepted the last step."""
    editor = MySQLEditor()
    state = ProjectState()
    everything = [base(), *steps]
    for number, step in enumerate(everything):
        last = number == len(everything) - 1
        for op in step:
            before = state.clone()
            op.state_forwards("app", state)
            for sql in op.database_forwards("app", editor, before, state):
                sql = _online(sql) if last and online else sql
                try:
                    await (conn.execute_script(sql) if isinstance(sql, str) else sql.run(conn))
                except OnlineRefused:
                    return False
                except Exception as exc:
                    if last and online and error_code(exc) in ALGORITHM_REFUSED:
                        return False
                    raise
            if number == 0 and op is step[-1]:
                await conn.execute_script("INSERT INTO `b` (`id`) VALUES (1);")
                await conn.execute_script("INSERT INTO `a` (`id`, `n`) VALUES (1, 1);")
    return True


async def _verdicts(url: str) -> list[tuple[str, bool, bool, list[str]]]:
    import asyncmy

    parts = urlsplit(url)
    scratch = f"{parts.path.strip('/')}_v"  # a database of this test's own, dropped at the end
    out = []
    raw = await asyncmy.connect(
        host=parts.hostname, port=parts.port, user=parts.username, password=parts.password or ""
    )
    try:
        conn = PinnedConnection(raw)
        server = await server_of(conn)
        target = Target("mysql", server.mariadb, server.version)
        for rule, make in VERDICTS:
            steps = make()
            found = rules(run_on(target, *steps))
            await conn.execute_script(f"DROP DATABASE IF EXISTS `{scratch}`;")
            await conn.execute_script(f"CREATE DATABASE `{scratch}` CHARACTER SET utf8mb4;")
            await conn.execute_script(f"USE `{scratch}`;")
            accepted = await _apply(conn, steps, online=True)
            out.append((rule, rule in found, accepted, found))
    finally:
        await PinnedConnection(raw).execute_script(f"DROP DATABASE IF EXISTS `{scratch}`;")
        raw.close()
    return out


def test_each_rule_matches_what_mariadb_refuses_online(mysql_url: str) -> None:
    """A change is flagged exactly when MariaDB refuses it with ALGORITHM=INPLACE, LOCK=NONE."""
    results = asyncio.run(_verdicts(mysql_url))
    # flagged == refused, i.e. flagged != accepted, for every change.
    wrong = [result for result in results if result[1] == result[2]]
    assert not wrong, wrong
    flagged = {rule for rule, hit, _, _ in results if hit}
    assert flagged == set(MYSQL_RULES)
    assert any(not hit for _, hit, _, _ in results)


# -- the CLI on a MariaDB project ----------------------------------------------------------------
SECOND = '''"""Unsafe on a busy MySQL."""

from tortoise_march_ext import migrations
from tortoise_march_ext.schema import fields


class Migration(migrations.Migration):
    dependencies = (("contacts", "{first}"),)

    operations = (
        migrations.AddField(
            model="Tag", name="company", field=fields.ForeignKeyField("contacts.Company", null=True)
        ),
        migrations.AlterField(model="Tag", name="label", field=fields.CharField(max_length=300)),
        migrations.AddField(model="Tag", name="rank", field=fields.IntField(null=True)),
        migrations.AddIndex(model="Tag", index=fields.Index(fields=["rank"], name="tag_rank")),
    )
'''
LINE = re.compile(r"^contacts\.0002_busy\[#(\d)\] ([a-z-]+): (.+); instead: (.+)$")


def _busy_project(tmp_path: Path, url: str) -> Any:
    project = make_project(tmp_path, url)
    project.ok("makemigrations")
    first = project.migration_names()[0].removesuffix(".py")
    project.write_migration("0002_busy", SECOND.format(first=first))
    return project


def test_cli_lint_on_mariadb_exit_code_and_lines(tmp_path: Path, mysql_url: str) -> None:
    project = _busy_project(tmp_path, mysql_url)
    result = project.run("lint", "contacts", "--since", "0001")
    assert result.returncode == 1, show(result)
    lines = result.stdout.strip().splitlines()
    found = [LINE.match(line) for line in lines[:-1]]
    assert all(found), show(result)
    assert [(m.group(1), m.group(2)) for m in found if m] == [
        ("0", "mysql-add-foreign-key"),
        ("1", "mysql-alter-column-type"),
    ], show(result)
    # The server (MariaDB 10.11) adds a last column instantly, and builds a plain index online.
    assert lines[-1] == "2 finding(s), 0 ignored", show(result)
    as_json = json.loads(project.run("lint", "--format", "json").stdout)
    assert "index-without-concurrently" not in {f["rule"] for f in as_json["findings"]}


def test_cli_lint_warns_in_case_when_the_server_does_not_answer(
    tmp_path: Path, mysql_url: str
) -> None:
    project = _busy_project(tmp_path, mysql_url)
    # Nothing listens on port 9: lint cannot read the version and assumes an old server.
    project.database_url = "mysql://root:@127.0.0.1:9/nowhere"
    result = project.run("lint", "contacts", "--since", "0001")
    assert result.returncode == 1, show(result)
    rebuild = [line for line in result.stdout.splitlines() if "mysql-add-column-rebuild" in line]
    # Both new columns (the foreign key's and rank) might rebuild an old server's table.
    assert [line.split("]")[0][-2:] for line in rebuild] == ["#0", "#2"], show(result)
    assert all("could not read this server's version" in line for line in rebuild), show(result)


def test_makemigrations_prints_the_mysql_rules_on_a_mariadb_project(
    tmp_path: Path, mysql_url: str
) -> None:
    project = make_project(tmp_path, mysql_url)
    project.ok("makemigrations")
    project.add_contact_field("rank = fields.IntField(null=True, db_index=True)")
    made = project.ok("makemigrations")
    # makemigrations does not ask the server, so it warns in case; PostgreSQL's
    # index-without-concurrently does not apply: InnoDB builds the index online.
    assert "mysql-add-column-rebuild" in made.stdout, show(made)
    assert "index-without-concurrently" not in made.stdout, show(made)


# -- the editor's own view (safe_defaults) ---------------------------------------------------------
COPY_RULES = {"mysql-alter-column-type", "mysql-add-foreign-key", "mysql-add-check"}


def _sent_without_algorithm(steps: list[list[Operation]]) -> bool:
    """Return whether the MySQL editor with safe_defaults sends some ALTER TABLE of the last
    step without an online algorithm (it has none for it: the server copies the table)."""
    editor = MySQLEditor()
    editor.online = True
    state = ProjectState()
    out = False
    for step in [base(), *steps]:
        for op in step:
            before = state.clone()
            op.state_forwards("app", state)
            sql = op.database_forwards("app", editor, before, state)
            if step is steps[-1]:
                out = out or any(
                    (isinstance(s, AlterTable) and not s.algorithms)
                    or (isinstance(s, str) and s.startswith("ALTER TABLE"))
                    for s in sql
                )
    return out


@pytest.mark.parametrize(
    ("rule", "target", "make", "triggers"),
    [
        pytest.param(rule, target, make, which == 0, id=f"{rule}-{which}-{n}")
        for rule, cases in MY_CASES.items()
        if rule in COPY_RULES
        for which in (0, 1)
        for n, (target, make) in enumerate(cases[which])
    ],
)
def test_the_copy_rules_fire_where_the_editor_has_no_online_form(
    rule: str, target: Target, make: Steps, triggers: bool
) -> None:
    """With safe_defaults the editor sends a change without ALGORITHM only when it has no
    online form; the copy rules fire for exactly those (one exception, below)."""
    steps = make()
    flagged = rule in rules(run_on(target, *steps))
    assert flagged == triggers
    sent_as_copy = _sent_without_algorithm(steps)
    widened = steps == [[alter("name", fields.CharField(max_length=60, null=True))]]
    if widened:
        # VARCHAR(50) -> VARCHAR(60) is sent without an algorithm too, and the server changes
        # it instantly (one length byte either way), which the rule knows.
        assert sent_as_copy and not flagged
    else:
        assert sent_as_copy == flagged
