"""Each example runs in one command on SQLite: the script twice, the ASGI apps under uvicorn.

Every test works on a copy of the example folder (without databases, caches and bytecode) so the
repository stays clean.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
IGNORED = shutil.ignore_patterns("*.sqlite3*", "__pycache__", ".march_cache", "*.log")
INITIAL = [("contacts", "0001_initial")]
ADA = {"name": "Ada", "email": "ada@example.com", "company": "Acme"}


def copy_example(name: str, dest: Path) -> Path:
    """Copy ``examples/<name>`` to ``dest/<name>`` and return the copy."""
    target = dest / name
    shutil.copytree(EXAMPLES / name, target, ignore=IGNORED)
    return target


def example_env(**extra: str) -> dict[str, str]:
    """Return the environment for an example process: no inherited march or database settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "TORTOISE_MARCH_CONFIG", "TORTOISE_MARCH_ON_DRIFT"}
    }
    env.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def free_port() -> int:
    """Return a localhost TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sqlite_recorded(path: Path) -> list[tuple[str, str]]:
    """Return the (app, name) rows of the recorder in the SQLite database at ``path``."""
    assert path.is_file(), f"no database at {path}"
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT app, name FROM tortoise_march_migrations ORDER BY app, name")
        return [tuple(r) for r in rows.fetchall()]


def sqlite_tables(path: Path) -> set[str]:
    """Return the table names of the SQLite database at ``path``."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {r[0] for r in rows}


class Server:
    """A uvicorn process serving ``app:app`` from an example folder."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log

    def output(self) -> str:
        """Return what the server printed so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_until_answers(self, path: str = "/contacts", timeout: float = 60.0) -> None:
        """Poll ``path`` until the server answers; fail with its output if it exits or hangs."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"uvicorn exited with {self.proc.returncode} before answering:\n"
                    + self.output(),
                    pytrace=False,
                )
            try:
                httpx.get(self.url + path, timeout=2.0)
                return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"uvicorn did not answer within {timeout:g}s:\n" + self.output(), pytrace=False
                )
            time.sleep(0.1)

    def get(self, path: str) -> httpx.Response:
        """GET ``path``; fail with the server output unless it is 200."""
        response = httpx.get(self.url + path, timeout=10.0)
        assert response.status_code == 200, f"{response.status_code} {response.text}\n" + (
            self.output()
        )
        return response

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        """POST JSON to ``path``; fail with the server output unless it is 201."""
        response = httpx.post(self.url + path, json=data, timeout=10.0)
        assert response.status_code == 201, f"{response.status_code} {response.text}\n" + (
            self.output()
        )
        return response


@contextmanager
def serve(folder: Path, env: dict[str, str], *args: str) -> Iterator[Server]:
    """Run ``uvicorn app:app`` in ``folder`` on a free port; stop it (and its workers) on exit."""
    port = free_port()
    log = folder.parent / f"{folder.name}-uvicorn-{port}.log"
    command = [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--port", str(port), *args],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Server(proc, f"http://127.0.0.1:{port}", log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def run_script(folder: Path) -> str:
    """Run ``python run_script.py`` in ``folder``; return its output, failing on a non-zero exit."""
    done = subprocess.run(
        [sys.executable, "run_script.py"],
        cwd=folder,
        env=example_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_contacts_app_script_migrates_once(tmp_path: Path) -> None:
    folder = copy_example("contacts_app", tmp_path)
    first = run_script(folder)
    assert first.splitlines() == [
        "applied 1 migration(s): contacts.0001_initial",
        "1 contact(s) at Acme",
    ]
    second = run_script(folder)
    assert second.splitlines() == ["applied 0 migration(s): -", "1 contact(s) at Acme"]
    database = folder / "example.sqlite3"
    assert sqlite_recorded(database) == INITIAL
    assert {"company", "contact", "tag", "contact_tag"} <= sqlite_tables(database)


@pytest.mark.parametrize("example", ["fastapi_app", "starlette_app"])
def test_asgi_app_migrates_at_startup_and_serves(tmp_path: Path, example: str) -> None:
    folder = copy_example(example, tmp_path)
    database = folder / "example.sqlite3"
    assert not database.exists()
    with serve(folder, example_env()) as server:
        server.wait_until_answers()
        assert server.get("/contacts").json() == []
        created = server.post("/contacts", ADA).json()
        assert created == {"id": 1, **ADA}
        assert server.get("/contacts").json() == [created]
    assert sqlite_recorded(database) == INITIAL

    # A second start finds nothing to apply and keeps the data.
    with serve(folder, example_env()) as server:
        server.wait_until_answers()
        assert server.get("/contacts").json() == [created]
    assert sqlite_recorded(database) == INITIAL
    assert "Application startup complete." in server.output()
