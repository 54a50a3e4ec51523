"""The migration graph: a DAG of (app, name) nodes, plans, leaves, conflicts. No I/O.

Order comes only from declared dependencies, never from file-name numbers; ties are broken by
sorting, so plans are deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..exceptions import GraphError

Key = tuple[str, str]


class MigrationGraph:
    """Nodes and dependency edges of every loaded migration."""

    def __init__(self, nodes: Mapping[Key, Any], dependencies: Mapping[Key, Iterable[Key]]) -> None:
        self.nodes = dict(nodes)
        self.parents: dict[Key, list[Key]] = {
            k: sorted(set(dependencies.get(k, ()))) for k in self.nodes
        }
        self.children: dict[Key, list[Key]] = {k: [] for k in self.nodes}
        for key, parents in self.parents.items():
            for parent in parents:
                if parent in self.children:
                    self.children[parent].append(key)
        for children in self.children.values():
            children.sort()

    def validate(self) -> None:
        """Raise GraphError for a migration that depends on itself, a missing dependency or a
        cycle."""
        for key in sorted(self.nodes):
            declared = getattr(self.nodes[key], "dependencies", ())
            if key in self.parents[key] or key in declared:
                raise GraphError(
                    f"migration {_label(key)} ({self._where(key)}) depends on itself: remove "
                    f'("{key[0]}", "{key[1]}") from its dependencies'
                )
            for parent in self.parents[key]:
                if parent not in self.nodes:
                    raise GraphError(
                        f"migration {_label(key)} ({self._where(key)}) depends on "
                        f"{_label(parent)}, which does not exist; restore that file or fix "
                        "the dependency"
                    )
        self.topological()

    def _where(self, key: Key) -> str:
        return str(getattr(self.nodes[key], "path", key))

    def topological(self, keys: Iterable[Key] | None = None) -> list[Key]:
        """Return ``keys`` (default: all) with their ancestors, parents before children."""
        order: list[Key] = []
        state: dict[Key, int] = {}
        for root in sorted(self.nodes if keys is None else keys):
            if state.get(root) == 2:
                continue
            stack: list[tuple[Key, int]] = [(root, 0)]
            path: list[Key] = []
            while stack:
                key, index = stack.pop()
                if index == 0:
                    if state.get(key) == 2:
                        continue
                    if state.get(key) == 1:
                        cycle = path[path.index(key) :] + [key]
                        raise GraphError(
                            "dependency cycle between migrations: "
                            + " -> ".join(_label(k) for k in cycle)
                            + "; remove one of these dependencies"
                        )
                    state[key] = 1
                    path.append(key)
                parents = [p for p in self.parents.get(key, []) if p in self.nodes]
                if index < len(parents):
                    stack.append((key, index + 1))
                    stack.append((parents[index], 0))
                else:
                    state[key] = 2
                    path.pop()
                    order.append(key)
        return order

    def descendants(self, key: Key) -> list[Key]:
        """Return every node that depends on ``key`` (transitively), ``key`` included."""
        seen = {key}
        stack = [key]
        while stack:
            for child in self.children[stack.pop()]:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return sorted(seen)

    def leaves(self, app: str) -> list[Key]:
        """Return the nodes of ``app`` that no other node of ``app`` depends on."""
        return sorted(
            k for k in self.nodes if k[0] == app and not any(c[0] == app for c in self.children[k])
        )

    def leaf(self, app: str) -> Key | None:
        """Return the single leaf of ``app`` (None for an app without migrations)."""
        leaves = self.leaves(app)
        if len(leaves) > 1:
            raise GraphError(
                f"conflicting migrations in app {app!r}: {', '.join(n for _, n in leaves)} are "
                "both latest; make one depend on the other (makemigrations --merge will write "
                "a merge migration)"
            )
        return leaves[0] if leaves else None

    def apps(self) -> list[str]:
        """Return the apps that have migrations."""
        return sorted({app for app, _ in self.nodes})

    def resolve(self, app: str, target: str) -> Key | None:
        """Resolve ``target`` (a name, a unique prefix or ``zero``) in ``app``; zero is None."""
        if target == "zero":
            return None
        names = sorted(n for a, n in self.nodes if a == app)
        if target in names:
            return app, target
        matches = [n for n in names if n.startswith(target)]
        if not matches:
            raise GraphError(
                f"no migration {target!r} in app {app!r}; known: {', '.join(names) or 'none'}"
            )
        if len(matches) > 1:
            raise GraphError(
                f"migration prefix {target!r} is ambiguous in app {app!r}: {', '.join(matches)}"
            )
        return app, matches[0]


def _label(key: Key) -> str:
    return f"{key[0]}.{key[1]}"
