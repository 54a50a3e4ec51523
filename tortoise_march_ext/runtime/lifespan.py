"""``march.lifespan()``: initialise Tortoise, apply pending migrations, close on exit.

Usable directly (``async with march.lifespan(): ...``) and as an ASGI lifespan factory
(``FastAPI(lifespan=march.lifespan())``, Starlette, Litestar ``lifespan=[...]``, Quart).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from tortoise import Tortoise

from ..config import MarchConfig, load_config
from .ensure import MigrationReport, ensure_migrated


class lifespan:  # noqa: N801 - reads like the function-style lifespans it stands in for
    """Async context manager (and ASGI lifespan factory) around Tortoise and ensure_migrated."""

    def __init__(
        self,
        config: MarchConfig | None = None,
        *,
        tortoise_config: dict[str, Any] | None = None,
        **ensure_options: Any,
    ) -> None:
        self.config = config
        self.tortoise_config = tortoise_config
        self.ensure_options = ensure_options
        self.report: MigrationReport | None = None

    def __call__(self, app: Any = None) -> _AppLifespan:
        """Return a fresh context manager for one application run (ASGI lifespan factory).

        It yields no state: Starlette and FastAPI treat what a lifespan yields as app state.
        """
        return _AppLifespan(
            lifespan(self.config, tortoise_config=self.tortoise_config, **self.ensure_options)
        )

    async def __aenter__(self) -> MigrationReport:
        config = self.config or load_config(tortoise_config=self.tortoise_config)
        # The server runs the lifespan and the requests in different tasks: make the Tortoise
        # context global, as tortoise.contrib's RegisterTortoise does.
        await Tortoise.init(config=config.load_tortoise_config(), _enable_global_fallback=True)
        try:
            self.report = await ensure_migrated(config, **self.ensure_options)
        except BaseException:
            await Tortoise.close_connections()
            raise
        return self.report

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await Tortoise.close_connections()


class _AppLifespan:
    """The per-application context an ASGI server enters; yields no state."""

    def __init__(self, inner: lifespan) -> None:
        self.inner = inner

    async def __aenter__(self) -> None:
        await self.inner.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.inner.__aexit__(exc_type, exc, traceback)
