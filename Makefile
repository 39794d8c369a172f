# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the test suite drives for real (browser, prompts, SIP peers).
TEST_DEBS := chromium espeak-ng sox libsox-fmt-all sip-tester baresip kamailio

.PHONY: run test lint bench prompts system-deps clean

run: $(VENV)/.stamp-run node_modules/.stamp
	$(BIN)/telekonf serve

test: system-deps $(VENV)/.stamp-test node_modules/.stamp
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -ra $(PYTEST_ARGS)

lint: $(VENV)/.stamp-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(VENV)/.stamp-run
	$(BIN)/python -m benchmarks

prompts: $(VENV)/.stamp-run
	$(BIN)/python tools/make_prompts.py

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.stamp-run: pyproject.toml $(VENV)/bin/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.stamp-test: pyproject.toml $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.stamp-run

# Browser libraries come from the npm registry, pinned by package-lock.json, served by us.
node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Installs only what is missing; needs root (as on CI), otherwise says what to install.
system-deps:
	@missing=""; for p in $(TEST_DEBS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "please install:$$missing (Debian packages)"; exit 1; fi; fi

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
