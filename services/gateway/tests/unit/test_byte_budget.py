"""The webhook bodies' byte budget: room is taken at once when there is some, waited for (bounded) when not, and a
waiting body wakes as soon as room is freed."""

from __future__ import annotations

import asyncio

import pytest

from gateway.signed_body import ByteBudget, Refused


async def test_with_room_a_reservation_holds_its_bytes_until_given_back() -> None:
    budget = ByteBudget(100)
    await budget.take(60, wait_s=0.1)
    assert budget.free == 40
    await budget.take(40, wait_s=0.1)
    assert budget.free == 0
    budget.give_back(40)
    budget.give_back(60)
    assert budget.free == 100


async def test_without_room_a_reservation_waits_then_is_refused_with_503() -> None:
    budget = ByteBudget(100)
    await budget.take(80, wait_s=0.1)
    with pytest.raises(Refused) as refused:
        await budget.take(30, wait_s=0.05)
    budget.give_back(80)
    assert refused.value.status == 503 and budget.free == 100


async def test_a_waiting_body_gets_its_room_as_soon_as_it_is_freed_while_one_that_fits_goes_ahead() -> None:
    budget = ByteBudget(100)
    order: list[str] = []
    release = asyncio.Event()

    async def hold(name: str, size: int, until: asyncio.Event) -> None:
        await budget.take(size, wait_s=2)
        try:
            order.append(name)
            await until.wait()
        finally:
            budget.give_back(size)

    done = asyncio.Event()
    done.set()
    first = asyncio.create_task(hold("first", 70, release))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(hold("waiting", 60, done))  # no room: waits
    await asyncio.sleep(0)
    small = asyncio.create_task(hold("small", 20, done))  # fits beside the first: not held up by the wait
    await asyncio.sleep(0.01)
    assert order == ["first", "small"] and not waiting.done()
    release.set()
    await asyncio.wait_for(asyncio.gather(first, waiting, small), 2)
    assert order == ["first", "small", "waiting"] and budget.free == 100


@pytest.mark.parametrize("turns", range(6))
async def test_room_freed_for_a_waiting_body_is_taken_by_one_body_only(turns: int) -> None:
    """Room freed while a body waits goes to the waiting body or to one that comes meanwhile, whichever event loop
    turn it comes on, never to both: each take checks and takes in one step (the budget never goes below zero)."""
    budget = ByteBudget(100)
    await budget.take(80, wait_s=1)
    waiting = asyncio.create_task(budget.take(60, wait_s=1))
    await asyncio.sleep(0)  # no room: it waits
    budget.give_back(80)
    for _ in range(turns):
        await asyncio.sleep(0)
    newcomer = asyncio.create_task(budget.take(60, wait_s=1))
    await asyncio.wait({waiting, newcomer}, timeout=1, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.sleep(0.01)  # whatever else could take room has had its turns
    assert budget.free == 40 and [waiting.done(), newcomer.done()].count(True) == 1
    budget.give_back(60)  # the holder done: the other takes it
    await asyncio.wait_for(asyncio.gather(waiting, newcomer), 1)
    assert budget.free == 40
