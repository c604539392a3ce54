# The README's two commands: `make demo` and `make test`. Both create .venv if it is missing and install the
# project into it first (torch and torchvision are pinned to the builds the project is tested with).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.editlens-installed
DEMO_ARGS ?=

.PHONY: demo test install clean bench

$(STAMP): pyproject.toml setup.py ingest/_sha1batch.c
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/editlens demo $(DEMO_ARGS)

test: $(STAMP)
	bash .ci/install_chromium.sh
	$(PY) -m pytest -ra $(PYTEST_ARGS)

clean:
	rm -rf warehouse target logs .pytest_cache
