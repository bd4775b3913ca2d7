from __future__ import annotations

import hashlib
import hmac

from gateway.signature import Verifier, claimed_digest, is_valid, sign


def test_signature_is_meta_s_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"object":"whatsapp_business_account"}'
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sign(body, "s3cret") == expected
    assert is_valid(body, expected, "s3cret")


def test_any_change_to_body_secret_or_header_is_refused() -> None:
    body = b'{"a":1}'
    good = sign(body, "s3cret")
    assert not is_valid(b'{"a": 1}', good, "s3cret")  # same JSON, other bytes
    assert not is_valid(body, good, "other")
    assert not is_valid(body, good.replace("sha256=", "sha1="), "s3cret")
    assert not is_valid(body, None, "s3cret")
    assert not is_valid(body, good, "")  # an unset secret accepts nothing


def test_a_body_hashed_as_it_streams_in_is_judged_as_the_whole_body_is() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    good, claimed = sign(body, "s3cret"), claimed_digest(sign(body, "s3cret"))
    assert claimed is not None and good.endswith(claimed.hex())
    chunks = [body[:7], body[7:30], body[30:]]
    streamed = Verifier("s3cret", claimed)
    for chunk in chunks:
        streamed.update(chunk)
    assert streamed.matches()
    tampered = Verifier("s3cret", claimed)
    for chunk in [*chunks[:2], chunks[2].replace(b"[]", b"[1]")]:
        tampered.update(chunk)
    assert not tampered.matches()
    assert claimed_digest("sha256=" + "zz" * 32) is None  # not hex
    assert claimed_digest("sha256=" + "ab" * 31) is None  # too short
