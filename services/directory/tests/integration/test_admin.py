"""``python -m directory.admin`` refuses an operator's mistakes in one line that says what to do: a client that does
not exist (PostgreSQL's foreign key, on the real database) and a setting that does not parse (no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from directory import admin
from tests.support.tenants import random_phone_number, random_phone_number_id


def test_a_number_for_a_client_that_does_not_exist_says_to_add_the_client_first(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WAMUX_DATABASE_URL", database_url)
    unknown = uuid.uuid4()
    number = ["--phone-number", random_phone_number(), "--phone-number-id", random_phone_number_id()]
    number += ["--waba-id", random_phone_number_id()]  # a WABA of its own: shared WABAs make tenants ambiguous

    assert admin.main(["add-number", "--client-id", str(unknown), *number]) == 2
    err = capsys.readouterr().err
    assert err == f"error: no client {unknown}: add it first (add-client)\n"

    # The same number under a client that exists is taken: the refusal was the client, nothing else.
    assert admin.main(["add-client", "--name", "Ferretería Sol", "--personality", "Breve y amable."]) == 0
    client_id = json.loads(capsys.readouterr().out)["client_id"]
    assert admin.main(["add-number", "--client-id", client_id, *number]) == 0
    assert uuid.UUID(json.loads(capsys.readouterr().out)["number_id"])


def test_a_setting_that_does_not_parse_is_named_in_one_line_without_a_traceback(database_url: str) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "WAMUX_DATABASE_URL": database_url,
        "WAMUX_DB_POOL_MAX": "abc",
        "WAMUX_ONBOARDING_MAX_ATTEMPTS": "six-ish",
    }
    done = subprocess.run(
        [sys.executable, "-m", "directory.admin", "add-client", "--name", "X", "--personality", "Y"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: bad setting: WAMUX_DB_POOL_MAX: ")
    assert "WAMUX_ONBOARDING_MAX_ATTEMPTS: " in done.stderr
    assert "abc" not in done.stderr and "six-ish" not in done.stderr  # a value is never echoed: it may be a secret
