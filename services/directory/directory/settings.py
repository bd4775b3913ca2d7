"""The directory's settings (``python -m directory.admin`` today): the broker and the database. Onboarding will
add Graph (``shared.settings.GraphSettings``) when the directory starts registering numbers with Meta."""

from __future__ import annotations

from shared.settings import Settings


class DirectorySettings(Settings):
    service: str = "directory"
