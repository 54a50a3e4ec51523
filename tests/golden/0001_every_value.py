"""Create model Everything, and more.

- Create model Everything
- Add field parent to Everything
- Raw SQL operation
"""

import datetime
import decimal
import uuid

from tortoise_march_ext import migrations
from tortoise_march_ext.schema import fields


class Migration(migrations.Migration):
    initial = True

    dependencies = ()

    operations = (
        migrations.CreateModel(
            name="Everything",
            table="everything",
            fields=[
                ("id", fields.BigIntField(primary_key=True)),
                (
                    "text",
                    fields.JSONField(
                        null=True,
                        default='it\'s "quoted"\nnew line\\ and tab\t',
                    ),
                ),
                ("number", fields.JSONField(null=True, default=-3)),
                ("ratio", fields.JSONField(null=True, default=2.5)),
                ("flag", fields.JSONField(null=True, default=True)),
                (
                    "money",
                    fields.JSONField(null=True, default=decimal.Decimal("12.50")),
                ),
                ("whole", fields.JSONField(null=True, default=decimal.Decimal(7))),
                (
                    "day",
                    fields.JSONField(null=True, default=datetime.date(2024, 2, 29)),
                ),
                (
                    "moment",
                    fields.JSONField(
                        null=True,
                        default=datetime.datetime.fromisoformat(
                            "2024-02-29T12:30:05.000007+00:00",
                        ),
                    ),
                ),
                (
                    "naive",
                    fields.JSONField(
                        null=True,
                        default=datetime.datetime.fromisoformat("2024-01-01T00:00:00"),
                    ),
                ),
                (
                    "clock",
                    fields.JSONField(null=True, default=datetime.time(8, 15, 0, 250)),
                ),
                (
                    "span",
                    fields.JSONField(
                        null=True,
                        default=datetime.timedelta(days=2, seconds=5, microseconds=3),
                    ),
                ),
                (
                    "uid",
                    fields.JSONField(
                        null=True,
                        default=uuid.UUID("12345678-1234-5678-1234-567812345678"),
                    ),
                ),
                (
                    "payload",
                    fields.JSONField(
                        null=True,
                        default={"a": [1, None, False], "b": {"nested": ("x",)}},
                    ),
                ),
                ("raw", fields.JSONField(null=True, default=b"\x00\xffbytes\"'")),
            ],
            indexes=[
                fields.Index(
                    fields=["flag", "day"],
                    name="every_idx",
                    index_type="BTREE",
                ),
            ],
            unique_together=[("text", "number")],
            constraints=[
                fields.CheckConstraint(check="number > -10", name="number_check"),
                fields.UniqueConstraint(
                    fields=["uid"],
                    name="uid_uniq",
                    condition="flag",
                ),
            ],
            description="All the values",
        ),
        migrations.AddField(
            model="Everything",
            name="parent",
            field=fields.ForeignKeyField(
                "app.Everything",
                null=True,
                db_default=fields.Now(),
                on_delete="SET NULL",
            ),
        ),
        migrations.RunSQL(sql=["SELECT 1", "SELECT 2"], reverse_sql="SELECT 3"),
    )
