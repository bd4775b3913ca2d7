"""Write the JSON Schema of every command and event, in its envelope:
``python -m shared.contracts.schemas docs/schemas``.

These files document the broker API for the CRM and other consumers; a test keeps them in step with the code.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.contracts.envelope import Envelope, Payload, wrap
from shared.contracts.examples import EXAMPLES
from shared.contracts.messages import ALL

_EXAMPLE_ID = uuid.UUID("8d2f6a1b-3c4e-4f5a-9b6c-7d8e9f0a1b2c")
_EXAMPLE_TENANT = uuid.UUID(EXAMPLES["client.create"]["client_id"])


def example(model: type[Payload]) -> dict[str, Any] | None:
    """The model's example (``shared.contracts.examples``) in its envelope, as it travels on the broker."""
    if model.TYPE not in EXAMPLES:
        return None
    envelope = wrap(
        model.model_validate(EXAMPLES[model.TYPE]),
        id=_EXAMPLE_ID,
        tenant_id=_EXAMPLE_TENANT,
        correlation_id="crm-order-4711",
        occurred_at=datetime(2026, 12, 2, 9, 30, tzinfo=UTC),
    )
    return envelope.model_dump(mode="json")


def schemas() -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = {}
    for model in ALL:
        schema = Envelope[model].model_json_schema()  # type: ignore[valid-type]
        schema["title"] = f"{model.TYPE} ({model.KIND})"
        schema["description"] = (model.__doc__ or "").strip()
        if (sample := example(model)) is not None:
            schema["examples"] = [sample]
        documents[f"{model.TYPE}.json"] = schema
    return documents


def main() -> None:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")
    target.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas().items():
        (target / name).write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(ALL)} schemas written to {target}")


if __name__ == "__main__":
    main()
