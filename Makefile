# wamux — the two commands: `make demo` runs the platform locally on the sandbox; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TYPED := shared sandbox launcher services/gateway/gateway services/router/router services/ai-worker/ai_worker \
         services/sender/sender services/billing/billing services/directory/directory

.PHONY: help install demo test test-unit lint typecheck migrate customer onboard schemas bench clean

help:
	@echo "make demo       run every service and the sandbox locally (Ctrl-C stops)"
	@echo "make test       run the whole test suite (needs PostgreSQL and RabbitMQ; see README)"
	@echo "make customer MSG='Hola'   play a customer against the running demo"
	@echo "make onboard NAME=… PHONE=…   onboard a new client's number on the running demo (link + QR code)"
	@echo "make migrate    apply database migrations (WAMUX_DATABASE_URL)"
	@echo "make lint       ruff + mypy"

# The virtualenv is (re)built whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m launcher.demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy $(TYPED)
	$(PY) -m pytest

test-unit: $(STAMP)
	$(PY) -m pytest -m 'not integration and not e2e' services/*/tests/unit shared/tests/unit sandbox/tests

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(TYPED)

migrate: $(STAMP)
	$(PY) -m shared.migrate

onboard: $(STAMP)
	$(PY) -m launcher.onboard --name "$${NAME:-Café Bruma}" --phone "$${PHONE:-+57 300 555 0142}" $(ARGS)

customer: $(STAMP)
	$(PY) -m sandbox.customer --phone-number-id $${PHONE_NUMBER_ID:-100000000000001} "$(MSG)"

schemas: $(STAMP)
	$(PY) -m shared.contracts.schemas docs/schemas

# Each benchmark writes artifacts/bench/<name>.json; report.py prints them as one table (cores included).
bench: $(STAMP)
	$(PY) bench/gateway_vs_pywa.py
	$(PY) bench/stages.py
	$(PY) bench/pipeline.py --runs 3 --confirm-seconds 300  # medians of three fresh runs of each mode; the rate held 5 min
	$(PY) bench/soak.py --rate 30  # below the sustained rate: memory under load, not a growing backlog
	$(PY) bench/e2e_latency.py
	$(PY) bench/router_throughput.py
	$(PY) bench/llm_client.py
	$(PY) bench/publish.py
	WAMUX_HOSTILE_EXAMPLES=3000 $(PY) -m pytest -q -p no:logging services/router/tests/integration/test_router_hostile_input.py
	$(PY) bench/report.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .demo
