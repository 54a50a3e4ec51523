"""The ``pytest11`` entry point of tortoise-march-ext: an opt-in switch, nothing more.

Loaded by pytest in every project where the package is installed, so it imports nothing of
tortoise_march_ext (whose import wraps ``Tortoise.init``). It adds the ini option
``tortoise_march_ext`` and the flag ``--tortoise-march``; either one loads the real plugin,
``tortoise_march_ext.pytest``, as ``-p tortoise_march_ext.pytest`` would.
"""

from __future__ import annotations

import pytest

PLUGIN = "tortoise_march_ext.pytest"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the opt-in switches."""
    parser.addini(
        "tortoise_march_ext",
        "load the tortoise-march-ext plugin (migrated test databases, ready checks)",
        type="bool",
        default=False,
    )
    parser.getgroup("tortoise-march-ext").addoption(
        "--tortoise-march",
        action="store_true",
        default=False,
        help="load the tortoise-march-ext plugin (migrated test databases, ready checks)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Load the real plugin when the project opted in through the ini option or the flag."""
    if config.getini("tortoise_march_ext") or config.getoption("tortoise_march"):
        if not config.pluginmanager.has_plugin(PLUGIN):
            config.pluginmanager.import_plugin(PLUGIN)
