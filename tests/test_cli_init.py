"""``init -t MODULE.ATTR [--location DIR]``: the section is appended to pyproject.toml (created
when missing) and every other byte of the file stays; a configured project, a bad dotted path
or a file that cannot take the section is refused in one line, writing nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.cliproject import CliProject, assert_error, make_project, show

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SECTION = (
    '[tool.tortoise_march_ext]\ntortoise_orm = "settings.TORTOISE_ORM"\nlocation = "migrations"\n'
)
PROG = f"{Path(sys.executable).name} -m tortoise_march_ext"

# A pyproject.toml of another project, with what a re-serialization would lose or change:
# comments, alignment, quote styles, an array of tables last, no final newline.
OTHER = (
    "# The project's own comment.\n"
    "[build-system]\n"
    "requires = ['setuptools']   # single quotes, aligned comment\n"
    "\n"
    "[project]\n"
    'name    = "shop"\n'
    "dependencies = [\n"
    '    "tortoise-orm",  # trailing comma kept\n'
    "]\n"
    "\n"
    "[tool.ruff]\n"
    "line-length = 0x64\n"
    "\n"
    "[[tool.mypy.overrides]]\n"
    'module = ["asyncpg"]\n'
    "ignore_missing_imports = true"
)


@pytest.fixture
def project(tmp_path: Path) -> CliProject:
    """Return the example project without its pyproject.toml (a project before init)."""
    project = make_project(tmp_path)
    (project.root / "pyproject.toml").unlink()
    return project


def pyproject(project: CliProject) -> Path:
    """Return the project's pyproject.toml path."""
    return project.root / "pyproject.toml"


def test_init_creates_pyproject_and_the_next_commands_work(project: CliProject) -> None:
    result = project.ok("init", "-t", "settings.TORTOISE_ORM")
    assert pyproject(project).read_text(encoding="utf-8") == SECTION
    assert "Created pyproject.toml" in result.stdout, show(result)
    lines = result.stdout.splitlines()
    assert f"  {PROG} makemigrations" in lines and f"  {PROG} migrate" in lines, show(result)
    assert result.stderr == "", show(result)
    # The two commands it prints are the ones that work next.
    made = project.ok("makemigrations")
    assert "0001_initial.py" in made.stdout, show(made)
    project.ok("migrate")
    assert project.recorded() == ["0001_initial"]


def test_init_appends_to_another_projects_file_byte_for_byte(project: CliProject) -> None:
    path = pyproject(project)
    path.write_bytes(OTHER.encode("utf-8"))
    result = project.ok("init", "-t", "settings.TORTOISE_ORM", "--location", "db/migrations")
    assert "Added [tool.tortoise_march_ext] to pyproject.toml" in result.stdout, show(result)
    new = path.read_bytes()
    assert new.startswith(OTHER.encode("utf-8")), new
    added = new[len(OTHER.encode("utf-8")) :].decode("utf-8")
    assert added == "\n\n" + SECTION.replace('"migrations"', '"db/migrations"')
    data = tomllib.loads(new.decode("utf-8"))
    assert data["tool"].pop("tortoise_march_ext") == {
        "tortoise_orm": "settings.TORTOISE_ORM",
        "location": "db/migrations",
    }
    assert data == tomllib.loads(OTHER)
    made = project.ok("makemigrations")
    written = project.root / "db" / "migrations" / "contacts" / "0001_initial.py"
    assert written.is_file(), show(made)


def test_init_keeps_crlf_line_endings(project: CliProject) -> None:
    path = pyproject(project)
    text = '[project]\r\nname = "shop"\r\n'
    path.write_bytes(text.encode())
    project.ok("init", "-t", "settings.TORTOISE_ORM")
    new = path.read_bytes()
    assert new == (text + "\r\n" + SECTION.replace("\n", "\r\n")).encode(), new


@pytest.mark.parametrize(
    "existing",
    [
        '[tool.tortoise_march_ext]\ntortoise_orm = "settings.TORTOISE_ORM"\n',
        '[tool]\ntortoise_march_ext = { location = "migrations" }\n',
        '# no table header\ntool.tortoise_march_ext.location = "migrations"\n',
    ],
)
def test_init_refuses_when_the_section_exists(project: CliProject, existing: str) -> None:
    path = pyproject(project)
    path.write_text(existing, encoding="utf-8")
    result = project.run("init", "-t", "settings.TORTOISE_ORM")
    assert_error(result, 2, "already has [tool.tortoise_march_ext]", str(path))
    assert path.read_text(encoding="utf-8") == existing


def test_init_refuses_when_the_own_config_file_exists(project: CliProject) -> None:
    own = project.root / ".tortoise_march_ext.toml"
    own.write_text('tortoise_orm = "settings.TORTOISE_ORM"\n', encoding="utf-8")
    result = project.run("init", "-t", "settings.TORTOISE_ORM")
    assert_error(result, 2, ".tortoise_march_ext.toml exists")
    assert not pyproject(project).exists()


@pytest.mark.parametrize(
    ("dotted", "words"),
    [
        ("nosuch.TORTOISE_ORM", ("cannot import 'nosuch'",)),
        ("settings.NOPE", ("has no attribute 'NOPE'",)),
        ("settings", ("is not a dotted path",)),
        ("settings.os", ("names a module", "not the Tortoise config dict")),
        ("settings.NO_APPS", ("is not a Tortoise config", "'apps'")),
        ("settings.NO_CONNECTIONS", ("is not a Tortoise config", "'connections'")),
    ],
)
def test_init_refuses_a_bad_dotted_path(
    project: CliProject, dotted: str, words: tuple[str, ...]
) -> None:
    settings = project.root / "settings.py"
    settings.write_text(
        settings.read_text(encoding="utf-8")
        + '\nNO_APPS = {"connections": {"default": "sqlite://:memory:"}}\n'
        + 'NO_CONNECTIONS = {"connections": {}, "apps": {"a": {"models": ["m"]}}}\n',
        encoding="utf-8",
    )
    path = pyproject(project)
    path.write_text(OTHER, encoding="utf-8")
    result = project.run("init", "-t", dotted)
    assert_error(result, 2, dotted, *words)
    assert path.read_text(encoding="utf-8") == OTHER
    path.unlink()
    assert_error(project.run("init", "-t", dotted), 2, dotted)
    assert not path.exists(), "a refused init must not create the file"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[project\nname = 1\n", ("invalid TOML", "fix the file")),
        ("tool = { ruff = { line-length = 100 } }\n", ("cannot be appended", "by hand")),
        ("[tool]\nruff = { line-length = 100 }\ntortoise = 1\n", None),
    ],
)
def test_init_refuses_a_file_that_cannot_take_the_section(
    project: CliProject, text: str, words: tuple[str, ...] | None
) -> None:
    path = pyproject(project)
    path.write_text(text, encoding="utf-8")
    result = project.run("init", "-t", "settings.TORTOISE_ORM")
    if words is None:  # a [tool] table of its own takes a sub-table after it
        assert result.returncode == 0, show(result)
        assert path.read_text(encoding="utf-8") == text + "\n" + SECTION
        return
    assert_error(result, 2, str(path), *words)
    assert path.read_text(encoding="utf-8") == text


def test_init_refuses_a_file_that_is_not_utf8(project: CliProject) -> None:
    path = pyproject(project)
    data = '[project]\nname = "caf\xe9"\n'.encode("latin-1")
    path.write_bytes(data)
    result = project.run("init", "-t", "settings.TORTOISE_ORM")
    assert_error(result, 2, "not UTF-8")
    assert path.read_bytes() == data


def test_init_needs_t_and_shows_its_usage(project: CliProject) -> None:
    result = project.run("init")
    assert result.returncode == 2, show(result)
    assert result.stderr.startswith(f"usage: {PROG} init "), show(result)
    assert "-t/--tortoise-orm" in result.stderr, show(result)
    assert not pyproject(project).exists()
