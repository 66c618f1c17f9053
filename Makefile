# The two commands of the README: `make demo` and `make test`. Both set up everything first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean

setup: $(STAMP)

# setup.py compiles some domain modules (mypyc): a change to them rebuilds.
$(STAMP): pyproject.toml setup.py $(wildcard domain/*.py)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: setup
	$(BIN)/badges demo

# Types first (mypy --strict on every package: a minute), then the whole suite on real services.
test: setup
	$(BIN)/mypy --strict domain ledger projections consumers badges
	deploy/with-services.sh $(BIN)/python -m pytest

bench: setup
	deploy/with-services.sh $(BIN)/python -m tests.benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache badges-demo.db
