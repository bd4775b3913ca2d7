from __future__ import annotations

from ipaddress import ip_network

from gateway import failed_keys
from gateway.auth import bearer_key
from gateway.failed_keys import FailedKeyLimit, client_address


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_may_fail_n_times_then_waits_until_one_attempt_is_given_back() -> None:
    clock = Clock()
    limit = FailedKeyLimit(per_minute=6, clock=clock)
    for _ in range(6):
        assert limit.retry_after_s("203.0.113.7") is None
        limit.failed("203.0.113.7")
    assert limit.retry_after_s("203.0.113.7") == 10  # one attempt back every 60 / 6 s
    assert limit.retry_after_s("203.0.113.8") is None
    clock.now += 10
    assert limit.retry_after_s("203.0.113.7") is None
    limit.failed("203.0.113.7")
    assert limit.retry_after_s("203.0.113.7") == 10
    clock.now += 60
    assert limit.retry_after_s("203.0.113.7") is None


def test_the_addresses_remembered_stay_bounded_whatever_the_number_of_guessers(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(failed_keys, "_TRACKED_ADDRESSES", 100)
    clock = Clock()
    limit = FailedKeyLimit(per_minute=2, clock=clock)
    for n in range(500):
        limit.failed(f"10.0.{n // 256}.{n % 256}")
        clock.now += 1
    assert len(limit._allowances) <= 100
    limit.failed("198.51.100.1")
    limit.failed("198.51.100.1")
    assert limit.retry_after_s("198.51.100.1") is not None  # the newest guesser is among those kept


def test_the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() -> None:
    proxies = (ip_network("10.0.0.0/8"),)
    assert client_address("203.0.113.7", ["198.51.100.1"], ()) == "203.0.113.7"
    assert client_address("203.0.113.7", ["198.51.100.1"], proxies) == "203.0.113.7"
    assert client_address("10.1.2.3", ["198.51.100.1, 203.0.113.7"], proxies) == "203.0.113.7"
    assert client_address("10.1.2.3", ["198.51.100.1, 203.0.113.7, 10.9.9.9"], proxies) == "203.0.113.7"
    assert client_address("10.1.2.3", [], proxies) == "10.1.2.3"


def test_ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert client_address("2001:db8:1:2:aaaa::1", [], ()) == client_address("2001:db8:1:2:bbbb::9", [], ())
    assert client_address("2001:db8:1:2::1", [], ()) != client_address("2001:db8:1:3::1", [], ())
    assert client_address("::ffff:203.0.113.7", [], ()) == "203.0.113.7"


def test_the_bearer_scheme_is_case_insensitive_and_only_bearer() -> None:
    assert bearer_key("bearer wmx_abc") == bearer_key(" BEARER \t wmx_abc ") == "wmx_abc"
    assert bearer_key("Basic wmx_abc") == bearer_key("wmx_abc") == bearer_key("Bearer") == bearer_key("") == ""


def test_concurrent_guesses_take_their_tries_before_any_lookup_and_a_correct_key_gives_its_back() -> None:
    limit = FailedKeyLimit(per_minute=3, clock=lambda: 1000.0)
    assert [limit.attempt("203.0.113.9") for _ in range(3)] == [None, None, None]  # three lookups in flight
    assert limit.attempt("203.0.113.9") == 20  # the fourth is refused before it is looked up
    limit.succeeded("203.0.113.9")
    assert limit.attempt("203.0.113.9") is None
