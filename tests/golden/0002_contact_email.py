"""Add field email to Contact."""

from tortoise_march_ext import migrations
from tortoise_march_ext.schema import fields


class Migration(migrations.Migration):
    dependencies = (("contacts", "0001_initial"), ("other", "0003_more"))

    operations = (
        migrations.AddField(
            model="Contact",
            name="email",
            field=fields.CharField(max_length=100, default=""),
        ),
    )
