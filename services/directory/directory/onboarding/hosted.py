"""Hosted Embedded Signup's finish: Meta hands the browser nothing back; it sends the app an ``account_update``
webhook, ``PARTNER_ADDED`` (integrators also report ``PARTNER_APP_INSTALLED``), naming the client's WABA and
business portfolio (onboarding-facts §2). The router announces it as ``account.updated``; here the directory
fetches the client's business token with the system-user token (``system_user_access_tokens`` with the
``appsecret_proof``), lists the WABA's numbers, and finishes each onboarding waiting for its signup whose number is
among them — from subscribing on, as after a code exchange. No state parameter ties a hosted signup to a wamux
onboarding: the number is the tie (the client entered it when it registered, and Meta's page pre-filled it).
"""

from __future__ import annotations

import asyncpg

from directory import credentials, links, onboardings
from directory.answers import Deps, once_per_envelope
from directory.onboarding import driver, machine
from directory.onboarding.calls import WamuxFailure, claim
from directory.onboarding.steps import PartnerShared
from directory.onboarding.steps import Refused as NotNow
from shared.contracts.envelope import Envelope
from shared.contracts.meta_events import AccountUpdated
from shared.graph.errors import GraphError
from shared.graph.phone_numbers import PhoneNumberInfo
from shared.logging import get_logger, mask_phone
from shared.messaging.consumer import Retry

log = get_logger(__name__)
SHARED = frozenset({"PARTNER_ADDED", "PARTNER_APP_INSTALLED"})


def _e164(info: PhoneNumberInfo) -> str:
    return "+" + "".join(c for c in info.display_phone_number if c.isdigit())


@once_per_envelope
async def partner_added(envelope: Envelope[AccountUpdated], deps: Deps, conn: asyncpg.Connection) -> None:
    event = envelope.data
    info = event.value.get("waba_info") if isinstance(event.value.get("waba_info"), dict) else None
    if event.event not in SHARED or info is None:
        return  # another account_update (a review, a ban, …): the CRM's, not onboarding's
    waba_id, business_id = str(info.get("waba_id") or ""), str(info.get("owner_business_id") or "")
    if not (waba_id.isdigit() and business_id.isdigit()):
        log.warning("partner_added.unreadable", waba_id=waba_id[:40], business_id=business_id[:40])
        return
    if deps.ring.current is None:
        log.error("partner_added.no_credential_keys", fix="set WAMUX_CREDENTIAL_KEYS", waba_id=waba_id)
        return
    try:
        token = (await deps.graph.system_user_access_token(business_id, deps.settings.app_secret)).access_token
        listed = await deps.graph.waba_phone_numbers(waba_id, token=token)
    except GraphError as exc:
        if exc.retryable:
            raise Retry(f"Meta: {exc}") from exc  # undone, inbox record included: redelivered later
        log.error("partner_added.meta_refused", waba_id=waba_id, code=exc.code, error=exc.title)
        return
    finished = 0
    for number in listed:
        onboarding = await onboardings.live_for_number(conn, _e164(number))
        if onboarding is None or onboarding.method != "signup":
            continue
        onboarding = await onboardings.for_update(conn, onboarding.id)
        assert onboarding is not None  # onboardings are never deleted
        shared = PartnerShared(number.id)
        try:
            machine.advance(onboarding.progress, shared)
        except NotNow as exc:  # connected already (the popup finished it), or not waiting for a signup
            log.info("partner_added.not_waiting", state=onboarding.state, reason=str(exc))
            continue
        try:
            await claim(conn, onboarding, number.id, waba_id)
        except WamuxFailure as exc:
            log.warning("partner_added.conflict", phone_number=mask_phone(onboarding.phone_number), error=exc.message)
            continue
        await credentials.store(conn, deps.ring, "business_token", waba_id, token)
        link = await links.live(conn, onboarding.id)
        if link is not None:  # the signup went through the link's page: it is used up, as after a callback
            await links.use(conn, onboarding.id, link.id)
        changes = {"waba_id": waba_id, "business_id": business_id, "step_input": None}
        await driver.apply(deps, conn, onboarding, shared, envelope.correlation_id, **changes)
        finished += 1
    log.info("partner_added", waba_id=waba_id, numbers=len(listed), finished=finished)
