"""Historical models: Tortoise model classes built from the migration state at one point.

``RunPython`` code gets ``apps.get_model("contacts.Contact")``: a queryable Tortoise model with
the fields the model had *then*, registered in a private registry (never in ``Tortoise.apps``), so
it never clashes with the live models. Only schema is rebuilt: no custom methods or managers;
enum fields come back as their plain Char/SmallInt fields.
"""

from __future__ import annotations

import itertools
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

from tortoise import Tortoise, fields
from tortoise.apps import Apps
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.contrib.mysql import fields as mysql_fields
from tortoise.contrib.postgres import fields as pg_fields
from tortoise.models import Model

from ..exceptions import StateError
from .state import NOT_PROVIDED, FieldState, ModelState, ProjectState

_counter = itertools.count()
_KINDS: dict[str, str] = {"CharEnumField": "CharField", "IntEnumField": "SmallIntField"}
_OPTIONS = (
    "primary_key",
    "max_length",
    "max_digits",
    "decimal_places",
    "source_field",
    "null",
    "unique",
    "db_index",
    "auto_now",
    "auto_now_add",
    "description",
)


def _options(state: FieldState) -> dict[str, Any]:
    options = {key: getattr(state, key) for key in _OPTIONS if getattr(state, key)}
    if state.default is not NOT_PROVIDED:
        options["default"] = state.default
    if state.primary_key and state.kind in ("IntField", "BigIntField", "SmallIntField"):
        options["generated"] = state.generated
    return options


def tortoise_field(model: ModelState, name: str, state: FieldState) -> fields.Field[Any]:
    """Return a Tortoise field instance equivalent to ``state``."""
    # The factories are typed for literal calls in model classes; these are built from data.
    factory: Any
    options = _options(state)
    if state.is_m2m:
        factory = fields.ManyToManyField
        made = factory(
            state.to or "",
            through=state.through,
            forward_key=state.forward_key,
            backward_key=state.backward_key,
            related_name=f"_march_{model.name.lower()}_{name}",
            on_delete=state.on_delete,
            db_constraint=state.db_constraint,
        )
    elif state.is_fk:
        factory = fields.OneToOneField if state.kind == "OneToOneField" else fields.ForeignKeyField
        options.pop("unique", None)
        made = factory(
            state.to or "",
            related_name=False,
            on_delete=state.on_delete,
            to_field=state.to_field,
            db_constraint=state.db_constraint,
            **options,
        )
    else:
        made = _contrib(state, options) or getattr(fields, _KINDS.get(state.kind, state.kind))(
            **options
        )
    return cast("fields.Field[Any]", made)


def _contrib(state: FieldState, options: dict[str, Any]) -> Any:
    """Return the tortoise.contrib field ``state`` describes, or None for the other kinds."""
    if state.kind == "ArrayField":
        return pg_fields.ArrayField(state.element_type or "int", **options)
    if state.kind == "TSVectorField":
        return pg_fields.TSVectorField(
            source_fields=state.source_fields,
            config=state.config,
            weights=state.weights,
            stored=state.generated,
            **options,
        )
    if state.kind == "GeometryField":
        return mysql_fields.GeometryField(**options)
    if state.kind == "MySQLUUIDField":
        return mysql_fields.UUIDField(binary_compression=state.binary_compression, **options)
    return None


class HistoricalTable(str):
    """The table name of a historical model: the same text in SQL, another key in the cache.

    Tortoise caches INSERT/UPDATE/DELETE statements per (connection, schema, table) in one
    process-wide dict, not per model class, so the historical and the live model of one table
    would share statements built for different columns. This name equals (and hashes like)
    only the names of the same set of historical models, so their statements are cached
    under keys of their own and never under the live model's.
    """

    registry: int

    def __new__(cls, text: str, registry: int) -> HistoricalTable:
        """Return ``text`` marked as a table of historical registry number ``registry``."""
        name = super().__new__(cls, text)
        name.registry = registry
        return name

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, HistoricalTable)
            and other.registry == self.registry
            and str.__eq__(self, other)
        )

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((str(self), self.registry))

    def __reduce__(self) -> tuple[Any, ...]:
        return HistoricalTable, (str(self), self.registry)


@contextmanager
def isolated_statement_cache(tables: set[str]) -> Iterator[None]:
    """Drop the statements historical models of ``tables`` cached, once they are done.

    The live models' entries are never touched: historical models cache under keys of their
    own (see :class:`HistoricalTable`).
    """
    try:
        yield
    finally:
        for key in [k for k in EXECUTOR_CACHE if isinstance(k[2], HistoricalTable)]:
            if str(key[2]) in tables:
                del EXECUTOR_CACHE[key]


class HistoricalApps:
    """``apps`` as RunPython code sees it: models as they were at one point of the history."""

    def __init__(self, state: ProjectState, connections: Mapping[str, str]) -> None:
        self.state = state
        self.connections = dict(connections)
        self._apps: Apps | None = None

    @property
    def tables(self) -> set[str]:
        """Return the tables of every model in the state."""
        return {m.table for m in self.state.models.values()}

    def get_model(self, label: str) -> type[Model]:
        """Return the historical model ``"app.Model"``."""
        app, _, name = label.partition(".")
        if (app, name) not in self.state.models:
            known = ", ".join(sorted(m.label for m in self.state.models.values())) or "none"
            raise StateError(f"no model {label!r} at this point of the migrations; known: {known}")
        return self._registry().apps[app][name]

    def _registry(self) -> Apps:
        if self._apps is None:
            self._apps = self._build()
        return self._apps

    def _build(self) -> Apps:
        context = Tortoise._require_context()
        registry = Apps({}, context.connections, validate_connections=True)
        serial = next(_counter)
        for app in self.state.apps:
            module = types.ModuleType(f"tortoise_march_ext.historical.m{serial}.{app}")
            module.__models__ = [  # type: ignore[attr-defined]
                self._model_class(m, serial) for m in self.state.app_models(app)
            ]
            registry.init_app(app, [module], _init_relations=False)
            for model in registry.apps[app].values():
                model._meta.default_connection = self.connections.get(app, "default")
        registry._init_relations()
        registry._build_initial_querysets()
        return registry

    def _model_class(self, model: ModelState, registry: int) -> type[Model]:
        attrs: dict[str, Any] = {
            name: tortoise_field(model, name, state) for name, state in model.fields
        }
        table = HistoricalTable(model.table, registry)
        attrs["Meta"] = type("Meta", (), {"table": table, "app": model.app})
        attrs["__module__"] = f"tortoise_march_ext.historical.{model.app}"
        return type(model.name, (Model,), attrs)
