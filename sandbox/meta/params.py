"""Graph parameters: the query string, a JSON body or a form body, in any mix, as Graph reads them.

Meta's onboarding guide passes ``request_code`` and ``verify_code`` parameters in the query string while its
reference shows body fields; Graph accepts both, so every onboarding endpoint reads both (body wins).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.meta.errors import MetaError, required_param

_FORMS = {"application/x-www-form-urlencoded", "multipart/form-data"}


async def graph_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = {k: v for k, v in request.query.items() if k != "access_token"}
    if not request.can_read_body:
        return params
    if request.content_type == "application/json":
        raw = await request.read()
        if raw.strip():
            try:
                body = await request.json()
            except ValueError as exc:
                raise MetaError(100, "The request body is not valid JSON.") from exc
            if not isinstance(body, dict):
                raise MetaError(100, "The request body must be a JSON object.")
            params.update(body)
    elif request.content_type in _FORMS:
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def text(params: dict[str, Any], name: str) -> str | None:
    """A scalar parameter as text (a JSON body may give ``"cc": 57``); None when absent or empty."""
    value = params.get(name)
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        value = "true" if value else "false"
    return str(value).strip() or None


def required(params: dict[str, Any], name: str) -> str:
    value = text(params, name)
    if value is None:
        raise required_param(name)
    return value


def fields_of(params: dict[str, Any]) -> list[str] | None:
    """``fields=a,b{c}`` → ["a", "b"] (sub-selections are answered whole), or None for the default fields."""
    raw = text(params, "fields")
    if raw is None:
        return None
    names: list[str] = []
    depth, current = 0, ""
    for char in raw + ",":
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            if current.strip():
                names.append(current.strip())
            current = ""
        elif depth == 0:
            current += char
    return names
