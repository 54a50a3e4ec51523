"""check --schema: does the live database hold the tables its applied migrations built?

The applied migrations are replayed to a state; the tables the editor would create for that state
are built where nothing is kept (:mod:`..introspect.expected`) and read back with the same reader
as the live database, so the comparison is one of equal values. Only tables the state knows are
compared; each difference is one line naming the model.

What PostgreSQL or Tortoise derive is not a difference: how an integer key gets its values (a
serial's sequence, whatever its name, or a ``BY DEFAULT`` identity column) and the names of
foreign key constraints (not read). Everything else the reader sees is: column types,
nullability, defaults and comments, primary keys, foreign keys with ON DELETE, unique constraints
and unique indexes, indexes with method, entries (order, INCLUDE) and condition, checks,
exclusion constraints, table comments, and the extensions each app declares. On MySQL/MariaDB
also column and table collations, and the server's own names (unnamed checks, the index it adds
for a foreign key) are not differences, as the reader leaves them out.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..config import MarchConfig
from ..engine.executor import replay
from ..introspect import Schema, extensions, introspect
from ..introspect.expected import built_schema
from ..project import Project, open_project
from ..schema.state import ProjectState
from ..schema.tables import Table, model_tables
from .migrate import check_history

__all__ = ["SchemaCheckResult", "check_schema", "schema_differences", "table_differences"]


@dataclass
class SchemaCheckResult:
    """The apps compared and one line per difference found."""

    apps: list[str]
    differences: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        """Return True when something differs."""
        return bool(self.differences)


async def check_schema(config: MarchConfig, app: str | None = None) -> SchemaCheckResult:
    """Compare each app's live tables with what its applied migrations built."""
    async with open_project(config) as project:
        if app is not None:
            project.check_app(app)
        apps = [app] if app is not None else project.apps
        rows = await project.applied(apps)
        check_history(project, rows)
        applied = project.use_applied(rows)
        state = replay(project.graph, applied & set(project.graph.nodes))
        result = SchemaCheckResult(apps)
        for connection, labels in _by_connection(project, state, apps).items():
            checked = {a for a in apps if project.connection_name(a) == connection}
            result.differences += await _check_connection(
                project, connection, labels, state, checked
            )
        return result


async def table_differences(
    project: Project, app: str, state: ProjectState, tables: list[str]
) -> list[str]:
    """Return one line per way the live ``tables`` of ``app`` differ from what ``state`` builds
    (``migrate --fake-initial`` asks this of the tables an initial migration creates)."""
    connection = project.connection_name(app)
    labels = _by_connection(project, state, [app])[connection]
    wanted = {
        label: [t for t in owned if t.name in tables]
        for label, owned in labels.items()
        if label.split(".", 1)[0] == app
    }
    return await _check_connection(project, connection, labels, state, {app}, wanted)


def _by_connection(
    project: Project, state: ProjectState, apps: list[str]
) -> dict[str, dict[str, list[Table]]]:
    """Return, per connection, the tables each model label owns (of every app on it)."""
    out: dict[str, dict[str, list[Table]]] = defaultdict(dict)
    wanted = {project.connection_name(a) for a in apps}
    for (app, name), model in sorted(state.models.items()):
        connection = project.connection_name(app)
        if connection in wanted:
            out[connection][f"{app}.{name}"] = model_tables(state, model)
    return out


async def _check_connection(
    project: Project,
    connection: str,
    labels: dict[str, list[Table]],
    state: ProjectState,
    checked: set[str],
    compared: dict[str, list[Table]] | None = None,
) -> list[str]:
    """Return the difference lines of the ``checked`` apps on one connection; every table of
    ``labels`` is built (foreign keys find their targets), those of ``compared`` (default: all
    of ``labels``) are compared."""
    app = next(iter(labels)).split(".", 1)[0]
    client, editor = project.client(app), project.editor(app)
    everything = [t for tables in labels.values() for t in tables]
    installed = await extensions(client)
    # Only where the backend has extensions (the editor creates them); elsewhere they are no-ops.
    declared = sorted((o, n) for o, n in state.extensions if editor.create_extension(n))
    missing = sorted({n for _, n in declared} - installed)
    expected = await built_schema(client, connection, editor, everything, missing)
    live = await introspect(client)
    lines = [
        f"{owner}: extension {name} is missing in the database"
        for owner, name in declared
        if owner in checked and name in missing
    ]
    for label, tables in (labels if compared is None else compared).items():
        if label.split(".", 1)[0] not in checked:
            continue
        for table in tables:
            lines += [f"{label}: {line}" for line in schema_differences(live, expected, table.name)]
    return lines


# -- comparing one table ------------------------------------------------------------------------
_SERIAL = re.compile(r"nextval\('.*'::regclass\)\Z")
_GENERATED_KEY = "<generated key>"


def _normalised_default(default: Any) -> Any:
    """Return the default with how a key gets its values made one: a serial's sequence (whatever
    its name) and ``GENERATED BY DEFAULT AS IDENTITY`` both accept an explicit value and hand out
    the next one otherwise. ``GENERATED ALWAYS`` refuses explicit values, so it stays apart."""
    if isinstance(default, str) and (
        _SERIAL.match(default) or default == "GENERATED BY DEFAULT AS IDENTITY"
    ):
        return _GENERATED_KEY
    return default


def _type_text(text: Any) -> str:
    shown = str(text).upper()
    return shown.replace("CHARACTER VARYING", "VARCHAR")


def schema_differences(live: Schema, expected: Schema, table: str) -> list[str]:
    """Return one line per way ``table`` differs between the database and the migrations."""
    if table not in expected:
        return []
    if table not in live:
        return [f"table {table} is missing in the database"]
    db, mig = live[table], expected[table]
    lines = _column_lines(db["columns"], mig["columns"])
    if db["primary_key"] != mig["primary_key"]:
        lines.append(
            f"primary key is ({', '.join(db['primary_key'])}) in the database, "
            f"({', '.join(mig['primary_key'])}) in the migrations"
        )
    lines += _foreign_key_lines(db["foreign_keys"], mig["foreign_keys"])
    lines += _named_lines("unique", _uniques(db), _uniques(mig))
    lines += _named_lines("index", _indexes(db), _indexes(mig))
    lines += _named_lines("check", _checks(db), _checks(mig))
    lines += _named_lines("exclusion", _exclusions(db), _exclusions(mig))
    if db.get("collation") != mig.get("collation"):  # MySQL: the table's default collation
        lines.append(
            f"table {table} has collation {db.get('collation')} in the database, "
            f"{mig.get('collation')} in the migrations"
        )
    if db.get("comment") != mig.get("comment"):
        lines.append(
            f"table {table} has comment {db.get('comment')!r} in the database, "
            f"{mig.get('comment')!r} in the migrations"
        )
    return lines


def _column_lines(db: dict[str, Any], mig: dict[str, Any]) -> list[str]:
    lines = []
    for name in mig:
        if name not in db:
            lines.append(f"column {name} is missing in the database")
    for name in db:
        if name not in mig:
            lines.append(f"column {name} is in the database only")
    for name in (n for n in mig if n in db):
        lines += _one_column(name, db[name], mig[name])
    return lines


def _one_column(name: str, db: dict[str, Any], mig: dict[str, Any]) -> list[str]:
    lines = []
    if db["type"] != mig["type"]:
        lines.append(
            f"column {name} is {_type_text(db['type'])} in the database, "
            f"{_type_text(mig['type'])} in the migrations"
        )
    if db["nullable"] != mig["nullable"]:
        null = {True: "NULL", False: "NOT NULL"}
        lines.append(
            f"column {name} is {null[db['nullable']]} in the database, "
            f"{null[mig['nullable']]} in the migrations"
        )
    db_default, mig_default = (_normalised_default(c["default"]) for c in (db, mig))
    if db_default != mig_default:
        lines.append(
            f"column {name} has {_default_text(db_default)} in the database, "
            f"{_default_text(mig_default)} in the migrations"
        )
    if db.get("comment") != mig.get("comment"):
        lines.append(
            f"column {name} has comment {db.get('comment')!r} in the database, "
            f"{mig.get('comment')!r} in the migrations"
        )
    if db.get("collation") != mig.get("collation"):  # MySQL: None is the table's collation
        shown = {k: v.get("collation") or "the table's" for k, v in (("db", db), ("mig", mig))}
        lines.append(
            f"column {name} has collation {shown['db']} in the database, "
            f"{shown['mig']} in the migrations"
        )
    return lines


def _default_text(default: Any) -> str:
    return "no default" if default is None else f"default {default}"


def _foreign_key_lines(db: list[Any], mig: list[Any]) -> list[str]:
    def text(fk: tuple[Any, ...]) -> str:
        columns, table, targets, on_delete = fk
        return (
            f"foreign key ({', '.join(columns)}) -> {table} ({', '.join(str(t) for t in targets)})"
            f" ON DELETE {on_delete}"
        )

    lines = [f"{text(fk)} is missing in the database" for fk in mig if fk not in db]
    lines += [f"{text(fk)} is in the database only" for fk in db if fk not in mig]
    return lines


def _uniques(table: dict[str, Any]) -> dict[str, str]:
    """Return the unique constraints (not the unique indexes, listed as indexes) by name."""
    index_names = {index[0] for index in table["indexes"]}
    return {str(u[0]): f"({', '.join(u[1])})" for u in table["uniques"] if u[0] not in index_names}


def _indexes(table: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name, entries, unique, method, predicate in table["indexes"]:
        text = f"{'UNIQUE ' if unique else ''}USING {method} ({', '.join(entries)})"
        out[name] = text + (f" WHERE {predicate}" if predicate else "")
    return out


def _checks(table: dict[str, Any]) -> dict[str, str]:
    return {str(name): f"({expression})" for name, expression in table["checks"]}


def _exclusions(table: dict[str, Any]) -> dict[str, str]:
    return {str(name): str(definition) for name, definition in table.get("exclusions", [])}


def _named_lines(kind: str, db: dict[str, str], mig: dict[str, str]) -> list[str]:
    lines = []
    for name, text in mig.items():
        if name not in db:
            lines.append(f"{kind} {name} {text} is missing in the database")
        elif db[name] != text:
            lines.append(f"{kind} {name} is {db[name]} in the database, {text} in the migrations")
    lines += [
        f"{kind} {name} {text} is in the database only"
        for name, text in db.items()
        if name not in mig
    ]
    return lines
