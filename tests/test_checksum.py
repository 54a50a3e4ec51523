"""The migration checksum: golden digests, equal on every Python, blind to layout but not to code,
and recorder rows of the old ``ast.dump`` scheme accepted, rewritten once, and still rejected
when the code changed (SQLite and PostgreSQL).

The cross-Python tests run ``checksum_fixtures/digests.py`` under each pyenv interpreter: a missing
interpreter skips locally with one line and fails in CI (``CI=true``).
"""

from __future__ import annotations

import ast
import asyncio
import functools
import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise

import tortoise_march_ext as march
from tests.harness import Backend, Project
from tests.scenarios import ID, model, models
from tortoise_march_ext import commands
from tortoise_march_ext.exceptions import HistoryError, PendingMigrations
from tortoise_march_ext.files import checksum as checksum_module
from tortoise_march_ext.files.checksum import checksum
from tortoise_march_ext.files.legacy_checksum import legacy_checksums
from tortoise_march_ext.project import drift_check_suppressed

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "checksum_fixtures"
EXAMPLE = ROOT / "examples" / "contacts_app" / "migrations" / "contacts" / "0001_initial.py"
RUN_PYTHON = FIXTURES / "run_python.txt"
MESSY = FIXTURES / "messy.txt"
FSTRINGS = FIXTURES / "fstrings.txt"
GOLDEN = {
    EXAMPLE: "d17a7c61c29bf86338f5cd56188de37db0bc96ad570a2fe90318b4a1adbf5897",
    RUN_PYTHON: "09cb7aba01a5fcb15a83aca8f1e0124a441b5ffb345f94631b07de5213f87a96",
    MESSY: "2ff492e9038d0ce9460149c8b00f3663c37c18abc801997cdce4da49864f8a2d",
    FSTRINGS: "b204fbb4afb0a08bf6dfe9ab0be6dd3c55dc5e069263a703a6c5c1e9ecb92da6",
}
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
IN_CI = os.environ.get("CI", "").lower() == "true"
PYENV = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
REWRITTEN = "recorder rows used the old checksum scheme; rewritten"


def interpreter(minor: str) -> Path:
    """Return pyenv's newest Python ``minor``; skip (fail in CI) when it is not installed."""
    found = sorted(PYENV.glob(f"{minor}.*/bin/python"))
    if not found:
        message = f"Python {minor} not found under {PYENV}: `pyenv install {minor}` to run this"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found[-1]


@functools.cache
def _run_digests(python: Path, files: tuple[Path, ...]) -> dict[str, Any]:
    proc = subprocess.run(
        [
            str(python),
            "-I",
            str(FIXTURES / "digests.py"),
            checksum_module.__file__,
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"{python}: {proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout)["files"]
    return result


def digests(minor: str, *files: Path) -> dict[str, Any]:
    """Return ``digests.py``'s answer for ``files`` (default: the golden ones) under ``minor``."""
    return _run_digests(interpreter(minor), files or tuple(GOLDEN))


# -- the new scheme ------------------------------------------------------------------------------
def test_golden_checksums() -> None:
    for path, digest in GOLDEN.items():
        assert checksum(path.read_text(encoding="utf-8")) == digest, path.name


@pytest.mark.parametrize("minor", PYTHONS)
def test_same_checksum_on_every_python(minor: str) -> None:
    found = digests(minor)
    assert {Path(p): d["checksum"] for p, d in found.items()} == GOLDEN


def test_old_scheme_differed_between_pythons() -> None:
    """The defect being fixed: the example's 0001_initial hashed three ways."""
    old = {digests(minor)[str(EXAMPLE)]["ast_dump"] for minor in PYTHONS}
    assert len(old) == 3


@pytest.mark.parametrize("minor", PYTHONS)
def test_old_scheme_of_every_python_is_recognised_on_each_python(minor: str) -> None:
    recorded = {m: digests(m) for m in PYTHONS}
    for path in GOLDEN:
        recognised = set(digests(minor)[str(path)]["recognised"])
        for other, found in recorded.items():
            assert found[str(path)]["ast_dump"] in recognised, (path.name, other, minor)


def test_old_scheme_of_every_python_is_recognised_here() -> None:
    for path in GOLDEN:
        mine = legacy_checksums(path.read_text(encoding="utf-8"))
        for minor in PYTHONS:
            assert digests(minor)[str(path)]["ast_dump"] in mine, (path.name, minor)


def test_ruff_format_does_not_change_the_checksum(tmp_path: Path) -> None:
    messy = MESSY.read_text(encoding="utf-8")
    target = tmp_path / "messy.py"
    target.write_text(messy, encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--quiet", str(target)],
        check=True,
        timeout=60,
    )
    formatted = target.read_text(encoding="utf-8")
    assert formatted != messy
    assert checksum(formatted) == checksum(messy)


SAME = [
    ("quotes", "x = 'a'\n", 'x = "a"\n'),
    ("escapes", "x = 'it\\'s \\u00e9'\n", 'x = "it\'s é"\n'),
    ("prefix case", "x = U'a' + B'b' + R'\\d'\n", "x = 'a' + b'b' + '\\\\d'\n"),
    ("comment", "x = 1\n", "# note\nx = 1  # one\n\n\n"),
    ("trailing comma", "f(a, b)\nt = (1, 2)\nl = [1]\n", "f(a, b,)\nt = (1, 2,)\nl = [1,]\n"),
    ("line breaks", "f(a, b)\n", "f(\n    a,\n    b\n)\n"),
    ("backslash", "x = a + b\n", "x = a + \\\n    b\n"),
    ("indent width", "if a:\n    b = 1\n", "if a:\n  b = 1\n"),
    ("semicolon", "a = 1\nb = 2\n", "a = 1; b = 2;\n"),
    ("one-line body", "if a:\n    b\nelse:\n    c\n", "if a: b\nelse: c\n"),
    ("one-line class", "class A:\n    x = 1\n    y = 2\n", "class A: x = 1; y = 2\n"),
    ("wrapped value", "x = a + b\n", "x = (\n    a + b\n)\n"),
    ("wrapped return", "def f():\n    return a, b\n", "def f():\n    return (a, b)\n"),
    ("wrapped condition", "while a < b:\n    pass\n", "while (a < b):\n    pass\n"),
    ("for parentheses", "for i, j in a, b:\n    pass\n", "for (i, j) in (a, b):\n    pass\n"),
    ("import parentheses", "from a import b, c\n", "from a import (\n    b,\n    c,\n)\n"),
    ("concatenation", "x = 'ab'\n", "x = (\n    'a'\n    'b'\n)\n"),
    ("numbers", "x = 31 + 1000 + 1000.0 + 2j\n", "x = 0X1F + 1_000 + 1E3 + 2J\n"),
    ("f-string quotes", "x = f'{a!r:>{w}} {b=}'\n", 'x = f"{a!r:>{w}} {b=}"\n'),
    ("f-string concat", "x = f'a{b}' 'c'\n", "x = (f'a{b}'\n     f'c')\n"),
    ("f-string layout", "x = f'{a + b}'\n", "x = f'{a+b}'\n"),
    (
        "docstring",
        'def f():\n    """Do.\n\n    More.\n    """\n',
        "def f():\n    '''  Do.\n\n        More.   '''\n",
    ),
    ("assert message", "assert a, 'm'\n", "assert a, (\n    'm'\n)\n"),
]


@pytest.mark.parametrize(("what", "a", "b"), SAME, ids=[s[0] for s in SAME])
def test_layout_does_not_change_the_checksum(what: str, a: str, b: str) -> None:
    compile(a, what, "exec"), compile(b, what, "exec")
    assert checksum(a) == checksum(b)


DIFFERENT = [
    ("value", "x = 1\n", "x = 2\n"),
    ("name", "x = 1\n", "y = 1\n"),
    ("int or float", "x = 1\n", "x = 1.0\n"),
    ("str or bytes", "x = 'a'\n", "x = b'a'\n"),
    ("one-tuple", "x = (a,)\n", "x = (a)\n"),
    ("tuple statement", "x = 1,\n", "x = 1\n"),
    ("tuple subscript", "x[a,]\n", "x[a]\n"),
    ("assert tuple", "assert (a, b)\n", "assert a, b\n"),
    ("precedence", "x = (a + b) * c\n", "x = a + b * c\n"),
    ("in precedence", "x = a in (b or c)\n", "x = a in b or c\n"),
    ("lambda tuple", "f = lambda: (a, b)\n", "f = lambda: a, b\n"),
    ("yield tuple", "def g():\n    x = (yield a), b\n", "def g():\n    x = yield a, b\n"),
    ("block", "if a:\n    b()\n    c()\n", "if a:\n    b()\nc()\n"),
    ("one-line block", "if a: b()\nc()\n", "if a: b(); c()\n"),
    ("f-string expression", "x = f'{a}'\n", "x = f'{b}'\n"),
    ("f-string text", "x = f'a{b}'\n", "x = f'c{b}'\n"),
    ("f-string conversion", "x = f'{a!r}'\n", "x = f'{a!s}'\n"),
    ("f-string debug", "x = f'{a=}'\n", "x = f'{a = }'\n"),
    ("docstring words", 'def f():\n    """Do."""\n', 'def f():\n    """Do not."""\n'),
    ("string text", "x = 'a b'\n", "x = 'a  b'\n"),
    ("call", "x = f(a)\n", "x = f((a, b))\n"),
]


@pytest.mark.parametrize(("what", "a", "b"), DIFFERENT, ids=[d[0] for d in DIFFERENT])
def test_code_changes_change_the_checksum(what: str, a: str, b: str) -> None:
    assert ast.dump(ast.parse(a)) != ast.dump(ast.parse(b)), what
    assert checksum(a) != checksum(b)


def test_checksum_module_is_standard_library_only() -> None:
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('c', {checksum_module.__file__!r})\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['c'] = m\n"
        "spec.loader.exec_module(m)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('tortoise', 'libcst')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


# -- rows of the old scheme, on real databases ---------------------------------------------------
def _version(n: int) -> str:
    extra = "\n".join(f"f{i} = fields.IntField(default={i})" for i in range(1, n))
    return models(model("Person", f"{ID}\nname = fields.CharField(max_length=50)\n{extra}"))


def _project(tmp_path: Path, backend: Backend, count: int) -> tuple[Project, list[Path]]:
    proj = Project(tmp_path, backend)
    for n in range(1, count + 1):
        proj.write_models({"app": _version(n)})
        proj.makemigrations()
    files = sorted((proj.migrations / "app").glob("0*.py"))
    assert len(files) == count
    return proj, files


def _rows(proj: Project) -> dict[str, str]:
    rows = proj.backend.execute(proj.url, "SELECT name, checksum FROM tortoise_march_migrations")
    return {name: digest for name, digest in rows}


def _set_checksum(proj: Project, name: str, digest: str) -> None:
    assert all(c in "0123456789abcdef" for c in digest)
    proj.backend.execute(
        proj.url,
        f"UPDATE tortoise_march_migrations SET checksum = '{digest}' WHERE name = '{name}'",
    )


def _legacy_project(tmp_path: Path, backend: Backend) -> tuple[Project, list[Path]]:
    """Five migrations; the first four applied, each row carrying the old scheme's checksum as
    one of Python 3.10, 3.11, 3.12 and 3.13 computed it."""
    proj, files = _project(tmp_path, backend, 5)
    proj.migrate("app", files[3].stem)
    for path, minor in zip(files[:4], PYTHONS, strict=True):
        old = digests(minor, path)[str(path)]["ast_dump"]
        assert old != checksum(path.read_text(encoding="utf-8"))
        _set_checksum(proj, path.stem, old)
    return proj, files


def _current(files: list[Path]) -> dict[str, str]:
    return {p.stem: checksum(p.read_text(encoding="utf-8")) for p in files}


async def _ensure(proj: Project, **kwargs: Any) -> march.MigrationReport:
    with drift_check_suppressed():
        await Tortoise.init(config=proj.tortoise_config())
    try:
        return await march.ensure_migrated(proj.config, **kwargs)
    finally:
        await Tortoise.close_connections()
        await Tortoise._reset_apps()


def _said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if REWRITTEN in r.getMessage()]


def test_migrate_accepts_and_rewrites_rows_of_every_python(
    backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proj, files = _legacy_project(tmp_path, backend)
    entries = asyncio.run(commands.showmigrations(proj.config))
    assert [e.note for e in entries] == [""] * 5
    caplog.set_level(logging.WARNING, logger="tortoise_march_ext")
    result = proj.migrate()
    assert [str(s.migration) for s in result.steps] == [f"app.{files[4].stem}"]
    assert _rows(proj) == _current(files)
    assert _said(caplog) == [f"4 {REWRITTEN}"]
    proj.migrate()
    assert len(_said(caplog)) == 1


def test_ensure_migrated_accepts_and_rewrites_rows_of_every_python(
    backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proj, files = _legacy_project(tmp_path, backend)
    caplog.set_level(logging.WARNING, logger="tortoise_march_ext")
    report = asyncio.run(_ensure(proj))
    assert report.applied == [f"app.{files[4].stem}"]
    assert _rows(proj) == _current(files)
    assert _said(caplog) == [f"4 {REWRITTEN}"]
    assert asyncio.run(_ensure(proj)).applied == []
    assert len(_said(caplog)) == 1


def test_ensure_migrated_fast_path_rewrites_rows(
    backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proj, files = _project(tmp_path, backend, 1)
    proj.migrate()
    _set_checksum(proj, files[0].stem, digests("3.13", files[0])[str(files[0])]["ast_dump"])
    caplog.set_level(logging.WARNING, logger="tortoise_march_ext")
    assert asyncio.run(_ensure(proj)).applied == []
    assert _rows(proj) == _current(files)
    assert _said(caplog) == [f"1 {REWRITTEN}"]


@pytest.mark.parametrize("legacy", [False, True], ids=["new-row", "old-row"])
@pytest.mark.parametrize("entry", ["migrate", "ensure_migrated"])
def test_changed_code_is_still_rejected(
    backend: Backend, tmp_path: Path, legacy: bool, entry: str
) -> None:
    proj, files = _project(tmp_path, backend, 2)
    proj.migrate("app", files[0].stem)
    if legacy:
        _set_checksum(proj, files[0].stem, digests("3.12", files[0])[str(files[0])]["ast_dump"])
    before = _rows(proj)
    source = files[0].read_text(encoding="utf-8")
    assert "max_length=50" in source
    files[0].write_text(source.replace("max_length=50", "max_length=60"), encoding="utf-8")
    with pytest.raises(HistoryError, match="changed since it was applied"):
        if entry == "migrate":
            proj.migrate()
        else:
            asyncio.run(_ensure(proj))
    assert _rows(proj) == before
    notes = [e.note for e in asyncio.run(commands.showmigrations(proj.config))]
    assert notes == ["changed since applied", ""]


def test_dry_runs_accept_old_rows_and_leave_them(backend: Backend, tmp_path: Path) -> None:
    """``migrate --plan/--sql/--check`` and ``ensure_migrated(check_only=True)`` write nothing."""
    proj, files = _legacy_project(tmp_path, backend)
    before = _rows(proj)
    for dry in ({"plan": True}, {"sql": True}):
        result = proj.migrate(**dry)
        assert [str(s.migration) for s in result.steps] == [f"app.{files[4].stem}"]
        assert not result.applied
    with pytest.raises(PendingMigrations):
        asyncio.run(_ensure(proj, check_only=True))
    assert _rows(proj) == before


def test_check_applied_recognises_old_rows_in_one_place() -> None:
    """Old rows of a plain and of a squash-applied migration are returned to rewrite; a cache
    still holding old-scheme checksums accepts new rows without rewriting them backwards.
    (Rows of replaced migrations whose files are gone are never compared, so left alone.)"""
    from tortoise_march_ext.engine.replacements import check_applied
    from tortoise_march_ext.files.legacy_checksum import legacy_dump

    sources = {
        ("a", "1"): "x = 1\n",
        ("a", "2"): "y = 2\n",
        ("a", "s"): "def f():\n    return 2\n",
    }
    new = {key: checksum(text) for key, text in sources.items()}
    old = {
        key: hashlib.sha256(legacy_dump(ast.parse(text), (3, 13)).encode()).hexdigest()
        for key, text in sources.items()
    }
    replaces = {("a", "s"): [("a", "2")]}
    applied = {("a", "1"): old[("a", "1")], ("a", "2"): old[("a", "s")]}
    legacy = check_applied(applied, new, replaces, source=sources.get)
    assert legacy == {
        ("a", "1"): (old[("a", "1")], new[("a", "1")]),
        ("a", "2"): (old[("a", "s")], new[("a", "s")]),
    }
    with pytest.raises(HistoryError, match="a.1 changed since it was applied"):
        check_applied(applied, new, replaces)  # without the sources, nothing to recognise
    stale = {key: old[key] for key in sources}
    rows = {("a", "1"): new[("a", "1")]}
    assert check_applied(rows, stale, replaces, source=sources.get) == {}
    changed = {**sources, ("a", "1"): "x = 2\n"}
    with pytest.raises(HistoryError, match="a.1 changed since it was applied"):
        check_applied(applied, new, replaces, source=changed.get)
