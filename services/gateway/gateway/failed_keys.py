"""How many wrong API keys one client address may try: ``api_key_failures_per_minute``, then 429.

Counted in this process's memory, with no database write per failure: the limit holds per gateway replica (a
fleet of N replicas lets an address try N times as many). Only failures are counted; a correct key costs
nothing. IPv6 clients are counted per /64, the block one subscriber usually holds.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiohttp import web
from pydantic import IPvAnyNetwork

_TRACKED_ADDRESSES = 10_000  # past this, the address untouched the longest is forgotten (its allowance is whole)


@dataclass
class _Allowance:
    tokens: float
    at: float


class FailedKeyLimit:
    """A token bucket per address: ``per_minute`` failures at once, given back at ``per_minute`` a minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self._capacity, self._per_s, self._clock = float(per_minute), per_minute / 60, clock
        self._allowances: OrderedDict[str, _Allowance] = OrderedDict()  # least recently touched first

    def _current(self, address: str) -> _Allowance:
        now = self._clock()
        allowance = self._allowances.get(address) or _Allowance(self._capacity, now)
        allowance.tokens = min(self._capacity, allowance.tokens + (now - allowance.at) * self._per_s)
        allowance.at = now
        return allowance

    def retry_after_s(self, address: str) -> int | None:
        """Whole seconds until ``address`` may try a key again, or None if it may now."""
        tokens = self._current(address).tokens
        return None if tokens >= 1 else max(1, math.ceil((1 - tokens) / self._per_s))

    def failed(self, address: str) -> None:
        allowance = self._current(address)
        allowance.tokens -= 1
        self._allowances[address] = allowance
        self._allowances.move_to_end(address)
        while len(self._allowances) > _TRACKED_ADDRESSES:
            self._allowances.popitem(last=False)

    def attempt(self, address: str) -> int | None:
        """Take one try before the key is looked up (so concurrent guesses cannot all pass the check); None when
        taken, else the whole seconds to wait. A correct key gives it back with :meth:`succeeded`."""
        if (wait_s := self.retry_after_s(address)) is not None:
            return wait_s
        self.failed(address)
        return None

    def succeeded(self, address: str) -> None:
        if (allowance := self._allowances.get(address)) is not None:
            allowance.tokens = min(self._capacity, allowance.tokens + 1)


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IPvAnyNetwork]) -> str:
    """Who sent the request: the TCP peer, unless it is a trusted proxy; then, walking ``X-Forwarded-For`` from
    the right, the first hop that is not a trusted proxy (hops left of it are whatever the client wrote)."""
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    address = peer or "unknown"
    while hops and _is_trusted(address, trusted):
        address = hops.pop()
    return _counted_as(address)


def _is_trusted(address: str, trusted: Sequence[IPvAnyNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def _counted_as(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)


LIMIT = web.AppKey("failed_key_limit", FailedKeyLimit)
