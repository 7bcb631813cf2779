# One entry point for everything: `make run` (the local stack) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
RUNTIME_DIR := build/lambda-runtime
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= ap-northeast-1

.PHONY: help setup browser build run invoke test check lint format bench soak map traces console deploy delete clean

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 16

# pip's output as one line per package with a count ("[12] boto3==1.40.0"), then the install
# step: the first `make run` spends about a minute here, and this shows what it is doing and how far
# it has got. Plain lines, no progress bars, so a CI log reads the same as a terminal; pip's errors
# (stderr) pass through untouched and pipefail keeps its exit status.
# $(call pip_progress,TOTAL): TOTAL is the number of packages expected, 0 when unknown (pip finds
# out only as it resolves: the constraints pin more than one platform needs).
define pip_progress
awk -v total=$(1) '/^Collecting /{ n++; printf "  [%d%s] %s\n", n, (total ? "/" total : ""), $$2; fflush() } \
	/^Installing collected packages:/{ count = split(substr($$0, index($$0, ":") + 2), names, ", "); \
	printf "  installing %d packages (unpacking; the slow part) ...\n", count; fflush() } \
	/^Successfully installed/{ print "  done"; fflush() }'
endef
PIP_INSTALL := PYTHONUNBUFFERED=1 $(PY) -m pip install --progress-bar off --disable-pip-version-check

# The virtual environment, rebuilt when the pinned requirements change.
$(VENV)/.installed: requirements-dev.txt constraints.txt
	@echo "==> [1/3] creating $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> [2/3] upgrading pip"
	@set -o pipefail; $(PIP_INSTALL) --upgrade pip | $(call pip_progress,1)
	@echo "==> [3/3] installing the pinned tools (SAM CLI, moto, the AWS CLI, ...): about 100 to collect, then unpack"
	@set -o pipefail; $(PIP_INSTALL) -r requirements-dev.txt -c constraints.txt | $(call pip_progress,0)
	touch $@

# The local stand-in for Lambda's /var/runtime: only what the real runtime provides.
$(RUNTIME_DIR)/.installed: emulator/lambda_/runtime-requirements.txt $(VENV)/.installed
	@echo "==> installing the Lambda runtime interface client into $(RUNTIME_DIR)"
	rm -rf $(RUNTIME_DIR)
	@set -o pipefail; $(PIP_INSTALL) --target $(RUNTIME_DIR) -r emulator/lambda_/runtime-requirements.txt \
		-c constraints.txt | $(call pip_progress,0)
	touch $@

setup: $(VENV)/.installed $(RUNTIME_DIR)/.installed ## create .venv and build/lambda-runtime from the pinned requirements

# Debian's Chromium and ChromeDriver, which the console's browser tests drive (the tests name
# them by these paths). Installed with apt where there is apt; elsewhere one line says how.
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

browser: ## install Debian's chromium and chromium-driver for the console's browser tests
	@if [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then exit 0; fi; \
	if command -v apt-get >/dev/null; then \
		echo "==> installing Debian's chromium and chromium-driver (apt) for the browser tests"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else \
		echo "==> no apt here: install Chromium and ChromeDriver at $(CHROMIUM) and $(CHROMEDRIVER) for the browser tests" >&2; \
	fi

build: setup ## sam build (cached)
	$(BIN)/sam build

run: build ## set up, sam build, start the local stack and print its URLs (ARGS=--help for options)
	$(PY) -m emulator $(ARGS)

# `sam local invoke` without Docker: through a running stack's Lambda if there is one, else a stack of its own.
invoke: build ## one function on one event: FUNCTION=SamDdbFunction EVENT=events/ddb.json (prints result, log, trace id)
	@if [ -z "$(FUNCTION)" ]; then echo "usage: make invoke FUNCTION=<logical id> [EVENT=events/<file>.json]" >&2; exit 2; fi
	$(PY) -m emulator.invoke $(FUNCTION) $(if $(EVENT),--event $(EVENT)) $(ARGS)

lint: check ## ruff, mypy and cfn-lint
	$(BIN)/cfn-lint template.yaml

check: setup ## ruff and mypy, as `make test` runs them first (cfn-lint runs once, in the tests)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup ## ruff format and ruff check --fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: check browser ## ruff, mypy and every test: handlers, template, local stack, X-Ray, console in Chromium (ARGS= for pytest)
	$(BIN)/pytest $(ARGS)

bench: build ## latency, throughput and X-Ray figures, as ratios to baselines measured in the same run
	$(PY) -m bench $(ARGS)

soak: build ## 10,000 writes with the stack killed every way: acknowledged, stored, lost, shutdown times
	$(PY) -m bench.soak $(ARGS)

map: setup ## the X-Ray service map of the local stack (ARGS=--aws for AWS)
	$(PY) -m console.service_map $(ARGS)

traces: setup ## recent X-Ray traces (ARGS=--latest or '--id ID' for a timeline, --aws for AWS)
	$(PY) -m console.traces $(ARGS)

console: setup ## the X-Ray console in the browser: prints its URL and opens it (ARGS=--aws for AWS)
	$(PY) -m console.web $(ARGS)

deploy: setup ## sam build + sam deploy (stack sam-app, ap-northeast-1)
	$(BIN)/sam build
	$(BIN)/sam deploy $(ARGS)

delete: setup ## sam delete: remove the deployed stack
	$(BIN)/sam delete $(ARGS)

clean: ## remove .aws-sam, build/ (traces and table items too) and .venv
	rm -rf .aws-sam build $(VENV)
