"""Add age to Person, and say hello (edited by hand)."""

import datetime

from tortoise_march_ext import migrations
from tortoise_march_ext.schema import fields


async def hello(apps):
    # a hand-written step that must survive the update
    Person = apps.get_model("app.Person")
    await Person.filter(age=None).update(age=1)


class Migration(migrations.Migration):
    dependencies = (("app", "0001_initial"),)

    operations = (
        # the column first
        migrations.AddField(
            model="Person",
            name="age",
            field=fields.IntField(null=True),
        ),
        migrations.RunPython(hello),  # then the data
        # new operations go after this line
        migrations.CreateModel(
            name="Pet",
            table="pet",
            fields=[
                ("id", fields.IntField(primary_key=True)),
                ("owner", fields.ForeignKeyField("app.Person")),
            ],
        ),
        migrations.AddField(
            model="Person",
            name="born",
            field=fields.DateField(default=datetime.date(2000, 1, 1)),
        ),
    )
