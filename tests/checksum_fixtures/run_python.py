"""Copy the contact names into the new column; a data migration with a function."""

from __future__ import annotations

from typing import Any

from tortoise_march_ext import migrations


async def forwards(apps: Any, connection: Any) -> None:
    """Fill ``display`` from ``first`` and ``last``.

    Rows without a last name keep the first name only.
    """
    contact = apps.get_model("contacts.Contact")
    async for row in contact.all():  # every row, in batches
        label = f"{row.first} {row.last!s:>{10}}" if row.last else f'{row.first=}'
        row.display = label.strip() or None
        await row.save(update_fields=["display"])


async def backwards(apps: Any, connection: Any) -> None:
    """Nothing to undo: the column is dropped by the previous step."""


def pick(value: int, *rest: int, **named: str) -> int | None:
    match value:
        case 0 | 1:
            return None
        case [first, *_]:
            return first
        case {"k": v} if v:
            return v
        case Point(x=0):
            pass
    while (n := value) > 10:
        value -= n // 2
    try:
        assert value, "value must be set"
    except ValueError:
        raise
    finally:
        del rest
    return lambda x=1: x + value  # type: ignore[return-value]


class Migration(migrations.Migration):
    dependencies = (("contacts", "0002_contact_display"),)

    atomic = False

    operations = (
        migrations.RunPython(forwards, backwards),
        migrations.RunSQL("UPDATE contact SET display = ''", reverse_sql=migrations.RunSQL.noop),
    )
