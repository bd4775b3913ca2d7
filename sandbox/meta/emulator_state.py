"""The emulator's state and its background work, held by the aiohttp app under one typed key."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from sandbox.config import SandboxSettings
from sandbox.meta.accounts import Accounts
from sandbox.meta.faults import FaultBook
from sandbox.meta.media_store import DownloadUrls, MediaStore
from sandbox.meta.ratelimit import KeyedBuckets
from sandbox.meta.signup_codes import SignupCodes
from sandbox.meta.state import BusinessNumber, Conversation, Conversations, NumberRegistry, Outbox, ReadMark
from sandbox.meta.webhooks import WebhookPoster, status_payload

log = logging.getLogger("sandbox.graph")

STATUS_SEQUENCE = ("sent", "delivered", "read")


@dataclass
class Emulator:
    settings: SandboxSettings
    throughput: KeyedBuckets[str]
    pair_rate: KeyedBuckets[tuple[str, str]]
    media: MediaStore
    media_urls: DownloadUrls
    signup_codes: SignupCodes
    outbox: Outbox = field(default_factory=Outbox)
    numbers: NumberRegistry = field(default_factory=NumberRegistry)
    conversations: Conversations = field(default_factory=Conversations)
    faults: FaultBook = field(default_factory=FaultBook)
    reads: deque[ReadMark] = field(default_factory=lambda: deque(maxlen=10_000))
    accounts: Accounts = field(default_factory=Accounts)
    # Set while the app runs (its client session lives in the app's cleanup context).
    poster: WebhookPoster | None = None
    http: aiohttp.ClientSession | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @classmethod
    def from_settings(cls, settings: SandboxSettings) -> Emulator:
        rate = settings.sandbox_throughput_per_s
        return cls(
            settings=settings,
            throughput=KeyedBuckets(rate, burst=rate),
            pair_rate=KeyedBuckets(settings.sandbox_pair_rate_per_s, burst=settings.sandbox_pair_burst),
            media=MediaStore(settings.sandbox_media_store_bytes),
            media_urls=DownloadUrls(settings.sandbox_media_url_ttl_s),
            signup_codes=SignupCodes(settings.sandbox_signup_code_ttl_s),
        )

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        # Keep a strong reference: the event loop only holds weak ones, and cleanup must find them.
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def cancel_tasks(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def schedule_statuses(
        self, number: BusinessNumber, wamid: str, wa_id: str, category: str, callback_data: str | None = None
    ) -> None:
        if self.poster is None:
            return
        conversation = self.conversations.current(number.phone_number_id, wa_id, datetime.now(UTC))
        self.spawn(self._post_statuses(self.poster, number, wamid, wa_id, conversation, category, callback_data))

    async def _post_statuses(
        self,
        poster: WebhookPoster,
        number: BusinessNumber,
        wamid: str,
        wa_id: str,
        conversation: Conversation,
        category: str,
        callback_data: str | None = None,
    ) -> None:
        for index, status in enumerate(STATUS_SEQUENCE):
            if index:
                await asyncio.sleep(self.settings.sandbox_status_delay_s)
            payload = status_payload(
                number,
                wamid=wamid,
                status=status,
                recipient_id=wa_id,
                conversation=conversation,
                category=category,
                at=datetime.now(UTC),
                callback_data=callback_data,
            )
            await poster.deliver(payload)


EMULATOR: web.AppKey[Emulator] = web.AppKey("emulator", Emulator)
