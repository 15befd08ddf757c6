# The two commands a newcomer runs: `make demo` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# pytest-xdist processes for `make test` (auto: one per physical core; 0: one process, no xdist). Each test
# file stays on one worker (--dist loadfile), so a module's shared fixtures run once; tests/conftest.py gives
# each worker's TensorFlow its share of the cores.
TEST_WORKERS ?= auto
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test lint bench bench-quick lock clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test,bench]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(PY) examples/make_energy.py
	$(VENV)/bin/autofix-lstm search examples/energy.yaml

lint: setup
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: setup
	$(PY) -m benchmarks.run

bench-quick: setup
	$(PY) -m benchmarks.run --quick

# Refresh the pinned versions CI installs (run after changing dependencies in pyproject.toml).
lock: setup
	$(PY) -m pip freeze --exclude-editable | grep -v '^autofix-lstm' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache examples/runs build dist *.egg-info
