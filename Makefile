# Two commands on a fresh machine: `make plan` (the offline plan) and `make test`.
# `make plan` needs Python >= 3.11; `make test` also wants Node.js/npm for the Azure Blob emulator.
PYTHON ?= python3
NPM    ?= npm
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Azurite (the Azure Blob emulator the app's az:// tests run against), project-local, pinned by
# its lock file; tests/emulators.py starts and stops it.
AZURITE := tests/azurite/node_modules/.bin/azurite-blob

.PHONY: install test-deps plan test bench bench-install bench-image validate policy clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[app,dev]'
	@touch $(STAMP)

plan: install  ## offline plan of every built-in environment on every cloud
	$(BIN)/mlinfra plan --cloud all

test-deps: install $(AZURITE)

$(AZURITE): tests/azurite/package.json tests/azurite/package-lock.json
	@if command -v $(NPM) >/dev/null 2>&1; then \
	  $(NPM) ci --prefix tests/azurite --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@; \
	elif [ -n "$$CI" ]; then \
	  echo "error: npm not found; CI must install Node.js >= 18 so the Azure Blob emulator tests run" >&2; exit 4; \
	else \
	  echo "note: npm not found: the az:// emulator tests will be skipped (install Node.js >= 18 to run them)" >&2; \
	fi

test: test-deps
	$(BIN)/python -m pytest -q

validate: install
	$(BIN)/mlinfra validate --cloud all

policy: install
	$(BIN)/mlinfra policy check --cloud all

bench: install
	$(BIN)/python bench/plan_bench.py

bench-install:  ## fresh clone -> make plan, install included; time and disk (slow: downloads)
	$(PYTHON) bench/first_contact.py

bench-image: install  ## the serving image's installed size per cloud (estimate, no Docker engine needed)
	$(BIN)/python bench/image_size.py

clean:
	rm -rf $(VENV) build *.egg-info tests/azurite/node_modules
