# Xinbao: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test unit lint audit serve clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## demo: simulate the base market on SQLite (out/demo/xinbao.db) and print its KPIs
demo: $(STAMP)
	$(BIN)/xinbao demo

## test: import contracts, lint, dependency audit, then the whole suite on SQLite and a
## throwaway PostgreSQL
test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check src tests bench
	scripts/dep-audit.sh $(BIN)/python
	XINBAO_REQUIRE_POSTGRES=1 scripts/with-postgres.sh $(BIN)/python -m pytest -q -p no:cacheprovider

## unit: the tests that need no database server (fast loop while coding)
unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check src tests bench

## audit: the dependency audit alone
audit: $(STAMP)
	scripts/dep-audit.sh $(BIN)/python

serve: $(STAMP)
	$(BIN)/xinbao serve

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
