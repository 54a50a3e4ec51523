"""lint for CI: ``--format github`` workflow annotations at the operation's line, and
``--git-base REF`` linting only the migration files added since REF (a real git repository)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cliproject import CliProject, assert_error, make_project, migration_source, show
from tortoise_march_ext.commands.lint_ci import operation_lines

ADD_INDEX = 'migrations.AddIndex(model="Contact", index=fields.Index(fields=["email"]))'
FIELDS = "from tortoise_march_ext.schema import fields\n"
RUN_SQL = "migrations.RunSQL(\"UPDATE contact SET email = ''\", reverse_sql='SELECT 1')"


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` (as a throw-away identity) and return its output."""
    done = subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=CI", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture
def project(tmp_path: Path) -> CliProject:
    made = make_project(tmp_path)
    made.ok("makemigrations")
    return made


def test_github_annotations_point_at_each_operation(project: CliProject) -> None:
    result = project.run("lint", "--format", "github")
    assert result.returncode == 1, show(result)
    path = project.migrations / "0001_initial.py"
    creates = [
        number
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "migrations.CreateModel(" in line
    ]
    lines = result.stdout.splitlines()
    assert lines[-1] == "3 finding(s), 0 ignored"
    expected = [
        f"::error file=migrations/contacts/0001_initial.py,line={n},title=int-pk-overflow::"
        for n in creates
    ]
    assert [line.split("::contacts.", 1)[0] + "::" for line in lines[:-1]] == expected
    assert all("instead: use BigIntField" in line for line in lines[:-1])


def test_operation_lines_of_hand_written_files() -> None:
    source = migration_source('("contacts", "0001_initial")', RUN_SQL, ADD_INDEX, imports=FIELDS)
    numbers = operation_lines(source)
    text = source.splitlines()
    assert [text[n - 1].strip()[:20] for n in numbers] == [RUN_SQL[:20], ADD_INDEX[:20]]
    assert operation_lines("class Migration:\n    operations = make()\n") == []
    assert operation_lines("not python (") == []


def test_git_base_lints_only_what_the_branch_adds(project: CliProject) -> None:
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "initial")
    git(project.root, "checkout", "-q", "-b", "feature")
    project.write_migration(
        "0002_index", migration_source('("contacts", "0001_initial")', ADD_INDEX, imports=FIELDS)
    )
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "index")
    project.write_migration(
        "0003_data", migration_source('("contacts", "0002_index")', RUN_SQL)
    )  # untracked: a new file not committed yet counts as added

    result = project.run("lint", "--git-base", "main", "--format", "json")
    assert result.returncode == 1, show(result)
    found = [(f["migration"], f["rule"]) for f in json.loads(result.stdout)["findings"]]
    assert found == [("0002_index", "index-without-concurrently"), ("0003_data", "run-sql")]

    github = project.run("lint", "--git-base", "main", "--format", "github")
    assert "0001_initial" not in github.stdout and github.returncode == 1, show(github)
    assert "file=migrations/contacts/0002_index.py,line=" in github.stdout

    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "data")
    nothing = project.run("lint", "--git-base", "HEAD")
    assert nothing.returncode == 0 and nothing.stdout.strip() == "0 finding(s), 0 ignored"
    since = project.run("lint", "contacts", "--since", "0002", "--git-base", "main")
    assert since.returncode == 1 and "0002_index" not in since.stdout, show(since)
    assert "contacts.0003_data[#0] run-sql" in since.stdout


def test_git_base_refuses_an_unknown_ref_or_no_repository(project: CliProject) -> None:
    assert_error(project.run("lint", "--git-base", "main"), 2, "--git-base", "git repository")
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "initial")
    assert_error(project.run("lint", "--git-base", "no-such-ref"), 2, "'no-such-ref'", "fetch")


def test_git_base_without_git_says_so(project: CliProject, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = project.run("lint", "--git-base", "main", PATH=str(empty))
    assert_error(result, 2, "needs git")
