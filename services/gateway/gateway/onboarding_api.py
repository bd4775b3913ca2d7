"""Connecting a number over REST (issue 8): register it, follow its onboarding, verify it by SMS or voice, renew
its signup link (its QR codes: gateway/qr_api.py).

Each call is the operator's (any client) or a client's (its own onboardings and numbers: another's answer 404).
Commands go to the directory (``number.register``, ``number.request_code``, ``number.verify_code``,
``number.renew_link``); the state is read back from ``directory_read``. The ids a 202 names (onboarding, signup
link) are chosen here, so its links work before the directory has run.
"""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp import web

from gateway import commands
from gateway import onboarding_reads as reads
from gateway.keys import POOL, SETTINGS
from gateway.onboarding_schema import (
    Accepted,
    CodeRequest,
    CodeVerification,
    LinkRenewed,
    NumberRegistration,
    OnboardingAccepted,
    SignupLink,
)
from gateway.operator import Caller, operator_or_client, path_id
from shared.contracts.directory import NumberRegister, NumberRenewLink, NumberRequestCode, NumberVerifyCode
from shared.phones import InvalidPhoneNumber, to_e164

routes = web.RouteTableDef()
NO_STORE = {"Cache-Control": "no-store"}  # a signup link opens the client's onboarding: never cached


@routes.post("/api/register-client-number")
async def register_number(request: web.Request) -> web.Response:
    caller = await operator_or_client(request)
    wanted = await commands.body(request, NumberRegistration)
    caller.require(wanted.client_id)
    settings, pool = request.app[SETTINGS], request.app[POOL]
    try:
        e164 = to_e164(wanted.phone_number)
    except InvalidPhoneNumber as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    if wanted.coexistence and wanted.method == "manual":
        raise web.HTTPBadRequest(text="a coexistence number is connected through Embedded Signup: use method signup")
    if not await pool.fetchval("SELECT true FROM directory_read.clients WHERE id = $1", wanted.client_id):
        raise web.HTTPNotFound(text="no such client")
    holder = await pool.fetchval(reads.HOLDER_SQL, e164)
    if holder is not None and holder != wanted.client_id:
        raise web.HTTPConflict(text=f"{e164} belongs to another client: a number is never reassigned")
    live = await pool.fetchrow(reads.LIVE_ONBOARDING_SQL, e164)
    if live is not None:
        return await _existing(request, live, wanted.client_id)
    if wanted.method == "signup":
        reads.require_link_secret(settings)
    onboarding_id = commands.chosen_id(request, NumberRegister.TYPE, wanted.client_id, e164)
    link = reads.new_link(settings, commands.chosen_id(request, "signup_link", onboarding_id))
    signup = wanted.method == "signup"
    command = NumberRegister(
        onboarding_id=onboarding_id,
        **wanted.model_dump(exclude={"phone_number"}),
        phone_number=e164,
        link_id=link.id if signup else None,
        link_expires_at=link.expires_at if signup else None,
    )
    await commands.publish(request, command, wanted.client_id, commands.chosen_id(request, "envelope", onboarding_id))
    # Answered once the directory has stored it (its link opens at once), else "submitted" after a few seconds.
    # A registration of the same number that won the race (two requests without an Idempotency-Key) is answered
    # as if it had been live before: the directory answered ours with it, or refused ours.
    kept = await reads.ours_or_live(pool, onboarding_id, e164)
    if kept is not None and kept["id"] != onboarding_id:
        return await _existing(request, kept, wanted.client_id)
    urls = reads.link_urls(settings, onboarding_id, link.id, link.expires_at) if signup else None
    answer = OnboardingAccepted(
        onboarding_id=onboarding_id,
        client_id=wanted.client_id,
        phone_number=e164,
        method=wanted.method,
        state=kept["state"] if kept is not None else "submitted",
        state_url=f"/api/onboardings/{onboarding_id}",
        **(urls.model_dump() if urls else {}),
    )
    return web.json_response(answer.model_dump(mode="json"), status=202, headers=NO_STORE)


async def _existing(request: web.Request, live: asyncpg.Record, client_id: uuid.UUID) -> web.Response:
    """A number's live onboarding: this client's, answered 200 with its link; another client's, 409."""
    if live["client_id"] != client_id:
        raise web.HTTPConflict(text=f"{live['phone_number']} is being connected by another client")
    link = await reads.live_link(request.app[POOL], request.app[SETTINGS], live)
    return _accepted(link, live, status=200)


def _accepted(link: SignupLink | None, row: asyncpg.Record, status: int) -> web.Response:
    answer = OnboardingAccepted(
        onboarding_id=row["id"],
        client_id=row["client_id"],
        phone_number=row["phone_number"],
        method=row["method"],
        state=row["state"],
        state_url=f"/api/onboardings/{row['id']}",
        **(link.model_dump() if link else {}),
    )
    return web.json_response(answer.model_dump(mode="json"), status=status, headers=NO_STORE)


async def onboarding_for(request: web.Request) -> tuple[Caller, asyncpg.Record]:
    caller = await operator_or_client(request)
    row = await request.app[POOL].fetchrow(reads.ONBOARDING_SQL, path_id(request, "onboarding_id", "onboarding"))
    if row is None or not caller.may_see(row["client_id"]):
        raise web.HTTPNotFound(text=reads.NOT_YET if row is None else "no such onboarding")
    return caller, row


@routes.get("/api/clients/{client_id}/onboardings")
async def client_onboardings(request: web.Request) -> web.Response:
    """The client's onboardings (what the dashboard's numbers view follows): in progress, and the last month's."""
    caller = await operator_or_client(request)
    client_id = path_id(request, "client_id", "client")
    caller.require(client_id)
    pool, settings = request.app[POOL], request.app[SETTINGS]
    rows = await pool.fetch(reads.CLIENT_ONBOARDINGS_SQL, client_id, 50)
    listed = [reads.onboarding(row, await reads.live_link(pool, settings, row)) for row in rows]
    return web.json_response({"onboardings": [o.model_dump(mode="json") for o in listed]}, headers=NO_STORE)


@routes.get("/api/onboardings/{onboarding_id}")
async def read_onboarding(request: web.Request) -> web.Response:
    _, row = await onboarding_for(request)
    link = await reads.live_link(request.app[POOL], request.app[SETTINGS], row)
    return web.json_response(reads.onboarding(row, link).model_dump(mode="json"), headers=NO_STORE)


@routes.post("/api/onboardings/{onboarding_id}/request-code")
async def request_code(request: web.Request) -> web.Response:
    _, row = await onboarding_for(request)
    wanted = await commands.body(request, CodeRequest)
    _manual(row)
    command = NumberRequestCode(onboarding_id=row["id"], code_method=wanted.method, language=wanted.language)
    return await _send(request, command, row)


@routes.post("/api/onboardings/{onboarding_id}/verify")
async def verify_code(request: web.Request) -> web.Response:
    _, row = await onboarding_for(request)
    wanted = await commands.body(request, CodeVerification)
    _manual(row)
    return await _send(request, NumberVerifyCode(onboarding_id=row["id"], code=wanted.code), row)


@routes.post("/api/onboardings/{onboarding_id}/link")
async def renew_link(request: web.Request) -> web.Response:
    _, row = await onboarding_for(request)
    settings = request.app[SETTINGS]
    if row["method"] != "signup" or not reads.waits_for_signup(row):
        raise web.HTTPConflict(text=f"this onboarding is not waiting for a signup (it is {row['state']})")
    reads.require_link_secret(settings)
    link = reads.new_link(settings, commands.chosen_id(request, "signup_link.renew", row["id"]))
    command = NumberRenewLink(onboarding_id=row["id"], link_id=link.id, expires_at=link.expires_at)
    command_id = commands.chosen_id(request, NumberRenewLink.TYPE, row["id"])
    await commands.publish(request, command, row["client_id"], command_id)
    urls = reads.link_urls(settings, row["id"], link.id, link.expires_at)
    answer = LinkRenewed(command_id=command_id, client_id=row["client_id"], **urls.model_dump())
    return web.json_response(answer.model_dump(mode="json"), status=202, headers=NO_STORE)


def _manual(row: asyncpg.Record) -> None:
    if row["method"] != "manual":
        raise web.HTTPConflict(text="this onboarding goes through Embedded Signup: the client accepts on Meta's page")
    if row["state"] == "failed":
        raise web.HTTPConflict(text="the onboarding failed: register the number again")


async def _send(
    request: web.Request, command: NumberRequestCode | NumberVerifyCode, row: asyncpg.Record
) -> web.Response:
    command_id = commands.chosen_id(request, command.TYPE, row["id"])
    await commands.publish(request, command, row["client_id"], command_id)
    accepted = Accepted(command_id=command_id, client_id=row["client_id"])
    return web.json_response(accepted.model_dump(mode="json"), status=202)
