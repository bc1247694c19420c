# tanjian: `make demo` runs the workspace on the embedded Plant 18 simulation; `make test` runs the tests.
# Both install what they need first: a .venv with the locked Python packages, the npm tools in
# ./node_modules, and (for the tests) Debian's chromium, mosquitto, socat, mbpoll and curl when they are missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := chromium mosquitto mosquitto-clients socat fonts-wqy-microhei mbpoll curl poppler-utils poppler-data
PYTEST_ARGS ?=

.PHONY: demo test install system-deps lock clean help

help:
	@echo "make demo   - install, then run the Plant 18 demo (Ctrl-C stops)"
	@echo "make test   - install (incl. chromium, mosquitto), then run the test suite"
	@echo "make lock   - re-resolve requirements.lock from pyproject.toml"
	@echo "make clean  - remove .venv, node_modules, var/ and test artefacts"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# --compile-bytecode: the packages' .pyc are written once at install, so no command compiles pandas, xarray or
# zarr again at every start where PYTHONDONTWRITEBYTECODE is set (benchmarks/bench_cli.py shows the difference)
$(STAMP): pyproject.toml requirements.lock package.json package-lock.json | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
	$(UV) pip install --python $(BIN)/python --quiet --compile-bytecode -r requirements.lock
	$(UV) pip install --python $(BIN)/python --quiet --no-deps -e .
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(STAMP)

system-deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

demo: $(STAMP)
	$(BIN)/tanjian demo

test: $(STAMP) system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lock:
	$(UV) pip compile pyproject.toml --all-extras --python-version 3.11 -o requirements.lock
	$(BIN)/python tools/gen_environment.py

clean:
	rm -rf $(VENV) node_modules var test-artifacts .pytest_cache
