"""``init``: write the ``[tool.tortoise_march_ext]`` section of a new project's pyproject.toml.

The dotted path is imported and checked first (a dict with ``connections`` and ``apps``, as
``Tortoise.init(config=...)`` takes). The section is added as text at the end of the file, so
the rest of it (other sections, comments, layout) stays byte for byte as it was; the result is
parsed again before anything is written. Nothing is written when the project is configured
already.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import OWN_FILE, SECTION, MarchConfig
from ..exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = "pyproject.toml"


@dataclass(frozen=True)
class InitResult:
    """What ``init`` wrote: the file, whether it created it, and the section's text."""

    path: Path
    created: bool
    section: str


def init_project(tortoise_orm: str, location: str = "migrations", *, root: Path) -> InitResult:
    """Check ``tortoise_orm`` and write the section naming it (and ``location``) into
    ``root``'s pyproject.toml, creating the file if there is none."""
    if not location.strip():
        raise ConfigError(
            '--location "" is not a folder: give the migrations folder, e.g. migrations'
        )
    _refuse_configured(root)
    check_tortoise_config(tortoise_orm, root)
    path = root / PYPROJECT
    old = path.read_bytes() if path.is_file() else None
    text = _decoded(path, old) if old is not None else ""
    newline = "\r\n" if "\r\n" in text else "\n"
    section = newline.join(
        [f"[{SECTION}]", f"tortoise_orm = {_toml_string(tortoise_orm)}"]
        + [f"location = {_toml_string(location)}", ""]
    )
    addition = _separator(text, newline) + section
    _check_result(path, text + addition, tortoise_orm, location)
    with path.open("ab") as stream:
        stream.write(addition.encode("utf-8"))
    return InitResult(path, old is None, section)


def _refuse_configured(root: Path) -> None:
    """Raise ConfigError when ``root`` already holds this tool's configuration."""
    own = root / OWN_FILE
    if own.is_file():
        raise ConfigError(
            f"{own} exists: the project is configured already (its keys win over "
            f"pyproject.toml); edit that file instead of running init"
        )
    path = root / PYPROJECT
    if path.is_file() and _section_of(path, _load(path, _decoded(path, path.read_bytes()))):
        raise ConfigError(
            f"{path} already has [{SECTION}]: the project is configured; edit that section "
            "instead of running init"
        )


def check_tortoise_config(tortoise_orm: str, root: Path) -> dict[str, Any]:
    """Import ``tortoise_orm`` (module.ATTR) with ``root`` on sys.path and return the dict,
    checked to be a Tortoise config: ``connections`` and ``apps``, each a non-empty table."""
    config = MarchConfig(tortoise_orm=tortoise_orm, root=root).load_tortoise_config()
    for key in ("connections", "apps"):
        value = config.get(key)
        if not isinstance(value, dict) or not value:
            found = "has none" if value is None else f"has {key} = {value!r}"
            raise ConfigError(
                f"tortoise_orm = {tortoise_orm!r} is not a Tortoise config: it {found}, and "
                f"Tortoise.init needs {key!r} as a non-empty dict: point -t at the dict passed "
                "to Tortoise.init(config=...)"
            )
    return config


def _decoded(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); "
            "TOML files must be UTF-8: save it in that encoding, then run init again"
        ) from None


def _load(path: Path, text: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid TOML ({exc}); fix the file, then run init again"
        ) from None


def _section_of(path: Path, data: dict[str, Any]) -> Any:
    tool = data.get("tool")
    return tool.get("tortoise_march_ext") if isinstance(tool, dict) else None


def _toml_string(value: str) -> str:
    """Return ``value`` as a TOML basic string (JSON's escapes are all valid TOML ones)."""
    return json.dumps(value, ensure_ascii=False)


def _separator(text: str, newline: str) -> str:
    """Return what goes between the file's text and the new section: one blank line."""
    if not text.strip():
        return ""
    if text.endswith(newline * 2):
        return ""
    return newline if text.endswith(newline) or text.endswith("\n") else newline * 2


def _check_result(path: Path, text: str, tortoise_orm: str, location: str) -> None:
    """Raise ConfigError unless ``text`` parses with exactly the section we mean to add (a
    ``tool`` written as an inline table or as dotted keys cannot take a new table)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: [{SECTION}] cannot be appended to this file ({exc}; is tool an inline "
            f"table or dotted keys?); add the section by hand: tortoise_orm = "
            f"{_toml_string(tortoise_orm)}, location = {_toml_string(location)}"
        ) from None
    section = _section_of(path, data)
    if section != {"tortoise_orm": tortoise_orm, "location": location}:  # pragma: no cover
        raise ConfigError(
            f"{path}: appending [{SECTION}] did not give that section; add it by hand"
        )
