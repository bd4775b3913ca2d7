"""Embedded Signup's answer, by either door (the hosted page's redirect to ``/onboard/callback``, the popup's POST
to ``/onboard/{token}/complete``), checked and published as one ``number.complete_signup`` whose envelope id is
derived from the link and the code: the same answer twice is the same command."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.keys import PUBLISHER
from gateway.signup_link import Opened, check_live, sorry
from shared.contracts.directory import NumberCompleteSignup
from shared.contracts.envelope import derived_id, wrap
from shared.logging import get_logger
from shared.messaging.broker import PublishFailed

log = get_logger(__name__)
_EXPECTED = "expected a JSON object {code, waba_id, phone_number_id?, business_id?}"


class SignupAnswer(BaseModel):
    """What Embedded Signup handed back, by either door (the callback's query, the popup's POST): ``FB.login``'s
    code and the session info's ids. Coexistence's finish names only the WABA."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=1, max_length=2048)
    waba_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9]+$")
    phone_number_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[0-9]+$")
    business_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[0-9]+$")

    @field_validator("phone_number_id", "business_id", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: object) -> object:
        return None if value == "" else value


def explain(problem: ValidationError | str) -> str:
    """What was wrong with a body, the fields named without their values (the code is a credential for 30 s)."""
    if isinstance(problem, str):
        return f"{_EXPECTED}: {problem}"
    fields = [f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}" for error in problem.errors()]
    return f"{_EXPECTED}: " + "; ".join(fields)


async def publish_signup(request: web.Request, opened: Opened, fields: dict[str, Any]) -> None:
    """Meta's answer for a live link, published as ``number.complete_signup``: :class:`Refused` when the link
    cannot start a signup or the broker did not confirm, ``ValidationError`` when the answer is incomplete."""
    check_live(opened)
    answer = SignupAnswer.model_validate(fields)
    link_id = opened.row["id"]
    command = NumberCompleteSignup(
        onboarding_id=opened.row["onboarding_id"], link_id=link_id, **answer.model_dump(exclude_none=True)
    )
    # The same code for the same link is the same command: a reload or a retried POST publishes it again, deduplicated.
    envelope = wrap(
        command,
        correlation_id=str(opened.row["onboarding_id"]),
        tenant_id=opened.row["client_id"],
        id=derived_id(command.TYPE, str(link_id), command.code),
    )
    try:
        await request.app[PUBLISHER].publish(envelope)
    except PublishFailed as exc:
        log.error("signup.publish_failed", reason=exc.reason, link_id=str(link_id))
        raise sorry(opened.lang, "unavailable", 503) from None
    log.info("signup.completed", link_id=str(link_id), onboarding_id=str(command.onboarding_id))
