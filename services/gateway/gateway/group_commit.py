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
class _Waiting:
    part: wire.Part
    done: asyncio.Future[None]


@dataclass
class GroupCommit:
    lane: Lane
    ids: wire.EnvelopeIds
    max_parts: int = 64
    max_bytes: int = 1024 * 1024
    max_in_flight: int = 2
    groups_published: int = 0  # for /metrics: with webhooks accepted, how many webhooks a publish carries
    _waiting: list[_Waiting] = field(default_factory=list)
    _in_flight: int = 0
    _scheduled: bool = False

    async def publish(self, part: wire.Part) -> None:
        """Return once a confirmed publish holds ``part``; raise :class:`PublishFailed` when it cannot be."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(part, done))
        self._schedule()
        await done

    def _schedule(self) -> None:
        if self._scheduled or not self._waiting or self._in_flight >= self.max_in_flight:
            return
        self._scheduled = True
        asyncio.get_running_loop().call_soon(self._send_next)

    def _send_next(self) -> None:
        self._scheduled = False
        if not self._waiting or self._in_flight >= self.max_in_flight:
            return
        group = self._take()
        self._in_flight += 1
        asyncio.get_running_loop().create_task(self._send(group))

    def _take(self) -> list[_Waiting]:
        """The oldest waiting webhooks that fit one publish (always at least one, however large)."""
        size, count = 0, 0
        for waiting in self._waiting:
            size += len(waiting.part.body)
            if count and (count == self.max_parts or size > self.max_bytes):
                break
            count += 1
        group, self._waiting = self._waiting[:count], self._waiting[count:]
        return group

    async def _send(self, group: list[_Waiting]) -> None:
        parts = [w.part for w in group]
        body = parts[0].body if len(parts) == 1 else b"".join(p.body for p in parts)
        try:
            await self.lane.publish(body, wire.group_properties(parts, group_id=self.ids()))
        except PublishFailed as exc:
            self._settle(group, exc)
        except BaseException as exc:  # a bug or a cancellation: never leave a webhook waiting forever
            self._settle(group, PublishFailed("disconnected", type(exc).__name__))
            raise
        else:
            self.groups_published += 1
            self._settle(group, None)
        finally:
            self._in_flight -= 1
            self._schedule()

    @staticmethod
    def _settle(group: list[_Waiting], failure: PublishFailed | None) -> None:
        for waiting in group:
            if waiting.done.done():  # its request went away (the client hung up): nothing to tell it
                continue
            if failure is None:
                waiting.done.set_result(None)
            else:
                waiting.done.set_exception(failure)
