"""Historical models and live models of the same table, used side by side inside RunPython.

Tortoise caches INSERT/UPDATE/DELETE statements per (connection, schema, table). The historical
model of ``person`` (with ``nick``) and the live one (without) must each use statements built for
their own columns, whichever of them touches the table first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from tests.harness import Backend, Project
from tests.scenarios import ID, model, models

NAME = "name = fields.CharField(max_length=50)"
V1 = models(model("Person", f"{ID}\n{NAME}\nnick = fields.CharField(max_length=20, null=True)"))
V2 = models(model("Person", f"{ID}\n{NAME}"))

MIGRATION = '''"""Write rows through the historical and the live Person, {order} first."""

from tortoise import Tortoise

from tortoise_march_ext import migrations


async def forwards(apps):
    old = apps.get_model("app.Person")
    live = Tortoise.apps["app"]["Person"]
    assert old is not live
    assert set(old._meta.fields_map) == {{"id", "name", "nick"}}
    assert set(live._meta.fields_map) == {{"id", "name"}}
    steps = [write_live, write_old] if "{order}" == "live" else [write_old, write_live]
    for step in steps + steps:
        await step(old, live)


async def write_old(old, live):
    row = await old.create(name="{tag}-old", nick="first")
    row.nick = "second"
    await row.save()
    await (await old.create(name="{tag}-gone", nick="x")).delete()


async def write_live(old, live):
    row = await live.create(name="{tag}-live")
    row.name = "{tag}-live-saved"
    await row.save()
    await (await live.create(name="{tag}-gone-too")).delete()


class Migration(migrations.Migration):
    dependencies = (("app", "{parent}"),)

    operations = (migrations.RunPython(forwards),)
'''


@pytest.fixture
def project(backend: Backend, tmp_path: Path) -> Iterator[Project]:
    # Tortoise never empties its statement cache, and keys it by connection *name*: the live
    # model's statements of an earlier test on the other backend would be reused here.
    EXECUTOR_CACHE.clear()
    proj = Project(tmp_path, backend)
    proj.write_models({"app": V1})
    proj.makemigrations()
    proj.migrate()
    # The live models no longer have ``nick``; the migrations below run before it is removed.
    proj.write_models({"app": V2})
    yield proj
    EXECUTOR_CACHE.clear()


def write(project: Project, name: str, parent: str, order: str) -> None:
    text = MIGRATION.format(order=order, tag=order, parent=parent)
    (project.migrations / "app" / f"{name}.py").write_text(text, encoding="utf-8")


def rows(project: Project) -> list[tuple[object, ...]]:
    return project.backend.execute(project.url, "SELECT name, nick FROM person ORDER BY id")


@pytest.mark.parametrize("first", ["live", "old"])
def test_historical_and_live_model_of_one_table_keep_their_own_statements(
    project: Project, first: str
) -> None:
    write(project, "0002_both", "0001_initial", first)
    project.migrate()
    live, old = (f"{first}-live-saved", None), (f"{first}-old", "second")
    pair = [live, old] if first == "live" else [old, live]
    assert rows(project) == pair + pair


def test_no_historical_statements_are_left_in_the_cache(project: Project) -> None:
    write(project, "0002_both", "0001_initial", "old")
    project.migrate()
    leftovers = [key for key in EXECUTOR_CACHE if type(key[2]) is not str]
    assert leftovers == []


RELATED = models(
    model("Person", f"{ID}\n{NAME}"),
    model(
        "Pet",
        f'{ID}\n{NAME}\nowner = fields.ForeignKeyField("app.Person", related_name="pets")',
    ),
    model(
        "Club",
        f'{ID}\n{NAME}\nmembers = fields.ManyToManyField("app.Person", related_name="clubs")',
    ),
)

RELATED_MIGRATION = '''"""Query across relations of historical models."""

from tortoise_march_ext import migrations


async def forwards(apps):
    person = apps.get_model("app.Person")
    pet = apps.get_model("app.Pet")
    club = apps.get_model("app.Club")
    ann = await person.create(name="ann")
    await pet.create(name="rex", owner=ann)
    chess = await club.create(name="chess")
    await chess.members.add(ann)
    assert [p.name for p in await pet.filter(owner__name="ann")] == ["rex"]
    rex = await pet.get(name="rex").select_related("owner")
    assert rex.owner.name == "ann"
    [found] = await club.filter(members__name="ann").prefetch_related("members")
    assert [m.name for m in found.members] == ["ann"]


class Migration(migrations.Migration):
    dependencies = (("app", "0001_initial"),)

    operations = (migrations.RunPython(forwards),)
'''


def test_historical_models_join_across_relations(backend: Backend, tmp_path: Path) -> None:
    EXECUTOR_CACHE.clear()
    project = Project(tmp_path, backend)
    project.write_models({"app": RELATED})
    project.makemigrations()
    project.migrate()
    path = project.migrations / "app" / "0002_relations.py"
    path.write_text(RELATED_MIGRATION, encoding="utf-8")
    project.migrate()
    assert project.backend.execute(project.url, "SELECT name FROM pet") == [("rex",)]
    EXECUTOR_CACHE.clear()
