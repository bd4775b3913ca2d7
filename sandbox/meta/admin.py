"""Sandbox controls under ``/_sandbox/``: faults, the outbox, the number registry, mark-as-read calls.

They have no authentication: the sandbox listens on loopback and exists for tests and local runs.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from sandbox.admin_io import bad_request, parse_since, read_model
from sandbox.meta.customer import customer_message
from sandbox.meta.emulator_state import EMULATOR
from sandbox.meta.errors import MetaError
from sandbox.meta.faults import FaultRequest
from sandbox.meta.ids import placeholder_waba_id
from sandbox.meta.state import BusinessNumber
from sandbox.meta.validation import wa_id_of


class NumberRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone_number_id: str = Field(min_length=1)
    display_phone_number: str = Field(min_length=1)
    waba_id: str | None = None


def add_admin_routes(app: web.Application) -> None:
    app.router.add_post("/_sandbox/faults", add_fault)
    app.router.add_get("/_sandbox/faults", list_faults)
    app.router.add_delete("/_sandbox/faults", clear_faults)
    app.router.add_get("/_sandbox/outbox", list_outbox)
    app.router.add_delete("/_sandbox/outbox", clear_outbox)
    app.router.add_post("/_sandbox/numbers", register_number)
    app.router.add_get("/_sandbox/numbers", list_numbers)
    app.router.add_get("/_sandbox/reads", list_reads)
    app.router.add_post("/_sandbox/customer_message", customer_message)


async def add_fault(request: web.Request) -> web.Response:
    fault_request = await read_model(request, FaultRequest)
    if fault_request.to is not None:
        # Sends are matched on the normalised wa_id, so "+57 300…" and "57300…" name the same customer.
        try:
            fault_request = fault_request.model_copy(update={"to": wa_id_of(fault_request.to)})
        except MetaError as exc:
            raise bad_request(exc.details) from exc
    fault = request.app[EMULATOR].faults.add(fault_request)
    return web.json_response(fault.to_json(), status=201)


async def list_faults(request: web.Request) -> web.Response:
    return web.json_response([f.to_json() for f in request.app[EMULATOR].faults.pending()])


async def clear_faults(request: web.Request) -> web.Response:
    request.app[EMULATOR].faults.clear()
    return web.Response(status=204)


async def list_outbox(request: web.Request) -> web.Response:
    query = request.query
    to = query.get("to")
    try:
        wa_id = wa_id_of(to) if to else None
    except MetaError as exc:
        raise bad_request(exc.details) from exc
    entries = request.app[EMULATOR].outbox.select(
        phone_number_id=query.get("phone_number_id") or None, to=wa_id, since=parse_since(query.get("since"))
    )
    return web.json_response([e.to_json() for e in entries])


async def clear_outbox(request: web.Request) -> web.Response:
    request.app[EMULATOR].outbox.clear()
    return web.Response(status=204)


async def register_number(request: web.Request) -> web.Response:
    body = await read_model(request, NumberRequest)
    waba_id = body.waba_id or placeholder_waba_id(body.phone_number_id)
    number = BusinessNumber(body.phone_number_id, body.display_phone_number, waba_id)
    request.app[EMULATOR].numbers.register(number)
    return web.json_response(number.to_json(), status=201)


async def list_numbers(request: web.Request) -> web.Response:
    return web.json_response([n.to_json() for n in request.app[EMULATOR].numbers.all()])


async def list_reads(request: web.Request) -> web.Response:
    phone_number_id = request.query.get("phone_number_id")
    marks = [r for r in request.app[EMULATOR].reads if phone_number_id in (None, r.phone_number_id)]
    return web.json_response([r.to_json() for r in marks])
