"""``/oauth/access_token``: a signup code for a business token, once, within its lifetime, for this app only."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from yarl import URL

from sandbox.config import SandboxSettings

V = "v23.0"
APP_ID, CONFIG_ID = "1000000000000001", "2000000000000002"
StartEmulator = Callable[..., Awaitable[str]]


async def signup_code(http: aiohttp.ClientSession, emulator: str) -> dict[str, str]:
    """Accept the signup page and read what it hands back (the redirect's query)."""
    form = {"app_id": APP_ID, "config_id": CONFIG_ID, "redirect_uri": "https://crm.example/done", "state": "s"}
    async with http.post(f"{emulator}/messaging/whatsapp/onboard/", data=form, allow_redirects=False) as response:
        assert response.status == 303
        return dict(URL(response.headers["Location"]).query)


async def exchange(
    http: aiohttp.ClientSession, emulator: str, path: str = f"/{V}/oauth/access_token", **params: str
) -> tuple[int, Any]:
    async with http.get(emulator + path, params=params) as response:
        return response.status, await response.json()


def without_trace(body: dict[str, Any]) -> dict[str, Any]:
    error = dict(body["error"])
    assert error.pop("fbtrace_id").startswith("A")
    return error


async def test_a_code_becomes_a_business_token_for_its_waba(
    emulator: str, http: aiohttp.ClientSession, app_secret: str
) -> None:
    result = await signup_code(http, emulator)
    assert result["state"] == "s"

    status, body = await exchange(http, emulator, client_id=APP_ID, client_secret=app_secret, code=result["code"])

    assert status == 200
    assert set(body) == {"access_token", "token_type"} and body["token_type"] == "bearer"
    assert body["access_token"].startswith("EAA")
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    async with http.get(f"{emulator}/{V}/{result['phone_number_id']}", headers=headers) as response:
        assert response.status == 200
        assert (await response.json())["id"] == result["phone_number_id"]


async def test_a_code_is_single_use_100_36009(emulator: str, http: aiohttp.ClientSession, app_secret: str) -> None:
    code = (await signup_code(http, emulator))["code"]
    assert (await exchange(http, emulator, client_id=APP_ID, client_secret=app_secret, code=code))[0] == 200

    status, body = await exchange(
        http, emulator, "/oauth/access_token", client_id=APP_ID, client_secret=app_secret, code=code
    )

    assert status == 400
    assert without_trace(body) == {
        "message": "This authorization code has been used.",
        "type": "OAuthException",
        "code": 100,
        "error_subcode": 36009,
    }


async def test_a_code_past_its_lifetime_is_refused(
    start_emulator: StartEmulator, http: aiohttp.ClientSession, app_secret: str
) -> None:
    emulator = await start_emulator(sandbox_signup_code_ttl_s=0.2)
    code = (await signup_code(http, emulator))["code"]
    await asyncio.sleep(0.3)

    status, body = await exchange(http, emulator, client_id=APP_ID, client_secret=app_secret, code=code)

    assert status == 400
    assert without_trace(body) == {
        "message": "This authorization code has expired.",
        "type": "OAuthException",
        "code": 100,
        "error_subcode": 36009,
    }


def test_the_default_lifetime_is_metas_30_seconds() -> None:
    assert SandboxSettings().sandbox_signup_code_ttl_s == 30.0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"client_id": APP_ID, "client_secret": "wrong"}, {"message": "Error validating client secret.", "code": 1}),
        (
            {"client_id": "42", "client_secret": "test-app-secret"},
            {"message": "Error validating application. Invalid application ID.", "code": 101},
        ),
        (
            {"client_id": APP_ID, "client_secret": "test-app-secret", "code": "AQnever-issued"},
            {"message": "Invalid verification code format.", "code": 100},
        ),
    ],
)
async def test_a_wrong_secret_app_or_code_is_graphs_oauth_error(
    emulator: str, http: aiohttp.ClientSession, params: dict[str, str], expected: dict[str, Any]
) -> None:
    if "code" not in params:
        params = {**params, "code": (await signup_code(http, emulator))["code"]}

    status, body = await exchange(http, emulator, **params)

    assert status == 400
    assert without_trace(body) == {**expected, "type": "OAuthException"}
