"""Validation of ``POST /{version}/{phone_number_id}/messages`` bodies, failing the way Meta fails.

Missing fields are 131008 ("Required parameter is missing"), malformed ones 100 ("Invalid parameter"),
except ``messaging_product``, which Graph itself checks and reports as 100 before WhatsApp sees the call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sandbox.meta.errors import MetaError

MAX_TEXT_BODY = 4096  # Meta's limit on text.body, in characters
_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-]*$")
_MEDIA = {"image", "audio", "video", "document", "sticker"}
_OBJECTS = {"interactive", "location", "reaction"}
_TYPES = {"text", "template", "contacts", *_MEDIA, *_OBJECTS}


@dataclass(frozen=True)
class SendRequest:
    to: str
    wa_id: str
    type: str
    text: str | None


@dataclass(frozen=True)
class ReadRequest:
    message_id: str
    typing_indicator: bool


def wa_id_of(to: str) -> str:
    """Meta answers ``contacts[].wa_id`` with the digits of the number it was given."""
    if not _PHONE.match(to):
        raise MetaError(100, "Param to must be a valid WhatsApp phone number.")
    digits = re.sub(r"\D", "", to)
    if not 1 <= len(digits) <= 15:  # E.164 allows at most 15 digits
        raise MetaError(100, "Param to must be a valid WhatsApp phone number.")
    return digits


def _missing(param: str) -> MetaError:
    return MetaError(131008, f"The parameter {param} is required.")


def _invalid(details: str) -> MetaError:
    return MetaError(100, details)


def parse_messages_body(body: Any) -> SendRequest | ReadRequest:
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    product = body.get("messaging_product")
    if product is None:
        detail = "The parameter messaging_product is required."
        raise MetaError(100, detail, message=f"(#100) {detail}")
    if product != "whatsapp":
        raise _invalid(f'Param messaging_product must be one of {{WHATSAPP}} - got "{product}".')
    if "status" in body:
        return _parse_read(body)
    return _parse_send(body)


def _parse_read(body: dict[str, Any]) -> ReadRequest:
    if body["status"] != "read":
        raise _invalid(f'Param status must be one of {{READ}} - got "{body["status"]}".')
    message_id = body.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise _missing("message_id")
    typing = body.get("typing_indicator")
    if typing is not None and not (isinstance(typing, dict) and typing.get("type") == "text"):
        raise _invalid("Param typing_indicator['type'] must be one of {TEXT}.")
    return ReadRequest(message_id, typing is not None)


def _parse_send(body: dict[str, Any]) -> SendRequest:
    recipient_type = body.get("recipient_type", "individual")
    if recipient_type not in ("individual", "group"):
        raise _invalid("Param recipient_type must be one of {INDIVIDUAL, GROUP}.")
    to = body.get("to")
    if to is None or to == "":
        raise _missing("to")
    if not isinstance(to, str):
        raise _invalid("Param to must be a string.")
    wa_id = wa_id_of(to)
    kind = body.get("type", "text")  # Meta defaults a missing type to text
    if kind not in _TYPES:
        raise _invalid(f"Param type must be one of {{{', '.join(sorted(t.upper() for t in _TYPES))}}}.")
    context = body.get("context")
    if context is not None and not (isinstance(context, dict) and isinstance(context.get("message_id"), str)):
        raise _invalid("Param context['message_id'] must be a string.")
    text = _check_object(kind, body.get(kind))
    return SendRequest(to, wa_id, kind, text)


def _check_object(kind: str, obj: Any) -> str | None:
    """Check the object named after the type; return the text body for text messages."""
    if obj is None:
        raise _missing(kind)
    if kind == "contacts":
        if not isinstance(obj, list) or not obj:
            raise _invalid("Param contacts must be a non-empty array.")
        return None
    if not isinstance(obj, dict):
        raise _invalid(f"Param {kind} must be a JSON object.")
    if kind == "text":
        text = obj.get("body")
        if text is None:
            raise _missing("text['body']")
        if not isinstance(text, str) or not text.strip():
            raise _invalid("Param text['body'] must be a non-empty string.")
        if len(text) > MAX_TEXT_BODY:
            raise _invalid(f"Param text['body'] must be at most {MAX_TEXT_BODY} characters long.")
        if not isinstance(obj.get("preview_url", False), bool):
            raise _invalid("Param text['preview_url'] must be a boolean.")
        return text
    if kind == "template":
        if not isinstance(obj.get("name"), str) or not obj["name"]:
            raise _missing("template['name']")
        language = obj.get("language")
        if not isinstance(language, dict) or not isinstance(language.get("code"), str) or not language["code"]:
            raise _missing("template['language']['code']")
        if not isinstance(obj.get("components", []), list):
            raise _invalid("Param template['components'] must be an array.")
    elif kind in _MEDIA and not (obj.get("id") or obj.get("link")):
        raise _missing(f"{kind}['id'] or {kind}['link']")
    return None
