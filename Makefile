# One entry point for every job. `make install` builds .venv/ at the repo root;
# everything else runs from it. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := requirements/constraints.txt
# Packages installed without their declared dependencies: tensorflow-serving-api (listed in
# requirements/exporter-no-deps.txt, shared with the exporter image's install step) and
# tf-keras would otherwise pull the full `tensorflow` wheel next to tensorflow-cpu;
# tf-slim/tf-keras are only used by the tests to build TF-Slim's reference graph.
NO_DEPS := tf-slim==1.1.0 tf-keras==2.21.0

MODEL_DIR ?= build/models/inception_v1
CHECKPOINT ?= https://download.tensorflow.org/models/inception_v1_2016_08_28.tar.gz
WEIGHTS ?= official
PORT ?= 8500
REST_PORT ?= 8501

export TF_CPP_MIN_LOG_LEVEL ?= 2

# Headless Chromium, for the tests that open the HTML reports (tests/browser.py): Debian's
# package, installed once per machine (root), a no-op when it is already on PATH.
BROWSER_PACKAGES := chromium fonts-dejavu-core

.PHONY: install bench-install k8s-check browser client-size test test-quick test-random test-isolated lint typecheck pytest serve demo bench protos k8s-validate clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml client/pyproject.toml $(CONSTRAINTS) requirements/exporter-no-deps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c $(CONSTRAINTS) -e './client[train,report]' -e '.[dev]'
	$(PIP) install --quiet -c $(CONSTRAINTS) --no-deps $(NO_DEPS) -r requirements/exporter-no-deps.txt
	touch $@

# The runtimes only `make bench` compares TensorFlow with (tf2onnx, openvino: the `bench`
# extra), installed on first use so that `make install` stays what the demo and tests need.
bench-install: $(VENV)/.bench-installed

$(VENV)/.bench-installed: $(VENV)/.installed
	$(PIP) install --quiet -c $(CONSTRAINTS) -e '.[bench]'
	touch $@

browser:
	@command -v chromium >/dev/null || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES); }

test: install browser lint typecheck pytest

# What `pip install ./client` costs a user: a throwaway virtualenv, its size printed.
CLIENT_SIZE_VENV := build/client-size
client-size:
	rm -rf $(CLIENT_SIZE_VENV) && $(PYTHON) -m venv $(CLIENT_SIZE_VENV)
	$(CLIENT_SIZE_VENV)/bin/pip install --quiet -c $(CONSTRAINTS) ./client
	@echo "pip install ./client: $$(du -sm $(CLIENT_SIZE_VENV) | cut -f1) MB"
	$(CLIENT_SIZE_VENV)/bin/pip install --quiet -c $(CONSTRAINTS) './client[train]'
	@echo "pip install './client[train]': $$(du -sm $(CLIENT_SIZE_VENV) | cut -f1) MB"
	rm -rf $(CLIENT_SIZE_VENV)

lint: install
	$(VENV)/bin/ruff check export serving client tests
	$(VENV)/bin/ruff format --check export serving client tests
	$(VENV)/bin/lint-imports

typecheck: install
	$(VENV)/bin/mypy export/inception_svm_export serving/inception_svm_serving client/inception_svm_client

# The suite in file order; pytest-randomly (installed for test-random) is switched off so
# that CI runs are reproducible.
pytest: install
	$(PY) -m pytest -q -p no:randomly $(PYTEST_ARGS)

# The quick loop (README, Development): the unit tests, with no server process, no exported
# model, no browser and no kubectl; tests/conftest.py marks the rest `integration`.
test-quick: install
	$(PY) -m pytest -q -p no:randomly -m "not integration and not slow" $(PYTEST_ARGS)

# Not part of `make test` (see README, Development): proofs that no test depends on another.
# The whole suite shuffled by pytest-randomly; the seed is printed, `SEED=N` replays an order.
test-random: install
	@seed="$(SEED)"; seed="$${seed:-$$(( (RANDOM << 15) | RANDOM ))}"; \
	echo "make test-random: seed $$seed (replay with: make test-random SEED=$$seed)"; \
	$(PY) -m pytest -q -p randomly --randomly-seed="$$seed" $(PYTEST_ARGS)

# Every test file alone in its own pytest process, 2 at a time (tests/run_isolated.py).
test-isolated: install
	$(PY) tests/run_isolated.py $(ISOLATED_ARGS)

protos: install
	$(PY) -m inception_svm_client.protos.build

# Serve MODEL_DIR with the real tensorflow_model_server when it is on PATH, else with the
# stand-in; both read the same flags and config files.
serve: install
	$(PY) -m inception_svm_serving.launch --port=$(PORT) --rest_api_port=$(REST_PORT) \
	    --model_base_path=$(abspath $(MODEL_DIR))

demo: install
	$(VENV)/bin/inception-svm demo --weights=$(WEIGHTS) --checkpoint=$(CHECKPOINT) \
	    --model-dir=$(MODEL_DIR)

bench: bench-install
	$(PY) -m tests.benchmarks.run --output build/bench.json

k8s-validate: install
	$(PY) -m pytest -q -p no:randomly tests/k8s

# Your own overlay (a copy of k8s/examples/my-cluster, docs/deploy.md): refuses the
# placeholder bucket and lists the model versions that are not pinned.
OVERLAY ?= k8s/examples/my-cluster
k8s-check: install
	$(PY) -m tests.k8s.secure_defaults $(OVERLAY)

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
