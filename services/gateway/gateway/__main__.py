"""gateway — the HTTP edge. Receives Meta's webhooks (publishes ``webhook.received``), serves the client API
and dashboard; owns no table: it reads the ``dashboard`` views and the owners' ``*_read`` views (clients and
their numbers belong to the directory service).
"""

from __future__ import annotations

from aiohttp import web

from gateway.app import create_app
from gateway.settings import GatewaySettings
from shared.logging import configure_logging, get_logger
from shared.messaging.runtime import event_loop


def main() -> None:
    settings = GatewaySettings(service="gateway")
    configure_logging(settings.service, settings.log_level)
    log = get_logger(__name__)
    loop = event_loop()
    log.info("gateway.listening", host=settings.gateway_host, port=settings.gateway_port, loop=type(loop).__module__)
    web.run_app(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        print=None,
        access_log=None,
        loop=loop,
    )


if __name__ == "__main__":
    main()
