"""Create model Company, and more.

- Create model Company
- Create model Tag
- Create model Contact
"""

from tortoise_march_ext import migrations
from tortoise_march_ext.schema import fields


class Migration(migrations.Migration):
    initial = True

    dependencies = ()

    operations = (
        migrations.CreateModel(
            name="Company",
            table="company",
            fields=[
                ("id", fields.IntField(primary_key=True)),
                ("name", fields.CharField(max_length=100, unique=True)),
            ],
        ),
        migrations.CreateModel(
            name="Tag",
            table="tag",
            fields=[
                ("id", fields.IntField(primary_key=True)),
                ("label", fields.CharField(max_length=50)),
            ],
        ),
        migrations.CreateModel(
            name="Contact",
            table="contact",
            fields=[
                ("id", fields.IntField(primary_key=True)),
                ("name", fields.CharField(max_length=100, db_index=True)),
                ("email", fields.CharField(max_length=200, default="")),
                ("created_at", fields.DatetimeField(auto_now_add=True)),
                ("company", fields.ForeignKeyField("contacts.Company", null=True)),
                (
                    "tags",
                    fields.ManyToManyField(
                        "contacts.Tag",
                        through="contact_tag",
                        forward_key="tag_id",
                        backward_key="contact_id",
                    ),
                ),
            ],
            unique_together=[("name", "email")],
        ),
    )
