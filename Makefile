# The README's commands. `make run` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
FLASK  := $(BIN)/flask --app shopper
PYTEST_ARGS ?=

.PHONY: run dev test test-sqlite test-postgres bench bench-smoke lint clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Shopper needs Python 3.11 or newer (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[postgres]'
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.run-installed

# The job consumer (PDFs, the ZIP of reports, mail, reminders) runs next to the web server and stops with it.
run: $(VENV)/.run-installed
	$(FLASK) db upgrade
	$(FLASK) demo
	@trap 'kill 0' EXIT; $(FLASK) jobs run & \
		$(BIN)/gunicorn --workers 2 --bind $(HOST):$(PORT) --access-logfile - 'shopper:create_app()'

dev: $(VENV)/.run-installed
	$(FLASK) db upgrade
	$(FLASK) demo
	@trap 'kill 0' EXIT; $(FLASK) jobs run & \
		$(FLASK) run --debug --host $(HOST) --port $(PORT)

# The checks first (a failing check fails the run), then SQLite always, and PostgreSQL too when
# SHOPPER_TEST_DATABASE_URL is set.
test: lint test-sqlite test-postgres

test-sqlite: $(VENV)/.test-installed
	env -u SHOPPER_TEST_DATABASE_URL $(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: $(VENV)/.test-installed
	@if [ -n "$$SHOPPER_TEST_DATABASE_URL" ]; then \
		echo "== the same suite on PostgreSQL"; \
		$(BIN)/python -m pytest $(PYTEST_ARGS); \
	else echo "SHOPPER_TEST_DATABASE_URL is not set: PostgreSQL leg skipped"; fi

# Every script runs even when one fails; the summary counts the figures judged PASS and MISS. A script that fails
# (an error, a lost write) fails `make bench` at the end; a MISS is a figure, not a failure.
BENCH_SCRIPTS ?= $(wildcard bench/bench_*.py)
bench: $(VENV)/.test-installed
	@summary=$$(mktemp); failed=""; \
	for script in $(BENCH_SCRIPTS); do echo "== $$script"; \
		SHOPPER_BENCH_SUMMARY=$$summary $(BIN)/python $$script || failed="$$failed $$script"; done; \
	echo "== summary: $$(grep -c '^PASS' $$summary) PASS, $$(grep -c '^MISS' $$summary) MISS"; \
	grep '^MISS' $$summary || true; rm -f $$summary; \
	if [ -n "$$failed" ]; then echo "== failed:$$failed"; exit 1; fi

# The same scripts at their smallest sizes (BENCH_SMOKE=1): they still run, the figures mean nothing.
bench-smoke: $(VENV)/.test-installed
	@BENCH_SMOKE=1 $(MAKE) --no-print-directory bench

# eslint and its two packages come from package-lock.json (exact versions); the app's JavaScript has no build step.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The checks that keep the architecture: style, types, the direction of imports, the JavaScript.
lint: $(VENV)/.test-installed node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	node_modules/.bin/eslint static/js static/sw.js

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .import_linter_cache build dist *.egg-info
