"""Squash 0002_person_age to 0006_pet_nick of app.

- Add field age to Person
- Run Python code forwards
- Alter field age on Person
- Create model Pet
"""

import datetime

from tortoise_march_ext import migrations
from tortoise_march_ext.schema import fields

SEED = "seed"


def _age() -> int:
    return datetime.date(2020, 1, 1).year - 1990


async def forwards(apps):
    # historical model: age is still an int here
    Person = apps.get_model("app.Person")
    await Person.create(name=SEED, age=_age())


async def backwards(apps):
    Person = apps.get_model("app.Person")
    await Person.filter(name=SEED).delete()


class Migration(migrations.Migration):
    dependencies = (("app", "0001_initial"),)

    replaces = (
        ("app", "0002_person_age"),
        ("app", "0003_backfill"),
        ("app", "0004_alter_person_age"),
        ("app", "0005_pet"),
        ("app", "0006_pet_nick"),
    )

    operations = (
        migrations.AddField(
            model="Person",
            name="age",
            field=fields.IntField(null=True),
        ),
        migrations.RunPython(forwards=forwards, backwards=backwards),
        migrations.AlterField(
            model="Person",
            name="age",
            field=fields.BigIntField(null=True),
        ),
        migrations.CreateModel(
            name="Pet",
            table="pet",
            fields=[
                ("id", fields.IntField(primary_key=True)),
                ("owner", fields.ForeignKeyField("app.Person", null=True)),
                ("nick", fields.CharField(max_length=20, null=True)),
            ],
        ),
    )
