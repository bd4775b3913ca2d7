"""The signup links the directory issued (``directory.signup_links``): one live link per onboarding.

Issuing a link revokes the onboarding's older ones; the signup that came through a link uses it up. The token in
the URL is the link's id and expiry, signed (:mod:`shared.signup_links`); the gateway checks the signature and reads
whether the link is still live from ``directory_read.signup_links``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from shared import signup_links
from shared.contracts.envelope import derived_id
from shared.settings import SignupLinkSettings


def default_link(onboarding_id: uuid.UUID, settings: SignupLinkSettings) -> signup_links.Link:
    """The link a ``number.register`` that named none gets: its id derived from the onboarding's."""
    expires = datetime.now(UTC) + timedelta(days=settings.signup_link_days)
    return signup_links.Link(derived_id("signup_link", str(onboarding_id)), expires.replace(microsecond=0))


async def issue(conn: asyncpg.Connection, onboarding_id: uuid.UUID, link: signup_links.Link) -> None:
    """Record ``link`` as the onboarding's live link (again: nothing changes) and revoke its other live ones."""
    await conn.execute(
        """INSERT INTO directory.signup_links (id, onboarding_id, expires_at) VALUES ($1, $2, $3)
           ON CONFLICT (id) DO NOTHING""",
        link.id,
        onboarding_id,
        link.expires_at,
    )
    await conn.execute(
        """UPDATE directory.signup_links SET revoked_at = now()
            WHERE onboarding_id = $1 AND id <> $2 AND revoked_at IS NULL AND used_at IS NULL""",
        onboarding_id,
        link.id,
    )


async def live(conn: asyncpg.Connection, onboarding_id: uuid.UUID) -> signup_links.Link | None:
    row = await conn.fetchrow(
        """SELECT id, expires_at FROM directory.signup_links
            WHERE onboarding_id = $1 AND revoked_at IS NULL AND used_at IS NULL AND expires_at > now()
            ORDER BY created_at DESC LIMIT 1""",
        onboarding_id,
    )
    return signup_links.Link(row["id"], row["expires_at"]) if row is not None else None


async def use(conn: asyncpg.Connection, onboarding_id: uuid.UUID, link_id: uuid.UUID) -> None:
    """The signup came through this link: it is used up (a second signup through it is refused by the gateway)."""
    await conn.execute(
        """UPDATE directory.signup_links SET used_at = now()
            WHERE id = $1 AND onboarding_id = $2 AND used_at IS NULL""",
        link_id,
        onboarding_id,
    )


def url(settings: SignupLinkSettings, link: signup_links.Link | None) -> str | None:
    """The link's URL, or None without a link or a secret to sign it with (then only the gateway can show it)."""
    if link is None or not settings.signup_link_secret.get_secret_value():
        return None
    return signup_links.url(
        settings.public_base_url, signup_links.sign(settings.signup_link_secret, link.id, link.expires_at)
    )
