# Hirondelle: `make run` to try it, `make test` to check it. Both build .venv when needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: `make run` needs the runtime dependencies only; `make test` adds the test tools.
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
# Test processes (pytest-xdist), each with its own PostgreSQL database: one more than the cores,
# because many tests wait on a server, a simulator or a browser in another process (with one
# per core the suite kept the cores busy only 58 % of the time).
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))

.PHONY: run test lint format bench docs screenshots translations dist clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes (new dependency, new extra).
$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): $(STAMP_RUN)
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $@

# A make recipe cannot change the PATH of the shell that called it: it says how, and the
# server (and whatever it starts) runs with $(BIN) first on its PATH.
run: $(STAMP_RUN)
	@echo "The hirondelle command is in $(BIN): '. $(BIN)/activate' puts it on your PATH (or call $(BIN)/hirondelle)."
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/hirondelle serve

test: $(STAMP_TEST)
	$(BIN)/ruff check src tests $(wildcard bench) tools
	$(BIN)/ruff format --check src tests $(wildcard bench) tools
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP_TEST)
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/mypy

format: $(STAMP_TEST)
	$(BIN)/ruff format src tests $(wildcard bench)
	$(BIN)/ruff check --fix src tests $(wildcard bench)

bench: $(STAMP_TEST)
	$(BIN)/python bench/run_all.py

docs: $(STAMP_TEST)
	$(BIN)/cog -r docs/cli.md

# Every page of the customer and operators' areas, in English and French, into docs/screenshots/
# (a real `hirondelle serve` with demo data, Playwright driving /usr/bin/chromium or $$CHROMIUM).
screenshots: $(STAMP_TEST)
	$(BIN)/python tools/screenshots.py

# New texts of the web pages (templates, web/*.py) into the French catalogue; then translate the
# empty msgstr entries (tests/web/test_translations.py fails while one is left).
LOCALES := src/hirondelle/web/locales
translations: $(STAMP_TEST)
	$(BIN)/pybabel extract --no-location --omit-header -k N_ -F babel.cfg -o $(LOCALES)/messages.pot src/hirondelle/web
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete -i $(LOCALES)/messages.pot -d $(LOCALES) -l fr
	rm $(LOCALES)/messages.pot

# An sdist and a wheel in dist/ (templates, static files, translations, migrations and the price
# table inside the package).
dist: $(STAMP_TEST)
	rm -rf dist
	$(BIN)/python -m build --outdir dist

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis dist build
