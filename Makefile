# spikernn: `make run` sets up and runs the main job; `make test` sets up and runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: setup run test test-long test-slow lint docs docs-serve

setup: $(VENV)/.installed

# torch is pinned (constraints.txt) so that no install step resolves a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt torch
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

run: setup
	$(VENV)/bin/spikernn-run $(ARGS)

# two workers (pytest-xdist): the suite's subprocess-heavy tests leave a core idle when run one at a time
test: setup
	$(PY) -m pytest -n 2

# whole commands killed and resumed, or chained (50–90 s each); .ci/run runs them after `make test`
test-long: setup
	$(PY) -m pytest -n 2 -m long

# paper-scale and reference-code checks (see README); not part of the default run
test-slow: setup
	$(PY) -m pytest -m slow

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks experiments docs/examples
	$(VENV)/bin/ruff format --check src tests benchmarks experiments docs/examples/*.py

# the documentation site (MkDocs, strict: any warning fails) into site/; docs-serve previews it
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

docs-serve: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --strict
