"""The state cache: plain data that round-trips exactly; damaged, foreign, hostile files miss."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise

from tests.harness import Backend, Project
from tests.scenarios import SCENARIOS
from tests.test_writer import every_value_operations
from tortoise_march_ext.project import drift_check_suppressed, tortoise_apps
from tortoise_march_ext.runtime import cache
from tortoise_march_ext.schema.extract import extract_state
from tortoise_march_ext.schema.plain import PlainError, state_from_plain, state_to_plain
from tortoise_march_ext.schema.state import ProjectState

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "contacts_app"
LOGGER = "tortoise_march_ext"


@pytest.fixture
def location(tmp_path: Path) -> Path:
    """A copy of the example project's migration files, without a cache."""
    target = tmp_path / "migrations"
    shutil.copytree(
        EXAMPLE / "migrations",
        target,
        ignore=shutil.ignore_patterns(cache.CACHE_DIR, "__pycache__"),
    )
    return target


@pytest.fixture
def replays(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every replay of the migration files (every cache miss)."""
    calls: list[Path] = []
    real = cache.build_history

    def counting(location: Path, key: str, *rest: Any) -> cache.History:
        calls.append(location)
        return real(location, key, *rest)

    monkeypatch.setattr(cache, "build_history", counting)
    return calls


def cache_file(location: Path) -> Path:
    return location / cache.CACHE_DIR / cache.CACHE_FILE


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING
    ]


# -- round trip ------------------------------------------------------------------------------
def assert_round_trips(state: ProjectState) -> None:
    back = state_from_plain(state_to_plain(state))
    assert back == state
    assert list(back.models) == list(state.models)


def test_example_history_round_trips(location: Path) -> None:
    history = cache.build_history(location, "k")
    assert history.state.models, "the example project has models"
    assert_round_trips(history.state)
    assert cache.history_from_bytes(cache.history_to_bytes(history), "k") == history


def test_every_serializable_value_round_trips_exactly() -> None:
    state = ProjectState()
    for operation in every_value_operations():
        operation.state_forwards("app", state)
    state.extensions.add(("app", "pg_trgm"))
    assert_round_trips(state)
    defaults = [f.default for _, f in state.get_model("app", "Everything").fields]
    back = state_from_plain(state_to_plain(state)).get_model("app", "Everything")
    # Equal is not enough where Python says 1 == 1.0 == True: the types come back too.
    assert [type(f.default) for _, f in back.fields] == [type(d) for d in defaults]


def test_scenario_states_round_trip(tmp_path: Path) -> None:
    project = Project(tmp_path, Backend("sqlite", tmp_path))
    project.url = "sqlite://:memory:"
    count = 0
    for scenario in SCENARIOS:
        for step in scenario.steps:
            project.write_models(step.apps)
            state = asyncio.run(_extracted(project.tortoise_config()))
            assert_round_trips(state)
            count += 1
    assert count > 10


async def _extracted(config: dict[str, Any]) -> ProjectState:
    with drift_check_suppressed():
        await Tortoise.init(config=config)
    try:
        return extract_state(tortoise_apps())
    finally:
        await Tortoise.close_connections()
        await Tortoise._reset_apps()


def test_values_without_a_plain_form_are_refused() -> None:
    state = ProjectState()
    for operation in every_value_operations()[:1]:
        operation.state_forwards("app", state)
    model = state.get_model("app", "Everything")
    name, field = model.fields[1]
    state.put_model(model.with_field(name, field.with_changes(default={1, 2})))
    with pytest.raises(PlainError, match="set"):
        state_to_plain(state)


# -- damaged and foreign files ---------------------------------------------------------------
def test_one_byte_flipped_a_thousand_times_is_never_wrong(
    location: Path, replays: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    good = cache.load_history(location)
    path = cache_file(location)
    original = path.read_bytes()
    key = cache.history_key(location)
    rng = random.Random(10)
    misses = 0
    for _ in range(1000):
        data = bytearray(original)
        data[rng.randrange(len(data))] ^= rng.randrange(1, 256)
        path.write_bytes(bytes(data))
        caplog.clear()
        got = cache._read(path, key)
        if got is None:
            misses += 1
            assert len(warnings_of(caplog)) == 1
        else:
            assert got == good
    assert misses == 1000  # the payload's checksum catches every flip
    path.write_bytes(bytes(original[:10]) + bytes([original[10] ^ 1]) + original[11:])
    before = len(replays)
    assert cache.load_history(location) == good
    assert len(replays) == before + 1
    assert path.read_bytes() == original  # the miss wrote the cache again


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\xff garbage \x80",
        b'{"key": "x"}',
        b"tortoise-march-ext-state-cache 4 sha256=00\n{}",
        b"tortoise-march-ext-state-cache 999 sha256=00\n{}",
        pickle.dumps({"not": "ours"}),
    ],
    ids=["empty", "garbage", "json-no-header", "bad-digest", "future-format", "pickle"],
)
def test_foreign_files_are_a_logged_miss(
    location: Path,
    replays: list[Path],
    caplog: pytest.LogCaptureFixture,
    content: bytes,
) -> None:
    good = cache.load_history(location)
    cache_file(location).write_bytes(content)
    caplog.clear()
    assert cache.load_history(location) == good
    assert len(replays) == 2
    (line,) = warnings_of(caplog)
    assert "state cache" in line and "replaying the migration files" in line


def test_a_well_formed_cache_whose_checksum_matches_but_is_not_a_history(
    location: Path, replays: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    good = cache.load_history(location)
    payload = b'{"key": "%s", "state": [1, 2]}' % cache.history_key(location).encode()
    cache_file(location).write_bytes(cache._header(payload) + payload)
    caplog.clear()
    assert cache.load_history(location) == good
    assert len(warnings_of(caplog)) == 1


def test_a_folder_in_place_of_the_file_is_a_miss(location: Path, replays: list[Path]) -> None:
    good = cache.load_history(location)
    cache_file(location).unlink()
    cache_file(location).mkdir()
    assert cache.load_history(location) == good
    assert len(replays) == 2


def test_a_stale_cache_is_a_quiet_miss(
    location: Path, replays: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    cache.load_history(location)
    migration = next((location / "contacts").glob("0001_*.py"))
    migration.write_text(migration.read_text() + "\n# edited\n")
    caplog.clear()
    cache.load_history(location)
    assert len(replays) == 2
    assert warnings_of(caplog) == []


class _Payload:
    """Pickles to a call of ``os.mkdir(marker)``: unpickling it runs code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


def test_a_pickle_that_would_run_code_is_never_unpickled(
    location: Path, tmp_path: Path, replays: list[Path]
) -> None:
    good = cache.load_history(location)
    marker = tmp_path / "code-ran"
    hostile = pickle.dumps(_Payload(marker))
    folder = location / cache.CACHE_DIR
    for name in (cache.CACHE_FILE, "history.pickle", "history.pkl"):
        (folder / name).write_bytes(hostile)
    assert cache.load_history(location) == good
    assert not marker.exists()
    assert not (folder / "history.pickle").exists(), "the old pickle cache is removed on write"
    pickle.loads(hostile)  # noqa: S301 - proves the payload is live
    assert marker.is_dir()


# -- writing ---------------------------------------------------------------------------------
def test_an_unwritable_cache_folder_is_logged_once(
    location: Path, replays: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    (location / cache.CACHE_DIR).write_text("a file where the cache folder should be")
    caplog.clear()
    results = [cache.load_history(location) for _ in range(3)]
    assert results[0] == results[1] == results[2]
    assert len(replays) == 3
    (line,) = warnings_of(caplog)
    assert "state cache not written" in line and str(location / cache.CACHE_DIR) in line


def test_a_state_without_a_plain_form_is_not_cached_and_says_so(
    location: Path, caplog: pytest.LogCaptureFixture
) -> None:
    history = cache.build_history(location, cache.history_key(location))
    model = next(iter(history.state.models.values()))
    name, field = model.fields[-1]
    history.state.put_model(model.with_field(name, field.with_changes(default=frozenset())))
    caplog.clear()
    cache._write(cache_file(location), history)
    assert not cache_file(location).exists()
    (line,) = warnings_of(caplog)
    assert "frozenset" in line


def test_the_cache_file_is_plain_json_after_a_header(location: Path) -> None:
    cache.load_history(location)
    header, _, payload = cache_file(location).read_bytes().partition(b"\n")
    assert header.startswith(b"tortoise-march-ext-state-cache 4 sha256=")
    assert json.loads(payload)["key"] == cache.history_key(location)
