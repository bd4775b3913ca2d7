"""The settings of a test that runs several roles in one process (gateway, router, ai-worker, sender, billing
beside each other on one ``infra``): the union of their classes. Each process of the platform has only its own;
a test of one service may build that service's class instead."""

from __future__ import annotations

from ai_worker.settings import AiWorkerSettings
from gateway.settings import GatewaySettings
from sender.settings import SenderSettings


class PlatformSettings(GatewaySettings, SenderSettings, AiWorkerSettings):
    service: str = "test"
