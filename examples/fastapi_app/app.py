"""A FastAPI app that applies its pending migrations at start-up.

Run it from this folder (SQLite next to this file, or DATABASE_URL):

    uvicorn app:app            # or with --workers 4: one worker migrates, the others wait

Then ``curl localhost:8000/contacts`` and
``curl -X POST localhost:8000/contacts -H 'content-type: application/json' -d '{"name": "Ada"}'``.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from contacts.models import Company, Contact
from fastapi import FastAPI
from pydantic import BaseModel
from settings import TORTOISE_ORM
from tortoise.contrib.fastapi import RegisterTortoise

import tortoise_march_ext as march


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with RegisterTortoise(app, config=TORTOISE_ORM):
        await march.ensure_migrated()
        yield


app = FastAPI(title="contacts", lifespan=lifespan)


class ContactIn(BaseModel):
    name: str
    email: str = ""
    company: str | None = None


class ContactOut(BaseModel):
    id: int
    name: str
    email: str
    company: str | None


async def _out(contact: Contact) -> ContactOut:
    company = await contact.company
    return ContactOut(
        id=contact.id,
        name=contact.name,
        email=contact.email,
        company=company.name if company else None,
    )


@app.get("/contacts")
async def list_contacts() -> list[ContactOut]:
    contacts = await Contact.all().order_by("id").prefetch_related("company")
    return [await _out(contact) for contact in contacts]


@app.post("/contacts", status_code=201)
async def create_contact(data: ContactIn) -> ContactOut:
    company = None
    if data.company:
        company, _ = await Company.get_or_create(name=data.company)
    contact = await Contact.create(name=data.name, email=data.email, company=company)
    return await _out(contact)
