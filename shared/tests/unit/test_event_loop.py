"""Every service runs on ``shared.messaging.runtime.event_loop``: uvloop's where pyproject installs it."""

from __future__ import annotations

import asyncio
import sys

import pytest

from shared.messaging.runtime import event_loop


@pytest.mark.skipif(sys.platform == "win32", reason="pyproject installs uvloop off Windows only")
def test_services_run_on_uvloop_where_it_is_installed() -> None:
    loop = event_loop()
    try:
        assert type(loop).__module__.startswith("uvloop")

        async def which() -> str:
            return type(asyncio.get_running_loop()).__module__

        assert loop.run_until_complete(which()).startswith("uvloop")
    finally:
        loop.close()
