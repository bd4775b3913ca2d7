"""Phone numbers and WABAs as Graph objects: add a number, list a WABA's numbers, read either by id.

``POST /{waba_id}/phone_numbers`` {cc, phone_number, verified_name} → ``{"id"}`` (unverified);
``GET /{waba_id}/phone_numbers`` → ``{"data": [...], "paging": {"cursors": {"before", "after"}}}``;
``GET /{id}`` → the number's or WABA's fields (``fields=`` honoured; an unknown field is Graph's #100),
and for any other id the media object, whose route shares this path.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sandbox.meta.accounts import PhoneNumber, Waba, graph_time, split_number
from sandbox.meta.emulator_state import EMULATOR, Emulator
from sandbox.meta.errors import MetaError, invalid_param, nonexisting_field
from sandbox.meta.media import VERSION, retrieve_media
from sandbox.meta.objects import adopt_registry, publish, resolve_number, resolve_waba
from sandbox.meta.params import fields_of, graph_params, required, text

# Default fields: Meta's reference samples for GET /{phone_number_id} and GET /{waba_id}/phone_numbers.
NUMBER_DEFAULT = (
    "verified_name",
    "code_verification_status",
    "display_phone_number",
    "quality_rating",
    "platform_type",
    "throughput",
    "last_onboarded_time",
)
LIST_DEFAULT = (*NUMBER_DEFAULT, "webhook_configuration")
WABA_DEFAULT = ("name", "timezone_id", "message_template_namespace")


def add_phone_number_routes(app: web.Application) -> None:
    """Register before the media routes: ``GET /{version}/{id}`` is answered here first."""
    app.router.add_post(f"/{VERSION}/{{waba_id}}/phone_numbers", create_number)
    app.router.add_get(f"/{VERSION}/{{waba_id}}/phone_numbers", list_numbers)
    app.router.add_get(f"/{VERSION}/{{media_id}}", read_object)


def number_fields(emulator: Emulator, number: PhoneNumber) -> dict[str, Callable[[], Any]]:
    def webhook_configuration() -> dict[str, str]:
        config = {"application": emulator.settings.sandbox_webhook_url}
        override = emulator.accounts.override_for(number.waba_id)
        if override:
            config["whatsapp_business_account"] = override
        return config

    return {
        "id": lambda: number.id,
        "display_phone_number": lambda: number.display_phone_number,
        "verified_name": lambda: number.verified_name,
        "name_status": lambda: number.name_status,
        "code_verification_status": lambda: number.code_verification_status,
        "quality_rating": lambda: number.quality_rating,
        "platform_type": lambda: number.platform_type,
        "throughput": lambda: {"level": "STANDARD" if number.on_cloud_api else "NOT_APPLICABLE"},
        "status": lambda: number.status,
        "is_on_biz_app": lambda: number.is_on_biz_app,
        "account_mode": lambda: "LIVE",
        "is_official_business_account": lambda: False,
        "last_onboarded_time": lambda: graph_time(number.last_onboarded_time) if number.last_onboarded_time else None,
        "webhook_configuration": webhook_configuration,
    }


def waba_fields(waba: Waba) -> dict[str, Callable[[], Any]]:
    return {
        "id": lambda: waba.id,
        "name": lambda: waba.name,
        "timezone_id": lambda: "1",
        "message_template_namespace": lambda: "sandbox_" + waba.id,
        "currency": lambda: "USD",
        "account_review_status": lambda: "APPROVED",
        "owner_business_info": lambda: {"name": waba.name, "id": waba.owner_business_id},
    }


def select(
    available: dict[str, Callable[[], Any]], wanted: list[str] | None, default: tuple[str, ...], node: str
) -> dict[str, Any]:
    names = list(default if wanted is None else wanted)
    for name in names:
        if name not in available:
            raise nonexisting_field(name, node)
    answer = {name: available[name]() for name in names}
    answer["id"] = available["id"]()  # Graph always answers the id, last unless asked for
    return {k: v for k, v in answer.items() if v is not None}


async def read_object(request: web.Request) -> web.StreamResponse:
    emulator = request.app[EMULATOR]
    object_id = request.match_info["media_id"]
    adopt_registry(emulator)
    if object_id in emulator.accounts.numbers:
        number = resolve_number(request, emulator, object_id)
        wanted = fields_of(await graph_params(request))
        fields = number_fields(emulator, number)
        return web.json_response(select(fields, wanted, NUMBER_DEFAULT, "WhatsAppBusinessPhoneNumber"))
    if object_id in emulator.accounts.wabas:
        waba = resolve_waba(request, emulator, object_id)
        wanted = fields_of(await graph_params(request))
        fields = waba_fields(waba)
        return web.json_response(select(fields, wanted, WABA_DEFAULT, "WhatsAppBusinessAccount"))
    return await retrieve_media(request)


async def create_number(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    waba = resolve_waba(request, emulator, request.match_info["waba_id"])
    params = await graph_params(request)
    phone_number = required(params, "phone_number")
    verified_name = required(params, "verified_name")
    split = split_number(text(params, "cc") or "", phone_number)
    if split is None:
        raise invalid_param(f"Param phone_number is not a valid phone number: {phone_number}")
    emulator.faults.refuse_call("phone_numbers", waba.id)
    existing = emulator.accounts.number_by_digits("".join(split))
    if existing is not None:
        if existing.waba_id != waba.id:
            raise MetaError(
                100, message="(#100) This phone number is already added to another WhatsApp Business Account."
            )
        return web.json_response({"id": existing.id})  # a retried add names the same number
    number = emulator.accounts.add_number(waba, split[0], split[1], verified_name)
    publish(emulator, number)
    return web.json_response({"id": number.id})


def _cursor(object_id: str) -> str:
    return base64.urlsafe_b64encode(f"sandbox:{object_id}".encode()).decode().rstrip("=")


async def list_numbers(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    waba = resolve_waba(request, emulator, request.match_info["waba_id"])
    wanted = fields_of(await graph_params(request))
    node = "WhatsAppBusinessPhoneNumber"
    numbers = emulator.accounts.numbers_of(waba.id)
    data = [select(number_fields(emulator, n), wanted, LIST_DEFAULT, node) for n in numbers]
    answer: dict[str, Any] = {"data": data}
    if numbers:
        answer["paging"] = {"cursors": {"before": _cursor(numbers[0].id), "after": _cursor(numbers[-1].id)}}
    return web.json_response(answer)
