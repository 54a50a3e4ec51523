"""A plain asyncio script: initialise Tortoise, apply pending migrations, use the models.

Run it from this folder:  python run_script.py
"""

import asyncio

from contacts.models import Company, Contact
from settings import TORTOISE_ORM
from tortoise import Tortoise

import tortoise_march_ext as march


async def main() -> None:
    await Tortoise.init(config=TORTOISE_ORM)
    try:
        report = await march.ensure_migrated()
        print(f"applied {len(report.applied)} migration(s): {', '.join(report.applied) or '-'}")
        company, _ = await Company.get_or_create(name="Acme")
        await Contact.get_or_create(name="Ada", email="ada@example.com", company=company)
        print(f"{await Contact.all().count()} contact(s) at {company.name}")
    finally:
        await Tortoise.close_connections()


if __name__ == "__main__":
    asyncio.run(main())
