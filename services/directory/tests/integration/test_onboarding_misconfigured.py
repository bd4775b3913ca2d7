"""A directory started without WAMUX_CREDENTIAL_KEYS cannot keep a business token or a PIN: the onboarding fails
at once with a message that names the setting, before the signup's single-use code is spent."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import pytest

from shared.contracts.directory import NumberCompleteSignup, NumberRegister
from shared.messaging.runtime import Infrastructure
from shared.settings import Settings
from tests.support.sandbox import Sandbox
from tests.support.tenants import random_phone_number

from .test_onboarding import Crm, hosted_signup

pytestmark = pytest.mark.usefixtures("directory_service")


@pytest.fixture
def directory_config() -> dict[str, Any]:
    return {"credential_keys": ""}


@pytest.fixture
def crm(infra: Infrastructure[Settings], tap: Any, sandbox: Sandbox) -> Crm:
    return Crm(infra, tap, sandbox)


async def test_without_credential_keys_the_onboarding_fails_naming_the_setting_and_the_code_is_not_spent(
    crm: Crm, sandbox: Sandbox
) -> None:
    client_id = await crm.client()
    e164, onboarding_id = random_phone_number(), uuid.uuid4()
    await crm.send(NumberRegister(onboarding_id=onboarding_id, client_id=client_id, phone_number=e164))
    await crm.state(onboarding_id, "pending", "await_signup")
    result = await hosted_signup(sandbox, e164)
    complete = NumberCompleteSignup(
        onboarding_id=onboarding_id,
        code=result["code"],
        waba_id=result["waba_id"],
        phone_number_id=result["phone_number_id"],
    )
    await crm.send(complete)

    failed = await crm.state(onboarding_id, "failed")
    assert failed["step"] == "exchange_code" and failed["error"]["source"] == "wamux"
    assert "WAMUX_CREDENTIAL_KEYS" in failed["error"]["message"]
    form = {"client_id": "1000000000000001", "client_secret": "test-app-secret", "code": result["code"]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sandbox.graph_url}/v23.0/oauth/access_token", data=form) as answer,
    ):
        assert answer.status == 200 and "access_token" in await answer.json()  # still unused
