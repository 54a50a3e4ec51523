"""Schema value objects: ProjectState, ModelState, FieldState, IndexState, ConstraintState.

Pure data, no I/O. Python names (``name``) and database identifiers (``table``, ``column``) are kept
apart: a field is stored under its Python name and knows its column only through ``source_field``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ..exceptions import StateError


class _NotProvided:
    """Marker for "no default": distinct from ``None``, which is a valid default."""

    _instance: _NotProvided | None = None

    def __new__(cls) -> _NotProvided:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_PROVIDED"

    def __reduce__(self) -> str:
        return "NOT_PROVIDED"


NOT_PROVIDED: Any = _NotProvided()

INT_KINDS = frozenset({"IntField", "BigIntField", "SmallIntField"})
FK_KINDS = frozenset({"ForeignKeyField", "OneToOneField"})
M2M_KIND = "ManyToManyField"
RELATION_KINDS = FK_KINDS | {M2M_KIND}


@dataclass(frozen=True)
class SqlDefault:
    """A raw SQL database default, emitted verbatim (``db_default=SqlDefault("now()")``).

    ``dialects`` overrides the SQL per backend dialect, as Tortoise's ``Now`` does for MySQL.
    """

    sql: str
    dialects: tuple[tuple[str, str], ...] = ()

    def for_dialect(self, dialect: str) -> str:
        """Return the SQL for ``dialect``."""
        return dict(self.dialects).get(dialect, self.sql)


@dataclass(frozen=True)
class CallableRef:
    """A callable default kept as its import path (``uuid.uuid4`` is ``("uuid", "uuid4")``).

    Migration files write the callable itself (``default=uuid.uuid4``); the state keeps only the
    path, so it stays plain data. Rows that need a value get one call each when migrating.
    """

    module: str
    qualname: str

    @property
    def path(self) -> str:
        """Return the dotted path as a file writes it (``dict``, ``uuid.uuid4``)."""
        if self.module == "builtins":
            return self.qualname
        return f"{self.module}.{self.qualname}"

    @property
    def referable(self) -> bool:
        """Return whether a file can name the callable: not a lambda, a local function, or a
        function of ``__main__``."""
        if not self.module or self.module == "__main__":
            return False
        return "<" not in self.qualname and "<" not in self.module

    def resolve(self) -> Callable[[], Any]:
        """Import the callable by its path; raise StateError (one line) when it does not import."""
        try:
            obj: Any = importlib.import_module(self.module)
            for part in self.qualname.split("."):
                obj = getattr(obj, part)
        except Exception as exc:  # noqa: BLE001 - any import failure is the same answer
            raise StateError(
                f"default {self.path} does not import ({type(exc).__name__}: {exc}); restore "
                "it, or edit the migration to name a function that exists"
            ) from None
        if not callable(obj):
            raise StateError(f"default {self.path} is not callable")
        return obj  # type: ignore[no-any-return]


def callable_ref(value: Callable[..., Any]) -> CallableRef:
    """Return the reference to ``value``; one a file cannot name is not ``referable``."""
    owner = getattr(value, "__self__", None)
    module = getattr(value, "__module__", None) or getattr(owner, "__module__", None) or ""
    qualname = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if not isinstance(qualname, str) or not qualname:
        qualname = f"<{value!r}>"
    ref = CallableRef(str(module), str(qualname))
    if ref.referable and not _imports_back(ref, value):
        return CallableRef(ref.module, f"<{ref.qualname}>")
    return ref


def _imports_back(ref: CallableRef, value: Any) -> bool:
    try:
        found = ref.resolve()
    except StateError:
        return False
    return found is value or bool(found == value)


@dataclass(frozen=True, eq=True)
class FieldState:
    """One field of a model as the migration files see it; written like a Tortoise field call."""

    kind: str
    to: str | None = None
    primary_key: bool = False
    generated: bool = False
    max_length: int | None = None
    max_digits: int | None = None
    decimal_places: int | None = None
    source_field: str | None = None
    null: bool = False
    unique: bool = False
    db_index: bool = False
    default: Any = NOT_PROVIDED
    db_default: Any = NOT_PROVIDED
    auto_now: bool = False
    auto_now_add: bool = False
    description: str | None = None
    on_delete: str = "CASCADE"
    to_field: str | None = None
    db_constraint: bool = True
    through: str | None = None
    forward_key: str | None = None
    backward_key: str | None = None
    # tortoise.contrib field options (ArrayField, TSVectorField, the MySQL UUIDField).
    element_type: str | None = None
    source_fields: tuple[str, ...] = ()
    config: str | None = None
    weights: tuple[str, ...] | None = None
    binary_compression: bool = False

    __hash__ = None  # type: ignore[assignment]  # defaults may be dicts or lists

    @property
    def is_relation(self) -> bool:
        """Return whether the field points at another model."""
        return self.kind in RELATION_KINDS

    @property
    def is_fk(self) -> bool:
        """Return whether the field is a ForeignKey or OneToOne (a column with a reference)."""
        return self.kind in FK_KINDS

    @property
    def is_m2m(self) -> bool:
        """Return whether the field is a ManyToMany (a through table, no column)."""
        return self.kind == M2M_KIND

    def column(self, name: str) -> str:
        """Return the database column of this field when it is stored under ``name``."""
        if self.source_field:
            return self.source_field
        return f"{name}_id" if self.is_fk else name

    def with_changes(self, **changes: Any) -> FieldState:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)

    def deconstruct(self) -> tuple[str, dict[str, Any]]:
        """Return the kind and the keyword arguments that differ from their defaults, in order."""
        kwargs: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "kind":
                continue
            value = getattr(self, f.name)
            if value != self._default_of(f.name, f.default):
                kwargs[f.name] = value
        return self.kind, kwargs

    def _default_of(self, attr: str, declared: Any) -> Any:
        if attr == "generated" and self.kind == "TSVectorField":
            return bool(self.source_fields)
        if attr == "generated":
            return self.primary_key and self.kind in INT_KINDS
        if attr == "binary_compression" and self.kind == "MySQLUUIDField":
            return True
        if attr == "unique" and self.kind == "OneToOneField":
            return True
        if attr == "unique" and self.is_m2m:
            return True
        return declared


def make_field(kind: str, **kwargs: Any) -> FieldState:
    """Build a FieldState the way Tortoise's constructors fill their defaults."""
    if "generated" not in kwargs and kind == "TSVectorField":
        kwargs["generated"] = bool(kwargs.get("source_fields"))
    if "generated" not in kwargs:
        kwargs["generated"] = bool(kwargs.get("primary_key")) and kind in INT_KINDS
    _contrib_defaults(kind, kwargs)
    if "unique" not in kwargs and (kind == "OneToOneField" or kind == M2M_KIND):
        kwargs["unique"] = True
    names = {f.name for f in fields(FieldState)}
    unknown = sorted(set(kwargs) - names)
    if unknown:
        raise StateError(f"{kind}: unknown argument(s) {', '.join(unknown)}")
    default = kwargs.get("default", NOT_PROVIDED)
    if callable(default):
        kwargs["default"] = _file_default(kind, default)
    return FieldState(kind=kind, **kwargs)


def _contrib_defaults(kind: str, kwargs: dict[str, Any]) -> None:
    """Fill and normalise the options of tortoise.contrib fields as their constructors do."""
    if kind == "ArrayField":
        kwargs["element_type"] = str(kwargs.get("element_type") or "int").upper()
    if kind == "MySQLUUIDField":
        kwargs.setdefault("binary_compression", True)
    for key in ("source_fields", "weights"):
        if isinstance(kwargs.get(key), str):
            kwargs[key] = (kwargs[key],)
        elif kwargs.get(key) is not None:
            kwargs[key] = tuple(kwargs[key])
    weights, sources = kwargs.get("weights"), kwargs.get("source_fields", ())
    if weights and len(weights) != len(sources):
        raise StateError(
            f"{kind}: weights {weights!r} do not match source_fields {sources!r}; "
            "give one weight per source field"
        )


def _file_default(kind: str, value: Callable[..., Any]) -> CallableRef:
    ref = callable_ref(value)
    if not ref.referable:
        raise StateError(
            f"{kind}: default {ref.qualname.strip('<>')} cannot be kept in a migration file; "
            "name a module-level function (default=myapp.utils.make_value)"
        )
    return ref


@dataclass(frozen=True)
class FieldRef:
    """A field of the model named in a constraint expression; resolved to its column."""

    name: str


@dataclass(frozen=True)
class RawSQL:
    """An SQL expression written into a constraint verbatim."""

    sql: str


def _swap(names: tuple[str, ...], old: str, new: str) -> tuple[str, ...]:
    return tuple(new if n == old else n for n in names)


@dataclass(frozen=True)
class IndexState:
    """A ``Meta.indexes`` entry: fields (Python names) or SQL expressions, a name, a type, a
    condition (partial index) and ``include`` fields (PostgreSQL covering index)."""

    fields: tuple[str, ...] = ()
    expressions: tuple[str, ...] = ()
    name: str | None = None
    index_type: str = ""
    condition: str | None = None
    include: tuple[str, ...] = ()

    @property
    def field_names(self) -> tuple[str, ...]:
        """Return every field the index mentions."""
        return (*self.fields, *self.include)

    @property
    def field_refs(self) -> tuple[str, ...]:
        """Return the names that must be field names (not columns): the ``include`` fields."""
        return self.include

    def with_field_renamed(self, old: str, new: str) -> IndexState:
        """Return the index as it reads after field ``old`` is renamed ``new``."""
        return replace(
            self, fields=_swap(self.fields, old, new), include=_swap(self.include, old, new)
        )


@dataclass(frozen=True)
class ConstraintState:
    """A constraint: a (possibly partial) unique constraint, a check, or a PostgreSQL
    exclusion constraint (``expressions`` of (FieldRef | RawSQL, operator) pairs)."""

    kind: str  # "unique" | "check" | "exclusion"
    name: str
    fields: tuple[str, ...] = ()
    condition: str | None = None
    check: str | None = None
    expressions: tuple[tuple[FieldRef | RawSQL, str], ...] = ()
    index_type: str = ""

    @property
    def field_names(self) -> tuple[str, ...]:
        """Return every field the constraint mentions (fields and FieldRefs)."""
        return (*self.fields, *self.field_refs)

    @property
    def field_refs(self) -> tuple[str, ...]:
        """Return the names that must be field names (not columns): the FieldRefs."""
        return tuple(e.name for e, _ in self.expressions if isinstance(e, FieldRef))

    def with_field_renamed(self, old: str, new: str) -> ConstraintState:
        """Return the constraint as it reads after field ``old`` is renamed ``new``."""
        expressions = tuple(
            (FieldRef(new) if isinstance(e, FieldRef) and e.name == old else e, op)
            for e, op in self.expressions
        )
        return replace(self, fields=_swap(self.fields, old, new), expressions=expressions)


@dataclass(frozen=True)
class ModelState:
    """One tracked model: its table, ordered fields and table-level options."""

    app: str
    name: str
    table: str
    fields: tuple[tuple[str, FieldState], ...]
    indexes: tuple[IndexState, ...] = ()
    unique_together: tuple[tuple[str, ...], ...] = ()
    constraints: tuple[ConstraintState, ...] = ()
    description: str | None = None

    __hash__ = None  # type: ignore[assignment]

    @property
    def label(self) -> str:
        """Return ``app.Model``."""
        return f"{self.app}.{self.name}"

    @property
    def field_map(self) -> dict[str, FieldState]:
        """Return the fields keyed by Python name."""
        return dict(self.fields)

    def get_field(self, name: str) -> FieldState:
        """Return the field ``name`` or raise StateError."""
        for field_name, state in self.fields:
            if field_name == name:
                return state
        raise StateError(f"{self.label} has no field {name!r}")

    def has_field(self, name: str) -> bool:
        """Return whether the model has a field ``name``."""
        return any(field_name == name for field_name, _ in self.fields)

    @property
    def pk_name(self) -> str:
        """Return the Python name of the primary key field."""
        for name, state in self.fields:
            if state.primary_key:
                return name
        raise StateError(f"{self.label} has no primary key")

    def column_of(self, name: str) -> str:
        """Return the database column of field ``name``; unknown names are returned as given."""
        for field_name, state in self.fields:
            if field_name == name:
                return state.column(name)
        return name

    def with_changes(self, **changes: Any) -> ModelState:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)

    def check_names(self, item: IndexState | ConstraintState) -> None:
        """Raise StateError when ``item`` names a field the model does not have (``fields`` may
        also name a column, as Tortoise allows; FieldRefs and ``include`` name fields)."""
        names = {n for n, _ in self.fields}
        columns = names | {f.column(n) for n, f in self.fields}
        for name in item.field_names:
            if name not in (names if name in item.field_refs else columns):
                what = "index" if isinstance(item, IndexState) else "constraint"
                label = item.name or ", ".join(item.field_names)
                raise StateError(
                    f"{self.label}: {what} {label!r} names field {name!r}, which the model does "
                    f"not have (fields: {', '.join(n for n, _ in self.fields)})"
                )

    def with_field(self, name: str, state: FieldState) -> ModelState:
        """Return a copy where field ``name`` is replaced, or appended when new."""
        if self.has_field(name):
            new = tuple((n, state if n == name else s) for n, s in self.fields)
        else:
            new = (*self.fields, (name, state))
        return replace(self, fields=new)

    def without_field(self, name: str) -> ModelState:
        """Return a copy without field ``name``."""
        self.get_field(name)
        return replace(self, fields=tuple((n, s) for n, s in self.fields if n != name))


@dataclass
class ProjectState:
    """All tracked models, keyed by ``(app, model name)``, and the PostgreSQL extensions each
    app declares, as ``(app, extension)``. Mutated in place by operations."""

    models: dict[tuple[str, str], ModelState] = field(default_factory=dict)
    extensions: set[tuple[str, str]] = field(default_factory=set)

    def clone(self) -> ProjectState:
        """Return a shallow copy: model states are immutable and shared."""
        return ProjectState(dict(self.models), set(self.extensions))

    def app_extensions(self, app: str) -> set[str]:
        """Return the extensions ``app`` declares."""
        return {name for owner, name in self.extensions if owner == app}

    def extension_used_elsewhere(self, app: str, name: str) -> bool:
        """Return whether an app other than ``app`` declares extension ``name``."""
        return any(n == name and owner != app for owner, n in self.extensions)

    def get_model(self, app: str, name: str) -> ModelState:
        """Return the model or raise StateError naming what exists."""
        try:
            return self.models[(app, name)]
        except KeyError:
            raise StateError(f"no model {app}.{name} in the migration state") from None

    def resolve(self, label: str) -> ModelState:
        """Return the model a relation's ``to`` ("app.Model") points at."""
        app, _, name = label.partition(".")
        return self.get_model(app, name)

    def add_model(self, model: ModelState) -> None:
        """Add a new model; raise StateError if it exists."""
        if (model.app, model.name) in self.models:
            raise StateError(f"model {model.label} already exists in the migration state")
        self.models[(model.app, model.name)] = model

    def put_model(self, model: ModelState) -> None:
        """Replace an existing model."""
        self.models[(model.app, model.name)] = model

    def remove_model(self, app: str, name: str) -> ModelState:
        """Remove and return a model."""
        model = self.get_model(app, name)
        del self.models[(app, name)]
        return model

    def app_models(self, app: str) -> list[ModelState]:
        """Return the models of ``app`` sorted by name."""
        return sorted((m for (a, _), m in self.models.items() if a == app), key=lambda m: m.name)

    @property
    def apps(self) -> list[str]:
        """Return the sorted app labels present."""
        return sorted({app for app, _ in self.models})

    def relations_to(self, label: str) -> Iterator[tuple[ModelState, str, FieldState]]:
        """Yield (model, field name, field) for every relation pointing at ``label``."""
        for model in self.models.values():
            for name, state in model.fields:
                if state.is_relation and state.to == label:
                    yield model, name, state

    def rename_field_references(self, label: str, old: str, new: str) -> None:
        """Point every relation whose ``to_field`` names field ``old`` of ``label`` at ``new``
        (Django's ``ProjectState.rename_field`` does the same), the model itself included."""
        for model, name, state in list(self.relations_to(label)):
            if state.to_field == old:
                current = self.get_model(model.app, model.name)
                self.put_model(current.with_field(name, state.with_changes(to_field=new)))

    def only_apps(self, apps: set[str]) -> ProjectState:
        """Return the part of the state that belongs to ``apps``."""
        return ProjectState(
            {k: m for k, m in self.models.items() if k[0] in apps},
            {e for e in self.extensions if e[0] in apps},
        )
