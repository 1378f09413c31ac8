# One entry point for every job. `make install` builds .venv/ at the repo root;
# everything else runs from it. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := requirements/constraints.txt
# Packages installed without their declared dependencies: tensorflow-serving-api and
# tf-keras would otherwise pull the full `tensorflow` wheel next to tensorflow-cpu;
# tf-slim/tf-keras are only used by the tests to build TF-Slim's reference graph.
NO_DEPS := tensorflow-serving-api==2.21.0 tf-slim==1.1.0 tf-keras==2.21.0

MODEL_DIR ?= build/models/inception_v1
CHECKPOINT ?= https://download.tensorflow.org/models/inception_v1_2016_08_28.tar.gz
WEIGHTS ?= official
PORT ?= 8500
REST_PORT ?= 8501

export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install test lint typecheck pytest serve demo bench protos k8s-validate clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml client/pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c $(CONSTRAINTS) -e './client[train]' -e '.[dev,bench]'
	$(PIP) install --quiet -c $(CONSTRAINTS) --no-deps $(NO_DEPS)
	touch $@

test: install lint typecheck pytest

lint: install
	$(VENV)/bin/ruff check export serving client tests
	$(VENV)/bin/ruff format --check export serving client tests

typecheck: install
	$(VENV)/bin/mypy export/inception_svm_export serving/inception_svm_serving client/inception_svm_client

pytest: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

protos: install
	$(PY) -m inception_svm_client.protos.build

# Serve MODEL_DIR with the real tensorflow_model_server when it is on PATH, else with the
# stand-in; both read the same flags and config files.
serve: install
	$(PY) -m inception_svm_serving.launch --port=$(PORT) --rest_api_port=$(REST_PORT) \
	    --model_base_path=$(abspath $(MODEL_DIR))

demo: install
	$(PY) -m inception_svm_client.demo --weights=$(WEIGHTS) --checkpoint=$(CHECKPOINT) \
	    --model-dir=$(MODEL_DIR)

bench: install
	$(PY) -m tests.benchmarks.run --output build/bench.json

k8s-validate: install
	$(PY) -m pytest -q tests/k8s

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
