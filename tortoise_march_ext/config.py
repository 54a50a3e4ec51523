"""MarchConfig: read ``[tool.tortoise_march_ext]`` from pyproject.toml (or the same keys at the top
level of ``.tortoise_march_ext.toml``), apply CLI flags and env.

Precedence: CLI flags > environment > the config file > defaults. The config file is the nearest
one at or above the current directory; in one folder ``.tortoise_march_ext.toml`` wins over
pyproject.toml (a file made only for this tool says more than a shared one, as with ruff).
"""

from __future__ import annotations

import importlib
import math
import os
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .exceptions import ConfigError
from .lint.rules import ALL_RULES as RULES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SECTION = "tool.tortoise_march_ext"
OWN_FILE = ".tortoise_march_ext.toml"
ENV_CONFIG = "TORTOISE_MARCH_CONFIG"
ENV_ON_DRIFT = "TORTOISE_MARCH_ON_DRIFT"
TRACK_CHOICES = ("meta", "all")
ON_DRIFT_CHOICES = ("warn", "log", "error", "ignore")
KNOWN_KEYS = {
    "tortoise_orm",
    "location",
    "track",
    "on_drift",
    "lock_timeout",
    "drift_check_database",
    "db_lock_timeout",
    "db_statement_timeout",
    "db_lock_retries",
    "safe_defaults",
    "lint_exclude",
    "include_locations",
    "test_db_url",
}
DURATION_RE = re.compile(r"^\d+(\.\d+)?\s*(us|ms|s|min|h|d)?$")


def duration(value: Any, where: str) -> str | None:
    """Return a PostgreSQL duration (``"2s"``, ``"500ms"``) from seconds or such a string."""
    if value is None:
        return None
    if _is_seconds(value):
        return f"{round(value * 1000)}ms"
    if isinstance(value, str) and DURATION_RE.match(value.strip()):
        return value.strip()
    raise ConfigError(
        f"{where}: {value!r} is not a duration; use seconds, a finite number 0 or more (2.5), "
        'or a string such as "500ms", "2s" or "1min"'
    )


def _is_seconds(value: Any) -> bool:
    """Return whether ``value`` is a number of seconds: finite, 0 or more, not a bool."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


@dataclass(frozen=True)
class IncludeLocation:
    """A vendored app: its label (the Tortoise app label) and the folder of its migrations."""

    label: str
    path: Path


@dataclass(frozen=True)
class MarchConfig:
    """Where the Tortoise config and the migrations live, and how to behave."""

    tortoise_orm: str | None = None
    location: Path = Path("migrations")
    track: str = "meta"
    on_drift: str = "warn"
    lock_timeout: float = 60.0
    drift_check_database: bool = False
    db_lock_timeout: str | None = None
    db_statement_timeout: str | None = None
    db_lock_retries: int = 3
    safe_defaults: bool = False
    lint_exclude: tuple[str, ...] = ()
    include_locations: tuple[IncludeLocation, ...] = ()
    test_db_url: str | None = None
    root: Path = field(default_factory=Path.cwd)
    tortoise_config: dict[str, Any] | None = None

    @property
    def migrations_dir(self) -> Path:
        """Return the absolute folder holding one subfolder of migrations per app."""
        return self.location if self.location.is_absolute() else self.root / self.location

    @property
    def vendored_dirs(self) -> dict[str, Path]:
        """Return each vendored app's label with the absolute folder of its migrations."""
        return {
            item.label: item.path if item.path.is_absolute() else self.root / item.path
            for item in self.include_locations
        }

    def load_tortoise_config(self) -> dict[str, Any]:
        """Import and return the Tortoise config dict the ``tortoise_orm`` path names."""
        if self.tortoise_config is not None:
            return self.tortoise_config
        if not self.tortoise_orm:
            raise ConfigError(
                "no Tortoise config: set tortoise_orm in [tool.tortoise_march_ext] of "
                "pyproject.toml (or in .tortoise_march_ext.toml), pass --config module.ATTR, "
                "or set TORTOISE_MARCH_CONFIG"
            )
        value = import_dotted(self.tortoise_orm, self.root)
        if not isinstance(value, dict):
            raise ConfigError(
                f"tortoise_orm = {self.tortoise_orm!r} names a {type(value).__name__}, "
                "not the Tortoise config dict: point it at the dict passed to Tortoise.init"
            )
        return value


def import_dotted(path: str, root: Path) -> Any:
    """Import ``module.attr`` or ``module:attr``, with the project root on sys.path."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ConfigError(
            f"tortoise_orm = {path!r} is not a dotted path: write it as module.ATTR or module:ATTR"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(
            f"tortoise_orm = {path!r}: cannot import {module_name!r} "
            f"({type(exc).__name__}: {exc}); check the path and that {root} is the project root"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(
            f"tortoise_orm = {path!r}: module {module_name!r} has no attribute {attr!r}"
        ) from None


# Our section's name as it appears in a file that is ASCII-compatible, or UTF-16 either way.
SECTION_BYTES = tuple(SECTION.encode(encoding) for encoding in ("ascii", "utf-16-le", "utf-16-be"))


def find_pyproject(start: Path) -> Path | None:
    """Return the nearest config file at or above ``start``: a .tortoise_march_ext.toml, or a
    pyproject.toml that has our section (in one folder the first wins).

    A file that names the section but is not UTF-8 (which TOML requires) is an error; one
    that does not name it is not ours and is passed over, whatever its encoding.
    """
    for folder in (start, *start.parents):
        found = _config_in(folder)
        if found is not None:
            return found
    return None


def _config_in(folder: Path) -> Path | None:
    """Return the config file of ``folder``: its .tortoise_march_ext.toml, else its
    pyproject.toml when that has our section, else None."""
    own = folder / OWN_FILE
    if own.is_file():
        return own
    candidate = folder / "pyproject.toml"
    if candidate.is_file():
        data = candidate.read_bytes()
        if not any(marker in data for marker in SECTION_BYTES):
            return None
        if re.search(r"^\s*\[\s*tool\.tortoise_march_ext\b", _decode(candidate, data), re.M):
            return candidate
    return None


def _decode(path: Path, data: bytes) -> str:
    """Return ``data`` read from ``path`` as UTF-8 text; ConfigError when it is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); "
            "TOML files must be UTF-8: save it in that encoding"
        ) from None


def _read_section(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(_decode(path, path.read_bytes()))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc}); fix the file") from exc
    own = path.name == OWN_FILE
    section = data if own else data.get("tool", {}).get("tortoise_march_ext", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [{SECTION}] must be a table")
    unknown = sorted(set(section) - KNOWN_KEYS)
    if unknown:
        where = "at the top level" if own else f"in [{SECTION}]"
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)} {where}; "
            f"known keys: {', '.join(sorted(KNOWN_KEYS))}"
        )
    return section


def _validated(config: MarchConfig, where: str) -> MarchConfig:
    if config.track not in TRACK_CHOICES:
        raise ConfigError(f"{where}: track = {config.track!r}; use one of {TRACK_CHOICES}")
    if config.on_drift not in ON_DRIFT_CHOICES:
        raise ConfigError(f"{where}: on_drift = {config.on_drift!r}; use one of {ON_DRIFT_CHOICES}")
    if not _is_seconds(config.lock_timeout):
        raise ConfigError(
            f"{where}: lock_timeout = {config.lock_timeout!r}; use a number of seconds, "
            "finite and 0 or more (lock_timeout = 60)"
        )
    if not isinstance(config.drift_check_database, bool):
        raise ConfigError(f"{where}: drift_check_database must be true or false")
    retries = config.db_lock_retries
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(f"{where}: db_lock_retries must be a whole number, 0 or more")
    if not isinstance(config.safe_defaults, bool):
        raise ConfigError(f"{where}: safe_defaults must be true or false")
    return replace(
        config,
        lint_exclude=lint_exclude(config.lint_exclude, where),
        db_lock_timeout=duration(config.db_lock_timeout, f"{where}: db_lock_timeout"),
        db_statement_timeout=duration(
            config.db_statement_timeout, f"{where}: db_statement_timeout"
        ),
    )


def lint_exclude(value: Any, where: str) -> tuple[str, ...]:
    """Return the rule ids of ``lint_exclude`` (a list of known lint rule ids), sorted."""
    known = ", ".join(sorted(RULES))
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"{where}: lint_exclude = {value!r} is not a list of rule ids; write it as "
            f'lint_exclude = ["int-pk-overflow"] with rules among: {known}'
        )
    unknown = sorted(set(value) - set(RULES))
    if unknown:
        raise ConfigError(
            f"{where}: lint_exclude names unknown rule(s) {', '.join(unknown)}; "
            f"known rules: {known}"
        )
    return tuple(sorted(set(value)))


def load_config(
    *,
    config: str | None = None,
    location: str | None = None,
    cwd: Path | None = None,
    tortoise_config: dict[str, Any] | None = None,
) -> MarchConfig:
    """Build the MarchConfig from the config file, the environment and explicit overrides."""
    start = (cwd or Path.cwd()).resolve()
    pyproject = find_pyproject(start)
    section = _read_section(pyproject) if pyproject else {}
    root = pyproject.parent if pyproject else start
    where = str(pyproject) if pyproject else "configuration"
    for key in ("tortoise_orm", "location", "track", "on_drift"):
        if key in section and not isinstance(section[key], str):
            raise ConfigError(f"{where}: {key} must be a string")
    result = MarchConfig(
        tortoise_orm=section.get("tortoise_orm"),
        location=Path(section.get("location", "migrations")),
        track=section.get("track", "meta"),
        on_drift=section.get("on_drift", "warn"),
        lock_timeout=section.get("lock_timeout", 60.0),
        drift_check_database=section.get("drift_check_database", False),
        db_lock_timeout=section.get("db_lock_timeout"),
        db_statement_timeout=section.get("db_statement_timeout"),
        db_lock_retries=section.get("db_lock_retries", 3),
        safe_defaults=section.get("safe_defaults", False),
        lint_exclude=section.get("lint_exclude", ()),
        include_locations=include_locations(section.get("include_locations", []), where),
        test_db_url=parse_test_db_url(section.get("test_db_url"), where),
        root=root,
        tortoise_config=tortoise_config,
    )
    if os.environ.get(ENV_CONFIG):
        result = replace(result, tortoise_orm=os.environ[ENV_CONFIG])
    if os.environ.get(ENV_ON_DRIFT):
        result = replace(result, on_drift=os.environ[ENV_ON_DRIFT].strip().lower())
        where = f"environment {ENV_ON_DRIFT}"
    if config:
        result = replace(result, tortoise_orm=config)
    if location:
        result = replace(result, location=Path(location))
    result = _validated(result, where)
    check_include_locations(result, where)
    return result


TEST_DB_SCHEMES = ("postgres", "postgresql", "asyncpg", "psycopg", "sqlite", "mysql")


def parse_test_db_url(value: Any, where: str) -> str | None:
    """Return ``test_db_url`` (the pytest plugin's test database URL) after checking it is a
    database URL Tortoise understands."""
    if value is None:
        return None
    scheme = value.partition("://")[0] if isinstance(value, str) else ""
    if not isinstance(value, str) or "://" not in value or scheme not in TEST_DB_SCHEMES:
        raise ConfigError(
            f"{where}: test_db_url = {value!r} is not a database URL; write it as "
            'test_db_url = "postgres://user@host:5432/test_app" (schemes: '
            f"{', '.join(TEST_DB_SCHEMES)})"
        )
    return value


INCLUDE_EXAMPLE = 'include_locations = [{ label = "billing", path = "vendor/billing/migrations" }]'
LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def include_locations(value: Any, where: str) -> tuple[IncludeLocation, ...]:
    """Return the vendored apps of ``include_locations`` (a list of {label, path} tables)."""
    if not isinstance(value, list):
        raise ConfigError(
            f"{where}: include_locations must be a list of tables; write it as {INCLUDE_EXAMPLE}"
        )
    items: list[IncludeLocation] = []
    for position, entry in enumerate(value, 1):
        items.append(_include_location(entry, f"{where}: include_locations entry {position}"))
    labels = [item.label for item in items]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise ConfigError(
            f"{where}: include_locations names label {twice[0]!r} more than once; "
            "give each vendored app one entry"
        )
    return tuple(items)


def _include_location(entry: Any, where: str) -> IncludeLocation:
    if not isinstance(entry, dict) or set(entry) != {"label", "path"}:
        raise ConfigError(
            f"{where} must be a table with exactly the keys label and path "
            f"(got {entry!r}); write it as {INCLUDE_EXAMPLE}"
        )
    label, path = entry["label"], entry["path"]
    if not isinstance(label, str) or not LABEL_RE.match(label):
        raise ConfigError(
            f"{where}: label = {label!r} is not an app label; use the Tortoise app label of "
            'the vendored app, a string of letters, digits and _ (label = "billing")'
        )
    if not isinstance(path, str) or not path.strip():
        raise ConfigError(
            f"{where}: path = {path!r} is not a folder path; use a string relative to the "
            'project root (path = "vendor/billing/migrations")'
        )
    return IncludeLocation(label, Path(path))


def check_include_locations(config: MarchConfig, where: str) -> None:
    """Raise ConfigError for a vendored folder that is missing or a label that is also an app
    folder under ``location``."""
    for label, folder in config.vendored_dirs.items():
        if not folder.is_dir():
            raise ConfigError(
                f"{where}: include_locations label {label!r}: folder {folder} does not exist; "
                "install the library that ships it or fix the path"
            )
        if folder.resolve().is_relative_to(config.migrations_dir.resolve()):
            raise ConfigError(
                f"{where}: include_locations label {label!r}: folder {folder} lies inside "
                f"location ({config.migrations_dir}), where it would load as a project app too; "
                "keep vendored migrations outside location"
            )
        own = config.migrations_dir / label
        if own.is_dir():
            raise ConfigError(
                f"{where}: include_locations label {label!r} clashes with the project's "
                f"migrations folder {own}; an app's migrations live in one place: remove that "
                "folder or the include_locations entry"
            )
