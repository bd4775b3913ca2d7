"""directory — consumes the CRM's commands (``client.*``, ``number.*``; whatever lands on
``{p}.commands.unrouted``), the sender's ``number.token_rejected``, the router's ``account.updated`` (Hosted
Embedded Signup's PARTNER_ADDED) and its own ``onboarding.step``; publishes
``client.created``, ``client.updated``, ``number.onboarding_changed``, ``number.activated``, ``number.suspended``,
``number.moved`` and ``command.rejected``; calls Meta to connect numbers; owns the ``directory`` schema (clients,
numbers, onboardings, signup links, encrypted credentials, moves, its inbox).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from directory import handlers
from directory.answers import INBOX_RETENTION_DAYS, Deps
from directory.onboarding import commands, driver, hosted
from directory.settings import DirectorySettings
from directory.unreadable import answering_unrouted, reject_unreadable
from shared.contracts.directory import (
    ClientCreate,
    ClientUpdate,
    NumberCompleteSignup,
    NumberMove,
    NumberRegister,
    NumberRenewLink,
    NumberRequestCode,
    NumberResume,
    NumberSuspend,
    NumberTokenRejected,
    NumberVerifyCode,
    OnboardingStep,
)
from shared.contracts.meta_events import AccountUpdated
from shared.graph.onboarding import onboarding_graph
from shared.logging import get_logger
from shared.messaging import inbox
from shared.messaging.consumer import Route
from shared.messaging.runtime import Infrastructure, every, serve
from shared.secretbox import KeyRing

ROLE = "directory"
log = get_logger(__name__)
ROUTES: dict[str, Route[Deps]] = {
    ClientCreate.TYPE: Route(ClientCreate, handlers.create_client),
    ClientUpdate.TYPE: Route(ClientUpdate, handlers.update_client),
    NumberRegister.TYPE: Route(NumberRegister, commands.register_number),
    NumberRequestCode.TYPE: Route(NumberRequestCode, commands.request_code),
    NumberVerifyCode.TYPE: Route(NumberVerifyCode, commands.verify_code),
    NumberCompleteSignup.TYPE: Route(NumberCompleteSignup, commands.complete_signup),
    NumberRenewLink.TYPE: Route(NumberRenewLink, commands.renew_link),
    OnboardingStep.TYPE: Route(OnboardingStep, driver.run_step),
    NumberTokenRejected.TYPE: Route(NumberTokenRejected, commands.token_rejected),
    AccountUpdated.TYPE: Route(AccountUpdated, hosted.partner_added),
    NumberSuspend.TYPE: Route(NumberSuspend, handlers.suspend_number),
    NumberResume.TYPE: Route(NumberResume, handlers.resume_number),
    NumberMove.TYPE: Route(NumberMove, handlers.move_number),
}


@asynccontextmanager
async def bootstrap(infra: Infrastructure[DirectorySettings]) -> AsyncIterator[Deps]:
    settings = infra.settings
    async with onboarding_graph(settings) as graph:
        ring = KeyRing.from_setting(settings.credential_keys)
        if ring.current is None:
            log.warning(
                "directory.no_credential_keys",
                consequence="onboardings fail at their first secret",
                fix="set WAMUX_CREDENTIAL_KEYS",
            )
        deps = Deps(infra.pool, infra.publisher, settings, graph, ring)
        async with (
            every(
                3600,
                lambda: inbox.forget_old(infra.pool, "directory", INBOX_RETENTION_DAYS),
                "directory-inbox-retention",
            ),
            every(60, lambda: driver.resume_stuck(deps), "directory-stuck-onboardings"),
            answering_unrouted(infra, settings.prefetch),
        ):
            yield deps


def main() -> None:
    serve(ROLE, ROUTES, bootstrap, DirectorySettings, unreadable=reject_unreadable)


if __name__ == "__main__":
    main()
