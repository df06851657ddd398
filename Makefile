# Two commands do everything on a fresh machine with python3 and make:
#   make demo   creates .venv, installs batchops, runs the whole pipeline against the sandbox
#   make test   the same set-up, then the whole test suite
#   make serve  the page (batchops serve) against a sandbox on a free port, opened in the browser
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo serve test test-slow bench templates lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/batchops demo

serve: $(STAMP)
	$(BIN)/batchops serve --sandbox --port 0

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/run_all.py

templates: $(STAMP)
	$(BIN)/batchops template --all -o templates

lint: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/ruff check batchops tests bench
	$(BIN)/mypy batchops

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
