"""Helpers of bench/pipeline.py and bench/stages.py: a scratch platform (database, tenants, broker prefix, the
processes' environment), the customer webhooks they offer, the broker's queues, CPU per process, percentiles.

The benchmarks run as scripts (``.venv/bin/python bench/pipeline.py``), so the repository's root is put on the
path here, once, for ``tests.support`` (tenants made through the directory's code) and ``bench.load`` (the one
payload every benchmark posts).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))
