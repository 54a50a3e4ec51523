"""lint for CI: GitHub workflow annotations, and only the migrations a branch adds (git).

``lint --format github`` prints one ``::error file=PATH,line=N,title=RULE::message`` per finding
(every finding fails ``lint``, as in the text format), at the line of the operation in the
migration file. ``lint --git-base REF`` lints only the migration files added since ``REF``: those
``git diff --diff-filter=A`` lists between the merge base of ``REF`` and ``HEAD`` and the working
tree, and new files git does not track yet (not ignored).
"""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import MarchConfig
from ..exceptions import ConfigError
from ..lint import Finding, LintReport, lint_graph
from ..project import open_project
from .lint import selection, target_of, targets

Key = tuple[str, str]
GIT_TIMEOUT = 30.0


@dataclass
class CiLint:
    """A lint report, and where each linted migration's operations are in their files."""

    report: LintReport
    paths: dict[Key, Path] = field(default_factory=dict)
    lines: dict[Key, list[int]] = field(default_factory=dict)

    def location(self, finding: Finding) -> tuple[str, int]:
        """Return the file (relative to the working folder where it can be) and the line of
        the finding's operation (1 when it is not known)."""
        key = (finding.app, finding.migration)
        path = self.paths.get(key)
        lines = self.lines.get(key, [])
        line = lines[finding.index] if finding.index < len(lines) else 1
        if path is None:
            return f"{finding.app}/{finding.migration}.py", line
        try:
            return str(path.resolve().relative_to(Path.cwd().resolve())), line
        except ValueError:
            return str(path), line

    def as_github(self) -> str:
        """Return one workflow annotation per finding, then the summary line."""
        out = []
        for finding in self.report.findings:
            path, line = self.location(finding)
            where = f"file={_property(path)},line={line},title={_property(finding.rule)}"
            out.append(f"::error {where}::{_data(finding.as_text())}")
        return "\n".join([*out, self.report.summary()])


def _data(text: str) -> str:
    """Escape the message of a workflow command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """Escape a property value of a workflow command."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def operation_lines(source: str) -> list[int]:
    """Return the line of each item of ``Migration.operations`` in a migration's source (empty
    when the file does not say them as a literal list or tuple)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ClassDef) and node.name == "Migration"):
            continue
        for item in node.body:
            targets_ = item.targets if isinstance(item, ast.Assign) else []
            if isinstance(item, ast.AnnAssign):
                targets_ = [item.target]
            value = getattr(item, "value", None)
            names = [t.id for t in targets_ if isinstance(t, ast.Name)]
            if "operations" in names and isinstance(value, (ast.List, ast.Tuple)):
                return [element.lineno for element in value.elts]
    return []


def _git(folder: Path, *args: str) -> str:
    """Return the output of ``git -C folder ARGS``; raise ConfigError (one line) when git is
    missing or refuses."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise ConfigError(
            "lint --git-base needs git, which is not installed (or not on PATH); install it, "
            "or lint APP --since NAME instead"
        ) from None
    if done.returncode:
        problem = " ".join(done.stderr.split()) or f"exit code {done.returncode}"
        raise GitRefused(problem)
    return done.stdout


class GitRefused(ConfigError):
    """A git command failed."""


def added_files(folder: Path, ref: str) -> set[Path]:
    """Return the files added since ``ref`` in the repository holding ``folder``: added between
    the merge base of ``ref`` and ``HEAD`` and the working tree, and untracked new files."""
    try:
        top = Path(_git(folder, "rev-parse", "--show-toplevel").strip())
    except GitRefused as exc:
        raise ConfigError(
            f"lint --git-base {ref}: {folder} is not in a git repository ({exc}); run it in "
            "the repository's checkout"
        ) from None
    try:
        base = _git(folder, "merge-base", ref, "HEAD").strip()
    except GitRefused as exc:
        raise ConfigError(
            f"lint --git-base {ref}: git does not know {ref!r} or finds no common ancestor "
            f"with HEAD ({exc}); fetch it first (git fetch origin {ref}; in GitHub Actions "
            "checkout with fetch-depth: 0) or give another ref"
        ) from None
    added = _git(folder, "diff", "--name-only", "--diff-filter=A", "-z", base, "--")
    untracked = _git(folder, "ls-files", "--others", "--exclude-standard", "-z", "--full-name")
    names = [n for n in (added + untracked).split("\0") if n]
    return {(top / name).resolve() for name in names}


async def lint_ci(
    config: MarchConfig,
    app: str | None = None,
    *,
    since: str | None = None,
    git_base: str | None = None,
) -> CiLint:
    """Lint as :func:`~.lint.lint` does, keeping where each operation is in its file; with
    ``git_base`` only the migrations whose files were added since that git ref."""
    from ..exceptions import GraphError

    if since is not None and app is None:
        raise GraphError("--since needs an app: lint APP --since NAME")
    async with open_project(config, load=False) as project:
        project.load_files()
        keys = selection(project, app, since)
        if git_base is not None:
            new = added_files(config.migrations_dir, git_base)
            pool: Iterable[Key] = project.graph.topological() if keys is None else keys
            keys = [k for k in pool if project.graph.nodes[k].path.resolve() in new]
        apps = sorted({k[0] for k in keys} if keys is not None else project.graph.apps())
        found = await targets(project, apps)
        report = lint_graph(
            project.graph,
            keys,
            exclude=config.lint_exclude,
            targets=lambda label: found.get(label) or target_of(project, label),
        )
        nodes = project.graph.nodes
        linted = list(nodes) if keys is None else keys
        return CiLint(
            report,
            {k: nodes[k].path for k in linted},
            {k: operation_lines(nodes[k].source) for k in linted},
        )
