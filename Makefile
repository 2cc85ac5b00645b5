# Two commands do all the set-up (see README): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-tools lint typecheck bench-startup clean

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

# tests/e2e/test_no_network.py watches system calls with strace (Linux); installed when run
# as root on Debian/Ubuntu, otherwise the exact command is printed.
test-tools:
	@[ "$$(uname -s)" != Linux ] || command -v strace >/dev/null 2>&1 || \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing: strace"; \
	  apt-get install -y --no-install-recommends strace || \
	    { apt-get update && apt-get install -y --no-install-recommends strace; }; \
	else \
	  echo "The tests need strace. Install it, then run make test again:"; \
	  echo "  sudo apt-get install -y strace"; exit 1; \
	fi

test: $(STAMP) test-tools lint typecheck
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
