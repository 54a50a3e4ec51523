"""Models of the example app, tracked through march.Meta."""

from tortoise import fields
from tortoise.models import Model

import tortoise_march_ext as march


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)

    class Meta(march.Meta):
        table = "company"


class Contact(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, db_index=True)
    email = fields.CharField(max_length=200, default="")
    company = fields.ForeignKeyField("contacts.Company", related_name="contacts", null=True)
    tags = fields.ManyToManyField("contacts.Tag", related_name="contacts")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta(march.Meta):
        table = "contact"
        unique_together = (("name", "email"),)


class Tag(Model):
    id = fields.IntField(primary_key=True)
    label = fields.CharField(max_length=50)

    class Meta(march.Meta):
        table = "tag"
