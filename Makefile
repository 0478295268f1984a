# Xinbao: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# uv installs exactly the versions in uv.lock; uv itself comes from PyPI, pinned by hash in
# scripts/uv-requirements.txt, into a folder of its own (a sync would remove it from .venv).
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test unit lint types audit serve lock lock-check clean

$(UV): scripts/uv-requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --require-hashes -r scripts/uv-requirements.txt
	@touch $(UV)

## The locked install: fails, changing nothing, when pyproject.toml and uv.lock disagree.
$(STAMP): pyproject.toml uv.lock $(UV)
	$(UV) sync --locked --extra dev --python $(PYTHON) --quiet
	@touch $(STAMP)

## lock-check: pyproject.toml and uv.lock agree (make lock when they do not)
lock-check: $(UV)
	@$(UV) lock --check --offline --quiet || { echo "uv.lock does not match pyproject.toml: run 'make lock', then 'make test'" >&2; exit 1; }

## lock: resolve every dependency afresh (newest versions pyproject.toml allows) into uv.lock
lock: $(UV)
	$(UV) lock --upgrade

## demo: simulate the base market on SQLite (out/demo/xinbao.db) and print its KPIs
demo: $(STAMP)
	$(BIN)/xinbao demo

## test: import contracts, lint, types, dependency audit, then the whole suite on SQLite and
## a throwaway PostgreSQL, the console's browser tests included (Debian's chromium and a CJK
## font are installed first when missing)
test: lock-check $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	scripts/dep-audit.sh $(BIN)/python
	scripts/browser-deps.sh
	XINBAO_REQUIRE_POSTGRES=1 XINBAO_REQUIRE_BROWSER=1 scripts/with-postgres.sh $(BIN)/python -m pytest -q -p no:cacheprovider -n auto --dist loadfile

## unit: the tests that need no database server (fast loop while coding)
unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check src tests bench

## types: mypy (strict on the pure modules and the use cases; pyproject.toml [tool.mypy])
types: $(STAMP)
	$(BIN)/mypy

## audit: the dependency audit alone
audit: $(STAMP)
	scripts/dep-audit.sh $(BIN)/python

serve: $(STAMP)
	$(BIN)/xinbao serve

clean:
	rm -rf $(VENV) $(TOOLS) out .pytest_cache .hypothesis
