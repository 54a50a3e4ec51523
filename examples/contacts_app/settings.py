"""Tortoise config of the example app: SQLite, no server needed."""

import os

TORTOISE_ORM = {
    "connections": {"default": os.environ.get("DATABASE_URL", "sqlite://example.sqlite3")},
    "apps": {"contacts": {"models": ["contacts.models"], "default_connection": "default"}},
}
