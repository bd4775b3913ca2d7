"""``GET /api/openapi.json``: every ``/api`` route of the gateway as OpenAPI 3.1, its bodies' schemas generated from
the pydantic models the handlers validate with (gateway/onboarding_schema.py).

``OPERATIONS`` is the one list; ``services/gateway/tests/integration/test_onboarding_api.py`` holds it to the
app's router both ways (every route documented, every documented route served).

Over 200 lines on purpose: the one list of every /api operation, which reads best whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from gateway import conversation_schema as conversations
from gateway import onboarding_schema as s
from gateway import personality_api as personality

routes = web.RouteTableDef()
Security = list[dict[str, list[str]]]
_OPERATOR: Security = [{"operator": []}]
_CLIENT: Security = [{"client": []}]
_EITHER = [*_OPERATOR, *_CLIENT]
_IMAGE: dict[str, Any] = {"image/png": {}, "image/svg+xml": {}}
_JSON_ANY: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
_NOT_YET = "No such onboarding for this caller. Right after the 202 of a registration this is the answer for a "
_NOT_YET += "moment (the directory stores the onboarding within about a second): retry; the 202 itself names it."
_LIMIT = ("limit", "integer", "Page size, 1..200")
_BEFORE = ("before", "string", "The previous page's next_before: the page before it (older); absent: the newest page")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    security: Security
    request: type[BaseModel] | None = None
    ok: int = 200
    answer: type[BaseModel] | None = None
    content: dict[str, Any] | None = None  # instead of ``answer``: images, free-form JSON
    errors: tuple[int, ...] = (401, 404)
    notes: str = ""
    query: tuple[tuple[str, str, str], ...] = ()  # (name, JSON Schema type, description) of each query parameter


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "post",
        "/api/clients",
        "Create a client; its API key is in the answer, once",
        _OPERATOR,
        s.NewClient,
        201,
        s.ClientCreatedAnswer,
        errors=(400, 401, 403, 409, 503),
        notes="201 once the directory has stored the client (usually milliseconds); 202 with the same body when it "
        "has not within 5 s: GET /api/clients/{client_id} shows it shortly.",
    ),
    Operation("get", "/api/clients/{client_id}", "A client's profile", _EITHER, content=_JSON_ANY),
    Operation(
        "patch",
        "/api/clients/{client_id}",
        "Change a client (only the fields given)",
        _EITHER,
        s.ClientChanges,
        202,
        s.Accepted,
        errors=(400, 401, 403, 404, 503),
        notes="A client's key may change name, personality, language and timezone; quota_policy and free_quota are "
        "the operator's (403 with a client's key).",
    ),
    Operation("get", "/api/clients/{client_id}/stats", "Numbers and this month's usage", _CLIENT, content=_JSON_ANY),
    Operation(
        "get",
        "/api/clients/{client_id}/usage",
        "The month's free conversations per number, its alerts, and usage per day (?days=1..90, default 30)",
        _CLIENT,
        content=_JSON_ANY,
        errors=(400, 401, 404),
        notes="month, days and dates are in the client's timezone (its profile's timezone): daily has one entry per "
        "day from days-1 days ago to today, zeros included. A number's alert is 'warning' from 80 % of its free "
        "conversations used and 'exhausted' at 100 % (percent_used rounded down); the top-level alert is the worst. "
        "what_next says what happens at 100 % under the client's quota_policy: 'counted_as_paid' (count_paid: the AI "
        "keeps answering, new conversations are paid) or 'ai_paused' (pause_ai: the AI opens no new conversation).",
    ),
    Operation(
        "get",
        "/api/clients/{client_id}/conversations",
        "Conversations, newest first: the number each is on, the customer's last message as its preview",
        _CLIENT,
        answer=conversations.ConversationsPage,
        errors=(400, 401, 404),
        notes="Pages backwards in time: pass next_before as before for the next (older) page; next_before is null "
        "on the last page. q finds customers by name (anywhere in it, any case) or, when it reads as a phone "
        "number, by digits anywhere in their number (with or without +).",
        query=(("q", "string", "A customer's name or number (up to 100 characters)"), _LIMIT, _BEFORE),
    ),
    Operation(
        "get",
        "/api/clients/{client_id}/conversations/{phone_number_id}/{wa_id}/messages",
        "One conversation's messages: the newest page, oldest first within it",
        _CLIENT,
        answer=conversations.MessagesPage,
        errors=(400, 401, 404),
        notes="Each message has its type's own fields (media with kind and the media proxy's url, location, "
        "reaction, interactive, template, contacts), its author (customer; ai: the AI's reply; crm: any other "
        "message.send; person: sent from the WhatsApp Business app) and, outbound, Meta's furthest status. "
        "before/next_before page to older messages. 404: no such conversation for this client.",
        query=(_LIMIT, _BEFORE),
    ),
    Operation(
        "get",
        "/api/clients/{client_id}/media/{media_id}",
        "A customer's media, fetched from Meta",
        _CLIENT,
        content={"*/*": {}},
        errors=(401, 404, 502),
    ),
    Operation(
        "post",
        "/api/register-client-number",
        "Start connecting a number (200: its live onboarding)",
        _EITHER,
        s.NumberRegistration,
        202,
        s.OnboardingAccepted,
        errors=(400, 401, 404, 409, 503),
        notes="202 once the directory has stored the onboarding (state pending), or 'submitted' when it has not "
        "within 5 s; 200: this client's live onboarding of the number (also when a concurrent registration of it "
        "won); 400: a number that cannot exist; 409: the number belongs to, or is being connected by, another client.",
    ),
    Operation(
        "get",
        "/api/onboardings/{onboarding_id}",
        "An onboarding's state, step and last error",
        _EITHER,
        answer=s.Onboarding,
        notes=_NOT_YET,
    ),
    Operation(
        "get",
        "/api/onboardings/{onboarding_id}/qr.{kind}",
        "The signup link as a QR code (kind: png, svg)",
        _EITHER,
        content=_IMAGE,
    ),
    Operation(
        "post",
        "/api/onboardings/{onboarding_id}/request-code",
        "Have Meta send the code (manual method)",
        _EITHER,
        s.CodeRequest,
        202,
        s.Accepted,
        errors=(400, 401, 404, 409, 503),
    ),
    Operation(
        "post",
        "/api/onboardings/{onboarding_id}/verify",
        "Verify the number with Meta's 6-digit code",
        _EITHER,
        s.CodeVerification,
        202,
        s.Accepted,
        errors=(400, 401, 404, 409, 503),
    ),
    Operation(
        "post",
        "/api/onboardings/{onboarding_id}/link",
        "A new signup link (the old one is revoked)",
        _EITHER,
        None,
        202,
        s.LinkRenewed,
        errors=(401, 404, 409, 503),
    ),
    Operation(
        "get",
        "/api/numbers/{phone_number_id}/qr.{kind}",
        "The customer QR of an active number (wa.me, ?text= pre-filled; kind: png, svg)",
        _EITHER,
        content=_IMAGE,
        errors=(400, 401, 404, 409),
    ),
    Operation(
        "get",
        "/api/clients/{client_id}/onboardings",
        "The client's onboardings: those in progress and the last 30 days' finished or failed ones, newest first",
        _EITHER,
        content=_JSON_ANY,
    ),
    Operation(
        "get",
        "/api/clients/{client_id}/personality",
        "The client's personality now, with its saved versions (newest first, up to 50)",
        _EITHER,
        content=_JSON_ANY,
    ),
    Operation(
        "put",
        "/api/clients/{client_id}/personality",
        "Save the personality form as the next version (who saved it is kept)",
        _EITHER,
        personality.PersonalitySave,
        202,
        s.Accepted,
        errors=(400, 401, 404, 503),
    ),
    Operation(
        "post",
        "/api/clients/{client_id}/personality/try",
        "The reply the AI would write to a sample message, with the saved personality or a draft: nothing is sent",
        _EITHER,
        personality.PersonalityTry,
        200,
        personality.TryAnswer,
        errors=(400, 401, 404, 429, 502, 503),
        notes="The ai-worker's own prompt and model; nothing reaches WhatsApp and nothing is counted. A few tries a "
        "minute per client (WAMUX_PERSONALITY_TRIES_PER_MINUTE), then 429 with Retry-After.",
    ),
    Operation("get", "/api/openapi.json", "This document", [], content=_JSON_ANY, errors=()),
)
_ERRORS = {
    400: "Invalid input, said in plain words",
    401: "Missing or unknown key",
    403: "Needs the operator key",
    404: "Not found, or another client's",
    409: "Conflicts with the current state",
    429: "Too many wrong keys",
    502: "Meta failed",
    503: "Broker unavailable (nothing done: retry), or the operator API or links disabled",
}


def _operation(op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    def ref(model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}

    params = [p.split("}")[0] for p in op.path.split("{")[1:]]
    document: dict[str, Any] = {
        "summary": op.summary,
        "security": op.security,
        "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params]
        + [{"name": n, "in": "query", "schema": {"type": t}, "description": d} for n, t, d in op.query],
        "responses": {str(op.ok): {"description": "OK", "content": ref(op.answer) if op.answer else op.content or {}}},
    }
    if op.notes:
        document["description"] = op.notes
    if op.request is not None:
        document["requestBody"] = {"required": True, "content": ref(op.request)}
    if op.method in ("post", "patch"):
        document["parameters"].append({"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}})
    for code in (*op.errors, *((429,) if op.security else ())):
        document["responses"][str(code)] = {"description": _ERRORS[code], "content": {"text/plain": {}}}
    return document


def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, schemas)
    bearer = {"type": "http", "scheme": "bearer"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "wamux gateway", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "operator": {**bearer, "description": "WAMUX_OPERATOR_API_KEY: acts for any client"},
                "client": {**bearer, "description": "A client's API key: its own data only"},
            },
        },
    }


@routes.get("/api/openapi.json")
async def openapi(_: web.Request) -> web.Response:
    return web.json_response(document())
