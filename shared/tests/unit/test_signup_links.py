import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from shared import signup_links

SECRET = SecretStr("a-test-secret")
LINK = uuid.UUID("5b0c1f3e-8a4d-4c1e-9a57-2f1d6c3b9e10")
EXPIRES = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)


def test_a_signed_link_verifies_to_its_id_and_expiry() -> None:
    token = signup_links.sign(SECRET, LINK, EXPIRES)
    assert signup_links.verify(SECRET, token, now=EXPIRES - timedelta(days=7)) == signup_links.Link(LINK, EXPIRES)
    assert len(token) < 60  # a QR code of the whole URL stays easy to scan
    assert signup_links.url("https://wamux.example.com/", token) == f"https://wamux.example.com/onboard/{token}"


def test_expiry_is_checked_after_the_signature() -> None:
    token = signup_links.sign(SECRET, LINK, EXPIRES)
    with pytest.raises(signup_links.ExpiredLink) as expired:
        signup_links.verify(SECRET, token, now=EXPIRES)
    assert expired.value.link_id == LINK


@pytest.mark.parametrize("position", [0, 5, 17, 30, -1])
def test_a_tampered_token_is_refused(position: int) -> None:
    token = signup_links.sign(SECRET, LINK, EXPIRES)
    flipped = "A" if token[position] != "A" else "B"
    tampered = token[:position] + flipped + token[position + 1 :] if position != -1 else token[:-1] + flipped
    with pytest.raises(signup_links.BadLink):
        signup_links.verify(SECRET, tampered, now=EXPIRES - timedelta(days=1))


@pytest.mark.parametrize("token", ["", "x", "not base64 !!", "A" * 60])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(signup_links.BadLink):
        signup_links.verify(SECRET, token)


def test_another_secret_does_not_verify_and_an_empty_one_cannot_sign() -> None:
    token = signup_links.sign(SECRET, LINK, EXPIRES)
    with pytest.raises(signup_links.BadLink):
        signup_links.verify(SecretStr("another"), token, now=EXPIRES - timedelta(days=1))
    with pytest.raises(ValueError, match="WAMUX_SIGNUP_LINK_SECRET"):
        signup_links.sign(SecretStr(""), LINK, EXPIRES)
