"""directory — consumes ``client.create``, ``client.update``, ``number.register``, ``number.suspend``,
``number.resume``, ``number.move`` (and whatever lands on ``{p}.commands.unrouted``); publishes ``client.created``,
``client.updated``, ``number.onboarding_changed``, ``number.activated``, ``number.suspended``, ``number.moved`` and
``command.rejected``; owns the ``directory`` schema (clients, numbers, onboardings, moves, its inbox).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from directory import handlers
from directory.answers import INBOX_RETENTION_DAYS, Deps
from directory.settings import DirectorySettings
from directory.unreadable import answering_unrouted, reject_unreadable
from shared.contracts.directory import (
    ClientCreate,
    ClientUpdate,
    NumberMove,
    NumberRegister,
    NumberResume,
    NumberSuspend,
)
from shared.messaging import inbox
from shared.messaging.consumer import Route
from shared.messaging.runtime import Infrastructure, every, serve

ROLE = "directory"
ROUTES: dict[str, Route[Deps]] = {
    ClientCreate.TYPE: Route(ClientCreate, handlers.create_client),
    ClientUpdate.TYPE: Route(ClientUpdate, handlers.update_client),
    NumberRegister.TYPE: Route(NumberRegister, handlers.register_number),
    NumberSuspend.TYPE: Route(NumberSuspend, handlers.suspend_number),
    NumberResume.TYPE: Route(NumberResume, handlers.resume_number),
    NumberMove.TYPE: Route(NumberMove, handlers.move_number),
}


@asynccontextmanager
async def bootstrap(infra: Infrastructure[DirectorySettings]) -> AsyncIterator[Deps]:
    async with (
        every(
            3600, lambda: inbox.forget_old(infra.pool, "directory", INBOX_RETENTION_DAYS), "directory-inbox-retention"
        ),
        answering_unrouted(infra, infra.settings.prefetch),
    ):
        yield Deps(pool=infra.pool, publisher=infra.publisher)


def main() -> None:
    serve(ROLE, ROUTES, bootstrap, DirectorySettings, unreadable=reject_unreadable)


if __name__ == "__main__":
    main()
