"""Each onboarding step's Meta call (``shared.graph.onboarding``), and what the directory keeps of its answer.

A call raises :class:`shared.graph.errors.GraphError` when Meta refuses, or :class:`WamuxFailure` when wamux
itself cannot go on (a number of another client, a WABA without the number, a setting missing). Secrets made or
obtained on the way — the PIN chosen before ``register``, the business token from the code exchange — are
stored (encrypted) in a transaction of their own *before* the step's transaction commits, so a crash between
Meta's answer and that commit loses neither: the step run again finds them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
from pydantic import SecretStr

from directory import credentials, numbers, onboardings
from directory.numbers import NumberConflict
from directory.onboarding.steps import Step, StepDone
from directory.onboardings import Onboarding
from shared.graph.errors import SyncAlreadyRequested
from shared.graph.onboarding import SyncType
from shared.graph.phone_numbers import PhoneNumberInfo
from shared.logging import get_logger, mask_phone
from shared.phones import parse_phone

if TYPE_CHECKING:
    from directory.answers import Deps

log = get_logger(__name__)
CONFLICT = 409  # wamux's own codes in MetaFailure(source="wamux")
NOT_FOUND = 404
NOT_LIVE = 422  # Meta reports the number unable to answer (not on the Cloud API, banned, …)
MISCONFIGURED = 500
# Meta's number statuses under which it cannot answer customers: never treated as connected.
DEAD_STATUSES = frozenset({"BANNED", "DELETED", "DISCONNECTED", "UNVERIFIED"})


class WamuxFailure(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Outcome:
    done: StepDone
    columns: dict[str, Any] = field(default_factory=dict)  # onboarding columns learnt (waba_id)
    number: asyncpg.Record | None = None  # the number, once read back and active


async def make(step: Step, onboarding: Onboarding, deps: Deps, conn: asyncpg.Connection) -> Outcome:
    return await _CALLS[step](onboarding, deps, conn)


def _input(onboarding: Onboarding, key: str) -> str:
    value = (onboarding.step_input or {}).get(key)
    if not value:
        raise WamuxFailure(MISCONFIGURED, f"the {key} for this step was not kept: send the command again")
    return str(value)


async def _business_token(onboarding: Onboarding, deps: Deps, conn: asyncpg.Connection) -> SecretStr | None:
    """The client's business token for a signup onboarding; the system-user token (None) for the manual path."""
    if onboarding.method == "manual":
        return None
    assert onboarding.waba_id is not None  # complete_signup names the WABA
    token = await credentials.load(conn, deps.ring, "business_token", onboarding.waba_id)
    if token is None:
        raise WamuxFailure(NOT_FOUND, "the client's business token is missing: the client must sign up again")
    return token


async def claim(conn: asyncpg.Connection, onboarding: Onboarding, phone_number_id: str, waba_id: str) -> None:
    """The number in the directory as ``pending`` under the client (its messages wait for it); one of another
    client is a failure, never a move."""
    free_quota = await conn.fetchval("SELECT free_quota FROM directory.clients WHERE id = $1", onboarding.client_id)
    try:
        await numbers.upsert_number(
            conn,
            client_id=onboarding.client_id,
            phone_number=onboarding.phone_number,
            phone_number_id=phone_number_id,
            waba_id=waba_id,
            display_name=onboarding.display_name or "",
            status="pending",
            free_quota=int(free_quota if free_quota is not None else 1000),
            claim=True,
        )
    except NumberConflict as exc:
        raise WamuxFailure(CONFLICT, f"{mask_phone(onboarding.phone_number)} belongs to another client") from exc


async def _add_phone_number(onboarding: Onboarding, deps: Deps, conn: asyncpg.Connection) -> Outcome:
    waba_id = deps.settings.manual_waba_id
    if not waba_id:
        raise WamuxFailure(MISCONFIGURED, "WAMUX_MANUAL_WABA_ID is not set: the manual path has no WABA to add to")
    phone = parse_phone(onboarding.phone_number)
    name = onboarding.display_name or await onboardings.client_name(conn, onboarding.client_id)
    phone_number_id = await deps.graph.add_phone_number(waba_id, phone.cc, phone.national_number, name)
    await claim(conn, onboarding, phone_number_id, waba_id)
    return Outcome(StepDone(Step.ADD_PHONE_NUMBER, phone_number_id), {"waba_id": waba_id})


def _pnid(onboarding: Onboarding) -> str:
    assert onboarding.phone_number_id is not None  # the machine asks for these calls only once it is known
    return onboarding.phone_number_id


async def _request_code(onboarding: Onboarding, deps: Deps, conn: asyncpg.Connection) -> Outcome:
    inputs = onboarding.step_input or {}
    method, language = str(inputs.get("code_method", "SMS")), str(inputs.get("language", "es"))
    await deps.graph.request_code(_pnid(onboarding), method, language)
    return Outcome(StepDone(Step.REQUEST_CODE))


async def _verify_code(onboarding: Onboarding, deps: Deps, conn: asyncpg.Connection) -> Outcome:
    await deps.graph.verify_code(_pnid(onboarding), _input(onboarding, "code"))
    return Outcome(StepDone(Step.VERIFY_CODE))


def _can_keep_secrets(deps: Deps) -> None:
    """Checked before a call whose answer must be kept (the code lives 30 s: not spent for nothing)."""
    if deps.ring.current is None:
        raise WamuxFailure(MISCONFIGURED, "WAMUX_CREDENTIAL_KEYS is not set: tokens and PINs cannot be kept")


async def _exchange_code(onboarding: Onboarding, deps: Deps, conn: asyncpg.Connection) -> Outcome:
    assert onboarding.waba_id is not None and onboarding.updated_at is not None
    settings = deps.settings
    _can_keep_secrets(deps)
    if not await _stored_since(conn, "business_token", onboarding.waba_id, onboarding.updated_at):
        token = await deps.graph.exchange_code(settings.app_id, settings.app_secret, _input(onboarding, "code"))
        expires = datetime.now(UTC) + timedelta(seconds=token.expires_in) if token.expires_in else None
        async with deps.pool.acquire() as own, own.transaction():  # kept even if this step's transaction is lost
            await credentials.store(
                own, deps.ring, "business_token", onboarding.waba_id, token.access_token, expires_at=expires
            )
    pnid = onboarding.phone_number_id
    if pnid is not None:
        # The browser named it: only Meta's word, with the client's own token, makes it the client's number.
        info = await deps.graph.phone_number(pnid, token=await _business_token(onboarding, deps, conn))
        if not _same_number(info, onboarding.phone_number):
            raise WamuxFailure(CONFLICT, f"{pnid} is not {mask_phone(onboarding.phone_number)}: sign up again")
        await claim(conn, onboarding, pnid, onboarding.waba_id)
    return Outcome(StepDone(Step.EXCHANGE_CODE, pnid))


async def _stored_since(conn: asyncpg.Connection, kind: str, subject: str, since: datetime) -> bool:
    stored = await conn.fetchval(
        "SELECT updated_at FROM directory.credentials WHERE kind = $1 AND subject = $2", kind, subject
    )
    return stored is not None and stored >= since


def _same_number(info: PhoneNumberInfo, e164: str) -> bool:
    return "".join(c for c in info.display_phone_number if c.isdigit()) == e164.lstrip("+")


async def _find_number(onboarding: Onboarding, deps: Deps, conn: asyncpg.Connection) -> Outcome:
    assert onboarding.waba_id is not None
    token = await _business_token(onboarding, deps, conn)
    listed = await deps.graph.waba_phone_numbers(onboarding.waba_id, token=token)
    found = next((n for n in listed if _same_number(n, onboarding.phone_number)), None)
    if found is None:
        raise WamuxFailure(
            NOT_FOUND,
            f"the WhatsApp account connected has no number {mask_phone(onboarding.phone_number)} "
            f"({len(listed)} other number(s)): sign up again with that number",
        )
    await claim(conn, onboarding, found.id, onboarding.waba_id)
    return Outcome(StepDone(Step.FIND_NUMBER, found.id))


async def _subscribe_app(onboarding: Onboarding, deps: Deps, conn: asyncpg.Connection) -> Outcome:
    assert onboarding.waba_id is not None
    await deps.graph.subscribe_app(onboarding.waba_id, token=await _business_token(onboarding, deps, conn))
    return Outcome(StepDone(Step.SUBSCRIBE_APP))


async def _override_callback(onboarding: Onboarding, deps: Deps, conn: asyncpg.Connection) -> Outcome:
    """The WABA's webhooks to wamux's gateway — a second call, after the subscription (else Meta's #100). Without
    a verify token configured, the app's own callback (App Dashboard) receives them: nothing to override."""
    assert onboarding.waba_id is not None
    settings = deps.settings
    if settings.verify_token.get_secret_value():
        token = await _business_token(onboarding, deps, conn)
        await deps.graph.override_callback(
            onboarding.waba_id, settings.callback_url, settings.verify_token, token=token
        )
    else:
        log.info("onboarding.callback_not_overridden", reason="WAMUX_VERIFY_TOKEN is not set")
    return Outcome(StepDone(Step.OVERRIDE_CALLBACK))


async def _register(onboarding: Onboarding, deps: Deps, conn: asyncpg.Connection) -> Outcome:
    """Register with the number's two-step PIN: chosen once, stored before the call, the same on every retry.
    A number already live on the Cloud API whose PIN wamux never chose (registered before, elsewhere) is not
    registered again: Meta would answer 133005 for the PIN it does not know, though nothing needs doing."""
    pnid = _pnid(onboarding)
    _can_keep_secrets(deps)
    token = await _business_token(onboarding, deps, conn)
    pin = await credentials.load(conn, deps.ring, "pin", pnid)
    given = await credentials.load(conn, deps.ring, "pin", given_pin_subject(onboarding.id))
    if given is not None and given != pin:  # the client told its number's PIN when it registered it
        pin = given
        async with deps.pool.acquire() as own, own.transaction():
            await credentials.store(own, deps.ring, "pin", pnid, pin)
    if pin is None and (await deps.graph.phone_number(pnid, token=token)).on_cloud_api:
        log.info("onboarding.register_skipped", reason="already on the Cloud API", phone_number_id=pnid)
        return Outcome(StepDone(Step.REGISTER))
    if pin is None:
        pin = SecretStr(f"{secrets.randbelow(10**6):06d}")
        async with deps.pool.acquire() as own, own.transaction():
            await credentials.store(own, deps.ring, "pin", pnid, pin)
    await deps.graph.register(pnid, pin.get_secret_value(), token=token)
    return Outcome(StepDone(Step.REGISTER))


async def _read_number(onboarding: Onboarding, deps: Deps, conn: asyncpg.Connection) -> Outcome:
    pnid = _pnid(onboarding)
    info = await deps.graph.phone_number(pnid, token=await _business_token(onboarding, deps, conn))
    if not _same_number(info, onboarding.phone_number):
        raise WamuxFailure(
            CONFLICT,
            f"Meta's number {pnid} is {mask_phone('+' + ''.join(c for c in info.display_phone_number if c.isdigit()))}"
            f", not {mask_phone(onboarding.phone_number)}: register the number that was connected",
        )
    if info.status in DEAD_STATUSES:
        raise WamuxFailure(NOT_LIVE, f"Meta reports the number {info.status}: it cannot answer customers")
    if onboarding.coexistence and not (info.is_on_biz_app and info.platform_type == "CLOUD_API"):
        raise WamuxFailure(
            NOT_LIVE,
            f"Meta does not report the number on both the WhatsApp Business app and the Cloud API (coexistence: "
            f"is_on_biz_app {info.is_on_biz_app}, platform {info.platform_type})",
        )
    if not onboarding.coexistence and not info.on_cloud_api:
        raise WamuxFailure(
            NOT_LIVE,
            f"Meta reports the number not on the Cloud API (platform {info.platform_type}, throughput "
            f"{info.throughput.level}): it is not connected",
        )
    number = await numbers.record_read_back(conn, pnid, info, coexistence=onboarding.coexistence)
    return Outcome(StepDone(Step.READ_NUMBER), number=number)


async def _sync(onboarding: Onboarding, deps: Deps, conn: asyncpg.Connection, kind: SyncType, step: Step) -> Outcome:
    """Coexistence: ask Meta for the Business app's contacts or history (within 24 h of onboarding, each once; Meta
    then sends them as webhooks). Asked already — a step made again after a crash — counts as done."""
    try:
        await deps.graph.smb_app_data(_pnid(onboarding), kind, token=await _business_token(onboarding, deps, conn))
    except SyncAlreadyRequested:
        log.info("onboarding.sync_already_requested", sync_type=kind)
    return Outcome(StepDone(step))


async def _sync_contacts(onboarding: Onboarding, deps: Deps, conn: asyncpg.Connection) -> Outcome:
    return await _sync(onboarding, deps, conn, "smb_app_state_sync", Step.SYNC_CONTACTS)


async def _sync_history(onboarding: Onboarding, deps: Deps, conn: asyncpg.Connection) -> Outcome:
    return await _sync(onboarding, deps, conn, "history", Step.SYNC_HISTORY)


def given_pin_subject(onboarding_id: object) -> str:
    """Where a PIN the client gave with number.register is kept until the number's id is known."""
    return f"onboarding:{onboarding_id}"


_CALLS = {
    Step.ADD_PHONE_NUMBER: _add_phone_number,
    Step.REQUEST_CODE: _request_code,
    Step.VERIFY_CODE: _verify_code,
    Step.EXCHANGE_CODE: _exchange_code,
    Step.FIND_NUMBER: _find_number,
    Step.SUBSCRIBE_APP: _subscribe_app,
    Step.OVERRIDE_CALLBACK: _override_callback,
    Step.REGISTER: _register,
    Step.READ_NUMBER: _read_number,
    Step.SYNC_CONTACTS: _sync_contacts,
    Step.SYNC_HISTORY: _sync_history,
}
