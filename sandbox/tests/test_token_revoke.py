"""``POST /_sandbox/tokens/revoke``: a business token the client withdrew answers Graph's 190, as at Meta; the
system-user token and the client's other tokens are untouched."""

from __future__ import annotations

import aiohttp
from yarl import URL

V = "v23.0"
APP_ID, CONFIG_ID = "1000000000000001", "2000000000000002"


async def business_token(http: aiohttp.ClientSession, emulator: str, app_secret: str) -> tuple[str, str]:
    """Through the signup page and the code exchange, as a partner obtains one: (token, phone_number_id)."""
    form = {"app_id": APP_ID, "config_id": CONFIG_ID, "redirect_uri": "https://crm.example/done"}
    async with http.post(f"{emulator}/messaging/whatsapp/onboard/", data=form, allow_redirects=False) as response:
        result = dict(URL(response.headers["Location"]).query)
    params = {"client_id": APP_ID, "client_secret": app_secret, "code": result["code"]}
    async with http.get(f"{emulator}/{V}/oauth/access_token", params=params) as response:
        return (await response.json())["access_token"], result["phone_number_id"]


async def read_number(http: aiohttp.ClientSession, emulator: str, token: str, phone_number_id: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(f"{emulator}/{V}/{phone_number_id}", headers=headers) as response:
        return response.status, await response.json()


async def test_a_revoked_business_token_answers_190_and_others_still_work(
    emulator: str, http: aiohttp.ClientSession, app_secret: str, auth: dict[str, str]
) -> None:
    revoked, number = await business_token(http, emulator, app_secret)
    kept, kept_number = await business_token(http, emulator, app_secret)
    assert (await read_number(http, emulator, revoked, number))[0] == 200

    async with http.post(f"{emulator}/_sandbox/tokens/revoke", json={"access_token": revoked}) as response:
        assert response.status == 200 and await response.json() == {"revoked": True}

    status, body = await read_number(http, emulator, revoked, number)
    assert status == 401 and body["error"]["code"] == 190
    assert (await read_number(http, emulator, kept, kept_number))[0] == 200
    system = auth["Authorization"].removeprefix("Bearer ")
    assert (await read_number(http, emulator, system, number))[0] == 200


async def test_revoking_a_token_never_issued_or_already_revoked_is_a_404(
    emulator: str, http: aiohttp.ClientSession, app_secret: str
) -> None:
    token, _ = await business_token(http, emulator, app_secret)
    for expected in (200, 404):
        async with http.post(f"{emulator}/_sandbox/tokens/revoke", json={"access_token": token}) as response:
            assert response.status == expected
    async with http.post(f"{emulator}/_sandbox/tokens/revoke", json={"access_token": "EAAnever"}) as response:
        assert response.status == 404
    async with http.post(f"{emulator}/_sandbox/tokens/revoke", json={}) as response:
        assert response.status == 400
