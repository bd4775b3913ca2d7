"""Meta's onboarding calls, one method per Graph call, for the directory to connect a client's number.

The manual path: ``add_phone_number`` → ``request_code`` → ``verify_code`` → ``register``. Embedded Signup:
``exchange_code`` → ``subscribe_app`` → ``override_callback`` (a second call: overriding before subscribing is
Meta's #100) → ``register`` unless the number is a coexistence one → ``phone_number`` read back. A coexistence
number then asks for its contacts and its history with ``smb_app_data`` (within 24 h of onboarding, each once).
Each call takes an optional ``token`` (the client's business token) used instead of the system-user token.
Tokens, the app secret, the PIN and the verification code are never put in an error or a URL. Errors are
:mod:`shared.graph.errors`' types.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal, get_args

import aiohttp
from pydantic import SecretStr, ValidationError

from shared.graph.client import GraphClient
from shared.graph.errors import (
    AppCredentialsRejected,
    GraphError,
    InvalidRequest,
    TransientGraphError,
    sync_error,
)
from shared.graph.phone_numbers import NUMBER_FIELDS, BusinessToken, PhoneNumberInfo, SubscribedApp
from shared.settings import GraphSettings

_GRAPH_ID = re.compile(r"^[0-9]{1,64}$")
_SIX_DIGITS = re.compile(r"^[0-9]{6}$")
_MAX_PAGES = 20

SyncType = Literal["smb_app_state_sync", "history"]


def graph_id(value: str, what: str) -> str:
    """An id put in a URL path: only digits, so nothing a caller passes can reach another Graph path."""
    if not _GRAPH_ID.match(value):
        raise InvalidRequest(f"{what} {value[:40]!r} is not a Graph id (digits only)")
    return value


def _bearer(token: SecretStr | None) -> dict[str, str] | None:
    return None if token is None else {"Authorization": f"Bearer {token.get_secret_value()}"}


def _succeeded(answer: Any, what: str) -> None:
    if not (isinstance(answer, dict) and answer.get("success") is True):
        raise GraphError(f"{what}: Meta answered without success: {str(answer)[:200]}")


class OnboardingGraph(GraphClient):
    async def add_phone_number(
        self, waba_id: str, cc: str, phone_number: str, verified_name: str, *, token: SecretStr | None = None
    ) -> str:
        """Add a number to a WABA (unverified); return its phone_number_id. ``phone_number`` is the national
        number; Meta's guide and reference disagree on whether it may carry the cc, so all three are sent."""
        body = {"cc": cc, "phone_number": phone_number, "verified_name": verified_name}
        answer = await self._call("POST", f"{graph_id(waba_id, 'WABA')}/phone_numbers", _bearer(token), json=body)
        if not isinstance(answer, dict) or not answer.get("id"):
            raise GraphError(f"add phone number answer without an id: {str(answer)[:200]}")
        return str(answer["id"])

    async def request_code(
        self, phone_number_id: str, method: str = "SMS", language: str = "en_US", *, token: SecretStr | None = None
    ) -> None:
        """Meta texts or calls the number a 6-digit code. In the query string, as Meta's guide passes it."""
        params = {"code_method": method.upper(), "language": language}
        path = f"{graph_id(phone_number_id, 'phone_number_id')}/request_code"
        _succeeded(await self._call("POST", path, _bearer(token), params=params), "request_code")

    async def verify_code(self, phone_number_id: str, code: str, *, token: SecretStr | None = None) -> None:
        """The code as the client read it ("123-830" or "123830"): Meta wants it without the hyphen."""
        digits = code.replace("-", "").replace(" ", "")
        if not _SIX_DIGITS.match(digits):
            raise InvalidRequest("a verification code has 6 digits, e.g. 123830")
        path = f"{graph_id(phone_number_id, 'phone_number_id')}/verify_code"
        _succeeded(await self._call("POST", path, _bearer(token), params={"code": digits}), "verify_code")

    async def register(self, phone_number_id: str, pin: str, *, token: SecretStr | None = None) -> None:
        """Register the number on the Cloud API; ``pin`` becomes (or must be) its two-step verification PIN.
        Never for a coexistence number, which Meta refuses."""
        if not _SIX_DIGITS.match(pin):
            raise InvalidRequest("a two-step verification PIN has 6 digits")
        body = {"messaging_product": "whatsapp", "pin": pin}
        path = f"{graph_id(phone_number_id, 'phone_number_id')}/register"
        _succeeded(await self._call("POST", path, _bearer(token), json=body), "register")

    async def smb_app_data(self, phone_number_id: str, sync_type: SyncType, *, token: SecretStr | None = None) -> str:
        """Ask Meta to send a coexistence number's WhatsApp Business app data as webhooks: its contacts
        (``smb_app_state_sync``) or up to 180 days of its chats (``history``); return Meta's request_id.
        Only within 24 h of onboarding, and each sync_type once: a second request is
        :class:`~shared.graph.errors.SyncAlreadyRequested` (the sync was asked for: treat it as done);
        a number that is not on the WhatsApp Business app is an ``InvalidRequest`` (code 100)."""
        if sync_type not in get_args(SyncType):
            raise InvalidRequest(f"sync_type {sync_type[:40]!r} is not one of {', '.join(get_args(SyncType))}")
        body = {"messaging_product": "whatsapp", "sync_type": sync_type}
        path = f"{graph_id(phone_number_id, 'phone_number_id')}/smb_app_data"
        try:
            answer = await self._call("POST", path, _bearer(token), json=body)
        except GraphError as exc:
            narrowed = sync_error(exc)
            if narrowed is exc:
                raise
            raise narrowed from exc
        request_id = answer.get("request_id") if isinstance(answer, dict) else None
        if not isinstance(request_id, str) or not request_id:
            raise GraphError(f"smb_app_data ({sync_type}) answered without a request_id: {str(answer)[:200]}")
        return request_id

    async def subscribe_app(self, waba_id: str, *, token: SecretStr | None = None) -> None:
        """Subscribe the app to the WABA's webhooks (this also drops a callback override)."""
        path = f"{graph_id(waba_id, 'WABA')}/subscribed_apps"
        _succeeded(await self._call("POST", path, _bearer(token)), "subscribe_app")

    async def override_callback(
        self, waba_id: str, uri: str, verify_token: SecretStr, *, token: SecretStr | None = None
    ) -> None:
        """Send the WABA's webhooks to ``uri``, after ``subscribe_app``. Meta first calls ``uri`` with the
        hub.challenge GET and the ``verify_token``: #2200 when that does not come back."""
        body = {"override_callback_uri": uri, "verify_token": verify_token.get_secret_value()}
        path = f"{graph_id(waba_id, 'WABA')}/subscribed_apps"
        _succeeded(await self._call("POST", path, _bearer(token), json=body), "override_callback")

    async def subscribed_apps(self, waba_id: str, *, token: SecretStr | None = None) -> list[SubscribedApp]:
        answer = await self._call("GET", f"{graph_id(waba_id, 'WABA')}/subscribed_apps", _bearer(token))
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list):
            raise GraphError(f"subscribed_apps answer without data: {str(answer)[:200]}")
        return [SubscribedApp.from_graph(entry) for entry in data if isinstance(entry, dict)]

    async def phone_number(self, phone_number_id: str, *, token: SecretStr | None = None) -> PhoneNumberInfo:
        params = {"fields": ",".join(NUMBER_FIELDS)}
        path = graph_id(phone_number_id, "phone_number_id")
        return _number(await self._call("GET", path, _bearer(token), params=params))

    async def waba_phone_numbers(self, waba_id: str, *, token: SecretStr | None = None) -> list[PhoneNumberInfo]:
        """Every number of the WABA (a coexistence signup names only the WABA), following Graph's paging."""
        numbers: list[PhoneNumberInfo] = []
        params: dict[str, str] = {"fields": ",".join(NUMBER_FIELDS)}
        path = f"{graph_id(waba_id, 'WABA')}/phone_numbers"
        for _ in range(_MAX_PAGES):
            answer = await self._call("GET", path, _bearer(token), params=params)
            data = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(data, list):
                raise GraphError(f"phone_numbers answer without data: {str(answer)[:200]}")
            numbers.extend(_number(entry) for entry in data)
            paging = answer.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:  # Graph gives "next" only when there is another page
                break
            params = {**params, "after": str(after)}
        return numbers

    async def exchange_code(self, app_id: str, app_secret: SecretStr, code: str) -> BusinessToken:
        """An Embedded Signup code (single-use, 30 s) for the client's business token. POSTed as a form, which
        Graph accepts as it does the documented GET, so the app secret is never in a URL."""
        form = {"client_id": app_id, "client_secret": app_secret.get_secret_value(), "code": code}
        try:
            answer = await self._call("POST", "oauth/access_token", {}, data=form)
        except TransientGraphError as exc:
            if exc.code != 1 or (exc.http_status or 500) >= 500:
                raise
            # Graph answers a wrong client secret with code 1, which elsewhere means "unknown, retry".
            raise AppCredentialsRejected(exc.title, code=1, http_status=exc.http_status) from None
        try:
            return BusinessToken.model_validate(answer)
        except ValidationError:  # its text would quote the answer, which may hold a token
            raise GraphError("the code exchange answered without an access_token") from None

    async def system_user_access_token(self, business_id: str, app_secret: SecretStr) -> BusinessToken:
        """Hosted Embedded Signup's business token (onboarding-facts §2): the client's portfolio shared its WABA
        with the partner, whose system-user token fetches a token for it, proven with ``appsecret_proof``."""
        system = self._token.get_secret_value()
        proof = hmac.new(app_secret.get_secret_value().encode(), system.encode(), hashlib.sha256).hexdigest()
        form = {"appsecret_proof": proof, "fetch_only": "true"}
        path = f"{graph_id(business_id, 'business portfolio')}/system_user_access_tokens"
        answer = await self._call("POST", path, None, data=form)
        try:
            return BusinessToken.model_validate(answer)
        except ValidationError:  # its text would quote the answer, which may hold a token
            raise GraphError("system_user_access_tokens answered without an access_token") from None


def _number(answer: Any) -> PhoneNumberInfo:
    try:
        return PhoneNumberInfo.model_validate(answer)
    except ValidationError as exc:
        raise GraphError(f"phone number answer without an id: {str(answer)[:200]}") from exc


@asynccontextmanager
async def onboarding_graph(settings: GraphSettings) -> AsyncIterator[OnboardingGraph]:
    timeout = aiohttp.ClientTimeout(total=settings.graph_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield OnboardingGraph(session, settings.graph_base_url, settings.graph_api_version, settings.graph_token)
