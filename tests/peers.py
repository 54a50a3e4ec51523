"""The other migration tools, installed for real from PyPI into their own virtual environments.

Each peer gets one venv per pinned set of requirements and interpreter, built once and cached
under ``MARCH_PEERS_CACHE`` (default: ``<tmp>/tortoise-march-ext-peers``) across test sessions.
A file lock (``fcntl.flock``) makes pytest-xdist workers and parallel sessions wait for the one
that builds it instead of building it twice; a ``.ready`` marker written last means the venv is
complete, so a build that was interrupted is started again.

- aerich: ``aerich==0.10.1`` (it requires ``tortoise-orm``; pip picks 1.1.9 here) with asyncpg
  and asyncmy (the switching tests run on MariaDB too).
- Tortoise's built-in migrations: ``tortoise-orm==1.1.9`` (its ``tortoise`` console script).
- Tortoise March: ``tortoise-march==0.1.0`` needs Python >= 3.12, so its venv is built from the
  first such interpreter found (:func:`python312`); the project's own Python builds the others.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.cliproject import CliProject, run_python

AERICH = ("aerich==0.10.1", "tortoise-orm==1.1.9", "asyncpg==0.32.0", "asyncmy==0.2.18")
TORTOISE = ("tortoise-orm==1.1.9", "asyncpg==0.32.0", "asyncmy==0.2.18")
TORTOISE_MARCH = ("tortoise-march==0.1.0", "tortoise-orm==1.1.9", "asyncpg==0.32.0")
INSTALL_TIMEOUT = 600


class PeerInstallError(RuntimeError):
    """A peer's venv could not be built (pip's output tail is in the message)."""


@dataclass(frozen=True)
class PeerVenv:
    """A built venv holding one peer tool."""

    name: str
    path: Path

    def bin(self, script: str) -> Path:
        """Return the path of a console script (or ``python``) of the venv."""
        return self.path / "bin" / script


def cache_root() -> Path:
    """Return the folder that holds the cached venvs."""
    configured = os.environ.get("MARCH_PEERS_CACHE")
    root = (
        Path(configured) if configured else Path(tempfile.gettempdir()) / "tortoise-march-ext-peers"
    )
    root.mkdir(parents=True, exist_ok=True)
    return root


def _describe(python: str) -> str:
    """Return the version and base prefix of ``python`` (part of the cache key)."""
    out = subprocess.run(
        [python, "-c", "import sys; print(sys.version, sys.base_prefix)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


def peer_venv(name: str, requirements: tuple[str, ...], python: str | None = None) -> PeerVenv:
    """Return the venv ``name`` with ``requirements`` installed, building it when missing."""
    python = python or sys.executable
    key = hashlib.sha256("\n".join([name, *requirements, _describe(python)]).encode()).hexdigest()
    path = cache_root() / f"{name}-{key[:12]}"
    with (cache_root() / f"{path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (path / ".ready").is_file():
                _build(path, python, requirements)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return PeerVenv(name, path)


def _build(path: Path, python: str, requirements: tuple[str, ...]) -> None:
    shutil.rmtree(path, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    steps = [
        [python, "-m", "venv", str(path)],
        [str(path / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        + ["--disable-pip-version-check", *requirements],
    ]
    for step in steps:
        done = subprocess.run(
            step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, env=env, check=False
        )
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise PeerInstallError(f"`{' '.join(step)}` failed ({done.returncode}):\n{tail}")
    (path / ".ready").write_text("\n".join(requirements) + "\n", encoding="utf-8")


def python312() -> str | None:
    """Return an interpreter of Python >= 3.12 (for Tortoise March), or None when there is none.

    Looked for: ``MARCH_TEST_PY312``, ``python3.13`` / ``python3.12`` on PATH, pyenv's versions.
    """
    candidates = [os.environ.get("MARCH_TEST_PY312", "")]
    candidates += [shutil.which(n) or "" for n in ("python3.13", "python3.12")]
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(f"{pyenv}/versions/3.1[2-9]*/bin/python"), reverse=True)
    for candidate in candidates:
        if not candidate:
            continue
        try:
            done = subprocess.run(
                [candidate, "-c", "import sys, venv; print(sys.version_info >= (3, 12))"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except OSError:
            continue
        if done.returncode == 0 and done.stdout.strip() == "True":
            return candidate
    return None


# -- a small project the peers and our CLI both run on --------------------------------------------

MODELS = '''\
"""The shop app: two models, a foreign key and indexes (importable by every peer's Tortoise)."""

from tortoise import fields
from tortoise.models import Model


class Author(Model):
    id = {pk}
    name = fields.CharField(max_length=100, db_index=True)

    class Meta:
        table = "author"


class Book(Model):
    id = {pk}
    title = fields.CharField(max_length=200)
    year = fields.IntField()
    author = fields.ForeignKeyField("shop.Author", related_name="books", on_delete=fields.CASCADE)

    class Meta:
        table = "book"
        indexes = (("title", "year"),)
'''
INT_PK = "fields.IntField(primary_key=True)"
UUID_PK = "fields.UUIDField(primary_key=True)"
BOOK_ANCHOR = "    year = fields.IntField()\n"

SETTINGS = '''\
"""Tortoise config of the shop project; the database comes from DATABASE_URL."""

import os

TORTOISE_ORM = {{
    "connections": {{"default": os.environ["DATABASE_URL"]}},
    "apps": {{"shop": {{"models": ["shop.models"], "default_connection": "default"{extra}}}}},
}}
'''
BUILTIN_MIGRATIONS = ', "migrations": "shop.migrations"'

GENERATE = """\
from tortoise import Tortoise, run_async
from settings import TORTOISE_ORM

async def main():
    await Tortoise.init(config=TORTOISE_ORM)
    await Tortoise.generate_schemas()

run_async(main())
"""

PYPROJECT = """\
[tool.tortoise_march_ext]
tortoise_orm = "settings.TORTOISE_ORM"
location = "{location}"
track = "all"
"""
LOCATION = "db_migrations"  # aerich's files are in ./migrations: ours must live elsewhere
PEER_TIMEOUT = 180


class SwitchProject(CliProject):
    """A project with the ``shop`` app, run by a peer tool first and by our CLI after."""

    @classmethod
    def create(
        cls, tmp_path: Path, database_url: str, *, pk: str = INT_PK, builtin: bool = False
    ) -> SwitchProject:
        """Write the project into ``tmp_path/project`` (``builtin``: the config names
        ``shop.migrations`` for Tortoise's built-in migrations)."""
        root = tmp_path / "project"
        (root / "shop").mkdir(parents=True)
        (root / "shop" / "__init__.py").write_text("", encoding="utf-8")
        (root / "shop" / "models.py").write_text(MODELS.format(pk=pk), encoding="utf-8")
        extra = BUILTIN_MIGRATIONS if builtin else ""
        (root / "settings.py").write_text(SETTINGS.format(extra=extra), encoding="utf-8")
        (root / "pyproject.toml").write_text(PYPROJECT.format(location=LOCATION), "utf-8")
        return cls(root, database_url)

    @property
    def migrations(self) -> Path:
        """Return our migrations folder of the shop app."""
        return self.root / LOCATION / "shop"

    @property
    def models_py(self) -> Path:
        """Return shop/models.py."""
        return self.root / "shop" / "models.py"

    def files(self) -> dict[str, str]:
        """Return every file under our migrations folder with its text."""
        folder = self.root / LOCATION
        if not folder.is_dir():
            return {}
        return {
            str(p.relative_to(folder)): p.read_text(encoding="utf-8")
            for p in sorted(folder.rglob("*.py"))
        }

    def recorded(self) -> list[str]:
        """Return the names our recorder holds for the shop app."""
        return [name for app, name, _ in self.snapshot().recorded if app == "shop"]

    def add_book_field(self, line: str) -> None:
        """Add a field line to the Book model."""
        self.replace_in(self.models_py, BOOK_ANCHOR, BOOK_ANCHOR + f"    {line}\n")

    def append_pyproject(self, text: str) -> None:
        """Append a section to pyproject.toml (a peer's configuration)."""
        with (self.root / "pyproject.toml").open("a", encoding="utf-8") as out:
            out.write("\n" + text)

    def peer(self, venv: PeerVenv, script: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the console script ``script`` of a peer's venv in the project folder."""
        return subprocess.run(
            [str(venv.bin(script)), *args],
            cwd=self.root,
            env=self.env(),
            input="",
            capture_output=True,
            text=True,
            timeout=PEER_TIMEOUT,
            check=False,
        )

    def peer_ok(self, venv: PeerVenv, script: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a peer's command and assert that it succeeded."""
        done = self.peer(venv, script, *args)
        assert done.returncode == 0, peer_show(done)
        return done

    def generate_schemas(self) -> None:
        """Build the database with ``Tortoise.generate_schemas()`` (our venv's Tortoise)."""
        made = run_python(self.root, self.env(), GENERATE)
        assert made.returncode == 0, made.stdout + made.stderr


def peer_show(result: subprocess.CompletedProcess[str]) -> str:
    """Return a readable account of a peer's run, for assertion messages."""
    return (
        f"\n$ {' '.join(str(a) for a in result.args)}\nexit code {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}--- stderr ---\n{result.stderr}"
    )
