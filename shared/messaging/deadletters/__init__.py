"""The dead-letter queues: :mod:`letters` looks, replays and purges, :mod:`reading` reads one dead letter,
:mod:`cli` is the operator's command."""

from shared.messaging.deadletters.cli import main
from shared.messaging.deadletters.letters import (
    DeadQueue,
    QueueMissing,
    Replay,
    UnknownRole,
    check_role,
    peek,
    purge,
    replay,
)
from shared.messaging.deadletters.reading import REPLAYED_AT_HEADER, DeadLetter, describe, revived

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
