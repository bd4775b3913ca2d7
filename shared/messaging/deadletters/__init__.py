"""The dead-letter queues: :mod:`letters` is the library, :mod:`cli` the operator's command."""

from shared.messaging.deadletters.cli import main
from shared.messaging.deadletters.letters import (
    REPLAYED_AT_HEADER,
    DeadLetter,
    DeadQueue,
    QueueMissing,
    Replay,
    UnknownRole,
    check_role,
    describe,
    peek,
    purge,
    replay,
    revived,
)

__all__ = [
    "REPLAYED_AT_HEADER",
    "DeadLetter",
    "DeadQueue",
    "QueueMissing",
    "Replay",
    "UnknownRole",
    "check_role",
    "describe",
    "main",
    "peek",
    "purge",
    "replay",
    "revived",
]
