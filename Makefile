# Two commands on a fresh machine: `make plan` (the offline plan) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install plan test bench validate policy clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[app,dev]'
	@touch $(STAMP)

plan: install  ## offline plan of every built-in environment on every cloud
	$(BIN)/mlinfra plan --cloud all

test: install
	$(BIN)/python -m pytest -q

validate: install
	$(BIN)/mlinfra validate --cloud all

policy: install
	$(BIN)/mlinfra policy check --cloud all

bench: install
	$(BIN)/python bench/plan_bench.py

clean:
	rm -rf $(VENV) build *.egg-info
