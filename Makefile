# The README's two commands: `make demo` and `make test`. Both create .venv if it is missing, install the
# dependencies once (torch and torchvision are pinned to the builds the project is tested with), then install
# the checkout into it as a user gets it: a non-editable `pip install .` (the dbt project travels as package data).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.editlens-deps
DEMO_ARGS ?=

.PHONY: demo test lint install clean

$(STAMP): pyproject.toml setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet '.[test]'
	@touch $(STAMP)

# the current checkout, non-editable (rebuilt each time: a few seconds); the optional compiled SHA-1 is also
# built in place, so code run from the checkout (the benchmarks) hashes as the installed package does
install: $(STAMP)
	$(PY) -m pip install --quiet --no-deps --force-reinstall .
	-$(PY) setup.py --quiet build_ext --inplace > /dev/null 2>&1

demo: install
	$(VENV)/bin/editlens demo $(DEMO_ARGS)

# ruff for the Python, sqlfluff (dbt templater) for the models; configured in pyproject.toml and .sqlfluff
lint: install
	$(VENV)/bin/ruff check .
	cd $(CURDIR) && $(VENV)/bin/sqlfluff lint models tests/dbt macros

# pytest through its script and PYTHONSAFEPATH=1 (subprocesses, Python 3.11+): the checkout is not put first on
# the path, so the tests import the installed package
test: lint
	bash .ci/install_chromium.sh
	PYTHONSAFEPATH=1 EDITLENS_TEST_INSTALLED=1 $(VENV)/bin/pytest -ra $(PYTEST_ARGS)

clean:
	rm -rf warehouse target logs .pytest_cache build
