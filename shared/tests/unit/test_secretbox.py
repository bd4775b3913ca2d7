"""Secrets at rest: sealed under the ring's first key, opened by any key it holds, refused when anything changed."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable

import pytest
from pydantic import SecretStr

from shared import secretbox
from shared.secretbox import KeyRing, NoKeys, Sealed, Tampered, UnknownKey

TOKEN = SecretStr("EAAG-business-token-of-waba-201")
AAD = b"business_token:201"


def ring(*entries: str) -> KeyRing:
    return KeyRing.from_setting(SecretStr(",".join(entries)))


def test_a_sealed_secret_opens_to_itself_and_its_ciphertext_does_not_contain_it() -> None:
    keys = ring(secretbox.new_key_setting("k1"))
    sealed = secretbox.seal(keys, TOKEN, aad=AAD)
    assert sealed.key_id == "k1" and len(sealed.nonce) == 12
    assert TOKEN.get_secret_value().encode() not in sealed.ciphertext
    assert secretbox.open(keys, sealed, aad=AAD).get_secret_value() == TOKEN.get_secret_value()


def test_two_seals_of_one_secret_differ() -> None:
    keys = ring(secretbox.new_key_setting("k1"))
    first, second = secretbox.seal(keys, TOKEN, aad=AAD), secretbox.seal(keys, TOKEN, aad=AAD)
    assert first.nonce != second.nonce and first.ciphertext != second.ciphertext


def test_what_k1_sealed_still_opens_after_k2_became_current_and_new_seals_use_k2() -> None:
    k1, k2 = secretbox.new_key_setting("k1"), secretbox.new_key_setting("k2")
    old = secretbox.seal(ring(k1), TOKEN, aad=AAD)
    rotated = ring(k2, k1)
    assert rotated.current == "k2" and rotated.key_ids == ("k2", "k1")
    assert secretbox.open(rotated, old, aad=AAD).get_secret_value() == TOKEN.get_secret_value()
    assert secretbox.seal(rotated, TOKEN, aad=AAD).key_id == "k2"


def test_a_key_dropped_from_the_ring_is_named_when_its_secret_cannot_open() -> None:
    k1, k2 = secretbox.new_key_setting("k1"), secretbox.new_key_setting("k2")
    old = secretbox.seal(ring(k1), TOKEN, aad=AAD)
    with pytest.raises(UnknownKey, match=r"'k1'.*holds: k2"):
        secretbox.open(ring(k2), old, aad=AAD)


def _flip_first_byte(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: dataclasses.replace(s, ciphertext=_flip_first_byte(s.ciphertext)),
        lambda s: dataclasses.replace(s, ciphertext=s.ciphertext[:-1]),
        lambda s: dataclasses.replace(s, nonce=_flip_first_byte(s.nonce)),
        lambda s: dataclasses.replace(s, nonce=b"short"),
    ],
    ids=["ciphertext", "truncated", "nonce", "short-nonce"],
)
def test_a_changed_ciphertext_or_nonce_is_refused(tamper: Callable[[Sealed], Sealed]) -> None:
    keys = ring(secretbox.new_key_setting("k1"))
    sealed = secretbox.seal(keys, TOKEN, aad=AAD)
    with pytest.raises(Tampered):
        secretbox.open(keys, tamper(sealed), aad=AAD)


def test_a_secret_opened_as_another_subject_is_refused() -> None:
    keys = ring(secretbox.new_key_setting("k1"))
    sealed = secretbox.seal(keys, TOKEN, aad=AAD)
    with pytest.raises(Tampered) as refused:
        secretbox.open(keys, sealed, aad=b"business_token:202")
    assert TOKEN.get_secret_value() not in str(refused.value)


def test_same_key_id_with_another_key_is_tampering_not_success() -> None:
    sealed = secretbox.seal(ring(secretbox.new_key_setting("k1")), TOKEN, aad=AAD)
    with pytest.raises(Tampered):
        secretbox.open(ring(secretbox.new_key_setting("k1")), sealed, aad=AAD)


def test_an_empty_setting_is_an_empty_ring_that_refuses_to_seal_with_the_setting_s_name() -> None:
    empty = KeyRing.from_setting(SecretStr("  "))
    assert empty.current is None and empty.key_ids == ()
    with pytest.raises(NoKeys, match="WAMUX_CREDENTIAL_KEYS is not set"):
        secretbox.seal(empty, TOKEN, aad=AAD)
    with pytest.raises(UnknownKey):
        secretbox.open(KeyRing.empty(), Sealed("k1", bytes(12), b"\0" * 32), aad=AAD)


KEY = base64.b64encode(b"k" * 32).decode()


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        (KEY, "entry 1 is not id:base64key"),
        (f"k1:{KEY},", "entry 2 is not id:base64key"),
        (f"k 1:{KEY}", "entry 1: the key id must be"),
        (f":{KEY}", "entry 1: the key id must be"),
        (f"k1:{KEY},k1:{KEY}", "entry 2: key id 'k1' appears twice"),
        ("k1:not*base64", "entry 1 ('k1'): the key is not valid base64"),
        (f"k1:{base64.b64encode(b'k' * 16).decode()}", "entry 1 ('k1'): the key must be 32 bytes, not 16"),
    ],
)
def test_a_bad_ring_is_refused_naming_the_entry_and_the_problem_never_the_key(setting: str, problem: str) -> None:
    with pytest.raises(ValueError, match="WAMUX_CREDENTIAL_KEYS") as refused:
        KeyRing.from_setting(SecretStr(setting))
    assert problem in str(refused.value)
    assert KEY not in str(refused.value) and "not*base64" not in str(refused.value)


def test_the_ring_s_repr_names_its_key_ids_only() -> None:
    entry = secretbox.new_key_setting("k2")
    keys = ring(entry, f"k1:{KEY}")
    shown = repr(keys) + str(keys)
    assert "k2" in shown and "k1" in shown
    assert entry.partition(":")[2] not in shown and KEY not in shown


def test_new_key_settings_are_fresh_entries_the_ring_accepts() -> None:
    first, second = secretbox.new_key_setting("2024-06"), secretbox.new_key_setting("2024-06")
    assert first != second and first.startswith("2024-06:")
    assert ring(first).current == "2024-06"
    with pytest.raises(ValueError, match="key id"):
        secretbox.new_key_setting("bad id")


def test_a_fingerprint_tells_tokens_apart_without_showing_them() -> None:
    other = SecretStr("EAAG-another-token")
    assert secretbox.fingerprint(TOKEN) == secretbox.fingerprint(SecretStr(TOKEN.get_secret_value()))
    assert secretbox.fingerprint(TOKEN) != secretbox.fingerprint(other)
    assert TOKEN.get_secret_value() not in secretbox.fingerprint(TOKEN)
