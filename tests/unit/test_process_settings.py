"""Each process holds only the settings it reads: a keyword its class lacks is refused, ``WAMUX_*`` variables meant
for others are ignored, and the launcher hands no process a secret it does not use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from launcher.environment import environment, variables_of
from router.settings import RouterSettings
from sender.settings import SenderSettings

SECRETS = {
    "WAMUX_APP_SECRET",
    "WAMUX_VERIFY_TOKEN",
    "WAMUX_GRAPH_TOKEN",
    "OPENAI_API_KEY",
    "WAMUX_SIGNUP_LINK_SECRET",
    "WAMUX_OPERATOR_API_KEY",
    "WAMUX_CREDENTIAL_KEYS",
}


@pytest.mark.parametrize(
    ("process", "secrets"),
    [
        # Graph: the media proxy; the link secret: the signup pages; the operator's key: the REST API.
        (
            "gateway",
            {
                "WAMUX_APP_SECRET",
                "WAMUX_VERIFY_TOKEN",
                "WAMUX_GRAPH_TOKEN",
                "WAMUX_SIGNUP_LINK_SECRET",
                "WAMUX_OPERATOR_API_KEY",
                "OPENAI_API_KEY",  # a client's "try it" of its personality
            },
        ),
        ("router", set()),
        ("ai-worker", {"OPENAI_API_KEY"}),
        ("sender", {"WAMUX_GRAPH_TOKEN", "WAMUX_CREDENTIAL_KEYS"}),  # a number's business token, decrypted
        ("billing", set()),
        # The code exchange (app secret), the callback override (verify token), the manual path (Graph token),
        # the links it issues.
        (
            "directory",
            {
                "WAMUX_APP_SECRET",
                "WAMUX_VERIFY_TOKEN",
                "WAMUX_GRAPH_TOKEN",
                "WAMUX_SIGNUP_LINK_SECRET",
                "WAMUX_CREDENTIAL_KEYS",
            },
        ),
    ],
)
def test_each_process_is_handed_only_the_secrets_it_reads(process: str, secrets: set[str]) -> None:
    everything = {name: "s3cret" for name in SECRETS} | {"WAMUX_AMQP_URL": "amqp://x/", "PATH": "/bin"}
    handed = environment(process, everything, {})
    assert set(handed) & SECRETS == secrets
    assert {"WAMUX_AMQP_URL", "PATH"} <= set(handed)


def test_a_setting_a_process_does_not_have_is_refused_and_others_in_the_environment_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValidationError, match="graph_token"):
        RouterSettings(graph_token="t")  # type: ignore[call-arg]
    monkeypatch.setenv("WAMUX_GRAPH_TOKEN", "t")
    monkeypatch.setenv("WAMUX_PREFETCH", "3")
    assert RouterSettings().prefetch == 3
    assert not hasattr(RouterSettings(), "graph_token")
    assert SenderSettings().graph_token.get_secret_value() == "t"


SERVICES = ("gateway", "router", "ai-worker", "sender", "billing", "directory")
README = Path(__file__).resolve().parents[2] / "README.md"


def readers_in_readme() -> dict[str, frozenset[str]]:
    section = README.read_text(encoding="utf-8").split("## Configuration", 1)[1].split("\n## ", 1)[0]
    readers: dict[str, frozenset[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`"):
            continue
        by = frozenset(SERVICES) if cells[2] == "every service" else frozenset(c.strip() for c in cells[2].split(","))
        for variable in re.findall(r"`([A-Z_]+)`", cells[0]):
            readers[variable] = by
    return readers


def test_the_readme_says_which_service_reads_each_variable() -> None:
    actual: dict[str, set[str]] = {}
    for service in SERVICES:
        for variable in variables_of(service):
            actual.setdefault(variable, set()).add(service)
    assert readers_in_readme() == {v: frozenset(s) for v, s in actual.items()}
