"""QR codes over REST: an onboarding's signup link (the client scans it to connect its number) and an active
number's customer QR (``wa.me``, for a shop window), as PNG or SVG. The operator's, or the owning client's."""

from __future__ import annotations

from aiohttp import web

from gateway import onboarding_reads as reads
from gateway import qr
from gateway.keys import POOL, SETTINGS
from gateway.onboarding_api import NO_STORE, onboarding_for
from gateway.operator import operator_or_client

routes = web.RouteTableDef()


@routes.get(r"/api/onboardings/{onboarding_id}/qr.{kind:png|svg}")
async def onboarding_qr(request: web.Request) -> web.Response:
    _, row = await onboarding_for(request)
    link = await reads.live_link(request.app[POOL], request.app[SETTINGS], row)
    if link is None or link.signup_url is None:
        raise web.HTTPNotFound(
            text="this onboarding has no live signup link: it is not waiting for a signup, or its link expired "
            f"(a new one: POST /api/onboardings/{row['id']}/link)"
        )
    return _qr(request.match_info["kind"], link.signup_url, NO_STORE)


@routes.get(r"/api/numbers/{phone_number_id}/qr.{kind:png|svg}")
async def customer_qr(request: web.Request) -> web.Response:
    caller = await operator_or_client(request)
    row = await request.app[POOL].fetchrow(
        "SELECT client_id, phone_number, status FROM directory_read.numbers WHERE phone_number_id = $1",
        request.match_info["phone_number_id"],
    )
    if row is None or not caller.may_see(row["client_id"]):
        raise web.HTTPNotFound(text="no such number")
    if row["status"] != "active":
        raise web.HTTPConflict(text=f"the number is {row['status']}: customers can reach it once it is active")
    text = request.query.get("text", "")
    if len(text) > 500:
        raise web.HTTPBadRequest(text="text is longer than 500 characters: a QR code of it would not scan")
    return _qr(request.match_info["kind"], qr.customer_link(row["phone_number"], text), {})


def _qr(kind: str, data: str, headers: dict[str, str]) -> web.Response:
    if kind == "png":
        return web.Response(body=qr.png(data), content_type="image/png", headers=headers)
    return web.Response(body=qr.svg(data), content_type="image/svg+xml", headers=headers)
