"""The directory's settings (``python -m directory`` and ``python -m directory.admin``): the broker and the
database. Onboarding's calls to Meta will add Graph (``shared.settings.GraphSettings``)."""

from __future__ import annotations

from shared.settings import Settings


class DirectorySettings(Settings):
    service: str = "directory"
