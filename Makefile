# One entry point for everything: `make run` (the local stack) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
RUNTIME_DIR := build/lambda-runtime
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= ap-northeast-1

.PHONY: help setup build run test lint format bench map traces deploy delete clean

help:
	@echo "make run     set up, sam build, start the local stack and print its URLs"
	@echo "make test    lint and every test (unit, template, local stack, X-Ray)"
	@echo "make bench   latency and throughput figures, as ratios measured in one run"
	@echo "make map     the X-Ray service map of the local stack (ARGS=--aws for AWS)"
	@echo "make traces  recent X-Ray traces (ARGS=--latest or '--id ID' for a timeline, --aws for AWS)"
	@echo "make deploy  sam build + sam deploy (stack sam-app, ap-northeast-1)"

# The virtual environment, rebuilt when the pinned requirements change.
$(VENV)/.installed: requirements-dev.txt constraints.txt
	@echo "==> creating $(VENV) and installing the pinned tools"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

# The local stand-in for Lambda's /var/runtime: only what the real runtime provides.
$(RUNTIME_DIR)/.installed: emulator/lambda_/runtime-requirements.txt $(VENV)/.installed
	@echo "==> installing the Lambda runtime interface client into $(RUNTIME_DIR)"
	rm -rf $(RUNTIME_DIR)
	$(PY) -m pip install --quiet --target $(RUNTIME_DIR) -r emulator/lambda_/runtime-requirements.txt -c constraints.txt
	touch $@

setup: $(VENV)/.installed $(RUNTIME_DIR)/.installed

build: setup
	$(BIN)/sam build

run: build
	$(PY) -m emulator $(ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: setup lint
	$(BIN)/pytest $(ARGS)

bench: build
	$(PY) -m bench $(ARGS)

map: setup
	$(PY) -m console.service_map $(ARGS)

traces: setup
	$(PY) -m console.traces $(ARGS)

deploy: setup
	$(BIN)/sam build
	$(BIN)/sam deploy $(ARGS)

delete: setup
	$(BIN)/sam delete $(ARGS)

clean:
	rm -rf .aws-sam build $(VENV)
