"""What makemigrations prints about the migrations it writes (through the real CLI)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cliproject import make_project, show


def test_int_pk_overflow_is_one_summary_line_from_makemigrations(tmp_path: Path) -> None:
    cli = make_project(tmp_path)
    made = cli.ok("makemigrations")
    lines = [line for line in made.stdout.splitlines() if "int-pk-overflow" in line]
    assert len(lines) == 1, show(made)
    assert "3 primary keys (Company.id, Tag.id, Contact.id)" in lines[0], show(made)
    assert lines[0].strip().startswith("! contacts.0001_initial int-pk-overflow:"), show(made)
    assert "BigIntField(primary_key=True)" in lines[0] and "`lint`" in lines[0]
    linted = cli.run("lint", "contacts", "--format", "json")
    rules = [f["rule"] for f in json.loads(linted.stdout)["findings"]]
    assert rules == ["int-pk-overflow"] * 3, show(linted)
