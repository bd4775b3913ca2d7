"""Typed application state of the gateway."""

from __future__ import annotations

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from gateway.settings import GatewaySettings
from shared.graph.client import GraphClient
from shared.messaging.broker import Publisher
from shared.prompting import ReplyWriter

SETTINGS = web.AppKey("settings", GatewaySettings)
PUBLISHER = web.AppKey("publisher", Publisher)
POOL = web.AppKey("pool", asyncpg.Pool)
CONNECTION = web.AppKey("connection", AbstractRobustConnection)
GRAPH = web.AppKey("graph", GraphClient)
LLM = web.AppKey("llm", ReplyWriter)  # the ai-worker's prompt and model, for "try it"
