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
from typing import Any

from tortoise import Tortoise, fields
from tortoise.apps import Apps
from tortoise.backends.base.executor import EXECUTOR_CACHE
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
    options = _options(state)
    if state.is_m2m:
        return fields.ManyToManyField(
            state.to or "",
            through=state.through,
            forward_key=state.forward_key,
            backward_key=state.backward_key,
            related_name=f"_march_{model.name.lower()}_{name}",
            on_delete=state.on_delete,  # type: ignore[arg-type]
            db_constraint=state.db_constraint,
        )
    if state.is_fk:
        factory = fields.OneToOneField if state.kind == "OneToOneField" else fields.ForeignKeyField
        options.pop("unique", None)
        return factory(  # type: ignore[no-any-return]
            state.to or "",
            related_name=False,
            on_delete=state.on_delete,  # type: ignore[arg-type]
            to_field=state.to_field,
            db_constraint=state.db_constraint,
            **options,
        )
    return getattr(fields, _KINDS.get(state.kind, state.kind))(**options)  # type: ignore[no-any-return]


@contextmanager
def isolated_statement_cache(tables: set[str]) -> Iterator[None]:
    """Keep Tortoise's per-table SQL cache apart while historical models run.

    Tortoise caches INSERT/UPDATE/DELETE SQL per (connection, schema, table), not per model class,
    so a historical model and the live model of the same table would share statements built for
    different columns. The live entries are set aside and put back afterwards.
    """
    saved = {key: value for key, value in EXECUTOR_CACHE.items() if key[2] in tables}
    for key in saved:
        del EXECUTOR_CACHE[key]
    try:
        yield
    finally:
        for key in [key for key in EXECUTOR_CACHE if key[2] in tables]:
            del EXECUTOR_CACHE[key]
        EXECUTOR_CACHE.update(saved)


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
            module.__models__ = [self._model_class(m) for m in self.state.app_models(app)]  # type: ignore[attr-defined]
            registry.init_app(app, [module], _init_relations=False)
            for model in registry.apps[app].values():
                model._meta.default_connection = self.connections.get(app, "default")
        registry._init_relations()
        registry._build_initial_querysets()
        return registry

    def _model_class(self, model: ModelState) -> type[Model]:
        attrs: dict[str, Any] = {
            name: tortoise_field(model, name, state) for name, state in model.fields
        }
        attrs["Meta"] = type("Meta", (), {"table": model.table, "app": model.app})
        attrs["__module__"] = f"tortoise_march_ext.historical.{model.app}"
        return type(model.name, (Model,), attrs)
