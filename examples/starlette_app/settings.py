"""Tortoise config of the Starlette example: SQLite next to this file unless DATABASE_URL is set."""

import os
from pathlib import Path

DEFAULT_URL = f"sqlite://{Path(__file__).resolve().parent / 'example.sqlite3'}"

TORTOISE_ORM = {
    "connections": {"default": os.environ.get("DATABASE_URL", DEFAULT_URL)},
    "apps": {"contacts": {"models": ["contacts.models"], "default_connection": "default"}},
}
