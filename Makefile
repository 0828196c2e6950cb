# One virtual environment holds everything. torch goes in first so that pip takes the
# CPU build on these machines instead of resolving a CUDA build from the registry.
# `install` runs pip only when pyproject.toml or this Makefile changed since the last install
# that finished (the stamp $(VENV)/.installed); deleting the stamp forces it.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install test test-all doctor demo clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(INSTALLED)

$(INSTALLED): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[all]"
	touch $@

# The README's test commands. pytest exits 5 when it collects nothing: that is a failure here.
# `test` skips the tests marked slow (the 500-step training, VPoser, renders of held-out seeds,
# 100-frame runs): under 8 minutes on 2 cores. `test-all` runs everything; CI (.ci/run) runs it.
PYTEST := $(BIN)/python -m pytest -n 2 --dist loadgroup

test: install
	$(PYTEST) -m "not slow"

test-all: install
	$(PYTEST)

doctor: install
	$(BIN)/diffproxy doctor

clean:
	rm -rf $(VENV) build *.egg-info

# The README's first command: install, then reconstruct frames of the bundled real capture.
demo: install
	$(BIN)/diffproxy demo
