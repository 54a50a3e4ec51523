"""``makemigrations --check`` lists each missing change in the words of ``check``."""

from __future__ import annotations

from pathlib import Path

from tests.cliproject import make_project, show

NICKNAME = "nickname = fields.CharField(max_length=50, null=True)"
PHONE = 'phone = fields.CharField(max_length=20, default="")'


def dashed(stdout: str) -> list[str]:
    """Return the ``- `` lines of an output."""
    return [line for line in stdout.splitlines() if line.startswith("- ")]


def test_check_lines_match_check(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    project.ok("makemigrations")
    project.add_contact_field(NICKNAME)
    project.add_contact_field(PHONE)
    project.replace_in(project.models_py, "    label = fields.CharField(max_length=50)\n", "")
    made = project.run("makemigrations", "--check")
    checked = project.run("check")
    assert made.returncode == 1 and checked.returncode == 1, show(made) + show(checked)
    lines = dashed(made.stdout)
    assert lines == dashed(checked.stdout), show(made) + show(checked)
    assert sorted(lines) == [
        "- contacts.Contact: field nickname added",
        "- contacts.Contact: field phone added",
        "- contacts.Tag: field label removed",
    ]
    assert "Run `python -m tortoise_march_ext makemigrations`" in made.stdout
    assert project.migration_names() == ["0001_initial.py"]  # --check writes nothing
    only = project.run("makemigrations", "--check", "contacts")
    assert dashed(only.stdout) == lines, show(only)

    project.ok("makemigrations")
    clean = project.run("makemigrations", "--check")
    assert clean.returncode == 0 and dashed(clean.stdout) == [], show(clean)
