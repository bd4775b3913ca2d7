"""What the router's handlers need, built once by ``bootstrap()``."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from shared.messaging.broker import Publisher


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    publisher: Publisher
