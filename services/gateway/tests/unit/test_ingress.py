"""The example Ingress publishes Meta's webhook, the client API and the dashboard, and nothing else of the gateway.

Read as text (no YAML parser in the project): each ``- path:`` with the ``pathType`` after it, matched as
Kubernetes matches them (Exact: the whole path; Prefix: whole path elements).
"""

from __future__ import annotations

import re
from pathlib import Path

INGRESS = Path(__file__).resolve().parents[4] / "deploy" / "k8s" / "ingress.yaml"
INTERNAL = ["/metrics", "/readyz", "/healthz", "/", "/metricsx", "/webhook"]
PUBLIC = ["/webhook/whatsapp", "/api/clients/1/stats", "/dashboard", "/dashboard/dashboard.js"]


def public_rules() -> list[tuple[str, str]]:
    text = INGRESS.read_text()
    assert "defaultBackend" not in text, "a default backend would publish every path"
    rules = re.findall(r"-\s+path:\s*(\S+)\s*\n\s*pathType:\s*(\S+)", text)
    assert rules and len(rules) == len(re.findall(r"^\s*-\s+path:", text, re.MULTILINE)), "a path without pathType"
    return rules


def served(path: str, rules: list[tuple[str, str]]) -> bool:
    def matches(rule: str, kind: str) -> bool:
        if kind == "Exact":
            return path == rule
        assert kind == "Prefix", f"pathType {kind} has no portable meaning"
        elements, prefix = path.strip("/").split("/"), [e for e in rule.strip("/").split("/") if e]
        return elements[: len(prefix)] == prefix

    return any(matches(rule, kind) for rule, kind in rules)


def test_the_public_ingress_serves_the_webhook_the_client_api_and_the_dashboard() -> None:
    rules = public_rules()
    assert all(served(path, rules) for path in PUBLIC), rules


def test_metrics_and_probes_are_not_published_by_the_ingress() -> None:
    rules = public_rules()
    assert not [path for path in INTERNAL if served(path, rules)], rules
