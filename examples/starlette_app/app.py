"""A Starlette app whose lifespan is ``march.lifespan()``: Tortoise.init, migrate, close.

Run it from this folder (SQLite next to this file, or DATABASE_URL):

    uvicorn app:app            # or with --workers 4: one worker migrates, the others wait

Then ``curl localhost:8000/contacts`` and
``curl -X POST localhost:8000/contacts -H 'content-type: application/json' -d '{"name": "Ada"}'``.
"""

from typing import Any

from contacts.models import Company, Contact
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import tortoise_march_ext as march


async def _out(contact: Contact) -> dict[str, Any]:
    company = await contact.company
    return {
        "id": contact.id,
        "name": contact.name,
        "email": contact.email,
        "company": company.name if company else None,
    }


async def list_contacts(request: Request) -> JSONResponse:
    contacts = await Contact.all().order_by("id").prefetch_related("company")
    return JSONResponse([await _out(contact) for contact in contacts])


async def create_contact(request: Request) -> JSONResponse:
    data = await request.json()
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return JSONResponse({"detail": "send a JSON object with a string 'name'"}, 422)
    company = None
    if data.get("company"):
        company, _ = await Company.get_or_create(name=str(data["company"]))
    contact = await Contact.create(
        name=data["name"], email=str(data.get("email", "")), company=company
    )
    return JSONResponse(await _out(contact), status_code=201)


app = Starlette(
    routes=[
        Route("/contacts", list_contacts, methods=["GET"]),
        Route("/contacts", create_contact, methods=["POST"]),
    ],
    lifespan=march.lifespan(),
)
