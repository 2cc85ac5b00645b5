# Two commands do all the set-up (see README): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck bench-startup clean

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Pictor needs Python 3.11 or newer: install python3.11 and run: make PYTHON=python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# requirements.lock pins every package, transitive ones included, to a tested set.
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# No ARGS: the window (Linux: first checks the system libraries Qt's X11 plugin needs).
run: $(STAMP)
	@if [ -z "$(ARGS)" ]; then sh desktop/qt-system-libs.sh $(BIN)/python; fi
	$(BIN)/python main.py $(ARGS)

bench-startup: $(STAMP)
	$(BIN)/python bench/startup.py

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
