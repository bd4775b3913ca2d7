"""Read receipts take their number's throughput tokens together: the receipts that arrive in one turn of the
event loop (a burst the broker delivered) ask PostgreSQL once, on one connection, instead of once each.

Each receipt still gets its own answer (0: go, else the wait), in the order they asked; a failed statement fails
every receipt of that turn, as it would have failed each alone.
"""

from __future__ import annotations

import asyncio

import asyncpg

from sender import store
from sender.limits import Limits


class ReceiptTokens:
    def __init__(self, pool: asyncpg.Pool, limits: Limits):
        self._pool, self._limits = pool, limits
        self._asking: list[tuple[str, asyncio.Future[float]]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def take(self, phone_number_id: str) -> float:
        """0 when the number's bucket gave a token, else seconds until it will."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[float] = loop.create_future()
        self._asking.append((phone_number_id, answer))
        if len(self._asking) == 1:
            loop.call_soon(self._ask_together)
        return await answer

    def _ask_together(self) -> None:
        asking, self._asking = self._asking, []
        task = asyncio.create_task(self._ask(asking))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _ask(self, asking: list[tuple[str, asyncio.Future[float]]]) -> None:
        try:
            waits = await store.take_number_tokens(self._pool, [number for number, _ in asking], self._limits)
        except Exception as exc:
            for _, answer in asking:
                if not answer.done():
                    answer.set_exception(exc)
            return
        for (_, answer), wait in zip(asking, waits, strict=True):
            if not answer.done():  # a receipt given up on (its delivery cancelled): its token is spent all the same
                answer.set_result(wait)
