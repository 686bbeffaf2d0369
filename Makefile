# Two commands for a new user: `make demo` and `make test`. Everything else is set-up they call.
PYTHON_FOR_VENV := /usr/bin/python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo-data
# the venv research sessions run from; a second checkout on the same machine sets its own
SESSION_VENV ?= /opt/enclave/venv
export ENCLAVE_SESSION_VENV := $(SESSION_VENV)
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: demo test lint setup system-packages recording-clusters session-venv deploy-values labextension clean

setup: $(VENV)/.installed node_modules/.installed

# Debian packages the tests and the hub need (chromium for browser tests, nftables for the
# sessions' network rules, bubblewrap for their sandboxes).
system-packages:
	@command -v chromium >/dev/null && command -v nft >/dev/null && command -v bwrap >/dev/null || \
	  (apt-get update -qq && \
	   DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nftables bubblewrap)

# The PostgreSQL clusters recorded sessions need (a warehouse primary on 5440 and its hot standby
# on 5441, both with Debian's pgAudit): created, configured and started if down, idempotently.
# The shared cluster on 5432 is never touched. See devstack/recording_clusters.py.
recording-clusters: setup
	$(BIN)/python -m devstack.recording_clusters

# The venv is built from Debian's python: researcher accounts cannot execute pyenv's (under /root).
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON_FOR_VENV) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --silent
	touch $@

# The venv research sessions run from (built from Debian's python, outside the repo; quick when
# nothing changed): see hub/isolation/session_venv.py.
session-venv: setup
	$(BIN)/python -m enclave.hub.isolation.session_venv $(SESSION_VENV)

# deploy/values.yaml (Zero-to-JupyterHub) from deploy/chart-values.yaml and jupyterhub_config.py
deploy-values: setup
	$(BIN)/python -m devstack.z2jh

# the session's JupyterLab extension, from labextension/ (TypeScript) with JupyterLab's builder,
# into kernels/labextensions/enclave-review (committed: tests and CI need no Node build)
labextension: setup
	$(BIN)/python -m devstack.labextension

# ACRO (AI-SDC's output checker), for benchmarks/acro_agreement.py only, in a venv of its own:
# ACRO pins pandas <= 2.3.3, the enclave runs pandas 3.
ACRO_VENV := .venv-acro
acro-venv: $(ACRO_VENV)/.installed
$(ACRO_VENV)/.installed:
	test -x $(ACRO_VENV)/bin/python || $(PYTHON_FOR_VENV) -m venv $(ACRO_VENV)
	$(ACRO_VENV)/bin/pip install -q acro==1.0.2 scipy
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: system-packages setup recording-clusters session-venv lint
	$(BIN)/pytest -q

demo: setup session-venv
	$(BIN)/python -m devstack.demo --dir $(DEMO_DIR)

clean:
	rm -rf $(VENV) node_modules $(DEMO_DIR)
