"""Write the JSON Schema of every command and event, in its envelope:
``python -m shared.contracts.schemas docs/schemas``.

These files document the broker API for the CRM and other consumers; a test keeps them in step with the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from shared.contracts.envelope import Envelope
from shared.contracts.messages import ALL


def schemas() -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = {}
    for model in ALL:
        schema = Envelope[model].model_json_schema()  # type: ignore[valid-type]
        schema["title"] = f"{model.TYPE} ({model.KIND})"
        schema["description"] = (model.__doc__ or "").strip()
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
