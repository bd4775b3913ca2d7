"""Group commit: the webhooks that arrive while the broker confirms earlier ones leave together, in one publish.

Each accepted webhook still waits for the broker's confirm of a persistent message holding its exact bytes
before Meta gets its 200; what changes is how many share that message. A webhook is handed to :meth:`publish`;
if fewer than ``max_in_flight`` groups are unconfirmed, the group it joins leaves at the event loop's next turn
(with every webhook read in the same turn), else when the next confirm frees a place — so an idle gateway adds
no wait, and a busy one sends one message for many webhooks (up to ``max_parts`` of them and ``max_bytes``), in
the wire's group form (``shared.messaging.wire.group_properties``). A publish that fails fails every webhook of
its group: each answers 503 and Meta sends it again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from shared.messaging import wire
from shared.messaging.broker import Lane, PublishFailed


@dataclass
class GroupCommit:
    lane: Lane
    ids: wire.EnvelopeIds
    max_parts: int = 64
    max_bytes: int = 1024 * 1024
    max_in_flight: int = 2
    groups_published: int = 0  # for /metrics: with webhooks accepted, how many webhooks a publish carries
    # The waiting webhooks and their requests' futures, side by side in arrival order.
    _parts: list[wire.Part] = field(default_factory=list)
    _waiters: list[asyncio.Future[None]] = field(default_factory=list)
    _in_flight: int = 0
    _scheduled: bool = False

    async def publish(self, part: wire.Part) -> None:
        """Return once a confirmed publish holds ``part``; raise :class:`PublishFailed` when it cannot be."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._parts.append(part)
        self._waiters.append(done)
        self._schedule()
        await done

    def _schedule(self) -> None:
        if self._scheduled or not self._parts or self._in_flight >= self.max_in_flight:
            return
        self._scheduled = True
        asyncio.get_running_loop().call_soon(self._send_next)

    def _send_next(self) -> None:
        self._scheduled = False
        if not self._parts or self._in_flight >= self.max_in_flight:
            return
        count = self._count()
        parts, waiters = self._parts[:count], self._waiters[:count]
        del self._parts[:count], self._waiters[:count]
        self._in_flight += 1
        asyncio.get_running_loop().create_task(self._send(parts, waiters))
        self._schedule()  # what did not fit this group leaves at once if another place is free

    def _count(self) -> int:
        """How many of the oldest waiting webhooks fit one publish (always at least one, however large)."""
        size, count = 0, 0
        for part in self._parts:
            size += len(part.body)
            if count and (count == self.max_parts or size > self.max_bytes):
                break
            count += 1
        return count

    async def _send(self, parts: list[wire.Part], waiters: list[asyncio.Future[None]]) -> None:
        body = parts[0].body if len(parts) == 1 else b"".join(p.body for p in parts)
        try:
            await self.lane.publish(body, wire.group_properties(parts, group_id=self.ids()))
        except PublishFailed as exc:
            self._settle(waiters, exc)
        except BaseException as exc:  # a bug or a cancellation: never leave a webhook waiting forever
            self._settle(waiters, PublishFailed("disconnected", type(exc).__name__))
            raise
        else:
            self.groups_published += 1
            self._settle(waiters, None)
        finally:
            self._in_flight -= 1
            self._schedule()

    @staticmethod
    def _settle(waiters: list[asyncio.Future[None]], failure: PublishFailed | None) -> None:
        for done in waiters:
            if done.done():  # its request went away (the client hung up): nothing to tell it
                continue
            if failure is None:
                done.set_result(None)
            else:
                done.set_exception(failure)
