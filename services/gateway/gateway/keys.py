"""Typed application state of the gateway."""

from __future__ import annotations

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from shared.graph.client import GraphClient
from shared.messaging.broker import Publisher
from shared.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
PUBLISHER = web.AppKey("publisher", Publisher)
POOL = web.AppKey("pool", asyncpg.Pool)
CONNECTION = web.AppKey("connection", AbstractRobustConnection)
GRAPH = web.AppKey("graph", GraphClient)
