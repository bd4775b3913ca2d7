"""The directory's secrets on the real PostgreSQL: encrypted in ``directory.credentials``, opened only with the key
and the row they were sealed for, sealed again under a new key by ``rotate-credentials``."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pydantic import SecretStr

from directory import admin, credentials
from shared import secretbox
from shared.secretbox import KeyRing, Tampered, UnknownKey
from tests.support.tenants import Tenant

K1, K2 = secretbox.new_key_setting("k1"), secretbox.new_key_setting("k2")


def ring(*entries: str) -> KeyRing:
    return KeyRing.from_setting(SecretStr(",".join(entries)))


def waba() -> str:
    return str(random.randint(10**14, 10**15 - 1))


def token() -> SecretStr:
    return SecretStr("EAAG" + "".join(random.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=40)))


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


async def raw_row(conn: asyncpg.Connection, subject: str) -> asyncpg.Record:
    return await conn.fetchrow(
        "SELECT key_id, nonce, ciphertext FROM directory.credentials WHERE kind = 'business_token' AND subject = $1",
        subject,
    )


async def test_a_stored_token_is_ciphertext_in_the_table_and_opens_to_itself(conn: asyncpg.Connection) -> None:
    keys, subject, secret = ring(K1), waba(), token()
    await credentials.store(conn, keys, "business_token", subject, secret)

    row = await raw_row(conn, subject)
    assert row["key_id"] == "k1"
    assert secret.get_secret_value().encode() not in bytes(row["ciphertext"])
    loaded = await credentials.load(conn, keys, "business_token", subject)
    assert loaded is not None and loaded.get_secret_value() == secret.get_secret_value()
    assert await credentials.load(conn, keys, "business_token", waba()) is None
    assert await credentials.load(conn, keys, "pin", subject) is None  # a kind is its own secret


async def test_storing_again_replaces_the_secret_and_an_expired_one_is_not_handed_out(
    conn: asyncpg.Connection,
) -> None:
    keys, subject, first, second = ring(K1), waba(), token(), token()
    await credentials.store(conn, keys, "business_token", subject, first)
    await credentials.store(conn, keys, "business_token", subject, second)
    loaded = await credentials.load(conn, keys, "business_token", subject)
    assert loaded is not None and loaded.get_secret_value() == second.get_secret_value()

    past = datetime.now(UTC) - timedelta(minutes=1)
    await credentials.store(conn, keys, "business_token", subject, second, expires_at=past)
    assert await credentials.load(conn, keys, "business_token", subject) is None


async def test_the_read_view_gives_the_sender_a_number_s_token_as_ciphertext_only(
    conn: asyncpg.Connection, make_tenant: Callable[..., Awaitable[Tenant]]
) -> None:
    subject, secret = waba(), token()
    tenant = await make_tenant(waba_id=subject)
    await credentials.store(conn, ring(K1), "business_token", subject, secret)

    row = await conn.fetchrow(
        "SELECT * FROM directory_read.number_tokens WHERE phone_number_id = $1", tenant.phone_number_id
    )
    assert (row["client_id"], row["waba_id"], row["key_id"]) == (tenant.client_id, subject, "k1")
    assert secret.get_secret_value().encode() not in bytes(row["ciphertext"])
    sealed = secretbox.Sealed(row["key_id"], bytes(row["nonce"]), bytes(row["ciphertext"]))
    opened = secretbox.open(ring(K1), sealed, aad=credentials.associated_data("business_token", subject))
    assert opened.get_secret_value() == secret.get_secret_value()


async def test_a_row_changed_in_sql_fails_loudly_rather_than_read_as_no_token(conn: asyncpg.Connection) -> None:
    keys, subject = ring(K1), waba()
    await credentials.store(conn, keys, "business_token", subject, token())
    await conn.execute(
        "UPDATE directory.credentials SET ciphertext = overlay(ciphertext placing '\\x00'::bytea from 1 for 1) "
        "WHERE kind = 'business_token' AND subject = $1",
        subject,
    )
    with pytest.raises(Tampered):
        await credentials.load(conn, keys, "business_token", subject)


async def test_a_ciphertext_copied_onto_another_waba_does_not_open_there(conn: asyncpg.Connection) -> None:
    keys, mine, theirs = ring(K1), waba(), waba()
    await credentials.store(conn, keys, "business_token", mine, token())
    await credentials.store(conn, keys, "business_token", theirs, token())
    await conn.execute(
        "UPDATE directory.credentials t SET key_id = m.key_id, nonce = m.nonce, ciphertext = m.ciphertext "
        "FROM directory.credentials m WHERE m.kind = 'business_token' AND m.subject = $1 "
        "AND t.kind = 'business_token' AND t.subject = $2",
        mine,
        theirs,
    )
    with pytest.raises(Tampered):
        await credentials.load(conn, keys, "business_token", theirs)


async def test_rotation_seals_every_secret_again_under_the_new_key_then_the_old_key_may_go(
    conn: asyncpg.Connection,
) -> None:
    # The session's database is shared by every test: the rotation runs in a transaction that sees only this
    # test's secrets and is rolled back.
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute("DELETE FROM directory.credentials")
        secrets = {waba(): token() for _ in range(3)}
        for subject, secret in secrets.items():
            await credentials.store(conn, ring(K1), "business_token", subject, secret)
        await credentials.store(conn, ring(K1), "pin", "106540352242922", SecretStr("123456"))

        assert await credentials.reencrypt(conn, ring(K2, K1)) == 4
        assert await credentials.reencrypt(conn, ring(K2, K1)) == 0
        assert {r["key_id"] for r in await conn.fetch("SELECT key_id FROM directory.credentials")} == {"k2"}
        for subject, secret in secrets.items():  # the old key is gone from the ring: everything still opens
            loaded = await credentials.load(conn, ring(K2), "business_token", subject)
            assert loaded is not None and loaded.get_secret_value() == secret.get_secret_value()
        pin = await credentials.load(conn, ring(K2), "pin", "106540352242922")
        assert pin is not None and pin.get_secret_value() == "123456"
    finally:
        await transaction.rollback()


async def test_rotation_without_the_old_key_changes_nothing_and_names_the_missing_key(
    conn: asyncpg.Connection,
) -> None:
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute("DELETE FROM directory.credentials")
        subject = waba()
        await credentials.store(conn, ring(K1), "business_token", subject, token())
        with pytest.raises(UnknownKey, match="'k1'"):
            await credentials.reencrypt(conn, ring(K2))
        assert (await raw_row(conn, subject))["key_id"] == "k1"
    finally:
        await transaction.rollback()


@pytest.mark.parametrize(
    ("keys", "said"),
    [
        ("", "WAMUX_CREDENTIAL_KEYS is not set"),
        ("k1:c2hvcnQ=", "WAMUX_CREDENTIAL_KEYS entry 1 ('k1'): the key must be 32 bytes, not 5"),
    ],
)
def test_rotate_credentials_answers_a_missing_or_bad_key_ring_with_one_line(
    keys: str, said: str, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WAMUX_DATABASE_URL", database_url)
    monkeypatch.setenv("WAMUX_CREDENTIAL_KEYS", keys)
    # An empty ring is refused before any row is read: nothing of the session's database is touched.
    assert admin.main(["rotate-credentials"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err and "Traceback" not in err
