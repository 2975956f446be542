# The two commands of the README: `make run` and `make test`. Both set everything up first.
VENV ?= .venv
PYTHON ?= python3

.PHONY: install run test bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/nguoitot run

test: install
	VENV=$(VENV) bash scripts/test

bench: install
	$(VENV)/bin/python bench/flow_throughput.py
	$(VENV)/bin/python bench/fanout.py
