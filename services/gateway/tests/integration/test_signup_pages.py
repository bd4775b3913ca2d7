"""The signup link's pages against the real PostgreSQL and RabbitMQ: the directory (a process) stores the links an
onboarding gets, the gateway serves them, the emulator plays Meta's hosted signup."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from pydantic import SecretStr

from gateway.settings import GatewaySettings
from services.gateway.tests.signup_support import (
    LINK_SECRET,
    Onboarding,
    free_port,
    gateway_settings,
    register_for_signup,
    running_directory,
    running_gateway,
    wait_until,
)
from shared import signup_links
from shared.contracts.directory import NumberRenewLink
from shared.contracts.envelope import wrap
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap
from tests.support.sandbox import Sandbox
from tests.support.tenants import random_phone_number

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Pages:
    url: str
    settings: GatewaySettings
    infra: Infrastructure
    tap: Tap

    async def get(self, path: str, **headers: str) -> tuple[int, str, aiohttp.typedefs.LooseHeaders]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.url + path, headers=headers, allow_redirects=False) as answer,
        ):
            return answer.status, await answer.text(), answer.headers

    async def onboarding(self, **kwargs: object) -> Onboarding:
        return await register_for_signup(self.infra, self.tap, phone_number=random_phone_number(), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def pages(
    settings: GatewaySettings, infra: Infrastructure, tap: Tap, sandbox: Sandbox, tmp_path: Path
) -> AsyncIterator[Pages]:
    own = gateway_settings(settings, port=free_port(), graph_url=sandbox.graph_url)
    async with running_directory(own, infra, tmp_path / "directory.log"), running_gateway(own) as url:
        yield Pages(url, own, infra, tap)


def button_href(page: str) -> str:
    start = page.index('id="action" href="') + len('id="action" href="')
    return page[start : page.index('"', start)].replace("&amp;", "&")


async def test_a_live_link_shows_the_business_and_a_link_to_meta_s_hosted_signup_under_the_popup(pages: Pages) -> None:
    onboarding = await pages.onboarding(name="Pizzería Don Test", language="es-CO")
    status, page, headers = await pages.get(f"/onboard/{onboarding.token}")
    assert status == 200, page
    assert '<html lang="es">' in page and "Conectar WhatsApp" in page and "Pizzería Don Test" in page
    assert onboarding.phone_number[-2:] in page and onboarding.phone_number not in page  # masked
    assert "<script>" not in page and page.count("<script") == 1  # only the popup's file, no inline script
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "O abre la página de registro de Meta" in page
    href = urlsplit(button_href(page))
    assert f"{href.scheme}://{href.netloc}" == pages.settings.signup_base_url
    assert href.path == "/messaging/whatsapp/onboard/"
    query = {name: values[0] for name, values in parse_qs(href.query).items()}
    assert query["app_id"] == "1000000000000001" and query["config_id"] == "2000000000000002"
    assert query["redirect_uri"] == f"{pages.url}/onboard/callback" and query["state"] == onboarding.token
    extras = json.loads(query["extras"])
    assert extras["setup"]["business"] == {
        "name": "Pizzería Don Test",
        "phone": {"code": "57", "number": onboarding.phone_number.removeprefix("+57")},
    }
    assert "featureType" not in extras
    async with aiohttp.ClientSession() as session, session.get(button_href(page)) as meta:
        assert meta.status == 200, await meta.text()  # the emulator's signup page takes the link as Meta's would


async def test_a_coexistence_onboarding_asks_meta_for_the_business_app_flow(pages: Pages) -> None:
    onboarding = await pages.onboarding(coexistence=True, language="en")
    status, page, _ = await pages.get(f"/onboard/{onboarding.token}")
    assert status == 200, page
    assert '<html lang="en">' in page and "Connect WhatsApp" in page and "WhatsApp Business app" in page
    extras = json.loads(parse_qs(urlsplit(button_href(page)).query)["extras"][0])
    assert extras["featureType"] == "whatsapp_business_app_onboarding"


@pytest.mark.parametrize(
    ("accept_language", "words"),
    [
        ("es-CO,es;q=0.9,en;q=0.5", "Este enlace no es válido"),
        ("en-GB,en;q=0.8", "This link is not valid"),
        ("", "This link is not valid"),
    ],
)
async def test_a_tampered_or_unknown_link_is_a_clear_404_in_the_browser_s_language(
    pages: Pages, accept_language: str, words: str
) -> None:
    onboarding = await pages.onboarding()
    flipped = onboarding.token[:-3] + ("A" if onboarding.token[-3] != "A" else "B") + onboarding.token[-2:]
    unknown = signup_links.sign(SecretStr(LINK_SECRET), uuid.uuid4(), datetime.now(UTC) + timedelta(days=1))
    for token in (flipped, unknown, "not-a-link-at-all-xx"):
        status, page, _ = await pages.get(f"/onboard/{token}", **{"Accept-Language": accept_language})
        assert status == 404 and words in page and "Traceback" not in page, page


async def test_an_expired_link_is_gone_and_says_so_in_the_client_s_language(pages: Pages) -> None:
    onboarding = await pages.onboarding(language="es", link_expires_at=datetime.now(UTC) + timedelta(seconds=2))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (answer := await pages.get(f"/onboard/{onboarding.token}"))[0] == 200:
        assert loop.time() < deadline, "the link did not expire"
        await asyncio.sleep(0.2)
    status, page, _ = answer
    assert status == 410 and "Este enlace ha caducado" in page, page


async def test_a_renewed_link_revokes_the_old_one(pages: Pages) -> None:
    onboarding = await pages.onboarding(language="en")
    new_id, expires_at = uuid.uuid4(), (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    renew = NumberRenewLink(onboarding_id=onboarding.onboarding_id, link_id=new_id, expires_at=expires_at)
    await pages.infra.publisher.publish(wrap(renew, correlation_id="t", tenant_id=onboarding.client_id))
    await wait_until(
        pages.infra, "SELECT revoked_at IS NOT NULL FROM directory_read.signup_links WHERE id = $1", onboarding.link_id
    )
    status, page, _ = await pages.get(f"/onboard/{onboarding.token}")
    assert status == 410 and "replaced by a newer one" in page, page
    new_token = signup_links.sign(SecretStr(LINK_SECRET), new_id, expires_at)
    status, page, _ = await pages.get(f"/onboard/{new_token}")
    assert status == 200 and "Connect WhatsApp" in page, page


async def test_meta_s_answer_publishes_one_complete_signup_even_when_the_page_is_reloaded(
    pages: Pages, capfd: pytest.CaptureFixture[str]
) -> None:
    onboarding = await pages.onboarding(language="es")
    callback = (
        f"/onboard/callback?code=test-code-1&state={onboarding.token}"
        "&waba_id=300000000000001&business_id=400000000000001&phone_number_id=500000000000001"
    )
    status, page, _ = await pages.get(callback)
    assert status == 200 and "Casi listo" in page, page
    status, page, _ = await pages.get(callback)  # a reload: the same command again, or the status page once used
    assert status in (200, 303), page
    await pages.tap.drained()
    sent = [
        m
        for m in pages.tap.of_type("number.complete_signup")
        if m["data"]["onboarding_id"] == str(onboarding.onboarding_id)
    ]
    assert len({m["id"] for m in sent}) == 1, sent
    assert sent[0]["tenant_id"] == str(onboarding.client_id)
    assert sent[0]["data"] == {
        "onboarding_id": str(onboarding.onboarding_id),
        "code": "test-code-1",
        "waba_id": "300000000000001",
        "phone_number_id": "500000000000001",
        "business_id": "400000000000001",
        "link_id": str(onboarding.link_id),
    }
    logged = capfd.readouterr()
    assert "signup.completed" in logged.out + logged.err  # the gateway's log is the one read here
    assert onboarding.token not in logged.out + logged.err and "test-code-1" not in logged.out + logged.err


async def test_the_first_answer_to_meta_s_callback_is_the_almost_done_page_refreshing_to_the_status(
    pages: Pages,
) -> None:
    onboarding = await pages.onboarding(language="en")
    callback = f"/onboard/callback?code=c2&state={onboarding.token}&waba_id=300000000000002&phone_number_id=5000002"
    status, page, _ = await pages.get(callback)
    assert status == 200 and "Almost done" in page, page
    assert f'http-equiv="refresh" content="2; url=/onboard/{onboarding.token}/status"' in page
    status, page, _ = await pages.get(f"/onboard/{onboarding.token}/status")
    assert status == 200 and ('http-equiv="refresh"' in page or "is connected" in page), page


async def test_meta_s_error_or_a_missing_code_is_a_clear_page_and_publishes_nothing(pages: Pages) -> None:
    onboarding = await pages.onboarding(language="es")
    error = f"/onboard/callback?state={onboarding.token}&error=access_denied&error_description=Cancelado+por+el+usuario"
    status, page, _ = await pages.get(error)
    assert status == 400 and "Meta no completó la conexión" in page and "Cancelado por el usuario" in page, page
    assert f'href="/onboard/{onboarding.token}"' in page  # try again
    status, page, _ = await pages.get(f"/onboard/callback?state={onboarding.token}&waba_id=300000000000003")
    assert status == 400 and "incompleta" in page, page
    status, page, _ = await pages.get("/onboard/callback?code=x&waba_id=300000000000003")
    assert status == 404 and "Traceback" not in page, page
    await pages.tap.drained()
    assert not [
        m
        for m in pages.tap.of_type("number.complete_signup")
        if m["data"]["onboarding_id"] == str(onboarding.onboarding_id)
    ]


async def test_a_used_link_is_gone_and_points_to_the_connection_s_progress(pages: Pages) -> None:
    onboarding = await pages.onboarding(language="es")
    callback = f"/onboard/callback?code=c3&state={onboarding.token}&waba_id=300000000000004&phone_number_id=5000004"
    assert (await pages.get(callback))[0] == 200
    await wait_until(
        pages.infra, "SELECT used_at IS NOT NULL FROM directory_read.signup_links WHERE id = $1", onboarding.link_id
    )
    status, page, _ = await pages.get(f"/onboard/{onboarding.token}")
    assert status == 410 and "Este enlace ya se usó" in page, page
    assert f'href="/onboard/{onboarding.token}/status"' in page
    status, _, headers = await pages.get(callback)  # Meta's answer reloaded: straight to the progress, nothing sent
    assert status == 303 and headers["Location"] == f"/onboard/{onboarding.token}/status"
