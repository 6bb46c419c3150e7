# radiopipe: the two commands of the README, and a few helpers.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test env lint format clean

## demo: create the environment and run the whole study on the embedded synthetic cohort
demo: $(STAMP)
	$(BIN)/radiopipe run pipelines/demo.yaml

## test: create the environment and run the test suite (what CI runs)
test: $(STAMP)
	$(BIN)/ruff check radiopipe tests benchmarks
	$(BIN)/python -m pytest -n 2 --dist loadgroup --timeout 900

env: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip wheel setuptools
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check radiopipe tests benchmarks
	$(BIN)/ruff format --check radiopipe tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format radiopipe tests benchmarks
	$(BIN)/ruff check --fix radiopipe tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
